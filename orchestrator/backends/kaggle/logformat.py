"""Kaggle's log format: server-sent events, the persisted log, and the version a call names.

Pure functions of text (no HTTP): the live stream (:mod:`.logs`), the output download
(:mod:`.outputs`, which writes ``<slug>.log``) and the status call (:mod:`.backend`) share them.

* :func:`split_lines` cuts a streamed body into lines as its chunks arrive;
* :func:`iter_sse_events` parses a ``text/event-stream`` body, dropping an event cut off mid-way;
* :func:`parse_event` / :func:`parse_log_blob` read one live event / the persisted log;
* :class:`LogAssembler` and :func:`log_lines` turn Kaggle log events (``{"data": ...}`` chunks)
  into whole lines;
* :func:`version_label` names the pinned run in every call (``versionLabel: v<N>``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from orchestrator.backends.base import KernelRef

END_OF_LOG = "END_OF_LOG"
"""The payload of the SSE event that ends a live log stream."""


def version_label(ref: KernelRef) -> str | None:
    """Kaggle's ``versionLabel`` for the pinned version (``v<N>``; a bare number is a 404)."""
    return f"v{ref.version}" if ref.version else None


def split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines of a streamed body as its chunks arrive, without their end-of-line characters
    (an unterminated last line is dropped: a complete SSE body ends with a blank line)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")


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


def log_lines(events: list[dict]) -> list[str]:
    """The text lines carried by a list of Kaggle log events."""
    assembler = LogAssembler()
    lines = [line for event in events for line in assembler.feed(event)]
    return lines + assembler.flush()
