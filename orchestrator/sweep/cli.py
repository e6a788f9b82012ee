"""``arz sweep SWEEP.yml`` and ``arz sweep watch|status|pull|cancel ID``: the typer sub-app.

Each command is a few lines that call :mod:`orchestrator.sweep.commands`; errors reach the exit
codes through the funnel of the main app (:mod:`orchestrator.cli`), which this sub-app runs under.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup


class SweepGroup(TyperGroup):
    """``arz sweep SWEEP.yml`` runs the hidden ``start`` command; ``arz sweep watch ID`` etc. the
    named ones."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Insert ``start`` when the first argument is not a sub-command or an option."""
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(cls=SweepGroup, no_args_is_help=True, help=(
    "Run a study: a base job x a matrix of settings, members within the backend's cap, "
    "aggregated into validation_output/sweeps/. `arz sweep SWEEP.yml` starts one."))  # fmt: skip


@sweep_app.command("start", hidden=True)
def sweep_start(
    sweep: Path = typer.Argument(..., help="sweep file, e.g. sweeps/seeds.yml"),
    backend: str | None = typer.Option(None, "--backend", "-b", help="local | kaggle (default: the job's)"),
    detach: bool = typer.Option(False, "--detach", "-d", help="return once the first members start"),
) -> None:  # fmt: skip
    """Commit once, run every member within the cap, pull and aggregate (exit 1 unless all succeed)."""
    from orchestrator.sweep import commands

    commands.start(sweep, _cli()._registry(), _cli()._console(), backend, detach)


@sweep_app.command("watch")
def sweep_watch(sweep_id: str | None = typer.Argument(None, help="sweep id (default: the latest)")) -> None:
    """Resume a sweep: start the members left, watch them live, pull and aggregate."""
    from orchestrator.sweep import commands

    commands.watch(sweep_id, _cli()._registry(), _cli()._console())


@sweep_app.command("status")
def sweep_status(
    sweep_id: str | None = typer.Argument(None, help="sweep id (default: the latest)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Show a sweep's members (asks the backend about the running ones)."""
    from orchestrator.sweep import commands

    data = commands.status(sweep_id, _cli()._registry(), _cli()._console(stderr=as_json))
    if as_json:
        _cli()._out_json(data)


@sweep_app.command("pull")
def sweep_pull(sweep_id: str | None = typer.Argument(None, help="sweep id (default: the latest)")) -> None:
    """Pull the members that ended and aggregate once all have."""
    from orchestrator.sweep import commands

    commands.pull(sweep_id, _cli()._registry(), _cli()._console())


@sweep_app.command("cancel")
def sweep_cancel(sweep_id: str = typer.Argument(..., help="sweep id")) -> None:
    """Stop the running members and start no more."""
    from orchestrator.sweep import commands

    commands.cancel(sweep_id, _cli()._registry(), _cli()._console())


def _cli() -> Any:
    """The main CLI module (its registry, console and JSON helpers), imported when a command runs."""
    from orchestrator import cli

    return cli
