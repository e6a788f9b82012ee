"""Live view of a running job: status, elapsed time, one progress row per stage, the newest log lines.

The kernel's log is read on a background thread; ``@@arz`` lines feed a
:class:`~orchestrator.progress.JobProgress` (rows, ETAs, the job-level ETA), every other line goes
to the log tail. On a terminal the view is a ``rich.live.Live`` panel whose columns keep a fixed
width (stage, bar, count, ETA) so that at 80 columns only the message is cut, with an ellipsis;
elsewhere (CI, pipes) and in ``arz logs`` each event becomes one readable line (:func:`readable`).
Ctrl-C (KeyboardInterrupt) leaves the loop without touching the job; the caller prints how to
reattach.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from kernel_payload.schema import ProgressEvent, Stage
from orchestrator.backends.base import ExecutionBackend, JobStatus, KernelRef, RemoteStatus
from orchestrator.progress import JobProgress, Row

LOG_TAIL = 12
STATUS_POLL_S = 5.0
END_POLL_S = 1.0
STAGE_W, BAR_W, COUNT_W, ETA_W = 9, 12, 17, 9
"""Fixed widths of the stage, bar, count and ETA columns; the message takes what is left."""
_FAILED = ("failed", "interrupted")


def clock_text(seconds: float | None) -> str:
    """A duration as ``m:ss`` (``h:mm:ss`` from an hour on); ``-:--`` when unknown."""
    if seconds is None:
        return "-:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def count_text(done: int | None, total: int | None, unit: str = "") -> str:
    """``1,024/8,192 steps`` (``12.3k/100k`` from 100,000 on); ``""`` without a count."""
    if done is None:
        return ""

    def num(n: int) -> str:
        return f"{n / 1000:.3g}k" if n >= 100_000 else f"{n:,}"

    text = f"{num(done)}/{num(total)}" if total else num(done)
    return f"{text} {unit}".rstrip()


def row_message(row: Row) -> str:
    """The row's message: the step inside its suite, its text and (once closed) its metrics."""
    step = row.step.name.split("/", 1)[1] if "/" in row.step.name else ""
    text = row.status or ""
    if row.message:
        text = f"{text}: {row.message}" if text else row.message
    if row.metrics:
        text += " " + " ".join(f"{k}={_short(v)}" for k, v in list(row.metrics.items())[:3])
    if step and row.status is None:
        return f"{step}: {text}" if text else step
    return text.strip()


def readable(event: ProgressEvent, progress: JobProgress) -> str:
    """One event as a line for people: ``12:03:04  rl  1,024/8,192 steps  ETA 0:32  train: text``.

    ``progress`` must already have taken the event (the ETA is the one it computes at that time).
    """
    when = datetime.fromtimestamp(event.time).strftime("%H:%M:%S") if event.time else "--:--:--"
    top, _, sub = event.stage.partition("/")
    parts = [when, f"{top:<{STAGE_W}}"]
    step = progress.steps.get(event.stage)
    count = count_text(event.done, event.total, event.unit or (step.unit if step else ""))
    if count:
        now = event.time or progress.latest
        if event.stage == Stage.JOB:
            eta = progress.job_eta(now)
        else:  # the step's own pace once measured, else what the plan expects of its suite
            eta = step.eta(now) if step is not None else None
            eta = progress.stage_eta(event.stage, now) if eta is None else eta
        parts += [f"{count:>{COUNT_W}}", f"ETA {clock_text(eta)}"]
    text = " ".join(x for x in (event.status or "", event.message) if x)
    if event.metrics:
        text += " " + " ".join(f"{k}={_short(v)}" for k, v in event.metrics.items())
    text = f"{sub}: {text.strip()}" if sub and text.strip() else (sub or text.strip())
    return "  ".join(parts + [text]).rstrip()


def readable_lines(lines: Iterable[str]) -> Iterator[str]:
    """A job log for people: events as :func:`readable` lines, other lines as they are."""
    progress = JobProgress()
    for line in lines:
        event = ProgressEvent.from_line(line)
        if event is None:
            yield line.rstrip("\n")
        else:
            progress.apply(event)
            yield readable(event, progress)


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
        self.job_id, self.backend, self.clock = job_id, backend, clock
        self.start = submitted_at.timestamp()
        self.status = JobStatus.RUNNING.value
        self.progress = JobProgress()
        self.tail: deque[str] = deque(maxlen=LOG_TAIL)
        self._tail_stage: str | None = None  # stage of the tail's last line when it is an event

    def feed(self, line: str) -> ProgressEvent | None:
        """Take one log line; return the event when it was one."""
        event = ProgressEvent.from_line(line)
        if event is None:
            if line.strip():
                self.tail.append(line.rstrip())
                self._tail_stage = None
            return None
        self.progress.apply(event)
        if event.message or event.status:  # the newest news goes to the tail, heartbeats in place
            if self._tail_stage == event.stage and self.tail:
                self.tail.pop()
            self.tail.append(readable(event, self.progress))
            self._tail_stage = event.stage
        return event

    def elapsed(self) -> str:
        """Time since submission as ``h:mm:ss``."""
        seconds = max(0, int(self.clock() - self.start))
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"

    def table(self) -> Any:
        """The stage rows as a grid of fixed-width columns (the message column shrinks first)."""
        from rich.table import Column, Table

        fixed = {"no_wrap": True, "overflow": "ellipsis"}
        grid = Table.grid(
            Column(width=STAGE_W, **fixed), Column(width=BAR_W, **fixed),
            Column(width=COUNT_W, justify="right", **fixed), Column(width=ETA_W, **fixed),
            Column(ratio=1, min_width=1, **fixed), padding=(0, 1), expand=True,
        )  # fmt: skip
        now = self.clock()
        for name, row in self.progress.rows.items():
            grid.add_row(*self._cells(name, row, now))
        return grid

    def _cells(self, name: str, row: Row, now: float) -> list[Any]:
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        step = row.step
        if name == Stage.JOB:
            fraction = 1.0 if row.status else self.progress.job_fraction(now)
            total, done, eta = 1000, int(fraction * 1000), self.progress.job_eta(now)
        else:
            total, done, eta = step.total, step.done or 0, self.progress.stage_eta(step.name, now)
        if row.status:
            step = row.counted or step
            if row.status not in _FAILED:
                total, done = 1, 1  # closed: a full bar (a failed stage keeps where it stopped)
        style = "red" if row.status in _FAILED else ("green" if row.status else "cyan")
        bar = ProgressBar(total=total, completed=done, width=BAR_W, complete_style=style,
                          finished_style=style)  # fmt: skip
        if row.status:
            timing = f"took {clock_text(row.step.last - self._first(name))}"
        else:
            timing = f"ETA {clock_text(eta)}"
        message = row_message(row)
        if name == Stage.JOB and not message:
            running = [n for n, r in self.progress.rows.items() if n not in (Stage.JOB, Stage.BOOTSTRAP) and not r.status]
            message = f"running {running[-1]}" if running else ""
        plain = [Text(t) for t in (name, count_text(step.done, step.total, step.unit), timing, message)]
        return [plain[0], bar, *plain[1:]]  # Text: a "[...]" in a message is not rich markup

    def _first(self, name: str) -> float:
        return min(s.first for n, s in self.progress.steps.items() if n.split("/", 1)[0] == name)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        """Two panels: the job (header and stage rows), then as many newest log lines as fit."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        header = Text.assemble(
            (f"{self.job_id}", "bold"), f"  backend {self.backend}  ",
            (self.status, "bold cyan"), f"  elapsed {self.elapsed()}",
            no_wrap=True, overflow="ellipsis",
        )  # fmt: skip
        room = (options.max_height or console.height) - len(self.progress.rows) - 3 - 2
        lines = list(self.tail)[-max(1, min(LOG_TAIL, room)):] if self.tail else []
        tail = Text("\n".join(lines) or "(no log lines yet)", style="dim", no_wrap=True,
                    overflow="ellipsis")  # fmt: skip
        yield Panel(Group(header, self.table()), title="arz job", border_style="cyan")
        yield Panel(tail, title="log (newest lines)", border_style="dim")


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
        console: a ``rich.console.Console``; live panel on a terminal, readable lines otherwise.
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
                    text = item if event is None else readable(event, view.progress)
                    console.print(text, markup=False, highlight=False)
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


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def parse_time(text: str) -> datetime:
    """An ISO time from the registry (naive times are taken as UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
