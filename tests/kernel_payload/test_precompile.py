"""The rl suite's kernels compiled by a worker process while earlier suites run (kernel_payload/precompile.py):
when it starts, what the suite learns from it, and that a failed or slow worker costs nothing but time."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from types import SimpleNamespace

import pytest

from kernel_payload import precompile, startup


def job(suites=("verify", "rl", "bench"), env_kwargs=None, scenario=None):
    """The parts of a JobSpec that precompile reads."""
    return SimpleNamespace(
        suites=list(suites),
        scenario=scenario,
        rl=SimpleNamespace(env="ARZ-Intersection-v0", env_kwargs=dict(env_kwargs or {})),
    )


@pytest.fixture
def fake_worker(monkeypatch, tmp_path):
    """Replace the worker by a short Python script; returns a setter for its source."""
    monkeypatch.setattr(precompile, "_WORKER", {})
    monkeypatch.setattr(startup.times(), "kernel_cache", "cold")
    monkeypatch.setattr(precompile, "wanted", lambda suites, cores=None: "rl" in suites[1:])

    def use(source: str):
        """The fake worker writes its argv to ``argv-<part>.json`` under the returned folder."""
        script = tmp_path / "worker.py"
        script.write_text(
            "import json, sys\n"
            f"json.dump(sys.argv[1:], open({str(tmp_path)!r} + f'/argv-{{sys.argv[3]}}.json', 'w'))\n"
            f"{source}\n"
        )
        monkeypatch.setattr(
            precompile,
            "worker_command",
            lambda env_id, kw, part="all": [sys.executable, str(script), env_id, kw, part],
        )
        return tmp_path

    yield use
    precompile.stop()


def test_wanted_only_for_a_later_rl_suite_on_two_cores_or_more():
    assert precompile.wanted(["verify", "rl"], cores=2)
    assert precompile.wanted(["verify", "bench", "rl"], cores=16)
    assert not precompile.wanted(["rl", "verify"], cores=2)  # rl first: nothing to overlap with
    assert not precompile.wanted(["verify", "rl"], cores=1)
    assert not precompile.wanted(["verify", "bench"], cores=2)


@pytest.mark.parametrize("state", ["warm", "off", ""])
def test_no_worker_unless_the_cache_is_known_cold(fake_worker, monkeypatch, state):
    fake_worker("print('kernels compiled: 0')")
    monkeypatch.setattr(startup.times(), "kernel_cache", state)
    assert not precompile.start(job())
    assert precompile.wait() == {}


def test_the_plan_gives_the_step_to_a_worker_and_the_readout_to_a_free_core():
    assert precompile.plan(2) == (("step",), ("readout",))  # two cores: verify + the step worker
    assert precompile.plan(3) == (("step", "readout"), ())
    assert precompile.plan(16) == (("step", "readout"), ())


def test_the_worker_builds_the_suites_env_on_the_cpu_and_reports_its_compiles(fake_worker):
    folder = fake_worker("print('building'); print('kernels compiled: 3')")
    assert precompile.start(
        job(env_kwargs={"device": "cuda", "reward": "pressure"}, scenario="scenarios/x.yml"), cores=2
    )
    assert not precompile.start(job(), cores=2)  # one set of workers per job
    out = precompile.wait(timeout=60)
    assert out["precompile"] == "ok" and out["precompile_kernels"] == 3
    assert out["precompile_parts"] == "step" and "precompile_local_s" not in out
    assert out["precompile_s"] >= out["precompile_wait_s"] >= 0.0
    env_id, kwargs, part = json.loads((folder / "argv-step.json").read_text())
    assert env_id == "ARZ-Intersection-v0" and part == "step"
    assert json.loads(kwargs) == {
        "device": "cpu",
        "reward": "pressure",
        "scenario": "scenarios/x.yml",
    }
    assert not (folder / "argv-readout.json").exists()  # two cores: the readout is left to the suite
    assert precompile.wait() == {}  # forgotten once joined


def test_one_worker_per_part_with_three_cores_and_their_kernels_add_up(fake_worker):
    folder = fake_worker("print('kernels compiled: 2')")
    assert precompile.start(job(), cores=4)
    out = precompile.wait(timeout=60)
    assert out["precompile"] == "ok" and out["precompile_parts"] == "step+readout"
    assert out["precompile_kernels"] == 4
    assert {json.loads((folder / f"argv-{p}.json").read_text())[2] for p in precompile.PARTS} == set(
        precompile.PARTS
    )
    assert precompile.compile_local() == 0.0  # nothing was left to the suite


def test_the_suite_compiles_the_parts_left_to_it_before_joining(fake_worker, monkeypatch, caplog):
    fake_worker("print('kernels compiled: 1')")
    calls = []
    monkeypatch.setattr(precompile, "compile_part", lambda part, env, kw: calls.append((part, env, kw["device"])))
    assert precompile.start(job(), cores=2)
    assert precompile.running()  # the readout is still to compile, whatever the worker does
    assert precompile.compile_local() >= 0.0
    assert calls == [("readout", "ARZ-Intersection-v0", "cpu")]
    assert precompile.compile_local() == 0.0  # once
    out = precompile.wait(timeout=60)
    assert out["precompile"] == "ok" and "precompile_local_s" in out

    def boom(part, env, kw):
        raise RuntimeError("LLVM ran out of registers")

    monkeypatch.setattr(precompile, "compile_part", boom)
    assert precompile.start(job(), cores=2)
    with caplog.at_level(logging.WARNING, logger="kernel_payload.precompile"):
        precompile.compile_local()  # logged, not raised: the suite compiles what is missing
    assert "LLVM ran out of registers" in caplog.text and "compiles what is missing itself" in caplog.text
    assert precompile.wait(timeout=60)["precompile"] == "ok"


def test_a_failed_worker_is_logged_and_the_suite_goes_on(fake_worker, caplog):
    fake_worker("print('numba exploded'); sys.exit(3)")
    assert precompile.start(job(), cores=2)
    with caplog.at_level(logging.WARNING, logger="kernel_payload.precompile"):
        out = precompile.wait(timeout=60)
    assert out["precompile"] == "failed" and "precompile_kernels" not in out
    assert "numba exploded" in caplog.text and "compiles what is missing itself" in caplog.text


def test_a_slow_worker_is_stopped_at_the_wait_limit(fake_worker):
    fake_worker("import time; time.sleep(60)")
    assert precompile.start(job(), cores=2)
    process = precompile._WORKER["workers"][0]["process"]
    out = precompile.wait(timeout=0.5)
    assert out["precompile"] == "timeout" and process.poll() is not None


def test_the_env_options_are_the_suites(monkeypatch):
    assert precompile.env_options(job(env_kwargs={"n_lanes": 2}, scenario="s.yml")) == {
        "n_lanes": 2,
        "scenario": "s.yml",
    }
    assert precompile.env_options(job(env_kwargs={"scenario": "mine.yml"}, scenario="s.yml")) == {
        "scenario": "mine.yml"
    }


@pytest.mark.parametrize("part", precompile.PARTS)
def test_the_real_worker_compiles_its_part(part):
    """The worker as the runner starts it: builds ARZ-Intersection-v0's step or readout on the CPU,
    runs it, reports how many kernels it compiled (0 when this test session compiled them already)."""
    proc = subprocess.run(precompile.worker_command("ARZ-Intersection-v0", "{}", part), cwd=precompile.ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert (
        last.startswith(precompile.COMPILED_MARK)
        and last[len(precompile.COMPILED_MARK) :].isdigit()
    )
    assert f"kernels of ARZ-Intersection-v0 ({part}) ready" in proc.stdout
