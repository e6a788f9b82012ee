"""The acceptance run: ``arz compare`` on two real quickstart runs of different commits (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.study.aggregate import MemberResult, aggregate_sweep
from tests.orchestrator.conftest import REPO

ARZ = [sys.executable, "-m", "orchestrator.cli"]


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _arz(args, cwd, env, timeout=1700):
    done = subprocess.run([*ARZ, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.timeout(3600)  # two quickstart runs: ~3 min each on an idle 2-core laptop, far more when loaded
def test_compare_two_quickstart_runs_of_different_commits(tmp_path):
    work = tmp_path / "work"
    _git(tmp_path, "clone", "-q", str(REPO), str(work))
    _git(work, "config", "user.name", "arz test")
    _git(work, "config", "user.email", "arz@test")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARZ_TEST_", "KAGGLE_"))}
    env.update(ARZ_HOME=str(tmp_path / "arz-home"), PYTHONPATH=str(REPO), COLUMNS="200")
    _arz(["submit", "jobs/quickstart.yml", "--backend", "local"], work, env)
    (work / "README.md").write_text((work / "README.md").read_text() + "\n<!-- after -->\n")
    _arz(["submit", "jobs/quickstart.yml", "--backend", "local"], work, env)  # commits the change
    jobs = json.loads(_arz(["list", "--json"], work, env))
    after, before = jobs[0], jobs[1]
    assert before["commit_sha"] != after["commit_sha"]
    table = _arz(["compare", before["id"], after["id"]], work, env)
    assert f"commit {before['commit_sha'][:10]}" in table and f"commit {after['commit_sha'][:10]}" in table
    assert "rl delay_per_vehicle_s [ppo] (total)" in table and "paired on 2 shared draws" in table
    assert "verify order_weno5_sine" in table
    data = json.loads(_arz(["compare", before["id"], after["id"], "--json"], work, env))
    ppo = next(r for r in data["rows"] if (r["controller"], r["metric"], r["class"])
               == ("ppo", "delay_per_vehicle_s", "total"))  # fmt: skip
    assert ppo["a"]["n"] == 2 and ppo["test"]["kind"] == "paired"
    classical = next(r for r in data["rows"] if (r["controller"], r["metric"], r["class"])
                     == ("fixed-time", "delay_per_vehicle_s", "total"))  # fmt: skip
    assert classical["diff"] == 0.0  # same code path, same draws: a deterministic controller agrees
    # the two runs as a two-member sweep: every file, and links to both members' reports
    out = tmp_path / "sweep"
    members = [MemberResult(f"m0{i + 1}", {"seeds": [0], "commit": job["commit_sha"][:8]}, job["id"],
                            job["status"], job["result"], Path(job["results_dir"]))
               for i, job in enumerate((before, after))]  # fmt: skip
    summary = aggregate_sweep("quickstart-x-commit", "sw-q", members, out)
    assert summary["status"] == "succeeded"
    html = (out / "report.html").read_text()
    assert html.count("/report.html'") == 2 and (out / "figures").is_dir()
    assert list((out / "figures").glob("rl_delay_per_vehicle_s_vs_commit.png"))
