"""What the lab commands share: the error funnel, a stderr progress bar, tables on stdout.

Results go to stdout (a rich table, or JSON with ``--json``); progress bars go to stderr. Exit
codes: 0 success, 1 a run failed (a verification check, a numerical error), 2 bad input (one line
``error: <key>: <reason>``), 130 interrupted -- through :func:`exit_codes`, which hands errors to
the funnel ``arz`` itself uses (:func:`kernel_payload.schema.errors.report_error`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from typer.core import TyperCommand

from kernel_payload.schema.errors import report_error


class FlagHelpCommand(TyperCommand):
    """A command whose ``--help`` shows no ``<bool>`` type beside flags (they take no value)."""

    def get_params(self, ctx):
        """The parameters, with an empty metavar on flags (incl. ``--help``) for the help screen."""
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


@contextlib.contextmanager
def exit_codes() -> Iterator[None]:
    """Turn errors into exit codes and one-line messages, through the funnel shared with ``arz``
    (:func:`kernel_payload.schema.errors.report_error`): solver, rl, payload and input errors
    alike; a bug keeps its traceback."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise  # typer's own control flow and usage errors (already exit 2 with a message)
    except (Exception, KeyboardInterrupt) as err:
        code = report_error(err)
        if code is None:
            raise  # a bug: keep the traceback
        raise typer.Exit(code) from None


def table_console() -> Console:
    """A console for tables: the terminal's width, or 160 columns when output is piped (rich
    would otherwise cut every column to fit 80)."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


@contextlib.contextmanager
def progress_bar(label: str, quiet: bool = False) -> Iterator:
    """A rich progress bar on stderr (off when stderr is not a terminal); yields
    ``update(done, total, description=None)``."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, transient=True, disable=quiet or not console.is_terminal) as bar:
        task = bar.add_task(label, total=None)

        def update(done: float, total: float, description: str | None = None) -> None:
            bar.update(task, completed=done, total=total, description=description or label)

        yield update
