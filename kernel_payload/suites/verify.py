"""The ``verify`` suite: the solver's numerics verification as figures, CSV and LaTeX.

Calls :func:`solver.verification.runner.run_verification` and writes
``figures/convergence.png`` (log-log L1 error with reference slopes), one
``figures/profile_<case>.png`` per sample (numerical against exact density profile),
``data/metrics/{checks,ladders}.csv``, ``data/metrics/verification.json`` and
``latex/{checks,convergence}.tex``. Fails (after writing everything) when a check does not pass.
In a job with a later suite the figures are drawn by a worker process once that suite is under way
(:mod:`kernel_payload.suites.verify_figures`; the runner waits for it and lists its files here).
"""

from __future__ import annotations

import json
from pathlib import Path

from kernel_payload import background, latex
from kernel_payload.errors import VerificationFailed
from kernel_payload.liveness import StartupWatch
from kernel_payload.suites import SuiteContext, verify_figures
from kernel_payload.tables import write_csv

ORDER_DEFINITION = "observed order between the two finest grids: log(L1_coarse/L1_fine)/log(N_fine/N_coarse)"
"""The one meaning of "order" in every table of the suite (checks, ladders, metrics, LaTeX)."""


def run(ctx: SuiteContext) -> None:
    """Run the verification at the job's level and write its artifacts."""
    from solver.verification.runner import run_verification

    level = ctx.job.verify.level
    with StartupWatch("verify", None, "first runs of the ladders") as live:
        report = run_verification(level=level, progress=live.wrap(ctx.progress))
    checks = [
        {"check": c.name, "description": c.description, "value": c.value,
         "threshold": c.threshold, "passed": c.passed}
        for c in report.checks
    ]  # fmt: skip
    ladder_rows = [row for ladder in report.ladders for row in _ladder_rows(ladder)]
    finest = {lad.name: lad.orders[-1] for lad in report.ladders if lad.orders and lad.orders[-1] is not None}
    checks = [_one_order(c, finest) for c in checks]
    ctx.metrics.update(
        level=level,
        checks_total=len(checks),
        checks_passed=sum(1 for c in checks if c["passed"]),
        order_definition=ORDER_DEFINITION,
    )
    for name, order in finest.items():
        ctx.metrics[f"order_{name}"] = round(float(order), 3)
    _write_tables(ctx, checks, ladder_rows)
    data = ctx.metrics_dir / "verification.json"
    data.write_text(json.dumps(report.to_dict(), indent=2))
    _write_figures(ctx, data, report)
    failed = [c["check"] for c in checks if not c["passed"]]
    if failed:
        raise VerificationFailed(
            f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)} "
            "(see verify/data/metrics/checks.csv)"
        )


def _one_order(check: dict, finest: dict[str, float]) -> dict:
    """Show a ladder check's order as :data:`ORDER_DEFINITION` says, like every other table.

    The solver's Riemann checks pass when the L1 error falls at every refinement and report the
    smallest observed order; a passing one shows its ladder's finest order instead (the tables
    then agree), a failing one keeps the offending smallest order. Pass/fail is unchanged.
    """
    name = str(check["check"])
    if name not in finest or "smallest observed order" not in str(check["description"]):
        return check
    out = dict(check)
    out["description"] = out["description"].replace(
        "(value: smallest observed order)", "(value: observed order between the two finest grids)"
    )
    out["threshold"] = "> 0 at every refinement (ladders.csv)"
    if check["passed"]:
        out["value"] = finest[name]
    return out


def _ladder_rows(ladder: object) -> list[dict]:
    cells, l1, orders = list(ladder.cells), list(ladder.l1), list(ladder.orders)  # type: ignore[attr-defined]
    orders = [None] * (len(cells) - len(orders)) + orders  # orders may omit the coarsest level
    return [
        {"ladder": ladder.name, "cells": n, "l1": e, "order": o}  # type: ignore[attr-defined]
        for n, e, o in zip(cells, l1, orders, strict=True)
    ]


def _write_tables(ctx: SuiteContext, checks: list[dict], ladder_rows: list[dict]) -> None:
    write_csv(ctx.metrics_dir / "checks.csv", checks)
    write_csv(ctx.metrics_dir / "ladders.csv", ladder_rows, ["ladder", "cells", "l1", "order"])
    latex.write_table(
        ctx.latex_dir / "checks.tex",
        ["check", "value", "threshold", "passed"],
        [[c["check"], c["value"], c["threshold"], c["passed"]] for c in checks],
        caption=f"Numerics verification checks ({ctx.job.verify.level})",
        label="tab:verify-checks",
    )
    latex.write_table(
        ctx.latex_dir / "convergence.tex",
        ["ladder", "cells", "L1 error", "order vs the previous grid"],
        [[r["ladder"], r["cells"], r["l1"], r["order"]] for r in ladder_rows],
        caption="L1 error and observed order over the refinement ladders",
        label="tab:verify-convergence",
    )


def _write_figures(ctx: SuiteContext, data: Path, report: object) -> None:
    """Draw the figures from ``data`` in a worker once the next suite is under way, or here and now
    when no suite follows (see :mod:`kernel_payload.background`); the files are the same."""
    if ctx.background:
        folder = ctx.figures_dir
        background.submit(ctx.name, "figures", "kernel_payload.suites.verify_figures", [str(data), str(folder)], folder)
    else:
        verify_figures.draw(report.to_dict(), ctx.figures_dir)  # type: ignore[attr-defined]
