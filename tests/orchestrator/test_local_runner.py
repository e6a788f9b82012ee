"""Local jobs behave like a runner: deadline, every process of the run stopped, temp folder removed.

Real processes throughout; "alive" is read from the process table (/proc), where a zombie
(already dead, waiting to be reaped by init) does not count.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from orchestrator import jobs
from orchestrator.backends import local
from orchestrator.backends.base import JobStatus, PushRequest
from orchestrator.backends.local import LocalBackend
from orchestrator.backends.local_runner import job_processes
from orchestrator.registry import JobRecord, Registry

# Starts a grandchild that leaves the session with setsid, writes its pid, then behaves per MODE.
SPAWNER = r"""
import os, subprocess, sys, tempfile, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                         start_new_session=True)
open(os.path.join(os.environ["ARZ_OUTPUT_DIR"], "..", "escaped.pid"), "w").write(str(child.pid))
open(os.path.join(tempfile.gettempdir(), "clone-like.txt"), "w").write("x")
print("spawned", child.pid, flush=True)
MODE
"""


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def wait_for(predicate, timeout_s: float = 60.0) -> None:
    give_up = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.05)


def push(backend: LocalBackend, slug: str, mode: str, deadline_s: float | None = None):
    script = SPAWNER.replace("MODE", mode)
    return backend.push(PushRequest(slug=slug, script=script, extra={"deadline_s": deadline_s}))


def escaped_pid(ref) -> int:
    path = Path(ref.workdir) / "escaped.pid"
    wait_for(path.exists)
    wait_for(lambda: path.read_text().strip().isdigit())
    return int(path.read_text())


def test_a_setsid_child_does_not_outlive_the_job(arz_home):
    backend = LocalBackend()
    ref = push(backend, "arz-setsid-00000000-0001", "pass")
    pid = escaped_pid(ref)
    wait_for(lambda: backend.status(ref).status.is_terminal())
    assert backend.status(ref).status is JobStatus.COMPLETE
    assert not alive(pid) and job_processes(ref.slug) == []
    tmpdir = Path((Path(ref.workdir) / "tmpdir").read_text())
    assert tmpdir.name == f"arz-job-{ref.slug}" and not tmpdir.exists()  # the clone's home is gone


def test_cancel_stops_the_kernel_and_its_setsid_child(arz_home):
    backend = LocalBackend()
    ref = push(backend, "arz-setsid-00000000-0002", "time.sleep(300)")
    pid = escaped_pid(ref)
    # the kernel and its escaped child (whose environment reads empty while it is still exec-ing)
    wait_for(lambda: len(job_processes(ref.slug)) >= 2)
    assert alive(pid)
    assert backend.cancel(ref) is True
    assert backend.status(ref).status is JobStatus.CANCELLED
    assert not alive(pid) and job_processes(ref.slug) == []
    assert not Path((Path(ref.workdir) / "tmpdir").read_text()).exists()


def test_the_deadline_stops_a_job_that_ignores_sigterm(arz_home, monkeypatch):
    monkeypatch.setattr(local, "KILL_GRACE_S", 1.0)
    backend = LocalBackend()
    mode = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    started = time.monotonic()
    ref = push(backend, "arz-deadline-00000000-0003", mode, deadline_s=5)
    pid = escaped_pid(ref)
    wait_for(lambda: backend.status(ref).status.is_terminal(), timeout_s=120)
    took = time.monotonic() - started
    status = backend.status(ref)
    assert (status.status, status.raw) == (JobStatus.ERROR, "deadline")
    assert "deadline of 5 s exceeded" in status.message
    assert 5 <= took < 5 + 1.0 + 30  # the kernel would have slept 300 s; slack for a busy machine
    assert not alive(pid) and job_processes(ref.slug) == []
    assert "deadline of 5 s exceeded" in "\n".join(backend.logs(ref))


def test_the_deadline_key_is_shared_and_the_old_kaggle_key_still_works():
    from kernel_payload.schema import JobSpec

    assert JobSpec(name="j", suites=["verify"], deadline="90 min").deadline == 5400
    assert JobSpec(name="j", suites=["verify"], kaggle={"deadline": "2h"}).deadline == 7200
    with pytest.raises(ValueError, match="keep only deadline"):
        JobSpec(name="j", suites=["verify"], deadline=60, kaggle={"deadline": 120})


def test_cancelling_a_finished_job_changes_nothing(arz_home):
    backend = LocalBackend()
    ref = push(backend, "arz-done-00000000-0004", "pass")
    wait_for(lambda: backend.status(ref).status.is_terminal())
    registry = Registry()
    record = JobRecord.new(ref, "done", "c" * 40, Path("/repo"), '{"job": {"suites": ["x"]}}')
    registry.add(record)
    record, cancelled = jobs.cancel_job(record, registry, backend)
    assert not cancelled and record.status == "complete"
    assert Registry().get(record.id).status == "complete"
    assert not (Path(ref.workdir) / "cancelled").exists()
    assert backend.cancel(ref) is False
    from typer.testing import CliRunner

    from orchestrator.cli import app

    said = CliRunner().invoke(app, ["cancel", record.id])
    assert said.exit_code == 0 and "had already ended (complete" in said.output
    assert "nothing was changed" in said.output and Registry().get(record.id).status == "complete"


def test_a_crashed_run_is_cleaned_at_the_next_start(arz_home):
    backend = LocalBackend()
    ref = push(backend, "arz-crash-00000000-0005", "time.sleep(300)")
    pid = escaped_pid(ref)
    tmpdir = Path((Path(ref.workdir) / "tmpdir").read_text())
    wait_for(lambda: (tmpdir / "clone-like.txt").exists())
    os.killpg(int((Path(ref.workdir) / "pid").read_text()), signal.SIGKILL)  # supervisor + kernel
    LocalBackend._children.pop(ref.slug).wait()
    assert tmpdir.exists() and alive(pid)  # what a crash leaves behind
    fresh = LocalBackend()  # "the next start": a new push cleans up first
    other = push(fresh, "arz-crash-00000000-0006", "pass")
    assert not tmpdir.exists() and not alive(pid)
    wait_for(lambda: fresh.status(other).status.is_terminal())
    assert backend.status(ref).status is JobStatus.ERROR  # vanished, never "running"


def test_a_kernel_cancelled_while_starting_still_leaves_a_failed_summary(arz_home):
    """A SIGTERM before the bootstrap installs its handler (here: it sleeps first, as a busy
    machine makes the interpreter's start-up slow) kills it without a summary; the supervisor
    writes the bootstrap's minimal failed one, so the pull has a verdict to show."""
    from kernel_payload.schema import JobSpec, KernelSpec, SessionSummary
    from orchestrator.kernel_builder import build_kernel_script

    slug = "arz-starting-00000000-0004"
    spec = KernelSpec(job_id=slug, slug=slug, commit_sha="0" * 40, repo_url="/nowhere",
                      job=JobSpec.model_validate({"name": "starting", "suites": ["verify"]}))  # fmt: skip
    script = "import time; time.sleep(300)\n" + build_kernel_script(spec, "/nowhere", [])
    backend = LocalBackend()
    ref = backend.push(PushRequest(slug=slug, script=script))
    wait_for(lambda: job_processes(slug) != [])  # the kernel runs (and sleeps)
    assert backend.cancel(ref) is True and backend.status(ref).status is JobStatus.CANCELLED
    fetched = backend.fetch_summary(ref, Path(ref.workdir) / "fetched")
    assert fetched is not None, "\n".join(backend.logs(ref))
    summary = SessionSummary.read(fetched.parent)
    assert summary.status.value == "failed" and summary.job_id == slug and summary.finished_at
    assert "cancelled while the kernel was starting" in summary.error.message
    assert [s.status.value for s in summary.suites] == ["not_run"]
    assert "wrote a failed summary" in "\n".join(backend.logs(ref))


def test_a_script_that_is_not_a_bootstrap_gets_no_summary(arz_home):
    backend = LocalBackend()
    ref = push(backend, "arz-setsid-00000000-0005", "pass")
    wait_for(lambda: backend.status(ref).status.is_terminal())
    assert not (Path(ref.workdir) / "output" / "session_summary.json").exists()
