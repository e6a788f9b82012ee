"""``arz``: the single command-line entry point (typer + rich).

Job commands (``submit watch status list logs pull cancel doctor``) are a few lines each and
delegate to :mod:`orchestrator.jobs`. Lab commands (``simulate verify bench train evaluate``) are
thin forwarders to the typer app ``kernel_payload.cli.app:app`` (:data:`LAB_APP`), imported only
when one of them runs, so ``arz --help`` never imports numba or torch. Errors become exit codes and
one line in one place, the funnel shared with the lab commands
(:func:`kernel_payload.schema.errors.report_error`): 0 ok, 1 job/run failed, 2 bad input,
130 interrupted.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from kernel_payload.schema import errors as _funnel
from orchestrator.errors import ArzError, JobFailed
from orchestrator.sweep.cli import SweepGroup, sweep_app

EXIT_INTERRUPTED = 130
PIPE_WIDTH = 160


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code for an exception, or None when it is a bug that should show its traceback
    (the funnel shared with the lab commands: :func:`kernel_payload.schema.errors.exit_code_for`)."""
    return _funnel.exit_code_for(exc)


def _blank_flag_metavars(params: list) -> list:
    """``params`` with an empty metavar on flags, so help screens show no ``<bool>`` beside them."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _ArzGroup(TyperGroup):
    """Turns errors raised by any command into a one-line message and an exit code."""

    def get_params(self, ctx: Any) -> Any:
        """The group's parameters, with no ``<bool>`` beside ``--help`` on the help screen."""
        return _blank_flag_metavars(super().get_params(ctx))

    def invoke(self, ctx: Any) -> Any:
        """Run the command; map our errors (and Ctrl-C) to a message and an exit code."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # the CLI framework's own control flow (exit codes, usage errors)
        except (Exception, KeyboardInterrupt) as exc:
            code = _funnel.report_error(exc)  # the same line and code as the lab commands'
            if code is None:
                raise  # a bug: keep the traceback
            raise typer.Exit(code) from exc


class _FlagHelpCommand(TyperCommand):
    """A command whose ``--help`` shows no ``<bool>`` type beside flags (as the lab commands')."""

    def get_params(self, ctx: Any) -> Any:
        """The parameters, with an empty metavar on flags (incl. ``--help``) for the help screen."""
        return _blank_flag_metavars(super().get_params(ctx))


app = typer.Typer(
    cls=_ArzGroup, name="arz", no_args_is_help=True, add_completion=False,
    help="ARZ traffic lab: simulate, verify, train, and run validation jobs locally or on Kaggle.",
)  # fmt: skip


# ------------------------------------------------------------------------------------ job commands
@app.command()
def submit(
    job: Path = typer.Argument(..., help="job file, e.g. jobs/quickstart.yml"),
    backend: str | None = typer.Option(None, "--backend", "-b", help="local | kaggle (default: the job's)"),
    detach: bool = typer.Option(False, "--detach", "-d", help="return after the kernel starts"),
    push: bool | None = typer.Option(None, "--push/--no-push", help="push the branch (kaggle pushes when its code transport is git)"),
) -> None:  # fmt: skip
    """Commit the code, start the job's kernel, watch it live and pull the verified results."""
    from orchestrator import jobs

    registry = _registry()
    sub = jobs.submit_job(job, registry, backend_name=backend, push=push)
    _print_submitted(sub)
    if detach:
        _out(f"follow it with: [bold]arz watch {sub.record.id}[/]")
        return
    _follow_and_pull(sub.record, registry, sub.backend)


@app.command()
def watch(job_id: str | None = typer.Argument(None, help="job id (default: the latest)")) -> None:
    """Reattach to a job's live view; pull its results when it ends."""
    registry = _registry()
    _follow_and_pull(_record(registry, job_id), registry, None)


@app.command()
def status(
    job_id: str | None = typer.Argument(None, help="job id (default: the latest)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Show a job's current status (asks the backend when it is still running)."""
    from orchestrator import jobs

    registry = _registry()
    record = jobs.refresh(_record(registry, job_id), registry)
    if as_json:
        _out_json(_record_dict(record))
        return
    _print_table([record])
    if record.message:
        _out(f"[dim]{_escape(record.message)}[/]")


@app.command("list")
def list_jobs(
    limit: int = typer.Option(20, "--limit", "-n", help="how many jobs, newest first"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List submitted jobs, newest first (unfinished ones are refreshed)."""
    from orchestrator import jobs

    registry = _registry()
    records = jobs.refresh_quietly(registry.list(limit=limit), registry)
    if as_json:
        _out_json([_record_dict(r) for r in records])
    elif records:
        _print_table(records)
    else:
        _out("no jobs yet; try: arz submit jobs/quickstart.yml")


@app.command()
def logs(
    job_id: str | None = typer.Argument(None, help="job id (default: the latest)"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing until the job ends"),
    raw: bool = typer.Option(False, "--raw", help="print progress events as their raw @@arz JSON lines"),
) -> None:
    """Print a job's log from the start, progress events as readable lines (``--raw``: as JSON)."""
    from orchestrator.backends import get_backend
    from orchestrator.monitor import readable_lines

    record = _record(_registry(), job_id)
    lines = get_backend(record.backend).logs(record.ref, follow=follow)
    for line in lines if raw else readable_lines(lines):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


@app.command()
def pull(
    job_id: str | None = typer.Argument(None, help="job id (default: the latest)"),
    dest: Path | None = typer.Option(None, "--dest", help="results folder (default: validation_output/results/<owner>_<slug>)"),
) -> None:  # fmt: skip
    """Download a job's results, verify every file against the manifest, and place them."""
    from orchestrator import jobs

    registry = _registry()
    record, folder, summary = jobs.pull_job(_record(registry, job_id), registry, dest)
    _print_result(record, folder, summary)


@app.command()
def cancel(job_id: str = typer.Argument(..., help="job id")) -> None:
    """Stop a running job (its payload still writes a summary of what it finished); a job that
    already ended is left as it is (exit 0)."""
    from orchestrator import jobs

    registry = _registry()
    record, cancelled = jobs.cancel_job(_record(registry, job_id), registry)
    if not cancelled:  # exit 0: the wanted state (not running) holds; nothing was changed
        _out(f"{record.id} had already ended ({record.status}, result {record.result or '-'}); "
             "nothing was changed")  # fmt: skip
        return
    _out(f"{record.id}: {record.status}")


@app.command()
def doctor(
    job: Path | None = typer.Argument(None, help="job file whose Kaggle settings to check"),
) -> None:
    """Check credentials, quota, git remote and Python dependencies: what is ready, what to fix."""
    try:
        module = importlib.import_module("orchestrator.doctor")
    except ModuleNotFoundError as exc:
        if exc.name != "orchestrator.doctor":
            raise
        _out("arz doctor is not available in this version yet.")
        raise typer.Exit(1) from exc
    result = module.run_doctor(job) if job else module.run_doctor()
    raise typer.Exit(result if isinstance(result, int) else 0)


@app.command()
def compare(
    a: str = typer.Argument(..., metavar="A", help="job id, sweep id, or results/sweep folder (the 'before')"),
    b: str = typer.Argument(..., metavar="B", help="job id, sweep id, or results/sweep folder (the 'after')"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Metrics of two jobs or sweeps side by side: B - A, and whether it is significant."""
    from orchestrator.study import compare as study_compare
    from orchestrator.study.compare_view import render_comparison

    result = study_compare.compare(study_compare.resolve_side(a, Path.cwd()),
                                   study_compare.resolve_side(b, Path.cwd()))  # fmt: skip
    if as_json:
        _out_json(result.to_json())
        return
    render_comparison(result, _console())


# ------------------------------------------------------------------------------- sweep commands
class _SweepHelpGroup(SweepGroup):
    """``arz sweep``'s group, with no ``<bool>`` beside ``--help`` on its help screen."""

    def get_params(self, ctx: Any) -> Any:
        """The group's parameters, flags without a metavar."""
        return _blank_flag_metavars(super().get_params(ctx))


app.add_typer(sweep_app, name="sweep", cls=_SweepHelpGroup)


# ------------------------------------------------------------------------ lab commands (forwarded)
LAB_APP = "kernel_payload.cli.app:app"
"""``module:attribute`` of the lab commands' typer app, imported when a lab command runs."""
LAB_COMMANDS = {
    "simulate": "Run a scenario and save the fields as NPZ (arz simulate --help for options).",
    "verify": "Numerical verification suite as a table (--json for data).",
    "bench": "Solver and environment throughput (--json for data).",
    "train": "Train a PPO signal controller on a scenario.",
    "evaluate": "Compare controllers (PPO, fixed-time, actuated, max-pressure) on a scenario.",
}


def _forwarder(name: str) -> Any:
    def command(ctx: typer.Context) -> None:
        module_name, _, attribute = LAB_APP.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise ArzError(f"`arz {name}` is not available in this version yet "
                           f"({module_name} is missing).") from exc  # fmt: skip
        getattr(module, attribute)([name, *ctx.args], prog_name="arz", standalone_mode=True)

    command.__name__ = f"lab_{name}"
    return command


for _name, _help in LAB_COMMANDS.items():
    app.command(
        _name, help=_help, add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(_forwarder(_name))  # fmt: skip
for _info in [*app.registered_commands, *sweep_app.registered_commands]:  # no `<bool>` in --help
    _info.cls = _FlagHelpCommand if _info.cls in (None, TyperCommand) else _info.cls


# --------------------------------------------------------------------------------------- helpers
def _follow_and_pull(record: Any, registry: Any, backend: Any) -> None:
    from orchestrator import jobs

    console = _console()
    try:
        record, view = jobs.follow_job(record, registry, console, backend)
    except KeyboardInterrupt:
        _out(
            f"\ndetached; {record.id} keeps running. Reattach with: [bold]arz watch {record.id}[/]"
        )
        raise
    _out(
        f"kernel finished: {record.status}"
        + (f", result {record.result}" if getattr(record, "result", "") else "")
        + (f" ({_escape(record.message)})" if record.message else "")
    )
    record, folder, summary = jobs.pull_job(record, registry, backend=backend)
    _print_result(record, folder, summary)


def _print_result(record: Any, folder: Path, summary: Any) -> None:
    shown = _relative(folder)
    _out(f"results: [bold]{shown}[/]  (status [bold]{summary.status.value}[/], "
         f"{len(summary.artifacts)} files verified against the manifest)")  # fmt: skip
    if (folder / "report.html").exists():
        _out(f"report:  {_relative(folder / 'report.html')}")
    if summary.status.value != "succeeded":
        raise JobFailed(f"job {record.id} is {summary.status.value}: {summary.reason}",
                        fix=f"see {shown}/report.html and `arz logs {record.id}`")  # fmt: skip


def _print_submitted(sub: Any) -> None:
    sync, record = sub.sync, sub.record
    commit = f"{sync.sha[:10]}" + (" (new commit)" if sync.committed else "")
    pushed = ", pushed" if sync.pushed else ""
    _out(f"submitted [bold]{record.id}[/] on {record.backend}: commit {commit}{pushed}")
    if getattr(sub, "plan", None) is not None:
        _out(f"code: [bold]{sub.plan.transport}[/] ({_escape(sub.plan.reason)})")
    code = [u for u in sync.untracked if u.endswith((".py", ".yml", ".yaml", ".toml"))]
    if code:
        more = f" (+{len(code) - 3} more)" if len(code) > 3 else ""
        _out(f"[yellow]note:[/] untracked files are not part of the job: {', '.join(code[:3])}{more}"
             " (git add them to include them)")  # fmt: skip


def _print_table(records: list) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("id", "backend", "status", "submitted (UTC)", "commit"):
        table.add_column(header, no_wrap=True)
    from orchestrator.sweep.view import group_by_sweep

    for sweep_id, group in group_by_sweep(records):  # a sweep's members under one heading row
        if sweep_id:
            table.add_row(f"sweep {sweep_id}", "", "", "", "", style="bold")
        for r in group:
            table.add_row(("  " if sweep_id else "") + r.id, r.backend, _status_text(r.status, r.result),
                          r.submitted_at.replace("T", " ")[:16], r.commit_sha[:8])  # fmt: skip
    _console().print(table)


def _status_text(status: str, result: str | None) -> str:
    """One column for the kernel's lifecycle and the job's verdict: the verdict once there is
    one (``succeeded``, ``partial``, ``failed``), with the lifecycle only where they differ."""
    if not result or result == status:
        return status
    return f"{result} (kernel {status})"


def _record_dict(record: Any) -> dict:
    data = dict(record.__dict__)
    data.pop("spec_json", None)
    return data


def _record(registry: Any, job_id: str | None) -> Any:
    return registry.get(job_id) if job_id else registry.latest()


def _registry() -> Any:
    from orchestrator.registry import Registry

    return Registry()


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, PIPE_WIDTH)  # tables are not squeezed into 80 columns
    return console


def _out(text: str) -> None:
    _console().print(text)


def _out_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def main() -> None:
    """Console-script entry point (``arz``)."""
    app(prog_name="arz")


if __name__ == "__main__":
    main()
