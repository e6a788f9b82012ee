"""Live view of a running job: status, elapsed time, one progress bar per stage, recent log lines.

The kernel's log is read on a background thread; ``@@arz`` lines become progress bars (rich
computes the ETA from the rate of progress), every other line goes to the log tail. On a terminal
the view is a ``rich.live.Live`` panel; elsewhere (CI, pipes) each line is printed plainly. Ctrl-C
(KeyboardInterrupt) leaves the loop without touching the job; the caller prints how to reattach.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from kernel_payload.schema import ProgressEvent
from orchestrator.backends.base import ExecutionBackend, KernelRef, RemoteStatus

LOG_TAIL = 12
STATUS_POLL_S = 5.0
END_POLL_S = 1.0


class JobView:
    """What the monitor shows, fed one log line at a time (rendering is separate from reading).

    Args:
        job_id: shown in the header.
        backend: backend name, shown in the header.
        submitted_at: submission time (UTC), the origin of the elapsed clock.
        clock: returns the current Unix time (injectable for tests).
    """

    def __init__(self, job_id: str, backend: str, submitted_at: datetime,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.job_id, self.backend, self.clock = job_id, backend, clock
        self.start = submitted_at.timestamp()
        self.status = "running"
        self.tail: deque[str] = deque(maxlen=LOG_TAIL)
        self.stages: dict[str, Any] = {}
        self.last_message = ""
        self.progress = Progress(
            TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("eta"), TimeRemainingColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"), auto_refresh=False,
        )  # fmt: skip

    def feed(self, line: str) -> ProgressEvent | None:
        """Take one log line; return the event when it was one."""
        event = ProgressEvent.from_line(line)
        if event is None:
            if line.strip():
                self.tail.append(line.rstrip())
            return None
        self._apply(event)
        return event

    def _apply(self, event: ProgressEvent) -> None:
        task = self.stages.get(event.stage)
        if task is None:
            task = self.progress.add_task(event.stage, total=event.total, note="")
            self.stages[event.stage] = task
        note = event.status or event.message or ""
        if event.metrics:
            note += " " + " ".join(f"{k}={_short(v)}" for k, v in list(event.metrics.items())[:3])
        changes: dict[str, Any] = {"note": note.strip()[:60]}
        if event.total is not None:
            changes["total"] = event.total
        if event.done is not None:
            changes["completed"] = event.done
        if event.status is not None and self.progress.tasks[task].total is None:
            changes["total"], changes["completed"] = 1, 1
        self.progress.update(task, **changes)
        if event.message:
            self.last_message = f"{event.stage}: {event.message}"

    def elapsed(self) -> str:
        """Time since submission as ``h:mm:ss``."""
        seconds = max(0, int(self.clock() - self.start))
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        header = Text.assemble(
            (f"{self.job_id}", "bold"), f"  backend {self.backend}  ",
            (self.status, "bold cyan"), f"  elapsed {self.elapsed()}",
        )  # fmt: skip
        tail = Text("\n".join(self.tail) or "(no log lines yet)", style="dim", overflow="ellipsis")
        return Group(
            Panel(Group(header, self.progress), title="arz job", border_style="cyan"),
            Panel(tail, title="log (latest lines)", border_style="dim"),
        )


def watch(
    backend: ExecutionBackend,
    ref: KernelRef,
    view: JobView,
    console: Any,
    on_status: Callable[[RemoteStatus], None] | None = None,
) -> RemoteStatus:
    """Follow the kernel's log until it ends; return its terminal status.

    Args:
        backend: the backend running the kernel.
        ref: the pinned kernel run.
        view: the view to feed (its state survives for the caller).
        console: a ``rich.console.Console``; live panel on a terminal, plain lines otherwise.
        on_status: called with every polled status (the CLI stores it in the registry).

    Raises:
        KeyboardInterrupt: Ctrl-C; the job keeps running.
    """
    lines: queue.Queue = queue.Queue()
    seen = 0
    _start_reader(backend, ref, lines, skip=0)
    live = _live(view, console)
    last_poll = 0.0
    with live:
        while True:
            try:
                kind, item = lines.get(timeout=0.25)
            except queue.Empty:
                kind, item = "idle", None
            if kind == "line":
                seen += 1
                event = view.feed(item)
                if not console.is_terminal:
                    console.print(_plain(item, event), markup=False, highlight=False)
            elif kind == "error":
                raise item
            if kind == "eof" or time.monotonic() - last_poll > STATUS_POLL_S:
                last_poll = time.monotonic()
                status = backend.status(ref)
                view.status = status.status.value
                if on_status:
                    on_status(status)
                if status.status.is_terminal() and kind == "eof":
                    return status
                if kind == "eof":  # the stream ended early: reconnect, skipping lines already seen
                    time.sleep(END_POLL_S)
                    _start_reader(backend, ref, lines, skip=seen)


def _live(view: JobView, console: Any) -> Any:
    """A live panel that redraws itself 4 times a second on a terminal; nothing elsewhere."""
    if not console.is_terminal:
        return contextlib.nullcontext()
    from rich.live import Live

    return Live(view, console=console, refresh_per_second=4, transient=False)


def _start_reader(backend: ExecutionBackend, ref: KernelRef, lines: queue.Queue, skip: int) -> threading.Thread:
    def read() -> None:
        try:
            for index, line in enumerate(backend.logs(ref, follow=True)):
                if index >= skip:
                    lines.put(("line", line))
        except Exception as exc:  # handed to the main thread, which raises it
            lines.put(("error", exc))
        finally:
            lines.put(("eof", None))

    thread = threading.Thread(target=read, name=f"arz-logs-{ref.slug}", daemon=True)
    thread.start()
    return thread


def _plain(line: str, event: ProgressEvent | None) -> str:
    if event is None:
        return line
    count = f" {event.done}/{event.total}" if event.done is not None and event.total else ""
    tail = " ".join(x for x in (event.status or "", event.message) if x)
    return f"» {event.stage}{count} {tail}".rstrip()


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def parse_time(text: str) -> datetime:
    """An ISO time from the registry (naive times are taken as UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
