"""What the Kaggle backend remembers about one kernel run, and Kaggle's status vocabulary.

Kaggle keeps no memory of our deadline, of whether the pinned run has been seen alive, or of the
outputs fetched before a kernel was deleted; :class:`KernelState` keeps them in
``<workdir>/state.json`` (``KernelRef.workdir``), so a new process — ``arz watch`` after a crash
or Ctrl-C — picks up exactly where the last one stopped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orchestrator.backends.base import JobStatus, KernelRef, RemoteStatus
from orchestrator.backends.kaggle.errors import KaggleQuotaExhausted

log = logging.getLogger(__name__)
STATE_FILE = "state.json"

_KAGGLE_TO_JOB = {
    "queued": JobStatus.QUEUED,
    "new_script": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "cancel_requested": JobStatus.RUNNING,
    "complete": JobStatus.COMPLETE,
    "error": JobStatus.ERROR,
    "cancel_acknowledged": JobStatus.CANCELLED,
}


def kaggle_status_name(raw: Any) -> str:
    """Kaggle's status word in one spelling: ``complete``, ``cancel_acknowledged``, ...

    Accepts the SDK enum (``KernelWorkerStatus.COMPLETE``), its ``str()``, the bare name in any
    case, camelCase (``cancelAcknowledged``) and the proto form
    (``KERNEL_WORKER_STATUS_COMPLETE``).
    """
    text = getattr(raw, "name", None) or str(raw or "")
    text = text.rsplit(".", 1)[-1]
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text).lower()
    return text.removeprefix("kernel_worker_status_")


def map_kaggle_status(raw: Any) -> JobStatus:
    """The one mapping from Kaggle's ``KernelWorkerStatus`` to :class:`JobStatus`.

    ``queued``/``new_script`` -> QUEUED; ``running`` and ``cancel_requested`` (still running)
    -> RUNNING; ``complete`` -> COMPLETE (the script exited 0; the job's own verdict is in its
    ``session_summary.json``); ``error`` -> ERROR; ``cancel_acknowledged`` -> CANCELLED;
    anything else -> UNKNOWN.
    """
    return _KAGGLE_TO_JOB.get(kaggle_status_name(raw), JobStatus.UNKNOWN)


@dataclass
class KernelState:
    """The backend's own record of one pushed kernel version.

    Attributes:
        owner: account owning the kernel.
        slug: kernel slug.
        version: pinned version number.
        pushed_at: Unix time of the push, in s.
        deadline_at: Unix time after which outputs are fetched and the kernel deleted, or None.
        gpu: whether the kernel asked for a GPU.
        seen_active: the pinned run has been seen queued or running (so a terminal status is
            about it, not a stale answer about an earlier run).
        final: the status recorded when arz ended the run itself (cancel, deadline), as
            ``{"status", "raw", "message"}``; None while Kaggle is the authority.
        salvage: folder holding the outputs fetched before the kernel was deleted, or None.
    """

    owner: str
    slug: str
    version: int | None
    pushed_at: float
    deadline_at: float | None = None
    gpu: bool = False
    seen_active: bool = False
    final: dict[str, str] | None = None
    salvage: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> KernelState | None:
        """Read ``folder/state.json``; None when there is none."""
        path = folder / STATE_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @classmethod
    def for_ref(cls, folder: Path, ref: KernelRef) -> KernelState:
        """The state saved in ``folder``, or a fresh one for a ref this machine never pushed
        (which trusts what Kaggle says: seen active, no deadline)."""
        return cls.load(folder) or cls(ref.owner, ref.slug, ref.version, pushed_at=0.0,
                                       seen_active=True)  # fmt: skip

    def save(self, folder: Path) -> None:
        """Write ``folder/state.json`` atomically."""
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{STATE_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, folder / STATE_FILE)

    def final_status(self) -> RemoteStatus | None:
        """The status arz recorded when it ended the run, or None."""
        if not self.final:
            return None
        return RemoteStatus(JobStatus(self.final["status"]), self.final.get("raw", ""),
                            self.final.get("message", ""))

    def finish(self, status: JobStatus, raw: str, message: str) -> RemoteStatus:
        """Record that arz ended the run with ``status``; return it as a :class:`RemoteStatus`."""
        self.final = {"status": status.value, "raw": raw, "message": message}
        return RemoteStatus(status, raw, message)


@dataclass(frozen=True)
class GpuQuota:
    """The account's weekly GPU quota, in hours.

    Attributes:
        total_h: hours allowed this week.
        used_h: hours used.
        reserved_h: hours held by sessions now running.
        refresh_at: when the quota resets (UTC), if Kaggle says.
    """

    total_h: float
    used_h: float
    reserved_h: float = 0.0
    refresh_at: datetime | None = None

    @property
    def left_h(self) -> float:
        """Hours still available."""
        return max(0.0, self.total_h - self.used_h - self.reserved_h)

    def check(self, min_left_h: float) -> None:
        """Refuse a GPU push when less than ``min_left_h`` hours are left.

        Raises:
            KaggleQuotaExhausted: naming what is left, what was used and when it resets.
        """
        if self.left_h >= min_left_h:
            return
        when = f" it resets {self.refresh_at:%Y-%m-%d %H:%M} UTC." if self.refresh_at else ""
        raise KaggleQuotaExhausted(
            f"only {self.left_h:.1f} h of weekly GPU quota left "
            f"({self.used_h:.1f} of {self.total_h:.0f} h used);{when}",
            fix="wait for the reset, or run this job on CPU (device: cpu) or --backend local")

    @classmethod
    def from_answer(cls, answer: Any) -> GpuQuota | None:
        """Read a ``GetAcceleratorQuotaStatistics`` answer; None when it has no GPU quota."""
        gpu = answer.gpu_quota
        if gpu is None or gpu.total_time_allowed is None:
            return None
        hours = [(d.total_seconds() / 3600 if d is not None else 0.0)
                 for d in (gpu.total_time_allowed, gpu.time_used, gpu.time_reserved)]
        refresh = answer.quota_refresh_time
        if refresh is not None and refresh.tzinfo is None:
            refresh = refresh.replace(tzinfo=timezone.utc)
        return cls(*hours, refresh_at=refresh)


def check_push_quota(quota: GpuQuota | None, min_left_h: float, deadline_s: float) -> None:
    """Before a GPU push: refuse below ``min_left_h`` hours left (:meth:`GpuQuota.check`), warn
    when the job's deadline exceeds what is left or Kaggle reported no quota."""
    if quota is None:
        log.warning("Kaggle reported no GPU quota; pushing anyway")
        return
    quota.check(min_left_h)
    if deadline_s / 3600 > quota.left_h:
        log.warning("the job may run %.1f h but only %.1f h of GPU quota are left; Kaggle "
                    "stops the session when the quota runs out", deadline_s / 3600, quota.left_h)
