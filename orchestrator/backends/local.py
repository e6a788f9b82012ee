"""The local backend: runs the generated kernel script in a detached subprocess on this machine.

Each run gets its own working folder ``$ARZ_HOME/local/<slug>/``::

    kernel.py      the generated bootstrap, exactly what Kaggle would run
    output/        the kernel's working directory: only results end up here
    kernel.log     everything the kernel printed (stdout and stderr)
    pid            the process-group id of the run (its supervisor's pid)
    tmpdir         the run's temporary folder (``$TMPDIR`` of the kernel: the clone goes there)
    deadline       present when the job's deadline stopped the run
    exit_code      written by the supervisor last, once the kernel and its leftovers are gone
    cancelled      present after ``cancel``

A supervisor (:mod:`orchestrator.backends.local_runner`) runs the kernel in its own session, so
Ctrl-C in the terminal that watches it does not reach it; it enforces the job's deadline, tags
every process of the run with ``ARZ_JOB_ID`` and stops them all when the kernel ends or the run is
cancelled, and removes the run's temporary folder. A run whose supervisor died (SIGKILL, reboot)
is cleaned up at the next push. ``status`` is the kernel's lifecycle only (queued, running,
complete, error, cancelled); the job's verdict comes from its summary (:meth:`fetch_summary`).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from kernel_payload.schema import DEFAULT_MAX_RESULT_BYTES, SUMMARY_FILE
from orchestrator.backends.base import JobStatus, KernelRef, PushRequest, RemoteStatus
from orchestrator.backends.local_runner import group_alive, pid_alive, stop_job
from orchestrator.errors import BackendError, OutputRefused
from orchestrator.home import arz_home
from orchestrator.output_guard import ByteBudget, copy_file_safely, copy_tree_safely

KERNEL_CACHE_ENV = "ARZ_KERNEL_CACHE_DIR"
CANCEL_GRACE_S = 20.0
KILL_GRACE_S = 5.0
"""Seconds between SIGTERM and SIGKILL when the deadline stops a run."""
POLL_S = 0.1
SUMMARY_MAX_BYTES = 16 * 2**20


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
        """Write the script into a fresh working folder and start it detached.

        ``request.extra["deadline_s"]`` (the job's deadline, optional) is enforced by the
        supervisor. Runs left behind by a crash are cleaned up first.
        """
        self.clean_stale_runs()
        self._check_kernel_cache()
        workdir = self.root / request.slug
        try:
            (workdir / "output").mkdir(parents=True)
        except FileExistsError as exc:
            raise BackendError(f"a local run named {request.slug} already exists in {workdir}.",
                               fix="submit again (slugs are fresh per run)") from exc  # fmt: skip
        (workdir / "kernel.py").write_text(request.script)
        tmpdir = Path(tempfile.gettempdir()) / f"arz-job-{request.slug}"
        (workdir / "tmpdir").write_text(str(tmpdir))
        deadline_s = float(request.extra.get("deadline_s") or 0)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "ARZ_OUTPUT_DIR": str(workdir / "output")}
        args = [str(workdir), f"{deadline_s:g}", f"{KILL_GRACE_S:g}", request.slug, str(tmpdir)]
        with open(workdir / "kernel.log", "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "orchestrator.backends.local_runner", *args],
                cwd=workdir / "output", env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        (workdir / "pid").write_text(str(child.pid))
        self._children[request.slug] = child
        return KernelRef(backend=self.name, slug=request.slug, owner="local", workdir=str(workdir))

    def find(self, slug: str, gpu: bool = False, deadline_s: float | None = None) -> KernelRef | None:
        """The run of ``slug`` if it was started (its folder has the ``pid`` the launcher writes
        right after starting it), else None. ``gpu`` and ``deadline_s`` are not used here."""
        workdir = self.root / slug
        if not (workdir / "pid").is_file():
            return None
        return KernelRef(backend="local", slug=slug, owner="local", workdir=str(workdir))

    def status(self, ref: KernelRef) -> RemoteStatus:
        """The kernel's lifecycle from the process state, the exit code and the marker files."""
        workdir = self._workdir(ref)
        code = self._exit_code(ref)
        cancelled = (workdir / "cancelled").exists()
        if code is None:
            if self._alive(ref):
                return RemoteStatus(JobStatus.RUNNING, raw="cancelling" if cancelled else "running")
            if cancelled:
                return RemoteStatus(JobStatus.CANCELLED, raw="cancelled")
            return RemoteStatus(JobStatus.ERROR, raw="vanished",
                                message="the kernel process ended without an exit code (killed, or "
                                "the machine restarted)")  # fmt: skip
        if cancelled:
            return RemoteStatus(JobStatus.CANCELLED, raw=f"cancelled, exit {code}")
        if (workdir / "deadline").exists():
            limit = (workdir / "deadline").read_text().strip()
            return RemoteStatus(JobStatus.ERROR, raw="deadline",
                                message=f"deadline of {limit} s exceeded; the kernel was stopped")
        if code == 0:
            return RemoteStatus(JobStatus.COMPLETE, raw="exit 0")
        return RemoteStatus(JobStatus.ERROR, raw=f"exit {code}",
                            message=f"the kernel exited with code {code} (see `arz logs {ref.slug}`)")

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

    def download(self, ref: KernelRef, dest: Path, max_bytes: int | None = None) -> list[Path]:
        """Copy ``output/`` into ``dest`` and the log as ``<slug>.log``; return the files.

        Links, devices and FIFOs are refused without being followed; at most ``max_bytes`` bytes
        (default 5 GiB) are copied, counted while copying.

        Raises:
            OutputRefused: a special file, an output named like the log, or the cap passed.
        """
        workdir = self._workdir(ref)
        budget = ByteBudget(max_bytes or DEFAULT_MAX_RESULT_BYTES)
        copied = copy_tree_safely(workdir / "output", dest, budget)
        log = dest / f"{ref.slug}.log"
        if os.path.lexists(log):
            raise OutputRefused(f"the kernel's output holds a file named like its log ({log.name}).",
                                fix="rename that output; the log name is reserved")  # fmt: skip
        return [*copied, copy_file_safely(workdir / "kernel.log", log, log.name, budget)]

    def fetch_summary(self, ref: KernelRef, dest: Path) -> Path | None:
        """Copy only the top-level ``session_summary.json`` (a regular file, capped) into ``dest``."""
        source = self._workdir(ref) / "output" / SUMMARY_FILE
        try:
            if not stat.S_ISREG(os.lstat(source).st_mode):
                return None
        except OSError:
            return None
        dest.mkdir(parents=True, exist_ok=True)
        return copy_file_safely(source, dest / SUMMARY_FILE, SUMMARY_FILE,
                                ByteBudget(SUMMARY_MAX_BYTES))  # fmt: skip

    def cancel(self, ref: KernelRef) -> bool:
        """Stop the run: SIGTERM its processes (the payload writes its summary), SIGKILL after 20 s.

        Every process tagged with the run's ``ARZ_JOB_ID`` is stopped, including ones that left
        the process group, and the run's temporary folder is removed.

        Returns:
            False when the run had already ended (nothing is changed then), True otherwise.
        """
        workdir = self._workdir(ref)
        if self._exit_code(ref) is not None:
            return False
        if not self._alive(ref):  # ended without its supervisor: only sweep what it left
            stop_job(ref.slug, 0.0)
            self._remove_tmpdir(workdir)
            return False
        (workdir / "cancelled").touch()
        pgid = self._pgid(ref)
        if pgid is not None and self._alive(ref):
            _signal_pid(pgid, signal.SIGTERM)  # the supervisor forwards it to the kernel
            give_up = time.monotonic() + CANCEL_GRACE_S
            while self._alive(ref) and time.monotonic() < give_up:
                time.sleep(POLL_S)
            if self._alive(ref):
                _signal_group(pgid, signal.SIGKILL)
        stop_job(ref.slug, 0.0)  # anything left (the supervisor already swept, unless killed)
        self._remove_tmpdir(workdir)
        return True

    def clean_stale_runs(self) -> list[str]:
        """Stop the leftovers and remove the temporary folder of runs whose supervisor is gone.

        A run is stale when its supervisor (the leader of its process group, ``WORKDIR/pid``) is
        dead or a zombie while its temporary folder is still there: the supervisor removes that
        folder on every way out but SIGKILL. Kernel processes it left behind, still dying or
        running on unsupervised, are stopped here (judging by the whole group instead would skip a
        run whose kernel was killed with it but has not finished exiting).

        Returns:
            The slugs that were cleaned.
        """
        cleaned = []
        if not self.root.is_dir():
            return cleaned
        for workdir in sorted(self.root.iterdir()):
            tmpdir = _read(workdir / "tmpdir")
            if not tmpdir or not os.path.lexists(tmpdir):
                continue
            child = self._children.get(workdir.name)
            if child is not None and child.poll() is None:
                continue
            pid = _read(workdir / "pid")
            if pid.isdigit() and pid_alive(int(pid)):
                continue
            stop_job(workdir.name, 0.0)
            self._remove_tmpdir(workdir)
            cleaned.append(workdir.name)
        return cleaned

    def _check_kernel_cache(self) -> None:
        """Refuse a kernel cache (``$ARZ_KERNEL_CACHE_DIR``) inside the runs' folders.

        Compiled kernels are kept between jobs in a per-user folder (the bootstrap's
        ``kernel_cache_dir``, default ``~/.cache/arz/kernels``); inside a run's folder they would
        mix with its results or vanish with it.
        """
        value = os.environ.get(KERNEL_CACHE_ENV, "").strip()
        if not value or value.lower() == "off":
            return
        cache, root = Path(value).expanduser().resolve(), self.root.resolve()
        if cache == root or root in cache.parents:
            raise BackendError(f"{KERNEL_CACHE_ENV}={value} lies inside the local runs' folder "
                               f"{root}, where only job files and results belong.",
                               fix=f"unset {KERNEL_CACHE_ENV} (compiled kernels then go to "
                               "~/.cache/arz/kernels) or point it outside ARZ_HOME")  # fmt: skip

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

    def _remove_tmpdir(self, workdir: Path) -> None:
        tmpdir = _read(workdir / "tmpdir")
        if tmpdir and Path(tmpdir).name.startswith("arz-job-"):
            shutil.rmtree(tmpdir, ignore_errors=True)

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
        return pgid is not None and group_alive(pgid)


def _signal_pid(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""

