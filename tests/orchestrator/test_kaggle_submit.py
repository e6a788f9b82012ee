"""``arz submit JOB --backend kaggle`` as a user runs it: the real CLI in a subprocess, the real
git sync, kernel builder and bootstrap, the real ``kaggle`` client reaching the fake Kaggle
server through ``HTTP_PROXY``; the fake runs the generated kernel, which clones the pushed commit
and runs the payload. The job uses the payload's fast test suite so the test takes seconds; the
quickstart job itself runs in the ``slow`` tier (and by hand, see docs/orchestration.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_payload.schema import SessionSummary
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.kaggle_harness import start_harness

REPO = Path(__file__).resolve().parents[2]
ARZ = [sys.executable, "-m", "orchestrator.cli"]


@pytest.fixture
def harness(tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)  # the kernel the fake runs inherits it
    monkeypatch.delenv("ARZ_OUTPUT_DIR", raising=False)
    running = start_harness(tmp_path, monkeypatch)
    yield running
    running.fake.stop()


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


@pytest.fixture
def project(tmp_path):
    """A clone of this project's committed code whose ``origin`` is a local bare repository."""
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git("clone", "-q", "--bare", str(REPO), str(remote), cwd=tmp_path)
    git("clone", "-q", str(remote), str(work), cwd=tmp_path)
    git("config", "user.name", "arz test", cwd=work)
    git("config", "user.email", "arz@test", cwd=work)
    return work


def cli_env(harness, tmp_path):
    env = harness.subprocess_env()
    env.update(ARZ_HOME=str(tmp_path / "arz_home"), ARZ_TEST_SUITES=SUITES_ENV,
               PYTHONPATH=str(REPO), COLUMNS="120")
    env.pop("ARZ_OUTPUT_DIR", None)
    return env


def run_arz(args, project, env, timeout=120):
    return subprocess.run([*ARZ, *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_arz_submit_backend_kaggle_end_to_end(harness, project, tmp_path):
    job = tmp_path / "tiny.yml"
    job.write_text("name: tiny-kaggle\nsuites: [tiny]\ndevice: auto\n"
                   "kaggle: {accelerator: NvidiaTeslaT4, deadline: 10 min}\n")
    env = cli_env(harness, tmp_path)
    done = run_arz(["submit", str(job), "--backend", "kaggle"], project, env)  # a hang hits the timeout
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(r"tiny\s+3/3\s+ETA \S+\s+steps", done.stdout)  # live progress, as it came
    assert "kernel finished: complete" in done.stdout
    assert "code: inline (kaggle.code: auto and the archive" in done.stdout  # the default
    assert ", pushed" not in done.stdout  # inline: the remote is not needed, nothing is pushed

    (results,) = (project / "validation_output" / "results").iterdir()
    slug = results.name.removeprefix("tester_")
    summary = SessionSummary.read(results)
    assert summary.status.value == "succeeded"
    assert summary.commit_sha == git("rev-parse", "HEAD", cwd=project).stdout.strip()
    assert all(entry.problem(results) is None for entry in summary.artifacts)
    assert (results / f"{slug}.log").is_file() and (results / "tiny/figures/tiny.png").is_file()
    assert not (results / "__results__.html").exists()
    device = summary.device  # device: auto is resolved and recorded (the CPU here, a GPU on Kaggle)
    assert device.requested == "auto" and device.kind in ("cpu", "gpu")
    assert device.name == (device.gpu if device.kind == "gpu" else device.cpu) and device.name

    pushed = harness.fake.pushes
    assert len(pushed) == 1 and pushed[0]["newTitle"] == slug
    assert pushed[0]["machineShape"] == "NvidiaTeslaT4" and pushed[0]["isPrivate"]
    assert pushed[0]["sessionTimeoutSeconds"] == 600 + 600  # deadline + backstop margin
    listed = json.loads(run_arz(["list", "--json"], project, env).stdout)
    assert listed[0]["status"] == "complete" and listed[0]["backend"] == "kaggle"
    assert listed[0]["result"] == "succeeded"


def test_arz_submit_without_credentials_is_one_clear_line(harness, project, tmp_path):
    (harness.home / ".kaggle" / "kaggle.json").unlink()
    job = tmp_path / "tiny.yml"
    job.write_text("name: tiny-kaggle\nsuites: [tiny]\n")
    done = run_arz(["submit", str(job), "--backend", "kaggle"], project, cli_env(harness, tmp_path))
    assert done.returncode == 2
    assert "no Kaggle credentials found" in done.stderr and "Traceback" not in done.stderr
    assert harness.fake.calls == []


def test_killed_mid_watch_then_arz_watch_reattaches(harness, project, tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "3")  # the kernel (run by the fake) reads it
    job = tmp_path / "slow.yml"
    job.write_text("name: slow-kaggle\nsuites: [slow]\nkaggle: {accelerator: null, code: git}\n")
    env = cli_env(harness, tmp_path)
    child = subprocess.Popen([*ARZ, "submit", str(job), "--backend", "kaggle"], cwd=project,
                             env=env, stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:  # bounded: the kernel prints this within seconds
            if re.match(r"[\d:]{8}\s+slow\s", line):  # a readable event line of the slow suite
                break
    finally:
        child.kill()  # the orchestrator dies mid-watch (crash, closed laptop)
        child.wait(timeout=10)
    (kernel,) = harness.fake.kernels.values()
    assert kernel.sessions[0].is_active()

    done = run_arz(["watch"], project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"bootstrap\s+0/3 steps", done.stdout)  # the log is replayed from the start
    (results,) = (project / "validation_output" / "results").iterdir()
    assert SessionSummary.read(results).status.value == "succeeded"
    assert harness.fake.calls.count("SaveKernel") == 1
    head = git("rev-parse", "HEAD", cwd=project).stdout.strip()  # code: git pushed and cloned it
    branch = git("branch", "--show-current", cwd=project).stdout.strip()
    assert git("rev-parse", branch, cwd=tmp_path / "remote.git").stdout.strip() == head
    assert "+ git -C" in "".join(e["data"] for e in kernel.sessions[0].events)


@pytest.mark.slow
def test_quickstart_job_on_fake_kaggle(harness, project, tmp_path, monkeypatch):
    """The shipped quickstart job, unchanged, through `arz submit --backend kaggle` (minutes)."""
    env = cli_env(harness, tmp_path)
    env.pop("ARZ_TEST_SUITES")
    monkeypatch.delenv("ARZ_TEST_SUITES")
    harness.fake.session_options.max_run_s = 1500
    done = run_arz(["submit", "jobs/quickstart.yml", "--backend", "kaggle"], project, env,
                   timeout=1800)
    print(done.stdout[-6000:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (results,) = (project / "validation_output" / "results").iterdir()
    summary = SessionSummary.read(results)
    assert summary.status.value == "succeeded"
    assert all(entry.problem(results) is None for entry in summary.artifacts)
    assert len(list(results.rglob("*.png"))) >= 4 and (results / "report.html").is_file()
