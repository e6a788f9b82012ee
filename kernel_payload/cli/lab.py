"""The solver commands: ``arz simulate``, ``verify`` and ``bench`` (registered by
:mod:`kernel_payload.cli.app`).

Thin commands over :mod:`solver`: every name, path and option is checked before any work starts
and before anything is written (:mod:`kernel_payload.inputs`); results go to stdout, progress
bars to stderr, errors through :func:`~kernel_payload.cli.common.exit_codes`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import typer
from rich.table import Table

from kernel_payload import compile_notice, inputs
from kernel_payload.cli.common import exit_codes, progress_bar, table_console
from kernel_payload.schema.errors import BadInput, did_you_mean

DOCS_BEGIN, DOCS_END = "<!-- verify:begin -->", "<!-- verify:end -->"


# ----------------------------------------------------------------------------------- simulate
def simulate(
    scenario: Path = typer.Argument(..., help="Scenario YAML, single road or network (every key: docs/scenarios.md)."),
    out: Path = typer.Option(..., "--out", "-o", help="NPZ file to write."),
    backend: str = typer.Option("numba-cpu", "--backend", help="Kernel backend: numpy (oracle) or numba-cpu."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary (incl. the ledger)."),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw a time-space diagram of density (PNG)."),
) -> None:
    """Run a scenario and save x, t and the (nt, nx) fields in SI units as NPZ."""
    with exit_codes():
        inputs.check_output_file(out, "--out")
        if plot is not None:
            inputs.check_output_file(plot, "--plot")
        sc = load_checked(scenario, backend)
        if backend != "numpy":
            compile_notice.notice_if_cold(compile_notice.ROAD if _is_road(sc) else compile_notice.NETWORK)
        with progress_bar("simulate", quiet=as_json) as update:
            result = run_scenario(sc, backend, lambda t, end: update(t, end, f"t = {t:.0f} s"))
        write_npz(result, out)
        if plot is not None:
            from kernel_payload.timespace import plot_time_space

            plot_time_space(result.t, result.link_x or result.x, result.fields, plot,
                            f"{sc.name}: total density")  # fmt: skip
        name = sc.name
        summary = summary_of(result, name, out, backend)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console = table_console()
    console.print(f"[bold]{name}[/]: {summary['nt']} frames x {summary['nx']} cells, "
                  f"{summary['steps']} steps in {summary['wall_s']:.2f} s -> {out}")  # fmt: skip
    table = Table("class", "entered", "exited", "stored", "queued", "residual", title="ledger (veh)")
    for cls, led in summary["ledger"].items():
        table.add_row(cls, *(f"{led[k]:.6g}" for k in ("entered", "exited", "stored", "queued", "residual")))
    console.print(table)


def load_checked(path: Path, backend: str):
    """Load a road or network scenario and check the backend can run it.

    Raises:
        ScenarioError, BackendError, BadInput: bad file, unknown backend, backend a network lacks.
    """
    from solver.backends import get_backend
    from solver.scenario.loader import load_scenario
    from solver.scenario.road import RoadScenario

    sc = load_scenario(path)
    get_backend(backend)
    if not isinstance(sc, RoadScenario) and backend != "numba-cpu":
        raise BadInput(f"network scenarios run on numba-cpu only (got {backend!r})", fix="drop --backend",
                       key="--backend")  # fmt: skip
    return sc


def _is_road(sc) -> bool:
    from solver.scenario.road import RoadScenario

    return isinstance(sc, RoadScenario)


def run_scenario(sc, backend: str, progress):
    """Run a loaded road or network scenario; returns its ``SimulationResult``."""
    from solver.scenario.road import RoadScenario

    if isinstance(sc, RoadScenario):
        from solver.road.simulate import simulate as simulate_road

        return simulate_road(sc, backend=backend, progress=progress)
    from solver.network.run import simulate_network

    return simulate_network(sc, progress=progress)


def write_npz(result, out: Path) -> None:
    """The NPZ layout of ``arz simulate``: ``x``, ``t`` and the (nt, nx) fields in SI
    (``LINK/``-prefixed for a network, with ``LINK/x``), ``ledger`` (and ``measures``) as JSON."""
    import numpy as np

    arrays = {"t": result.t, **result.fields, **result.coordinates()}
    arrays["ledger"] = np.array(json.dumps(result.ledger))
    if result.measures:
        arrays["measures"] = np.array(json.dumps(result.measures))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    except OSError as err:
        raise BadInput(f"cannot write {out}: {err.strerror or err}", key="--out") from None


def summary_of(result, name: str, out: Path, backend: str) -> dict:
    """JSON-able summary of a run: sizes, steps, wall time, the ledger (and network measures)."""
    return {
        "scenario": name, "out": str(out), "backend": backend, "nt": int(result.t.size),
        "nx": result.n_cells, "steps": int(result.steps), "wall_s": float(result.wall_s),
        "ledger": result.ledger, "measures": result.measures or None,
    }  # fmt: skip


# ------------------------------------------------------------------------------------- verify
def verify(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    level: str = typer.Option("quick", help="quick (default, < 1 min), full, or smoke (tiny, for tests)."),
    write_docs: Path | None = typer.Option(None, "--write-docs", help="Regenerate the table in this Markdown file."),
) -> None:
    """Numerical verification suite (Riemann problems vs the exact solution, observed orders, mass
    drift, positivity; docs/numerics.md); exit 1 when a check fails."""
    from solver.verification.runner import LEVELS, run_verification

    with exit_codes():
        if level not in LEVELS:
            raise BadInput(f"unknown level {level!r}{did_you_mean(level, LEVELS)}: choose one of "
                           f"{', '.join(LEVELS)}", key="--level")  # fmt: skip
        if write_docs is not None:
            _docs_block(write_docs)  # fail before the run if the file or its markers are missing
        compile_notice.notice_if_cold(compile_notice.NETWORK)
        with progress_bar("verify", quiet=as_json) as update:
            report = run_verification(level, progress=lambda stage, done, total: update(done, total, stage))
        if write_docs is not None:
            write_verification_docs(write_docs, report)
    if as_json:
        typer.echo(json.dumps(report.to_dict(samples=False), indent=2))
    else:
        _print_verification(report)
    if not report.passed:
        raise typer.Exit(1)


def _print_verification(report) -> None:
    console = table_console()
    table = Table("check", "value", "threshold", "passed", "what", title=f"verification ({report.level})")
    for c in report.checks:
        table.add_row(c.name, f"{c.value:.3g}", c.threshold, "yes" if c.passed else "[red]NO[/]", c.description)
    console.print(table)
    ladders = Table("ladder", "cells", "L1 (veh)", "order", title="refinement ladders")
    for lad in report.ladders:
        for n, e, o in zip(lad.cells, lad.l1, lad.orders, strict=True):
            ladders.add_row(lad.name, str(n), f"{e:.3e}", "" if o is None else f"{o:.2f}")
    console.print(ladders)
    verdict = "[green]all checks passed[/]" if report.passed else "[red]some checks failed[/]"
    console.print(f"{verdict} in {report.wall_s:.1f} s")


def _docs_block(path: Path) -> tuple[str, re.Match]:
    if not path.is_file():
        raise BadInput(f"no such file: {path}", key="--write-docs")
    if not os.access(path, os.W_OK):
        raise BadInput(f"{path} is read-only", fix=f"chmod u+w {path}", key="--write-docs")
    text = path.read_text()
    match = re.search(re.escape(DOCS_BEGIN) + r".*?" + re.escape(DOCS_END), text, flags=re.S)
    if match is None:
        raise BadInput(f"{path} has no '{DOCS_BEGIN}' ... '{DOCS_END}' block to replace", key="--write-docs")
    return text, match


def write_verification_docs(path: Path, report) -> None:
    """Replace the marked block of ``path`` with the report's tables, the command and the date."""
    text, match = _docs_block(path)
    today = dt.date.today().isoformat()
    block = (f"{DOCS_BEGIN}\n_Generated by `arz verify --level {report.level} --write-docs {path}` on "
             f"{today} ({report.wall_s:.0f} s); do not edit by hand._\n\n{report.to_markdown()}{DOCS_END}")  # fmt: skip
    path.write_text(text[: match.start()] + block + text[match.end() :])


# -------------------------------------------------------------------------------------- bench
def bench(
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    quick: bool = typer.Option(True, "--quick/--full", help="Quick (~1 min on 2 cores) or steadier full run; sumo-rl beside it when installed (.[bench])."),
    device: str = typer.Option("cpu", "--device", help="cpu; gpu: batched network on the GPU vs the CPU batch; auto."),
    rl: bool = typer.Option(True, "--rl/--no-rl", help="Also PPO training throughput: the CPU preset, and the GPU preset when a GPU is usable (rl/bench.py)."),
) -> None:
    """Solver throughput: us per SSP-RK3 step and cell updates per second; PPO env-steps/s with learning."""
    from solver.bench.runner import run_bench
    from solver.device import resolve_device

    with exit_codes():
        from solver.device import DEVICES

        if device not in DEVICES:
            raise BadInput(f"unknown device {device!r}{did_you_mean(device, DEVICES)}: choose one of "
                           f"{', '.join(DEVICES)}", key="--device")  # fmt: skip
        if resolve_device(device) == "gpu":
            return _bench_gpu(as_json, rl)
        compile_notice.notice_if_cold(compile_notice.RL)
        with progress_bar("bench", quiet=as_json) as update:
            report = run_bench(quick=quick, progress=lambda stage, done, total: update(done, total, stage))
            ppo = _ppo_rows(update) if rl else []
    if ppo:
        report.summary.update(_ppo_summary(ppo))
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "rl_training": ppo}, indent=2))
        return
    console = table_console()
    head = ("case", "backend", "reconstruction", "cells", "batch", "threads")
    table = Table(*head, "us/step (whole batch)", "cell updates/s (all copies)", "sim s/wall s (per copy)",
                  "sim s/wall s (batch total)", title="solver throughput (wall-clock; see the load below)")  # fmt: skip
    for r in report.rows:
        table.add_row(*(str(r[k]) for k in head), f"{r['us_per_step']:.1f}", f"{r['cell_updates_per_s']:.3g}",
                      f"{r['sim_s_per_wall_s']:.3g}", f"{r['batch_sim_s_per_wall_s']:.3g}")  # fmt: skip
    console.print(table)
    _print_ppo_rows(console, ppo)
    for key, value in report.summary.items():
        console.print(f"{key}: {value:.3g}" if isinstance(value, float) else f"{key}: {value}", markup=False)


def _ppo_rows(update) -> list[dict]:
    """PPO training throughput rows (:func:`rl.bench.training_rows`)."""
    from rl.bench import training_rows

    return training_rows(progress=lambda line: update(0, None, line))


def _ppo_summary(rows: list[dict]) -> dict:
    from rl.bench import training_summary

    return training_summary(rows)


def _print_ppo_rows(console, rows: list[dict]) -> None:
    """One table of the PPO rows: env-steps/s with learning and the split of the wall time."""
    if not rows:
        return
    head = ("preset", "device", "ppo_device", "n_envs")
    table = Table(*head, "env-steps/s (with learning)", "env s", "advance s", "readout s", "copies s", "policy s",
                  "update s",
                  title="PPO training throughput (timed rollouts after the first)")  # fmt: skip
    for r in rows:
        table.add_row(*(str(r[k]) for k in head), f"{r['env_steps_per_s']:,.0f}",
                      *(f"{r[k]:.2f}" for k in ("env_s", "advance_s", "readout_s", "copies_s", "policy_s", "update_s")))  # fmt: skip
    console.print(table)


def _bench_gpu(as_json: bool, rl: bool = True) -> None:
    """``arz bench --device gpu``: decision steps/s vs batch, GPU float32/float64 and CPU batch;
    PPO training throughput of the CPU and GPU presets."""
    from solver.bench.gpu import run_gpu_bench, speedups

    with progress_bar("bench gpu", quiet=as_json) as update:
        rows = run_gpu_bench(progress=lambda line: update(0, None, line))
        ppo = _ppo_rows(update) if rl else []
    summary = {**speedups(rows), **(_ppo_summary(ppo) if ppo else {})}
    if as_json:
        typer.echo(json.dumps({"rows": rows, "summary": summary, "rl_training": ppo}, indent=2))
        return
    head = ("device", "dtype", "batch", "decision_steps_per_s", "sim_s_per_wall_s", "substeps_per_decision")
    table = Table(*head, title=f"{rows[0]['case']}: batched decision steps")
    for r in rows:
        table.add_row(r["device"], r["dtype"], str(r["batch"]), *(f"{r[k]:.4g}" for k in head[3:]))
    console = table_console()
    console.print(table)
    _print_ppo_rows(console, ppo)
    for key, value in summary.items():
        console.print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
