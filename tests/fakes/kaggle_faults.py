"""Fault injection and records of the fake Kaggle server (see :mod:`tests.fakes.kaggle_server`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tests.fakes.kaggle_sessions import FakeSession


@dataclass
class Faults:
    """Faults to inject; counters count down as they fire.

    Attributes:
        rate_limited_calls: the next N API calls answer 429 with ``Retry-After``.
        retry_after: the ``Retry-After`` header value, in seconds.
        push_unavailable: the next N SaveKernel calls answer 503 without creating anything.
        push_lost_reply: the next N SaveKernel calls create the version, then answer 500.
        push_error: the next SaveKernel answers HTTP 200 with this ``error``.
        hang_method: API method (or ``"stream"``) whose next ``hang_calls`` calls hang.
        hang_calls: how many calls hang.
        hang_s: how long a hung call sleeps before answering, in seconds.
        stale_status_calls: the next N status calls answer ``stale_status`` (a previous run's).
        stale_status: the stale status word.
        sse_drops: how many SSE connections are cut mid-event.
        sse_drop_after: events sent on a connection before it is cut.
        corrupt: file name -> how many downloads serve it with flipped bytes (same size).
        truncate: file name -> how many downloads serve only its first half.
        cut: file name -> how many downloads announce the whole file (``Content-Length``) but
            send only its first half before closing the connection.
        busy_gpu_sessions: GPU sessions the account runs elsewhere (count against the cap).
        gpu_session_cap: Kaggle's concurrent GPU session limit.
        quota_total_h: weekly GPU quota, in hours.
        quota_used_h: GPU hours already used this week.
    """

    rate_limited_calls: int = 0
    retry_after: str = "1"
    push_unavailable: int = 0
    push_lost_reply: int = 0
    push_error: str | None = None
    hang_method: str = "GetKernelSessionStatus"
    hang_calls: int = 0
    hang_s: float = 0.0
    stale_status_calls: int = 0
    stale_status: str = "COMPLETE"
    sse_drops: int = 0
    sse_drop_after: int = 2
    corrupt: dict[str, int] = field(default_factory=dict)
    truncate: dict[str, int] = field(default_factory=dict)
    cut: dict[str, int] = field(default_factory=dict)
    busy_gpu_sessions: int = 0
    gpu_session_cap: int = 2
    quota_total_h: float = 30.0
    quota_used_h: float = 0.0

    def quota_answer(self) -> dict:
        """GetAcceleratorQuotaStatistics' answer (durations in protobuf ``"<seconds>s"`` form)."""
        refresh = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=3)
        gpu = {"timeUsed": f"{int(self.quota_used_h * 3600)}s",
               "totalTimeAllowed": f"{int(self.quota_total_h * 3600)}s",
               "timeReserved": "0s", "hasEverRun": True}
        return {"quotaRefreshTime": refresh.isoformat(timespec="milliseconds") + "Z",
                "gpuQuota": gpu, "tpuQuota": {"totalTimeAllowed": "72000s"}}

    def take(self, name: str) -> bool:
        """Consume one firing of counter ``name``; True if it fired."""
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


@dataclass
class FakeKernel:
    """A kernel: its metadata and one session per pushed version."""

    owner: str
    slug: str
    title: str
    kernel_id: int
    meta: dict
    sessions: list[FakeSession] = field(default_factory=list)


class ApiError(Exception):
    """An error answer: HTTP status and Kaggle's ``{"code", "message"}`` body."""

    def __init__(self, code: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.headers = code, message, headers or {}


def take_named(counters: dict[str, int], name: str) -> bool:
    """Consume one firing of the per-file counter ``name``; True if it fired."""
    if counters.get(name, 0) > 0:
        counters[name] -= 1
        return True
    return False
