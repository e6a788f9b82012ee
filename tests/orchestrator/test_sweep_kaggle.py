"""``arz sweep`` on Kaggle, through the real ``kaggle`` client and the fake Kaggle server (which
refuses a third concurrent GPU session with Kaggle's own message): at most 2 GPU sessions at once
(counted from the fake's sessions, not from a clock), a refused push waits for a slot, exactly one
run per member across a ``kill -9`` of the orchestrator, and the quota checked before any push."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.backends.kaggle.backend import KaggleBackend
from orchestrator.errors import BadInput
from orchestrator.registry import Registry
from orchestrator.sweep import commands
from orchestrator.sweep.launch import MemberLauncher, start_sweep
from orchestrator.sweep.schedule import SweepRunner
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.conftest import git, make_project
from tests.orchestrator.kaggle_harness import start_harness

REPO = Path(__file__).resolve().parents[2]
GPU_JOB = "name: g\nsuites: [tiny]\ndeadline: 1h\nkaggle: {code: inline, internet: false}\n"


@pytest.fixture
def harness(tmp_path, monkeypatch, arz_home):
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)  # the kernels the fake runs inherit it
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "1")
    monkeypatch.delenv("ARZ_OUTPUT_DIR", raising=False)
    running = start_harness(tmp_path, monkeypatch)
    yield running
    running.fake.stop()


def study(project: Path, suites: str = "[tiny]", extra: str = "") -> Path:
    (project / "jobs" / "g.yml").write_text(GPU_JOB.replace("[tiny]", suites))
    path = project / "study.yml"
    path.write_text(f"name: four\njob: jobs/g.yml\nmatrix:\n  seeds: [[0], [1], [2], [3]]\n{extra}")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "study")
    return path


def sessions(fake) -> list:
    return [s for kernel in fake.kernels.values() for s in kernel.sessions]


def most_at_once(runs: list) -> int:
    """The most sessions holding a slot at the same time, from their start and end records."""
    events = sorted([(s.started_at, 1) for s in runs] + [(s.finished_at, -1) for s in runs])
    level = peak = 0
    for _, step in events:  # an end sorts before a start at the same instant
        level += step
        peak = max(peak, level)
    return peak


def test_four_gpu_members_two_at_a_time_a_refused_push_waits(harness, tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    path = study(project)
    fake = harness.fake
    fake.faults.busy_gpu_sessions = 1  # another session of the account holds one GPU slot...

    def free_the_slot() -> None:  # ...until our first member has ended
        deadline = time.monotonic() + 60
        while not sessions(fake) and time.monotonic() < deadline:
            time.sleep(0.05)
        sessions(fake)[0].wait_done(60)
        fake.faults.busy_gpu_sessions = 0

    threading.Thread(target=free_the_slot, daemon=True).start()
    registry = Registry()
    launcher = start_sweep(path, registry, "kaggle", cwd=project, backend=harness.backend())
    runner = SweepRunner(launcher, poll_s=0.2, slot_retry_s=0.3)
    commands.follow(runner, Console(file=io.StringIO(), width=200))

    runs = sessions(fake)
    assert len(runs) == 4 and all(s.status == "COMPLETE" for s in runs)
    assert most_at_once(runs) <= 2
    assert len(fake.pushes) > 4  # at least one push was refused for the cap, then retried
    assert all(s.gpu for s in runs)
    out = project / "validation_output" / "sweeps" / f"tester_{launcher.record.id}"
    summary = json.loads((out / "sweep_summary.json").read_text())
    assert summary["status"] == "succeeded" and len(summary["members"]) == 4
    assert [m["matrix"] for m in summary["members"]] == [{"seeds": [i]} for i in range(4)]
    for member in summary["members"]:
        folder = out / member["results_dir"]
        assert member["result"] == "succeeded" and (folder / "session_summary.json").is_file()
        assert (folder / ".arz-results.json").is_file()  # the verified pull's marker
    shas = {job.commit_sha for job in registry.members(launcher.record.id)}
    assert shas == {git(project, "rev-parse", "HEAD").strip()}  # one commit for the whole sweep


@pytest.mark.slow
def test_kill_9_mid_sweep_then_watch_runs_each_member_once(harness, tmp_path):
    project = make_project(tmp_path / "project")
    path = study(project, suites="[tiny, slow]")
    env = harness.subprocess_env()
    env.update(ARZ_HOME=os.environ["ARZ_HOME"], ARZ_TEST_SUITES=SUITES_ENV, PYTHONPATH=str(REPO),
               ARZ_SWEEP_POLL_S="0.2", COLUMNS="200")  # fmt: skip
    env.pop("ARZ_OUTPUT_DIR", None)
    arz = [sys.executable, "-m", "orchestrator.cli", "sweep"]
    child = subprocess.Popen([*arz, str(path), "--backend", "kaggle"], cwd=project, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(sessions(harness.fake)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sessions(harness.fake)) == 2 and child.poll() is None
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert any(s.is_active() for s in sessions(harness.fake))  # killed mid-sweep

    (sweep,) = [Registry().get_sweep()]
    done = subprocess.run([*arz, "watch", sweep.id], cwd=project, env=env, capture_output=True,
                          text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    runs = sessions(harness.fake)
    assert len(runs) == 4 and most_at_once(runs) <= 2  # exactly 4 runs in all
    assert "succeeded" in done.stdout and f"tester_{sweep.id}" in done.stdout
    summary = json.loads((project / "validation_output" / "sweeps" / f"tester_{sweep.id}"
                          / "sweep_summary.json").read_text())  # fmt: skip
    assert summary["status"] == "succeeded"
    assert len({m["job_id"] for m in summary["members"]}) == 4


def test_a_study_beyond_the_quota_is_refused_before_any_push(harness, tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    path = study(project)
    (project / "jobs" / "g.yml").write_text(GPU_JOB + "# edited, so a sweep would commit\n")
    harness.fake.faults.quota_used_h = 28.5  # 1.5 h left; 4 members x 1 h deadline = 4 h
    head = git(project, "rev-parse", "HEAD")
    with pytest.raises(BadInput) as caught:
        start_sweep(path, Registry(), "kaggle", cwd=project, backend=harness.backend())
    text = str(caught.value)
    assert "4.0 GPU hours" in text and "1.5 h" in text and "deadlines" in text
    assert harness.fake.pushes == [] and "SaveKernel" not in harness.fake.calls
    assert git(project, "rev-parse", "HEAD") == head  # nothing committed
    with pytest.raises(Exception, match="no sweep"):
        Registry().get_sweep()
    path.write_text(path.read_text() + "estimate: 20 min\n")  # a stated estimate fits: 1.3 h
    launcher = start_sweep(path, Registry(), "kaggle", cwd=project, backend=harness.backend())
    assert launcher.record.max_parallel == 2


class _KilledAfterPush(KaggleBackend):
    """The real backend, but the process "dies" right after the push landed (before the
    registry learns the kernel's version)."""

    def push(self, request):
        super().push(request)
        raise KeyboardInterrupt


class _KilledBeforePush(KaggleBackend):
    """The process "dies" after recording the member, before anything reached Kaggle."""

    def push(self, request):
        raise KeyboardInterrupt


@pytest.mark.parametrize("dying", [_KilledAfterPush, _KilledBeforePush])
def test_a_member_recorded_as_submitting_is_adopted_or_pushed_once(harness, tmp_path, monkeypatch, dying):
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    path = study(project)
    path.write_text(path.read_text().replace("[[0], [1], [2], [3]]", "[[0]]"))
    registry = Registry()
    launcher = start_sweep(path, registry, "kaggle", cwd=project, backend=dying(harness.config))
    with pytest.raises(KeyboardInterrupt):
        SweepRunner(launcher, poll_s=0.2).step()
    (recorded,) = registry.members(launcher.record.id)
    assert recorded.status == "submitting" and recorded.member_id == "m01"
    landed = len(sessions(harness.fake))
    assert landed == (1 if dying is _KilledAfterPush else 0)

    resumed = SweepRunner(MemberLauncher(registry.get_sweep(), registry, harness.backend()), poll_s=0.2)
    commands.follow(resumed, Console(file=io.StringIO(), width=200))
    runs = sessions(harness.fake)
    assert len(runs) == 1 and len(harness.fake.kernels) == 1  # one run, no version 2
    first = registry.get(recorded.id)
    assert first.version == 1 and first.result == "succeeded"
    assert (tmp_path / "state" / f"tester_{recorded.slug}" / "state.json").is_file()


def test_a_failed_git_push_leaves_no_commit_and_a_sweep_that_never_starts(harness, tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    path = study(project)
    (project / "jobs" / "g.yml").write_text(GPU_JOB.replace("code: inline, internet: false", "code: git"))
    git(project, "remote", "add", "origin", str(tmp_path / "no-such-remote.git"))
    head = git(project, "rev-parse", "HEAD")
    registry = Registry()
    with pytest.raises(Exception, match="push"):
        start_sweep(path, registry, "kaggle", cwd=project, backend=harness.backend())
    assert git(project, "rev-parse", "HEAD") == head and harness.fake.pushes == []
    sweep = registry.get_sweep()
    assert sweep.status == "cancelled" and registry.members(sweep.id) == []
    runner = SweepRunner(MemberLauncher(sweep, registry, harness.backend()), poll_s=0.1)
    runner.step()
    assert runner.done() and harness.fake.pushes == []  # `arz sweep watch` starts nothing


def test_members_of_a_private_clone_run_from_the_code_dataset(harness, tmp_path, monkeypatch):
    """``kaggle.code: dataset`` in a sweep: every member's kernel attaches the code dataset and
    unpacks the commit from it (the sweep once pushed a script that cloned an empty URL)."""
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    assert git(project, "remote").strip() == ""  # nothing to clone from
    path = study(project)
    (project / "jobs" / "g.yml").write_text(
        "name: g\nsuites: [tiny]\ndeadline: 1h\nkaggle: {code: dataset, accelerator: null}\n")
    path.write_text(path.read_text().replace("[[0], [1], [2], [3]]", "[[0], [1]]"))
    git(project, "commit", "-qam", "dataset members")
    registry = Registry()
    launcher = start_sweep(path, registry, "kaggle", cwd=project, backend=harness.backend())
    commands.follow(SweepRunner(launcher, poll_s=0.2), Console(file=io.StringIO(), width=200))

    head = git(project, "rev-parse", "HEAD").strip()
    runs = sessions(harness.fake)
    assert len(runs) == 2 and all(s.status == "COMPLETE" for s in runs)
    for pushed in harness.fake.pushes:
        assert "tester/arz-code-project" in pushed["datasetDataSources"]
        assert 'CODE_ARCHIVE = ""' in pushed["text"]  # carried by the dataset, not inline
    for run in runs:
        log = "".join(event["data"] for event in run.events)
        assert f"unpacked the dataset code of {head[:12]}" in log and "+ git" not in log
    assert harness.fake.datasets.uploads == 1  # one archive for the commit, not one per member
    assert {m.result for m in registry.members(launcher.record.id)} == {"succeeded"}
