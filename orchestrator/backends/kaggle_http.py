"""HTTP plumbing for the Kaggle backend: timeouts, retries, SSE parsing, log assembly.

The ``kaggle`` client sets no timeout and retries nothing. This module supplies what it lacks,
without importing ``kaggle`` (it only needs ``requests``, which ``kaggle`` depends on):

* :class:`TimeoutAdapter` gives every request on a session a (connect, read) timeout;
* :func:`retrying` runs a call under a tenacity policy that retries 429 (honouring
  ``Retry-After``), 5xx, connection errors and timeouts, with jittered exponential back-off;
* :func:`iter_sse_events` parses a ``text/event-stream`` body, dropping an event cut off mid-way;
* :class:`LogAssembler` turns Kaggle log events (``{"data": ...}`` chunks) into whole lines.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
import tenacity
from requests.adapters import HTTPAdapter

T = TypeVar("T")
END_OF_LOG = "END_OF_LOG"


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retry budget for every Kaggle call (seconds unless stated).

    Attributes:
        connect_timeout_s: TCP connect timeout.
        read_timeout_s: read timeout of an API call (time without a byte from the server).
        stream_read_timeout_s: read timeout of the live log stream; on expiry it reconnects.
        download_read_timeout_s: read timeout of an output-file download.
        auth_timeout_s: limit on the client's own authentication (which has no timeout).
        attempts: tries per call, the first included.
        backoff_initial_s: first back-off; it doubles per try, with ±50 % jitter.
        backoff_max_s: longest back-off.
        max_retry_after_s: longest ``Retry-After`` honoured (a longer one is capped).
        reconnect_delay_s: pause before reconnecting a dropped log stream.
        max_stream_failures: log-stream reconnects in a row without a new line before giving up.
    """

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    stream_read_timeout_s: float = 120.0
    download_read_timeout_s: float = 120.0
    auth_timeout_s: float = 60.0
    attempts: int = 6
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 300.0
    reconnect_delay_s: float = 1.0
    max_stream_failures: int = 5

    def timeout(self, read_s: float | None = None) -> tuple[float, float]:
        """The (connect, read) pair for ``requests``."""
        return (self.connect_timeout_s, self.read_timeout_s if read_s is None else read_s)


class TimeoutAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that applies a default timeout to requests sent without one.

    Args:
        timeout: (connect, read) in seconds.
    """

    def __init__(self, timeout: tuple[float, float], **kwargs):
        self._timeout = timeout
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        """Send with ``timeout`` defaulted (the kaggle client always passes None)."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


def mount_timeouts(session: requests.Session, timeout: tuple[float, float]) -> requests.Session:
    """Make every request on ``session`` time out after (connect, read) seconds."""
    adapter = TimeoutAdapter(timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def http_status(error: BaseException) -> int | None:
    """The HTTP status carried by a ``requests`` error, or None."""
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def is_transient(error: BaseException) -> bool:
    """True for errors worth retrying: 429, 5xx, connection errors, timeouts, cut bodies."""
    status = http_status(error)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(error, (requests.ConnectionError, requests.Timeout,
                              requests.exceptions.ChunkedEncodingError))


def retry_after_s(error: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` header (integer seconds or HTTP date), or None."""
    response = getattr(error, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def backoff_s(policy: HttpPolicy, attempt: int, error: BaseException | None) -> float:
    """Pause before try ``attempt + 1``: ``Retry-After`` when given, else jittered doubling."""
    hinted = retry_after_s(error) if error is not None else None
    if hinted is not None:
        return min(hinted, policy.max_retry_after_s)
    base = min(policy.backoff_max_s, policy.backoff_initial_s * 2 ** max(0, attempt - 1))
    return base * random.uniform(0.5, 1.5)


def retrying(call: Callable[[], T], policy: HttpPolicy, retry_on: Callable[[BaseException], bool]
             = is_transient, before_retry: Callable[[], None] | None = None) -> T:
    """Run ``call`` under the retry policy; re-raise the last error when the budget runs out.

    Args:
        call: the operation (one HTTP exchange, or a small idempotent sequence).
        policy: attempts and back-off.
        retry_on: which errors are retried; others propagate at once.
        before_retry: run before each retry (e.g. check whether a push landed after all).
    """

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return backoff_s(policy, state.attempt_number, error)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if before_retry is not None:
            before_retry()

    controller = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=wait,
        retry=tenacity.retry_if_exception(retry_on),
        before_sleep=before_sleep if before_retry else None,
        reraise=True,
    )
    return controller(call)


def iter_sse_events(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each complete server-sent event, in order.

    An event is complete only when its terminating blank line arrives; a stream cut in the
    middle of an event therefore yields nothing for it (it comes back on the replay).

    Args:
        lines: the body split into lines without their end-of-line characters.
    """
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def parse_event(payload: str) -> dict:
    """One SSE payload as a Kaggle log event ``{"stream_name", "time", "data"}``."""
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        return {"data": payload}
    return event if isinstance(event, dict) else {"data": str(event)}


def parse_log_blob(text: str) -> list[dict]:
    """Kaggle's persisted log (a JSON array of events, or plain text) as a list of events."""
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return [{"data": line + "\n"} for line in text.splitlines()]
    events = payload if isinstance(payload, list) else [payload]
    return [e if isinstance(e, dict) else {"data": str(e)} for e in events]


class LogAssembler:
    """Joins log-event chunks into whole lines (a chunk may hold part of a line or several)."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, event: dict) -> list[str]:
        """Add one event; return the lines it completed (without their newline)."""
        data = event.get("data")
        if not isinstance(data, str):
            return []
        text = self._pending + data
        *lines, self._pending = text.split("\n")
        return [line.rstrip("\r") for line in lines]

    def flush(self) -> list[str]:
        """The unterminated last line, if any."""
        rest, self._pending = self._pending, ""
        return [rest] if rest else []
