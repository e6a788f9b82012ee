"""The local backend: runs the generated kernel script in a detached subprocess on this machine.

Each run gets its own working folder ``$ARZ_HOME/local/<slug>/``::

    kernel.py      the generated bootstrap, exactly what Kaggle would run
    output/        the kernel's working directory: only results end up here
    kernel.log     everything the kernel printed (stdout and stderr)
    pid            the process-group id of the run
    exit_code      written by the launcher when the kernel exits
    cancelled      present after ``cancel``

The kernel runs in its own session (``start_new_session``), so Ctrl-C in the terminal that watches it
does not reach it; ``cancel`` signals its whole process group.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from orchestrator.backends.base import JobStatus, KernelRef, PushRequest, RemoteStatus
from orchestrator.errors import BackendError
from orchestrator.home import arz_home

CANCEL_GRACE_S = 20.0
POLL_S = 0.1

# Waits for the kernel and records its exit code; survives the SIGTERM of a cancel so it can.
_LAUNCHER = """
import os, signal, subprocess, sys
signal.signal(signal.SIGTERM, lambda *_: None)
code = subprocess.call([sys.executable, "-u", sys.argv[1]])
with open(sys.argv[2] + ".tmp", "w") as fh:
    fh.write(str(code))
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
"""


class LocalBackend:
    """Run kernels as local subprocesses (the embedded default backend).

    Args:
        home: state folder; defaults to :func:`orchestrator.home.arz_home`.
    """

    name = "local"
    requires_push = False
    _children: ClassVar[dict[str, subprocess.Popen]] = {}
    """Launchers started by this process (shared by every instance, so any of them can reap)."""

    def __init__(self, home: Path | None = None) -> None:
        self._home = home

    @property
    def root(self) -> Path:
        """Folder that holds one working folder per run."""
        return (self._home or arz_home()) / "local"

    def push(self, request: PushRequest) -> KernelRef:
        """Write the script into a fresh working folder and start it detached."""
        workdir = self.root / request.slug
        try:
            (workdir / "output").mkdir(parents=True)
        except FileExistsError as exc:
            raise BackendError(f"a local run named {request.slug} already exists in {workdir}.",
                               fix="submit again (slugs are fresh per run)") from exc  # fmt: skip
        script = workdir / "kernel.py"
        script.write_text(request.script)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "ARZ_OUTPUT_DIR": str(workdir / "output")}
        with open(workdir / "kernel.log", "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, str(script), str(workdir / "exit_code")],
                cwd=workdir / "output", env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        (workdir / "pid").write_text(str(child.pid))
        self._children[request.slug] = child
        return KernelRef(backend=self.name, slug=request.slug, owner="local", workdir=str(workdir))

    def status(self, ref: KernelRef) -> RemoteStatus:
        """From the process state, the exit code and the summary the kernel left."""
        workdir = self._workdir(ref)
        code = self._exit_code(ref)
        cancelled = (workdir / "cancelled").exists()
        if code is None:
            if self._alive(ref):
                return RemoteStatus(JobStatus.RUNNING, raw="cancelling" if cancelled else "running")
            if cancelled:
                return RemoteStatus(JobStatus.CANCELLED, raw="cancelled")
            return RemoteStatus(JobStatus.FAILED, raw="vanished",
                                message="the kernel process ended without an exit code (killed, or "
                                "the machine restarted)")  # fmt: skip
        if cancelled:
            return RemoteStatus(JobStatus.CANCELLED, raw=f"cancelled, exit {code}")
        return _status_from_summary(workdir / "output", code, ref.slug)

    def logs(self, ref: KernelRef, follow: bool = False) -> Iterator[str]:
        """Lines of ``kernel.log`` from the start; with ``follow``, until the kernel has ended."""
        path = self._workdir(ref) / "kernel.log"
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            pending = ""
            while True:
                chunk = handle.readline()
                if chunk:
                    pending += chunk
                    if pending.endswith("\n"):
                        yield pending.rstrip("\r\n")
                        pending = ""
                    continue
                if not follow or self.status(ref).status.is_terminal():
                    rest = pending + handle.read()
                    yield from (line for line in rest.splitlines())
                    return
                time.sleep(POLL_S)

    def download(self, ref: KernelRef, dest: Path) -> list[Path]:
        """Copy ``output/`` into ``dest`` and the log as ``<slug>.log``; return the files."""
        workdir = self._workdir(ref)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copytree(workdir / "output", dest, dirs_exist_ok=True)
        shutil.copy2(workdir / "kernel.log", dest / f"{ref.slug}.log")
        return sorted(p for p in dest.rglob("*") if p.is_file())

    def cancel(self, ref: KernelRef) -> None:
        """SIGTERM the run's process group (the payload writes its summary), SIGKILL after 20 s."""
        workdir = self._workdir(ref)
        (workdir / "cancelled").touch()
        pgid = self._pgid(ref)
        if pgid is None or not self._alive(ref):
            return
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + CANCEL_GRACE_S
        while self._alive(ref) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        if self._alive(ref):
            _signal_group(pgid, signal.SIGKILL)

    # ------------------------------------------------------------------------------- internals
    def _workdir(self, ref: KernelRef) -> Path:
        workdir = Path(ref.workdir) if ref.workdir else self.root / ref.slug
        if not workdir.is_dir():
            raise BackendError(f"the working folder of local run {ref.slug} is gone ({workdir}).",
                               fix="the run cannot be observed any more; submit it again")  # fmt: skip
        return workdir

    def _exit_code(self, ref: KernelRef) -> int | None:
        child = self._children.get(ref.slug)
        if child is not None:
            child.poll()  # reap our own child so it does not linger as a zombie
        try:
            return int((self._workdir(ref) / "exit_code").read_text().strip())
        except (OSError, ValueError):
            return None

    def _pgid(self, ref: KernelRef) -> int | None:
        try:
            return int((self._workdir(ref) / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _alive(self, ref: KernelRef) -> bool:
        """Whether any process of the run is still there (the launcher writes exit_code last)."""
        child = self._children.get(ref.slug)
        if child is not None and child.poll() is None:
            return True
        if (self._workdir(ref) / "exit_code").exists():
            return False
        pgid = self._pgid(ref)
        if pgid is None:
            return False
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _status_from_summary(output: Path, code: int, job_id: str = "ID") -> RemoteStatus:
    """Map a finished run to a status: succeeded only with exit 0 and a succeeded summary."""
    from kernel_payload.schema import SessionSummary, ValidationError

    try:
        summary = SessionSummary.read(output)
    except (OSError, ValueError, ValidationError):
        return RemoteStatus(JobStatus.FAILED, raw=f"exit {code}",
                            message=f"the kernel exited with code {code} and left no readable "
                            f"session_summary.json (see `arz logs {job_id}`)")  # fmt: skip
    raw = f"exit {code}, summary {summary.status.value}"
    if code == 0 and summary.status.value == "succeeded":
        return RemoteStatus(JobStatus.SUCCEEDED, raw=raw)
    return RemoteStatus(JobStatus.FAILED, raw=raw, message=f"{summary.status.value}: {summary.reason}")
