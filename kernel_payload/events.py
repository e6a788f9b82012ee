"""Progress events as the payload prints them: one ``@@arz {json}`` line each, flushed at once."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from kernel_payload.schema import ProgressEvent

ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: the callback the solver and RL libraries call."""


def emit(event: ProgressEvent, stream: TextIO | None = None) -> None:
    """Print ``event`` as one ``@@arz`` line and flush, stamping the time if it has none."""
    if not event.time:
        event = event.model_copy(update={"time": time.time()})
    out = stream if stream is not None else sys.stdout
    out.write(event.to_line() + "\n")
    out.flush()


def stage_reporter(suite: str, min_interval_s: float = 0.5) -> ProgressCallback:
    """A ``progress(stage, done, total)`` callback that emits ``<suite>/<stage>`` events.

    Calls are throttled per stage to one event every ``min_interval_s`` seconds, except the first
    and the last (``done >= total``), so a training loop may call it on every step.
    """
    last: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        name = f"{suite}/{stage}" if stage and stage != suite else suite
        final = total is not None and done >= total
        if not final and name in last and now - last[name] < min_interval_s:
            return
        last[name] = now
        emit(ProgressEvent(stage=name, done=int(done), total=None if total is None else int(total)))

    return progress
