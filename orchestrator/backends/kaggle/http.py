"""HTTP plumbing for the Kaggle backend: timeouts, retries, and our own HTTP client.

Two HTTP stacks meet here. The ``kaggle`` client makes the API calls with its own ``requests``
session, which sets no timeout and retries nothing; our own requests -- output downloads and the
live log stream -- go through ``httpx`` (:func:`open_client`). This module supplies what both
need, without importing ``kaggle``:

* :class:`TimeoutAdapter` gives every request on the client's session a (connect, read) timeout;
* :func:`open_client` is an ``httpx`` client with the policy's timeouts (redirects followed, proxy
  settings read from the environment, as ``requests`` does);
* :func:`retrying` runs a call under a tenacity policy that retries 429 (honouring
  ``Retry-After``), 5xx, connection errors, timeouts and cut bodies of either stack, with
  jittered exponential back-off;
* :data:`HTTP_ERRORS` is what a failed exchange raises, from either stack.
"""

from __future__ import annotations

import functools
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import requests
import tenacity
from requests.adapters import HTTPAdapter

T = TypeVar("T")
HTTP_ERRORS: tuple[type[BaseException], ...] = (requests.RequestException, httpx.HTTPError)
"""A failed HTTP exchange: the ``kaggle`` client's (``requests``) or our own (``httpx``)."""
_TRANSIENT: tuple[type[BaseException], ...] = (
    requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
    httpx.TransportError,  # connect/read timeouts, refused or dropped connections, cut bodies
)  # fmt: skip


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

    def httpx_timeout(self, read_s: float | None = None) -> httpx.Timeout:
        """The same limits for ``httpx``: ``connect`` to connect, ``read_s`` for any read (and
        write, and waiting for a pooled connection)."""
        connect_s, read = self.timeout(read_s)
        return httpx.Timeout(read, connect=connect_s)


def open_client(policy: HttpPolicy, read_s: float | None = None) -> httpx.Client:
    """An ``httpx`` client for our own requests, with the policy's timeouts; close it after use.

    Args:
        policy: timeouts (``read_s`` overrides the read timeout, e.g. for a download).
        read_s: read timeout in s (None: ``policy.read_timeout_s``).
    """
    return httpx.Client(timeout=policy.httpx_timeout(read_s), follow_redirects=True,
                        verify=_ssl_context())  # fmt: skip


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One certificate store for every client: loading it costs ~50 ms, a client without it ~1."""
    return httpx.create_ssl_context()


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


def _response(error: BaseException) -> object | None:
    """The response a ``requests`` or ``httpx`` error carries, or None (an ``httpx`` error
    without one raises on access)."""
    try:
        return getattr(error, "response", None)
    except RuntimeError:
        return None


def http_status(error: BaseException) -> int | None:
    """The HTTP status carried by a ``requests`` or ``httpx`` error, or None."""
    return getattr(_response(error), "status_code", None)


def error_text(error: BaseException) -> str:
    """One line describing a failed exchange (``httpx`` adds a second line, a link to MDN)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def is_transient(error: BaseException) -> bool:
    """True for errors worth retrying: 429, 5xx, connection errors, timeouts, cut bodies."""
    status = http_status(error)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(error, _TRANSIENT)


def retry_after_s(error: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` header (integer seconds or HTTP date), or None."""
    response = _response(error)
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
