"""What a sweep looks like: one rich table (member, matrix values, status, stage, progress, ETA,
result) plus the sweep's ETA, live on a terminal and as one line per change elsewhere.

The sweep's ETA is a plain estimate: the longest ETA among the running members plus, for the
members still waiting, one mean member duration (measured on the members that ended in this
process, else the running members' elapsed time plus their ETA) per round of ``max_parallel``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

from kernel_payload.schema import Stage
from orchestrator.monitor import clock_text, parse_time
from orchestrator.sweep.schedule import MemberState, SweepRunner


def matrix_text(matrix: dict[str, Any]) -> str:
    """``seeds=[0] rl.env=ARZ-Arterial-v0``: a member's matrix values on one line."""
    return " ".join(f"{key}={_short(value)}" for key, value in matrix.items())


def member_stage(member: MemberState) -> tuple[str, str]:
    """(stage, progress) of a running member from its events: the newest open stage and its
    count, or the job's percentage."""
    with member.lock:
        rows = member.progress.rows
        open_rows = [n for n, r in rows.items() if not r.status and n != Stage.JOB]
        if not open_rows:
            return "", ""
        name = max(open_rows, key=lambda n: rows[n].step.last)  # the newest news
        step = rows[name].step
        if step.total:
            return name, f"{step.done or 0}/{step.total}"
        return name, f"{member.progress.job_fraction(time.time()):.0%}"


def member_eta(member: MemberState, now: float) -> float | None:
    """Seconds left for a running member (None when unknown, 0 once ended)."""
    if member.ended:
        return 0.0
    if not member.active:
        return None
    with member.lock:
        return member.progress.job_eta(now) if member.progress.rows else None


def sweep_eta(runner: SweepRunner, now: float) -> float | None:
    """Seconds until every member has ended (see the module docstring); None when unknown."""
    running = [member_eta(m, now) for m in runner.members if m.active]
    waiting = [m for m in runner.members if not m.active and not m.ended]
    if any(eta is None for eta in running):
        return None
    durations = [_duration(m) for m in runner.members if m.ended and m.record and m.record.owner]
    durations = [d for d in durations if d is not None]
    if not durations:  # the first round: the running members' elapsed time plus their ETA
        durations = [now - parse_time(m.record.submitted_at).timestamp() + eta
                     for m, eta in zip([m for m in runner.members if m.active], running, strict=True)]
    if waiting and not durations:
        return None
    rounds = math.ceil(len(waiting) / max(1, runner.record.max_parallel))
    mean = sum(durations) / len(durations) if durations else 0.0
    return max(running, default=0.0) + rounds * mean


def status_table(runner: SweepRunner) -> Any:
    """The sweep as one rich table, its ETA in the caption."""
    from rich import box
    from rich.table import Table

    now = time.time()
    done = sum(m.ended for m in runner.members)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left",
                  title=f"sweep {runner.record.id}  ({runner.record.backend}, "
                        f"{runner.record.max_parallel} at a time)",
                  caption=f"{done}/{len(runner.members)} ended  sweep ETA "
                          f"{clock_text(sweep_eta(runner, now))}", caption_justify="left")  # fmt: skip
    for header in ("member", "matrix", "status", "stage", "progress", "ETA", "result"):
        table.add_column(header, no_wrap=header != "matrix", overflow="ellipsis")
    for member in runner.members:
        table.add_row(*member_cells(member, now))
    return table


def member_cells(member: MemberState, now: float) -> list[str]:
    """One row of the table, as plain strings."""
    stage, progress = member_stage(member) if member.active else ("", "")
    eta = member_eta(member, now)
    record = member.record
    result = (record.result if record else "") or ""
    if member.note and not result:
        result = "not pulled"
    status = member.status
    if record is not None and status == "submitting" and record.message:
        status = "waiting for a slot" if "slot" in record.message else status
    return [member.member_id, matrix_text(member.matrix), status, stage, progress,
            "" if member.ended else clock_text(eta), result]  # fmt: skip


class LiveSweep:
    """The view handed to :meth:`SweepRunner.run`: a rich ``Live`` table on a terminal, one
    line per member change elsewhere (CI, pipes).

    Args:
        console: a ``rich.console.Console``.
    """

    def __init__(self, console: Any) -> None:
        self.console = console
        self._seen: dict[str, tuple] = {}
        self._live: Any = None

    def __enter__(self) -> LiveSweep:
        if self.console.is_terminal:
            from rich.live import Live

            self._live = Live(console=self.console, refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def __call__(self, runner: SweepRunner) -> None:
        """Show the state after one round."""
        if self._live is not None:
            self._live.update(status_table(runner))
            return
        for line in self.changes(runner):
            self.console.print(line, markup=False, highlight=False)

    def changes(self, runner: SweepRunner) -> Iterator[str]:
        """A line for each member whose status, result or note changed since the last round."""
        for member in runner.members:
            record = member.record
            key = (member.status, record.result if record else "", member.note,
                   record.message if record and member.status == "submitting" else "")  # fmt: skip
            if self._seen.get(member.member_id) == key:
                continue
            self._seen[member.member_id] = key
            parts = [member.member_id, f"({matrix_text(member.matrix)})", member.status]
            if record is not None:
                parts.insert(1, record.id)
            if key[1]:
                parts.append(f"result {key[1]}")
            if key[3]:
                parts.append(f"- {key[3]}")
            if member.note:
                parts.append(f"- {member.note}")
            yield " ".join(parts)


def group_by_sweep(records: list) -> list[tuple[str, list]]:
    """Jobs grouped for ``arz list``: ``[(sweep_id or "", jobs)]`` in the order each group first
    appears (newest first); a sweep's members sorted by member id."""
    groups: dict[str, list] = {}
    order: list[str] = []
    for index, record in enumerate(records):
        key = getattr(record, "sweep_id", "") or f"\0{index}"
        if key not in groups:
            groups[key], order = [], [*order, key]
        groups[key].append(record)
    return [(key if not key.startswith("\0") else "",
             sorted(groups[key], key=lambda r: r.member_id) if not key.startswith("\0") else groups[key])
            for key in order]  # fmt: skip


def _duration(member: MemberState) -> float | None:
    ended = getattr(member, "ended_at", None)
    if ended is None or member.record is None:
        return None
    return ended - parse_time(member.record.submitted_at).timestamp()


def _short(value: Any) -> str:
    text = str(value).replace(" ", "")
    return text if len(text) <= 24 else text[:23] + "…"
