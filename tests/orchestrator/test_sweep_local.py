"""``arz sweep`` on the local backend: ``max_parallel`` processes at a time (counted from each run's
own files: the script written at the push, the exit code written last), one commit, every member
pulled and aggregated; a failing member makes the sweep ``partial``; ``arz list`` groups members."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.errors import JobFailed
from orchestrator.registry import Registry
from orchestrator.sweep import commands
from tests.orchestrator.conftest import git


def plain_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=200)


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at the same time (an end sorts before a start at one instant)."""
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def run_lifetimes(arz_home: Path, slugs: list[str]) -> list[tuple[float, float]]:
    """Each local run's lifetime: its kernel.py (written at the push) to its exit_code (last)."""
    spans = []
    for slug in slugs:
        workdir = arz_home / "local" / slug
        spans.append(((workdir / "kernel.py").stat().st_mtime, (workdir / "exit_code").stat().st_mtime))
    return spans


@pytest.fixture
def poll_fast(monkeypatch):
    monkeypatch.setenv("ARZ_SWEEP_POLL_S", "0.2")


def test_four_members_two_at_a_time_one_commit_aggregated(project, arz_home, poll_fast):
    (project / "jobs" / "s.yml").write_text("name: s\nsuites: [tiny, slow]\ndevice: cpu\n")
    sweep = project / "study.yml"
    sweep.write_text("name: local-four\njob: jobs/s.yml\nmatrix:\n  seeds: [[0], [1], [2], [3]]\n"
                     "max_parallel: 2\n")  # fmt: skip
    git(project, "add", "-A")
    git(project, "commit", "-qm", "study")
    (project / "jobs" / "s.yml").write_text("name: s\nsuites: [tiny, slow]\ndevice: cpu\n# v2\n")
    before = git(project, "rev-parse", "HEAD").strip()
    registry = Registry()
    console = plain_console()
    commands.start(sweep, registry, console)  # returns: the sweep succeeded

    head = git(project, "rev-parse", "HEAD").strip()
    assert git(project, "rev-parse", "HEAD~1").strip() == before  # exactly one commit
    record = registry.get_sweep()
    members = registry.members(record.id)
    assert [m.member_id for m in members] == ["m01", "m02", "m03", "m04"]
    assert {m.commit_sha for m in members} == {head} and record.commit_sha == head
    assert most_at_once(run_lifetimes(arz_home, [m.slug for m in members])) <= 2
    out = project / "validation_output" / "sweeps" / f"local_{record.id}"
    summary = json.loads((out / "sweep_summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["sweep_id"] == record.id
    assert [m["results_dir"] for m in summary["members"]] == [f"members/m0{i}" for i in range(1, 5)]
    assert all((out / m["results_dir"] / "tiny" / "data" / "metrics" / "tiny.csv").is_file()
               for m in summary["members"])  # fmt: skip
    printed = console.file.getvalue()
    assert f"local_{record.id}" in printed and "succeeded" in printed
    for member in members:  # one line per change: started, then ended with its verdict
        assert f"{member.member_id} {member.id} (seeds=[{int(member.member_id[1:]) - 1}]) queued" in printed
        assert f"{member.member_id} {member.id} (seeds=[{int(member.member_id[1:]) - 1}]) complete result succeeded" in printed
    assert registry.get_sweep(record.id).status == "succeeded"

    listed = subprocess.run([sys.executable, "-m", "orchestrator.cli", "list"], cwd=project,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    lines = listed.stdout.splitlines()
    heading = next(i for i, line in enumerate(lines) if f"sweep {record.id}" in line)
    assert all(m.id in lines[heading + n + 1] for n, m in enumerate(members))


def test_a_failing_member_makes_the_sweep_partial(project, poll_fast):
    sweep = project / "study.yml"
    sweep.write_text("name: mixed\njob: jobs/tiny.yml\nmatrix:\n  suites: [[tiny], [tiny, crash]]\n")
    registry = Registry()
    console = Console(file=io.StringIO(), force_terminal=True, width=160)  # the live table
    with pytest.raises(JobFailed, match="partial"):
        commands.start(sweep, registry, console)
    record = registry.get_sweep()
    out = project / "validation_output" / "sweeps" / f"local_{record.id}"
    summary = json.loads((out / "sweep_summary.json").read_text())
    assert summary["status"] == "partial"
    good, bad = summary["members"]
    assert good["result"] == "succeeded" and (out / good["results_dir"] / "report.html").is_file()
    assert bad["result"] == "failed" and "deliberate crash" in bad["message"]
    assert (out / bad["results_dir"] / "session_summary.json").is_file()  # pulled all the same
    shown = console.file.getvalue()
    assert "m02: failed" in shown and "2/2 ended  sweep ETA" in shown
    assert all(word in shown for word in ("member", "matrix", "stage", "progress", "result"))

    again = plain_console()  # a new process: status from the registry
    data = commands.status(record.id, Registry(), again)
    assert [m["result"] for m in data["members"]] == ["succeeded", "failed"]
    assert "m01" in again.file.getvalue() and "suites=['tiny','crash']" in again.file.getvalue()


def arz(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``arz ARGS`` in a new process (the environment carries ARZ_HOME and the test suites)."""
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=project,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_detach_status_cancel_pull_each_from_a_new_process(project, monkeypatch, poll_fast):
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "60")  # m01 runs until it is cancelled
    sweep = project / "study.yml"
    sweep.write_text("name: stop\njob: jobs/two.yml\nmatrix:\n  seeds: [[0], [1]]\nmax_parallel: 1\n")
    started = arz(project, "sweep", str(sweep), "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "started 1; the other 1 start when you follow it" in started.stdout
    sweep_id = Registry().get_sweep().id
    assert f"arz sweep watch {sweep_id}" in started.stdout

    shown = arz(project, "sweep", "status", sweep_id, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert [m["status"] for m in data["members"]][1] == "pending" and data["members"][1]["job_id"] is None
    assert data["members"][0]["status"] in ("queued", "running")

    early = arz(project, "sweep", "pull", sweep_id)
    assert early.returncode == 2 and "have not ended (m01, m02)" in early.stderr

    stopped = arz(project, "sweep", "cancel", sweep_id)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "m01" in stopped.stdout and "cancelled" in stopped.stdout

    pulled = arz(project, "sweep", "pull", sweep_id)
    assert pulled.returncode == 1, pulled.stdout + pulled.stderr  # nothing succeeded
    out = project / "validation_output" / "sweeps" / f"local_{sweep_id}"
    summary = json.loads((out / "sweep_summary.json").read_text())
    assert summary["status"] == "failed"
    first, second = summary["members"]
    assert first["status"] == "cancelled" and first["result"] == "failed"
    assert (out / first["results_dir"] / "session_summary.json").is_file()
    assert second == {**second, "job_id": None, "status": "cancelled", "result": ""}
    assert len(Registry().members(sweep_id)) == 1  # the cancelled sweep never pushed m02


@pytest.mark.slow
def test_ctrl_c_detaches_and_watch_finishes_the_sweep(project, monkeypatch, poll_fast):
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "3")
    sweep = project / "study.yml"
    sweep.write_text("name: ctrlc\njob: jobs/two.yml\nmatrix:\n  seeds: [[0], [1], [2]]\n")
    child = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "sweep", str(sweep)],
                             cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            records = Registry().list() if (Path(os.environ["ARZ_HOME"]) / "registry.sqlite").exists() else []
            if any(r.status == "running" for r in records):
                break
            time.sleep(0.1)
        child.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, out + err
    sweep_id = Registry().get_sweep().id
    assert f"arz sweep watch {sweep_id}" in out
    running = [r for r in Registry().members(sweep_id) if r.status in ("queued", "running")]
    assert running  # Ctrl-C cancelled nothing: the started members are still recorded as started
    done = arz(project, "sweep", "watch", sweep_id)
    assert done.returncode == 0, done.stdout + done.stderr
    members = Registry().members(sweep_id)
    assert [m.member_id for m in members] == ["m01", "m02", "m03"]  # each pushed once
    assert all(m.result == "succeeded" for m in members)
