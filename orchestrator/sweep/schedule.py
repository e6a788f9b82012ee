"""Run a recorded sweep to its end: members within the cap, each pushed once, pulled, aggregated.

:class:`SweepRunner` works from the registry alone, so ``arz sweep`` and ``arz sweep watch ID``
(a new process, after Ctrl-C or ``kill -9``) run the same loop. Each round it refreshes the
running members, pulls every member that ended into ``<out_dir>/members/<member_id>/`` (the
verified pull of ``arz pull``), and pushes pending members while fewer than the limit run (Kaggle
also caps GPU sessions at 2 and CPU sessions at 5). A push refused for Kaggle's GPU cap (another
session of the account holds the slot) stays pending and is tried again when a member ends or
``slot_retry_s`` passed; it never fails the sweep. When every member has ended and been pulled,
:func:`orchestrator.study.aggregate.aggregate_sweep` writes the study folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel_payload.schema import JobSpec, ProgressEvent
from orchestrator.backends.base import JobStatus
from orchestrator.errors import ArzError, BadInput
from orchestrator.jobs import UNKNOWN_RESULT, pull_job, refresh
from orchestrator.progress import JobProgress
from orchestrator.registry import JobRecord, Registry, SweepRecord
from orchestrator.sweep.launch import KAGGLE_CAPS, MemberLauncher, is_gpu, planned_members

log = logging.getLogger(__name__)
SWEEPS_ROOT = Path("validation_output") / "sweeps"
CANCELLED = "cancelled"


def sweep_dir(record: SweepRecord) -> Path:
    """``<repo>/validation_output/sweeps/<owner>_<sweep id>``: the study's folder."""
    return Path(record.repo_root) / SWEEPS_ROOT / f"{record.owner}_{record.id}"


@contextlib.contextmanager
def sweep_lock(record: SweepRecord) -> Iterator[None]:
    """Hold ``$ARZ_HOME/sweeps/<id>.lock`` while this process schedules the sweep, so two
    processes never push the same pending member (the OS drops the lock when a process dies,
    ``kill -9`` included).

    Raises:
        BadInput: another arz process is running this sweep's loop.
    """
    from orchestrator.home import arz_home

    folder = arz_home() / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / f"{record.id}.lock", "a+")  # held (and locked) until the with ends
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise BadInput(f"sweep {record.id} is already being run by another arz process "
                           f"(pid {holder}).", fix="follow it there, or stop that one (Ctrl-C) and "
                           f"run `arz sweep watch {record.id}` here") from exc  # fmt: skip
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock


@dataclass
class MemberState:
    """What the scheduler knows about one member.

    Attributes:
        member_id, matrix, job: from the sweep's plan.
        record: its registry job (None until it is recorded).
        progress: its progress events so far (fed by a log reader while it runs).
        pulled: a pull was done or attempted (the message says why it failed).
        note: the pull's failure, if any.
        landed: False for a member recorded ``submitting`` whose push is known not to have landed.
        ended_at: when this process first saw it ended (Unix time), for the sweep's ETA.
    """

    member_id: str
    matrix: dict[str, Any]
    job: JobSpec
    record: JobRecord | None = None
    progress: JobProgress = field(default_factory=JobProgress)
    pulled: bool = False
    note: str = ""
    landed: bool = True
    ended_at: float | None = None
    reader: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def status(self) -> str:
        """The member's lifecycle word (``pending`` before it is recorded)."""
        return self.record.status if self.record else "pending"

    @property
    def ended(self) -> bool:
        """Its kernel ended (or, never pushed, it will not run)."""
        return self.record is not None and self.record.job_status.is_terminal()

    @property
    def active(self) -> bool:
        """Pushed and not ended: it holds a slot."""
        return self.record is not None and self.record.job_status not in (
            JobStatus.SUBMITTING, JobStatus.COMPLETE, JobStatus.ERROR, JobStatus.CANCELLED)


class SweepRunner:
    """The scheduling loop of one sweep.

    Args:
        launcher: pushes members (holds the sweep record, registry and backend).
        poll_s: pause between rounds, in seconds.
        slot_retry_s: after a push refused for the GPU cap, wait this long (or for a member to
            end) before trying again.
    """

    def __init__(self, launcher: MemberLauncher, poll_s: float = 5.0, slot_retry_s: float = 30.0) -> None:
        self.launcher, self.poll_s, self.slot_retry_s = launcher, poll_s, slot_retry_s
        self.registry: Registry = launcher.registry
        self.backend = launcher.backend
        self.members = [MemberState(m["member_id"], m["matrix"], m["job"])
                        for m in planned_members(launcher.record)]  # fmt: skip
        self._slot_retry_at = 0.0
        self._load_records()

    @property
    def record(self) -> SweepRecord:
        """The sweep's registry row."""
        return self.launcher.record

    def _load_records(self) -> None:
        by_id = {m.member_id: m for m in self.members}
        for job in self.registry.members(self.record.id):
            if job.member_id in by_id:
                by_id[job.member_id].record = job

    # ------------------------------------------------------------------------------- the loop
    def adopt(self) -> None:
        """Members an earlier process recorded as ``submitting``: watch the ones whose kernel
        exists, mark the others to be pushed again (same slug) within the limit."""
        for member in self.members:
            if member.record is not None and member.record.job_status is JobStatus.SUBMITTING:
                adopted = self.launcher.adopt(member.record)
                member.record, member.landed = (adopted, True) if adopted else (member.record, False)

    def step(self) -> None:
        """One round: refresh the running members, pull the ended ones, push within the limit
        (``arz sweep cancel`` from another process is seen here: the sweep row is read again)."""
        self.launcher.record = self.registry.get_sweep(self.record.id)
        for member in self.members:
            if member.active:
                self.refresh_member(member)
            if member.active and member.reader is None:
                self._start_reader(member)
            if member.ended and not member.pulled:
                member.ended_at = time.time()
                self.pull_member(member)
                self._slot_retry_at = 0.0  # a slot freed: a refused push may go now
        self._launch_pending()

    def done(self) -> bool:
        """Every member ended and was pulled (or, the sweep cancelled, will never run)."""
        cancelled = self.record.status == CANCELLED
        return all((m.ended and m.pulled) or (cancelled and not m.active and not m.ended)
                   for m in self.members)  # fmt: skip

    def run(self, on_round: Callable[[SweepRunner], None] | None = None) -> None:
        """Rounds until :meth:`done`; ``on_round`` is called after each (the live view).

        Raises:
            BadInput: another process runs this sweep's loop (:func:`sweep_lock`).
            KeyboardInterrupt: Ctrl-C; the members keep running (``arz sweep watch ID``).
        """
        with sweep_lock(self.record):
            self.adopt()
            while True:
                self.step()
                if on_round is not None:
                    on_round(self)
                if self.done():
                    return
                time.sleep(self.poll_s)

    def aggregate(self) -> tuple[dict, Path]:
        """Write the study folder (:func:`~orchestrator.study.aggregate.aggregate_sweep`) and store
        the sweep's verdict; return the summary and the folder."""
        from orchestrator.study.aggregate import MemberResult, aggregate_sweep

        results = []
        for m in self.members:
            record, folder = m.record, None
            if record is not None and record.results_dir:
                folder = Path(record.results_dir)
            message = "; ".join(t for t in ((record.message if record else ""), m.note) if t)
            status = record.status if m.ended or m.active else self._never_ran()
            result = (record.result or UNKNOWN_RESULT) if m.ended else ""
            results.append(MemberResult(m.member_id, m.matrix, record.id if m.ended or m.active else None,
                                        status, result, folder, message))  # fmt: skip
        out_dir = sweep_dir(self.record)
        summary = aggregate_sweep(self.record.name, self.record.id, results, out_dir)
        keep = CANCELLED if self.record.status == CANCELLED else summary.get("status", "")
        self.launcher.record = self.registry.update_sweep(self.record, status=keep, out_dir=str(out_dir))
        return summary, out_dir

    # ------------------------------------------------------------------------------ internals
    def _never_ran(self) -> str:
        """The status of a member that never started: ``cancelled`` in a cancelled sweep."""
        return CANCELLED if self.record.status == CANCELLED else "pending"

    def refresh_member(self, member: MemberState) -> None:
        """Ask the backend for a running member's status (a failure keeps the last one)."""
        try:
            member.record = refresh(member.record, self.registry, self.backend)
        except ArzError as exc:  # a backend hiccup: keep the last status, try again next round
            log.warning("could not refresh %s: %s", member.member_id, exc)

    def pull_member(self, member: MemberState) -> None:
        """Pull an ended member into ``<out_dir>/members/<member_id>/`` (once; a failure is kept
        in ``note``)."""
        member.pulled = True
        if not member.record.owner:  # never started (its push failed): nothing to pull
            return
        if member.record.results_dir and Path(member.record.results_dir).is_dir():
            return  # pulled by an earlier process
        destination = sweep_dir(self.record) / "members" / member.member_id
        try:
            member.record, _, _ = pull_job(member.record, self.registry, destination, self.backend)
        except ArzError as exc:
            member.note = f"not pulled: {exc.message}"

    def _launch_pending(self) -> None:
        if self.record.status == CANCELLED:
            return
        for member in self._pending():
            if not self._slot_free(member):
                continue
            if time.monotonic() < self._slot_retry_at and is_gpu(member.job):
                continue
            if member.record is None:
                member.record = self.launcher.launch(member.member_id, member.job)
            else:
                member.record = self.launcher.push(member.record)
            member.landed = member.record.job_status is not JobStatus.SUBMITTING
            if not member.landed:  # refused for the GPU cap: wait for a slot
                self._slot_retry_at = time.monotonic() + self.slot_retry_s

    def _pending(self) -> list[MemberState]:
        waiting = [m for m in self.members if m.record is not None and not m.landed]
        fresh = [m for m in self.members if m.record is None]
        return waiting + fresh

    def _slot_free(self, member: MemberState) -> bool:
        active = [m for m in self.members if m.active]
        if len(active) >= self.record.max_parallel:
            return False
        if self.backend.name != "kaggle":
            return True
        kind = "gpu" if is_gpu(member.job) else "cpu"
        same = sum((("gpu" if is_gpu(m.job) else "cpu") == kind) for m in active)
        return same < KAGGLE_CAPS[kind]

    def _start_reader(self, member: MemberState) -> None:
        ref = member.record.ref

        def read() -> None:
            try:
                for line in self.backend.logs(ref, follow=True):
                    event = ProgressEvent.from_line(line)
                    if event is not None:
                        with member.lock:
                            member.progress.apply(event)
            except Exception as exc:  # progress is for the view only; the status polls go on
                log.info("stopped reading the log of %s: %s", member.member_id, exc)

        member.reader = threading.Thread(target=read, name=f"arz-sweep-{member.member_id}", daemon=True)
        member.reader.start()
