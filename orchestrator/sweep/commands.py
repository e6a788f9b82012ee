"""What ``arz sweep``, ``arz sweep watch|status|pull|cancel ID`` do, as functions of a console.

The typer commands in :mod:`orchestrator.cli` are a few lines that call these; errors are raised
(``ArzError``) and become exit codes there. A sweep that ended ``succeeded`` returns normally; a
``partial`` or ``failed`` one raises :class:`~orchestrator.errors.JobFailed` (exit 1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from orchestrator.backends import get_backend
from orchestrator.errors import BadInput, JobFailed
from orchestrator.jobs import cancel_job
from orchestrator.registry import Registry
from orchestrator.sweep.launch import MemberLauncher, start_sweep
from orchestrator.sweep.schedule import CANCELLED, SweepRunner, sweep_lock
from orchestrator.sweep.view import LiveSweep, status_table

POLL_ENV = "ARZ_SWEEP_POLL_S"
DEFAULT_POLL_S = {"local": 1.0, "kaggle": 10.0}


def start(path: Path, registry: Registry, console: Any, backend: str | None = None,
          detach: bool = False) -> None:  # fmt: skip
    """Start the sweep in ``path`` (one commit), then watch it to the end (or, ``detach``, push
    the first members and return)."""
    launcher = start_sweep(path, registry, backend)
    record = launcher.record
    runner = SweepRunner(launcher, poll_s=_poll_s(record.backend))
    console.print(f"sweep [bold]{record.id}[/] on {record.backend}: commit {record.commit_sha[:10]}, "
                  f"{len(runner.members)} members, {record.max_parallel} at a time")  # fmt: skip
    if detach:
        with sweep_lock(record):
            runner.step()
        waiting = sum(m.record is None or not m.landed for m in runner.members)
        console.print(f"started {len(runner.members) - waiting}; the other {waiting} start when "
                      f"you follow it: [bold]arz sweep watch {record.id}[/]")  # fmt: skip
        return
    follow(runner, console)


def watch(sweep_id: str | None, registry: Registry, console: Any) -> None:
    """Resume a sweep from the registry: adopt, push what is left, watch, pull, aggregate."""
    follow(_runner(sweep_id, registry), console)


def follow(runner: SweepRunner, console: Any) -> None:
    """Run the scheduling loop with the live view, then aggregate and report.

    Raises:
        KeyboardInterrupt: Ctrl-C (members keep running; the CLI prints how to reattach).
        JobFailed: the sweep ended ``partial`` or ``failed``.
    """
    try:
        with LiveSweep(console) as view:
            runner.run(view)
    except KeyboardInterrupt:
        console.print(f"\ndetached; the started members of {runner.record.id} keep running and the "
                      f"rest start when you reattach: [bold]arz sweep watch {runner.record.id}[/]")  # fmt: skip
        raise
    finish(runner, console)


def finish(runner: SweepRunner, console: Any) -> None:
    """Aggregate, print the study folder and its status; raise JobFailed unless it succeeded."""
    summary, out_dir = runner.aggregate()
    status = summary.get("status", "failed")
    shown = _relative(out_dir)
    console.print(f"sweep {runner.record.id}: [bold]{status}[/]  results: [bold]{shown}[/]")
    for member in summary.get("members", []):
        if member.get("result") != "succeeded":
            console.print(f"  {member['member_id']}: {member.get('result') or member.get('status')}"
                          f" {member.get('message') or ''}".rstrip(), markup=False)  # fmt: skip
    if (out_dir / "report.html").exists():
        console.print(f"report: {_relative(out_dir / 'report.html')}")
    if status != "succeeded":
        raise JobFailed(f"sweep {runner.record.id} is {status}.",
                        fix=f"see {shown}/sweep_summary.json and `arz logs JOB_ID` for each member")  # fmt: skip


def status(sweep_id: str | None, registry: Registry, console: Any) -> dict:
    """Refresh the running members once and show the table; return the sweep as data."""
    runner = _runner(sweep_id, registry)
    for member in runner.members:
        if member.active:
            runner.refresh_member(member)
    console.print(status_table(runner))
    return {"sweep_id": runner.record.id, "name": runner.record.name, "status": runner.record.status,
            "out_dir": runner.record.out_dir,
            "members": [{"member_id": m.member_id, "matrix": m.matrix, "status": m.status,
                         "job_id": m.record.id if m.record else None,
                         "result": m.record.result if m.record else ""} for m in runner.members]}  # fmt: skip


def pull(sweep_id: str | None, registry: Registry, console: Any) -> None:
    """Pull every ended member and, once all have ended, aggregate.

    Raises:
        BadInput: members are still running (those that ended are pulled anyway).
    """
    runner = _runner(sweep_id, registry)
    with sweep_lock(runner.record):  # never beside a watcher that pulls the same members
        runner.adopt()
        for member in runner.members:
            if member.active:
                runner.refresh_member(member)
            if member.ended and not member.pulled:
                runner.pull_member(member)
    if not runner.done():
        left = [m.member_id for m in runner.members if not m.ended]
        raise BadInput(f"sweep {runner.record.id} has members that have not ended ({', '.join(left)}).",
                       fix=f"arz sweep watch {runner.record.id} (it pulls and aggregates at the end)")  # fmt: skip
    finish(runner, console)


def cancel(sweep_id: str | None, registry: Registry, console: Any) -> None:
    """Stop the running members and start no more; the ended ones stay as they are."""
    runner = _runner(sweep_id, registry)
    runner.launcher.record = registry.update_sweep(runner.record, status=CANCELLED)
    runner.adopt()
    for member in runner.members:
        if member.active:
            member.record, stopped = cancel_job(member.record, registry, runner.backend)
            console.print(f"{member.member_id} {member.record.id}: "
                          f"{member.record.status if stopped else 'had already ended'}")  # fmt: skip
    console.print(f"sweep {runner.record.id} cancelled; aggregate what ended with: "
                  f"arz sweep pull {runner.record.id}")  # fmt: skip


def _runner(sweep_id: str | None, registry: Registry) -> SweepRunner:
    record = registry.get_sweep(sweep_id)
    launcher = MemberLauncher(record, registry, get_backend(record.backend))
    return SweepRunner(launcher, poll_s=_poll_s(record.backend))


def _poll_s(backend: str) -> float:
    value = os.environ.get(POLL_ENV, "").strip()
    try:
        return float(value) if value else DEFAULT_POLL_S.get(backend, 5.0)
    except ValueError as exc:
        raise BadInput(f"{POLL_ENV}={value!r} is not a number of seconds.",
                       fix=f"unset {POLL_ENV} or set it to e.g. 2") from exc


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
