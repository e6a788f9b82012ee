"""The whole loop on the local backend: submit, watch, pull, cancel, restart, tampering."""

from __future__ import annotations

import io
import os
import re
import signal
import time

import pytest
from rich.console import Console

from kernel_payload.schema import RunStatus, Stage, SuiteStatus
from orchestrator import jobs
from orchestrator.backends.base import JobStatus
from orchestrator.backends.local import LocalBackend
from orchestrator.errors import BadInput, ManifestMismatch, PullError
from orchestrator.registry import Registry
from tests.orchestrator.conftest import git


def plain_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=200)


def wait_for(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_submit_watch_pull_end_to_end(project):
    (project / "jobs" / "tiny.yml").write_text("name: tiny\nsuites: [tiny]\ndevice: cpu\n")
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "tiny.yml", registry)
    assert sub.sync.committed  # the edited job file is tracked, so it was committed
    assert git(project, "log", "-1", "--format=%s").strip() == "arz: job tiny"
    assert list(sub.timings) == [Stage.LOAD, Stage.COMMIT, Stage.BUILD, Stage.GIT_PUSH, Stage.PUSH]
    console = plain_console()
    record, view = jobs.follow_job(sub.record, registry, console, sub.backend)
    assert record.status == JobStatus.COMPLETE.value
    assert {Stage.BOOTSTRAP, Stage.JOB} <= set(view.progress.rows)  # the kernel's own words
    printed = console.file.getvalue()
    assert re.search(r"tiny\s+3/3\s+ETA \S+\s+steps", printed) and "skipping pip" in printed
    assert "tiny/steps" in view.progress.steps
    record, folder, summary = jobs.pull_job(record, registry, backend=sub.backend)
    assert folder == project / "validation_output" / "results" / f"local_{record.slug}"
    assert summary.status == RunStatus.SUCCEEDED and summary.commit_sha == sub.sync.sha
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"session_summary.json", "report.html", f"{record.slug}.log", ".arz-results.json",
            "tiny/figures/tiny.png", "tiny/data/metrics/tiny.csv", "tiny/data/models/tiny.zip",
            "tiny/latex/tiny.tex"} == names  # fmt: skip
    assert "@@arz" in (folder / f"{record.slug}.log").read_text()
    assert Registry().get(record.id).result == "succeeded"  # a new registry object (restart)
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_crashing_job_is_pulled_as_failed(project):
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "crashy.yml", registry)
    record, _ = jobs.follow_job(sub.record, registry, plain_console(), sub.backend)
    # the kernel ran to its end (exit 0, summary written); the job's verdict is the result
    assert record.status == JobStatus.COMPLETE.value and record.result == "failed"
    assert "deliberate crash" in record.message
    record, _, summary = jobs.pull_job(record, registry, backend=sub.backend)
    assert summary.status == RunStatus.FAILED and record.result == "failed"
    assert summary.suite("tiny").status == SuiteStatus.SUCCEEDED
    assert "deliberate crash in test suite" in summary.suite("crash").error.traceback_tail


def test_cancel_mid_run_gives_a_failed_summary_never_succeeded(project, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "60")
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "two.yml", registry)
    backend = sub.backend
    wait_for(lambda: "slow/sleep" in "".join(backend.logs(sub.record.ref)))
    record, cancelled = jobs.cancel_job(sub.record, registry)
    assert cancelled and record.status == JobStatus.CANCELLED.value and record.result == "failed"
    _, _, summary = jobs.pull_job(record, registry, backend=backend)
    assert summary.status == RunStatus.FAILED
    assert summary.error.type == "Interrupted" and "SIGTERM" in summary.error.message
    assert summary.suite("tiny").status == SuiteStatus.SUCCEEDED
    assert summary.suite("slow").status == SuiteStatus.INTERRUPTED


def test_status_and_logs_from_a_new_process_view(project):
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "tiny.yml", registry)
    fresh = LocalBackend()  # knows nothing about the child process, like a later `arz status`
    wait_for(lambda: fresh.status(sub.record.ref).status.is_terminal())
    assert fresh.status(sub.record.ref).status == JobStatus.COMPLETE
    lines = list(fresh.logs(sub.record.ref, follow=True))
    assert lines[0].startswith("arz bootstrap: job ") and any("@@arz" in x for x in lines)
    record = jobs.refresh(Registry().get(sub.record.id[:12]), Registry())
    assert (record.status, record.result) == ("complete", "succeeded")


def test_tampered_output_is_detected_and_leaves_no_folder(project):
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "tiny.yml", registry)
    record, _ = jobs.follow_job(sub.record, registry, plain_console(), sub.backend)
    csv = sub.backend.root / record.slug / "output" / "tiny" / "data" / "metrics" / "tiny.csv"
    csv.write_bytes(csv.read_bytes().replace(b"9.0", b"8.0"))  # same size, other content
    with pytest.raises(ManifestMismatch) as info:
        jobs.pull_job(record, registry, backend=sub.backend)
    assert info.value.path == "tiny/data/metrics/tiny.csv" and "sha256" in str(info.value)
    assert f"arz pull {record.id}" in info.value.fix and "ID`" not in info.value.fix  # the real job id
    # neither the final folder nor a staging folder, nor the parents the pull had created
    assert not (project / "validation_output").exists()


def test_unexpected_and_missing_files_are_named(project):
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "tiny.yml", registry)
    record, _ = jobs.follow_job(sub.record, registry, plain_console(), sub.backend)
    output = sub.backend.root / record.slug / "output"
    (output / "tiny" / "extra.txt").write_text("not in the manifest")
    with pytest.raises(ManifestMismatch, match="tiny/extra.txt: not in the manifest"):
        jobs.pull_job(record, registry, backend=sub.backend)
    (output / "tiny" / "extra.txt").unlink()
    (output / "tiny" / "figures" / "tiny.png").unlink()
    with pytest.raises(ManifestMismatch, match="tiny/figures/tiny.png: missing"):
        jobs.pull_job(record, registry, backend=sub.backend)
    (output / "session_summary.json").unlink()
    with pytest.raises(PullError, match="no session_summary.json") as info:
        jobs.pull_job(record, registry, backend=sub.backend)
    assert f"arz logs {record.id}" in info.value.fix


def test_pull_twice_replaces_the_folder(project):
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "tiny.yml", registry)
    record, _ = jobs.follow_job(sub.record, registry, plain_console(), sub.backend)
    _, first, _ = jobs.pull_job(record, registry, backend=sub.backend)
    (first / "stale.txt").write_text("old")  # an earlier pull of this job (it has the marker)
    _, second, _ = jobs.pull_job(record, registry, backend=sub.backend)
    assert first == second and not (second / "stale.txt").exists()
    assert sorted(p.name for p in second.parent.iterdir()) == [second.name]


def test_fresh_clone_with_unreachable_remote_still_runs(project):
    git(project, "remote", "add", "origin", "https://unreachable.invalid/nothing.git")
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "tiny.yml", registry)
    assert not sub.sync.pushed
    record, _ = jobs.follow_job(sub.record, registry, plain_console(), sub.backend)
    assert (record.status, record.result) == ("complete", "succeeded")


def test_pull_refuses_a_running_job_and_an_unfinished_summary(project, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "60")
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "two.yml", registry)
    wait_for(lambda: "slow/sleep" in "".join(sub.backend.logs(sub.record.ref)))
    with pytest.raises(BadInput, match="is still running"):
        jobs.pull_job(sub.record, registry, backend=sub.backend)
    pgid = int((sub.backend.root / sub.record.slug / "pid").read_text())
    os.killpg(pgid, signal.SIGKILL)  # everything dies at once: nobody closes the summary
    wait_for(lambda: sub.backend.status(sub.record.ref).status.is_terminal())
    assert sub.backend.status(sub.record.ref).status == JobStatus.ERROR
    with pytest.raises(PullError, match="unfinished"):
        jobs.pull_job(sub.record, registry, backend=sub.backend)
    assert not (project / "validation_output").exists()


def test_a_kernel_cache_inside_the_runs_folder_is_refused_before_anything_starts(arz_home, monkeypatch):
    from orchestrator.backends.base import PushRequest
    from orchestrator.errors import BackendError

    backend = LocalBackend()
    monkeypatch.setenv("ARZ_KERNEL_CACHE_DIR", str(arz_home / "local" / "kernels"))
    with pytest.raises(BackendError, match="ARZ_KERNEL_CACHE_DIR=.*inside the local runs' folder") as err:
        backend.push(PushRequest(slug="arz-cache-inside", script="print('never runs')\n"))
    assert "~/.cache/arz/kernels" in err.value.fix
    assert not (backend.root / "arz-cache-inside").exists()
