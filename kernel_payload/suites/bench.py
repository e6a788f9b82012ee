"""The ``bench`` suite: solver and environment throughput as CSV, LaTeX and a bar chart.

Calls :func:`solver.bench.runner.run_bench` and writes ``data/metrics/bench.csv``, ``latex/bench.tex``
and ``figures/bench_throughput.png`` (cell updates per second, log scale); then
:func:`rl.bench.training_rows` (PPO env-steps/s with learning and its split, the CPU preset and,
on a usable GPU, the GPU preset) into ``data/metrics/bench_ppo.csv`` and ``ppo_*`` metrics. The headline metrics
carry the machine load and core count, the intersection's figures and the sumo-rl comparison --
measured in the same run when sumo-rl is installed, otherwise ``sumo_rl_omitted`` with the reason.
"""

from __future__ import annotations

from kernel_payload import figures, latex
from kernel_payload.liveness import StartupWatch
from kernel_payload.suites import SuiteContext
from kernel_payload.tables import write_csv

COLUMNS = (
    "case", "backend", "reconstruction", "cells", "batch", "threads", "us_per_step",
    "cell_updates_per_s", "sim_s_per_wall_s", "batch_sim_s_per_wall_s",
)  # fmt: skip
HEADERS = (
    "case", "backend", "reconstruction", "cells/copy", "batch (copies)", "threads",
    "us/step (whole batch)", "cell updates/s (all copies)", "sim s/wall s (per copy)",
    "sim s/wall s (batch total)",
)  # fmt: skip
HEADLINE = ("smoke", "intersection_4arm", "sumo_rl", "load_average", "cores", "ppo_")


def run(ctx: SuiteContext) -> None:
    """Run the benchmark (quick or full, from the job) and write its artifacts."""
    from solver.bench.runner import run_bench

    with StartupWatch("bench", None, "first case") as live:
        report = run_bench(quick=ctx.job.bench.quick, progress=live.wrap(ctx.progress),
                           smoke=ctx.job.bench.smoke)  # fmt: skip
    rows = [dict(row) for row in report.rows]
    write_csv(ctx.metrics_dir / "bench.csv", rows, COLUMNS)
    latex.write_table(
        ctx.latex_dir / "bench.tex",
        HEADERS,
        [[row.get(c) for c in COLUMNS] for row in rows],
        caption=f"Solver throughput on {ctx.device.name}",
        label="tab:bench",
    )
    rated = [r for r in rows if r.get("cell_updates_per_s")]
    if rated:
        figures.plot_bars(
            [_label(r) for r in rated],
            [float(r["cell_updates_per_s"]) for r in rated],
            ctx.figures_dir / "bench_throughput.png",
            xlabel="cell updates per second",
            title=f"Throughput ({ctx.device.kind}: {ctx.device.name})",
            log=True,
        )
        ctx.metrics["best_cell_updates_per_s"] = max(float(r["cell_updates_per_s"]) for r in rated)
    ctx.metrics["rows"] = len(rows)
    report.summary.update(_ppo_rows(ctx))
    for key, value in report.summary.items():  # network figures, sumo-rl comparison, machine load
        if key.startswith(HEADLINE):
            ctx.metrics[key] = value


def _ppo_rows(ctx: SuiteContext) -> dict:
    """PPO training throughput rows into ``bench_ppo.csv``; their headline figures (or why omitted)."""
    try:
        from rl.bench import COLUMNS, training_rows, training_summary
    except ModuleNotFoundError as exc:
        return {"ppo_omitted": f"rl not available ({exc.name} is missing)"}
    with StartupWatch("bench", None, "PPO training throughput (a few rollouts per preset)"):
        rows = training_rows(smoke=ctx.job.bench.smoke)
    write_csv(ctx.metrics_dir / "bench_ppo.csv", rows, COLUMNS)
    return training_summary(rows)


def _label(row: dict) -> str:
    return (
        f"{row.get('case')} | {row.get('backend')} | {row.get('reconstruction')} | "
        f"{row.get('cells')}x{row.get('batch')}"
    )
