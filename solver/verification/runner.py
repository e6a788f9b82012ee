"""Numerical verification of the road solver (DESIGN §8): ``run_verification`` and its levels.

Four families of cases (see :mod:`solver.verification.cases`), all on the ``numba-cpu`` backend:

* **smooth**: a periodic sine of motorcycles at a uniform speed with relaxation off is translated
  exactly; errors against the exact translated cell averages (Gauss quadrature) give the observed
  order of WENO5 + SSP-RK3 (the Courant number shrinks as ``0.4 (N0/N)^(2/3)`` so that
  dt ~ dx^(5/3) and the third-order time error ~ dx^5 stays below the spatial one) and of first
  order (CFL 0.4); a large-amplitude sine (smooth extrema) checks WENO5-Z's order at every
  refinement (WENO5-JS on the same ladder is reported for comparison);
* **riemann**: single-class Riemann problems of the homogeneous system (shock + contact,
  rarefaction + contact, a vacuum middle state, a rarefaction into an empty road) against the
  exact solver :mod:`solver.verification.riemann_exact`; the L1 error of rho must fall at every refinement;
* **conservation**: a two-class periodic ring with relaxation for one simulated hour; each class's
  mass must drift by at most 1e-12 relative;
* **positivity**: red-light style stress runs from near-vacuum and near-jam states against a wall:
  no negative density, no NaN, no failed step, and the red light's vehicle ledger closes.

Levels: ``smoke`` (small grids and short runs, for tests; its smooth ladder goes to 400 cells, where
WENO-Z's order is past the coarse-grid time error), ``quick`` (the default: smooth ladder
50..800 cells, Riemann 100..800) and ``full`` (Riemann 200..1600).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from solver.threads import default_threads
from solver.verification.cases import (
    conservation_plan,
    extremum_plan,
    no_progress,
    positivity_plan,
    riemann_plan,
    smooth_plan,
)
from solver.verification.plans import Progress, run_plans
from solver.verification.report import (
    Check,
    Ladder,
    Sample,
    VerificationReport,
    make_check,
    observed_orders,
)

__all__ = [
    "Check", "Ladder", "Sample", "VerificationReport", "LEVELS", "Level", "make_check",
    "observed_orders", "run_verification",
]  # fmt: skip


@dataclass(frozen=True)
class Level:
    """Grid ladders (cells) and durations (s) of one verification level."""

    smooth_cells: tuple[int, ...]
    riemann_cells: tuple[int, ...]
    ring_end: float
    stress_end: float
    extremum_cells: tuple[int, ...] = (100, 200)


LEVELS: dict[str, Level] = {
    "smoke": Level((50, 100, 200, 400), (50, 100, 200), 120.0, 30.0),
    "quick": Level((50, 100, 200, 400, 800), (100, 200, 400, 800), 3600.0, 240.0, (100, 200, 400)),
    "full": Level((50, 100, 200, 400, 800), (200, 400, 800, 1600), 3600.0, 600.0, (100, 200, 400, 800)),
}


def run_verification(level: str = "quick", progress: Progress | None = None,
                     workers: int | None = None) -> VerificationReport:  # fmt: skip
    """Run every verification case of a level.

    Args:
        level: ``quick`` (default), ``full`` or ``smoke`` (tiny, for tests).
        progress: called as ``progress(stage, done, total)`` after each run, on the calling
            thread, in the same order whatever ``workers`` is.
        workers: threads running independent cases side by side (default
            :func:`solver.threads.default_threads`: ``$ARZ_THREADS`` or the usable cores); the
            report is the same for any number (see :mod:`solver.verification.plans`).

    Returns:
        The report; ``report.passed`` is True when every check passed.

    Raises:
        ValueError: unknown level (the message lists the known ones).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown verification level {level!r}: choose one of {', '.join(LEVELS)}")
    lv, tick = LEVELS[level], progress or no_progress
    report = VerificationReport(level=level)
    start = time.perf_counter()
    plans = (
        smooth_plan(lv.smooth_cells),
        extremum_plan(lv.extremum_cells),
        riemann_plan(lv.riemann_cells),
        conservation_plan(lv.ring_end),
        positivity_plan(lv.stress_end),
    )
    parts = run_plans(plans, tick, default_threads() if workers is None else workers)
    for checks, ladders, samples in parts:
        report.checks += checks
        report.ladders += ladders
        report.samples.update(samples)
    report.wall_s = time.perf_counter() - start
    return report
