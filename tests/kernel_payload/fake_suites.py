"""Test-only suites, registered through ``$ARZ_TEST_SUITES`` (never part of a real job).

They exercise the runner's real code paths (artifacts, progress events, crashes, signals) in well
under a second, without numba or torch.
"""

from __future__ import annotations

import os
import time

from kernel_payload import figures, latex
from kernel_payload.suites import SuiteContext
from kernel_payload.tables import write_csv

SUITES_ENV = (
    "tiny=tests.kernel_payload.fake_suites:tiny;"
    "crash=tests.kernel_payload.fake_suites:crash;"
    "slow=tests.kernel_payload.fake_suites:slow"
)
"""Value for ``$ARZ_TEST_SUITES`` that registers every suite of this module."""


def tiny(ctx: SuiteContext) -> None:
    """Write one figure, one CSV, one LaTeX table and one fake model; report 3 progress steps."""
    for step in range(3):
        ctx.progress("steps", step + 1, 3)
    xs = [0.0, 1.0, 2.0, 3.0]
    figures.plot_curves({"line": (xs, [x * x for x in xs])}, ctx.figures_dir / "tiny.png",
                        "x", "y", "tiny")  # fmt: skip
    write_csv(ctx.metrics_dir / "tiny.csv", [{"x": x, "y": x * x} for x in xs])
    latex.write_table(ctx.latex_dir / "tiny.tex", ["x", "y"], [[x, x * x] for x in xs],
                      caption="tiny_table", label="tab:tiny")  # fmt: skip
    (ctx.models_dir / "tiny.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    ctx.metrics.update(answer=42, error=1.5e-4)


def crash(ctx: SuiteContext) -> None:
    """Write a partial CSV, then crash with a recognisable error."""
    write_csv(ctx.metrics_dir / "partial.csv", [{"a": 1}])
    ctx.metrics["before_crash"] = 1
    raise RuntimeError("deliberate crash in test suite")


def slow(ctx: SuiteContext) -> None:
    """Report progress every 50 ms for ``$ARZ_TEST_SLOW_S`` seconds (default 30 s)."""
    seconds = float(os.environ.get("ARZ_TEST_SLOW_S", "30"))
    steps = max(1, int(seconds / 0.05))
    for step in range(steps):
        time.sleep(0.05)
        ctx.progress("sleep", step + 1, steps)
