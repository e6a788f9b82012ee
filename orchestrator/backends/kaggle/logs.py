"""Live logs of a Kaggle kernel from its SSE endpoint, with reconnects and replay deduplication.

``GET /api/v1/kernels/logs/stream/<owner>/<slug>?versionLabel=v<N>`` answers
``text/event-stream`` while the session runs (each event a JSON ``{stream_name, time, data}``,
closed by an ``END_OF_LOG`` sentinel) and the persisted log as a JSON array once it has ended.
Every connection replays from the first event, so the follower counts the events it has passed
on and skips that many on the next connection. An event cut off by a dropped connection is not
counted (the SSE parser only emits complete events) and comes back whole on the replay.

The stream is our own request (``httpx``, :func:`~orchestrator.backends.kaggle.http.open_client`)
carrying the ``kaggle`` client's credentials; its format is read by :mod:`.logformat`.
"""

from __future__ import annotations

import http.client
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import urllib3

from orchestrator.backends.base import KernelRef, RemoteStatus
from orchestrator.backends.kaggle.connection import KaggleConnection
from orchestrator.backends.kaggle.http import HTTP_ERRORS, http_status, open_client
from orchestrator.backends.kaggle.logformat import (
    END_OF_LOG,
    LogAssembler,
    iter_sse_events,
    log_lines,
    parse_event,
    parse_log_blob,
    split_lines,
    version_label,
)
from orchestrator.backends.kaggle.outputs import OutputFetcher

log = logging.getLogger(__name__)
DROPPED = (*HTTP_ERRORS, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
"""What a cut or stalled stream raises (our ``httpx`` stream, or the ``kaggle`` client's listing
of the persisted log): it is reconnected, not reported."""


class LogFollower:
    """Streams one pinned kernel run's log.

    Args:
        connection: the authenticated client.
        ref: the pinned run.
        status: the backend's status function (deadline-aware), asked after each drop.
        mark_active: called when a live stream proves the run has started.
        sleep: pause function.
        clock: Unix time in s.
        deadline_at: Unix time at which the stream is left so that ``status`` can end the run.
    """

    def __init__(self, connection: KaggleConnection, ref: KernelRef,
                 status: Callable[[KernelRef], RemoteStatus],
                 mark_active: Callable[[KernelRef], None], sleep: Callable[[float], None],
                 clock: Callable[[], float] = time.time, deadline_at: float | None = None):
        self.connection, self.ref = connection, ref
        self.policy = connection.policy
        self._status, self._mark_active, self._sleep = status, mark_active, sleep
        self._clock, self._deadline_at = clock, deadline_at
        self._seen = 0
        self._ended = False
        self._assembler = LogAssembler()

    def snapshot(self) -> Iterator[str]:
        """The log so far, without waiting for the run to end.

        Kaggle persists the log when the session ends; before that, the lines come from the
        live stream's replay, read until the stream has been quiet for a moment.
        """
        _files, events = OutputFetcher(self.connection).listing(self.ref)
        yield from self._emit(events or self.replay_so_far())
        yield from self._assembler.flush()

    def replay_so_far(self, quiet_s: float = 2.0, max_s: float = 10.0) -> list[dict]:
        """The events a live stream replays, read until none arrives for ``quiet_s`` seconds
        (or for ``max_s`` seconds in all, for a kernel that never goes quiet)."""
        events: list[dict] = []
        until = self._clock() + max_s
        stream = self._connection_events(read_timeout_s=quiet_s)
        try:
            for event in stream:
                events.append(event)
                if self._clock() > until:
                    break
        except DROPPED as err:  # the quiet read timeout ends it, as does a drop
            log.debug("log replay of %s ended: %s", self.ref.slug, err)
        finally:
            stream.close()
        return events

    def follow(self) -> Iterator[str]:
        """Every line once, live, until the run ends (or the backend ends it at the deadline)."""
        failures = 0
        while not self._ended:
            before = self._seen
            try:
                yield from self._emit(self._connection_events())
            except DROPPED as err:
                if http_status(err) in (401, 403):
                    raise
                log.debug("log stream of %s dropped: %s", self.ref.slug, err)
            if self._ended:
                break
            if self._status(self.ref).status.is_terminal():
                yield from self._emit(self._final_events())
                break
            failures = 0 if self._seen > before else failures + 1
            if failures >= self.policy.max_stream_failures:
                log.warning("log stream of %s keeps failing; still trying", self.ref.slug)
            self._sleep(self.policy.reconnect_delay_s * min(failures + 1, 10))
        yield from self._assembler.flush()

    def _emit(self, events: Any) -> Iterator[str]:
        """Lines of the events not passed on yet (the first ``seen`` events are a replay)."""
        for index, event in enumerate(events):
            if index < self._seen:
                continue
            self._seen = index + 1
            yield from self._assembler.feed(event)

    def _read_timeout_s(self) -> float:
        """The stream's read timeout, shortened so a silent stream is left at the deadline."""
        if self._deadline_at is None:
            return self.policy.stream_read_timeout_s
        left = self._deadline_at - self._clock() + 0.5
        return max(0.5, min(self.policy.stream_read_timeout_s, left))

    def _past_deadline(self) -> bool:
        return self._deadline_at is not None and self._clock() > self._deadline_at

    def _connection_events(self, read_timeout_s: float | None = None) -> Iterator[dict]:
        """Events of one connection to the stream; sets ``_ended`` on a clean end.

        Leaves the stream (like a drop) once the deadline has passed, so that the caller asks
        ``status``, which ends the run, even while the kernel keeps printing.
        """
        if self._past_deadline():
            return
        with self.connection.client() as kaggle:
            url = self.connection.stream_url(kaggle, f"kernels/logs/stream/{self.ref.owner}/"
                                                     f"{self.ref.slug}")
            headers = self.connection.request_headers(kaggle)
        headers["Accept"] = "text/event-stream, */*"
        label = version_label(self.ref)
        with open_client(self.policy, read_timeout_s or self._read_timeout_s()) as client, \
                client.stream("GET", url, headers=headers,
                              params={"versionLabel": label} if label else None) as response:  # fmt: skip
            response.raise_for_status()
            kind = (response.headers.get("Content-Type") or "").lower()
            if not kind.startswith("text/event-stream"):  # the run ended: persisted log
                self._ended = True
                events = parse_log_blob(response.read().decode("utf-8", "replace"))
                if events:
                    self._mark_active(self.ref)
                yield from events
                return
            self._mark_active(self.ref)
            for payload in iter_sse_events(split_lines(response.iter_bytes())):
                if payload.strip() == END_OF_LOG:
                    self._ended = True
                    return
                yield parse_event(payload)
                if self._past_deadline():
                    return

    def _final_events(self) -> list[dict]:
        """The whole persisted log, read once after the run ended (fills any gap)."""
        try:
            return OutputFetcher(self.connection).listing(self.ref)[1]
        except DROPPED as err:
            log.warning("could not read the final log of %s: %s", self.ref.slug, err)
            return []


def salvage_live_log(follower: LogFollower, path: Path) -> None:
    """Keep what a running session's live stream replays at ``path`` (it has no persisted log
    yet); leave a non-empty ``path`` as it is."""
    if path.is_file() and path.stat().st_size:
        return
    lines = log_lines(follower.replay_so_far(quiet_s=1.0, max_s=3.0))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
