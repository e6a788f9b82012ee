"""The supervisor of one local kernel run, and how every process of a run is found and stopped.

``python -m orchestrator.backends.local_runner WORKDIR DEADLINE_S GRACE_S JOB_ID TMPDIR`` is what
the local backend starts (detached, in its own session). Like a CI runner it

1. starts ``WORKDIR/kernel.py`` with ``ARZ_JOB_ID=<job id>`` in its environment (every descendant
   inherits it, even one that leaves the process group with ``setsid``) and ``TMPDIR`` set to a
   folder of its own (so the bootstrap's clone lands there);
2. at the deadline (``DEADLINE_S`` > 0) writes ``WORKDIR/deadline``, sends SIGTERM to the kernel
   (the bootstrap forwards it to the payload, which closes its summary) and SIGKILL to every
   process of the run after ``GRACE_S``;
3. when the kernel has exited, stops whatever it left behind (SIGTERM, then SIGKILL), removes the
   ``TMPDIR`` folder, writes a failed summary if the kernel was stopped before it could write one
   (:func:`close_summary`) and writes ``WORKDIR/exit_code`` last.

A SIGTERM to the supervisor (what ``cancel`` sends) is forwarded to the kernel alone: one signal,
one path, so the payload is never hit twice while it closes its summary. Processes are found by scanning ``/proc/*/environ`` for the marker (GitHub Actions'
runner tags its jobs' processes the same way); a process that wipes its own environment, or runs
as another user, is out of reach (documented in docs/orchestration.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

MARKER_ENV = "ARZ_JOB_ID"
POLL_S = 0.05
PENDING = {"sigterm": False}  # a SIGTERM before the kernel started, forwarded once it has


def job_processes(job_id: str) -> list[int]:
    """Pids of the live processes whose environment carries ``ARZ_JOB_ID=<job_id>``."""
    needle = f"{MARKER_ENV}={job_id}".encode()
    found = []
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                variables = handle.read().split(b"\0")
        except OSError:  # gone, or another user's
            continue
        if needle in variables:
            found.append(pid)
    return found


def _stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name: state, ppid, pgrp, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting for a reaper."""
    try:
        state = _stat(pid)[0]
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc: ask the kernel (a zombie then counts as alive)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state != "Z"


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` has a live member (zombies waiting for a reaper do not count)."""
    try:
        names = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:  # no /proc: ask the kernel (a zombie then counts as alive)
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for name in names:
        try:
            state, _ppid, pgrp = _stat(name)[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


def signal_job(job_id: str, sig: signal.Signals) -> int:
    """Send ``sig`` to every process of the run; return how many were signalled."""
    count = 0
    for pid in job_processes(job_id):
        try:
            os.kill(pid, sig)
            count += 1
        except (ProcessLookupError, PermissionError):
            pass
    return count


def stop_job(job_id: str, grace_s: float, done: Callable[[], bool] = lambda: False) -> None:
    """SIGTERM every process of the run; after ``grace_s`` (or once ``done()``) SIGKILL the rest."""
    if grace_s > 0:
        if not signal_job(job_id, signal.SIGTERM):
            return
        give_up = time.monotonic() + grace_s
        while time.monotonic() < give_up and job_processes(job_id) and not done():
            time.sleep(POLL_S)
    for _ in range(20):  # a process forking while it is killed may need another round
        if not signal_job(job_id, signal.SIGKILL):
            return
        time.sleep(POLL_S)


def supervise(workdir: Path, deadline_s: float, grace_s: float, job_id: str, tmpdir: Path) -> int:
    """Run the kernel under the deadline, clean up after it; return its exit code."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, MARKER_ENV: job_id, "TMPDIR": str(tmpdir)}
    child = subprocess.Popen([sys.executable, "-u", str(workdir / "kernel.py")], env=env)

    def forward(_signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)  # a handler, not SIG_IGN: children do not inherit it
    if PENDING["sigterm"]:  # a cancel that came before the kernel existed
        forward(signal.SIGTERM, None)
    try:
        code = child.wait(timeout=deadline_s if deadline_s > 0 else None)
    except subprocess.TimeoutExpired:
        (workdir / "deadline").write_text(f"{deadline_s:g}")
        print(f"arz: deadline of {deadline_s:g} s exceeded; stopping the kernel", flush=True)
        forward(signal.SIGTERM, None)
        try:
            code = child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            stop_job(job_id, 0.0)
            code = child.wait()
    stop_job(job_id, min(grace_s, 2.0))  # whatever the kernel left behind (setsid included)
    shutil.rmtree(tmpdir, ignore_errors=True)
    return code


def close_summary(workdir: Path, code: int, started: str) -> str | None:
    """Write a failed ``WORKDIR/output/session_summary.json`` when the kernel ended without a
    final one, and return why; None when it has one (or ``kernel.py`` is not a bootstrap).

    The bootstrap closes the summary itself on SIGTERM, a failed clone or install, or a payload
    that died; a signal that arrives while its interpreter is still starting (a cancel or a
    deadline in the first second, later on a busy machine) kills it before it can, and the
    pull would then find no summary at all. The summary is the bootstrap's own minimal one
    (:func:`orchestrator.kernel_bootstrap.write_minimal_summary`), from the configuration
    embedded in ``kernel.py`` (read, never run).
    """
    from orchestrator import kernel_bootstrap
    from orchestrator.kernel_builder import embedded_config

    out_dir = workdir / "output"
    if kernel_bootstrap.summary_is_final(out_dir):
        return None
    try:
        config = embedded_config((workdir / "kernel.py").read_text())
    except (OSError, ValueError):
        return None
    if "spec" not in config:
        return None
    if (workdir / "cancelled").exists():
        reason = f"cancelled while the kernel was starting, before it could write its summary (exit code {code})"
    elif (workdir / "deadline").exists():
        reason = f"stopped at its deadline before the kernel could write its summary (exit code {code})"
    else:
        reason = f"the kernel exited with code {code} without writing its summary"
    out_dir.mkdir(parents=True, exist_ok=True)
    kernel_bootstrap.write_minimal_summary(config, out_dir, started, reason)
    return reason


def main(argv: list[str]) -> int:
    """Entry point: ``WORKDIR DEADLINE_S GRACE_S JOB_ID TMPDIR``; writes ``WORKDIR/exit_code``."""
    from datetime import datetime, timezone

    signal.signal(signal.SIGTERM, lambda *_: PENDING.update(sigterm=True))  # forwarded once it runs
    workdir, deadline_s, grace_s, job_id, tmpdir = argv
    workdir_path = Path(workdir)
    started = datetime.now(timezone.utc).isoformat()
    code = supervise(workdir_path, float(deadline_s), float(grace_s), job_id, Path(tmpdir))
    try:
        reason = close_summary(workdir_path, code, started)
        if reason:
            print(f"arz: {reason}; wrote a failed summary that says so", flush=True)
    except Exception as exc:  # noqa: BLE001 - exit_code must still be written
        print(f"arz: the kernel left no summary and none could be written: {exc}", flush=True)
    tmp = workdir_path / "exit_code.tmp"
    tmp.write_text(str(code))
    os.replace(tmp, workdir_path / "exit_code")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
