"""Run the verification's independent runs side by side, with the same results and progress as in turn.

Why: the ``quick`` level is ~35 solver runs on the ``numba-cpu`` kernel, which releases the GIL
(``nogil=True``); one after another they kept one core busy for ~7 s while the other idled (and
the quickstart's PPO waits for them). Every run is independent -- its own problem, its own backend
instance and scratch arrays, a batch of one (so the kernel runs on the thread that calls it) -- so
the order in which they run changes nothing they compute.

What: a family of cases (smooth, Riemann, ...) is a :class:`Plan`: its independent :class:`Unit`
runs, each ``run(progress) -> value``, and ``combine(values) -> Part`` that turns them into checks,
ladders and samples. :func:`run_plans` runs every unit of every plan on ``workers`` threads (in the
order of :func:`submission_order`) and forwards each unit's progress counts from the calling thread in plan order: the stream of
``(stage, done, total)`` is exactly the one that running the units in turn would give, and a
count is passed on as soon as every unit before it has finished.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from solver.verification.report import Check, Ladder, Sample

Progress = Callable[[str, int, int], None]
Part = tuple[list[Check], list[Ladder], dict[str, Sample]]
POLL_S = 0.25
"""How often the calling thread wakes up while it waits for a count (so a signal is handled)."""
_DONE = object()


@dataclass(frozen=True)
class Unit:
    """One independent run (or ladder of runs): ``run(progress)`` returns its value.

    ``cost`` is a relative estimate of its work (e.g. cells x steps), used only to start the
    longest units first; it changes no result.
    """

    run: Callable[[Progress], Any]
    cost: float


@dataclass(frozen=True)
class Plan:
    """A family of cases: its units and how their values (in unit order) become a :data:`Part`."""

    units: list[Unit]
    combine: Callable[[list[Any]], Part]


def run_plans(plans: Sequence[Plan], progress: Progress, workers: int = 1) -> list[Part]:
    """Run every unit of ``plans`` on ``workers`` threads and combine each plan's values.

    Args:
        plans: the families, in report order.
        progress: receives every unit's counts, in plan and unit order, on the calling thread.
        workers: threads; 1 runs the units in turn on the calling thread.

    Returns:
        One :data:`Part` per plan, in order.

    Raises:
        Exception: the first failing unit's exception (in plan order); units not started yet are
            cancelled.
    """
    units = [unit for plan in plans for unit in plan.units]
    values = run_units(units, progress, workers)
    parts, start = [], 0
    for plan in plans:
        parts.append(plan.combine(values[start : start + len(plan.units)]))
        start += len(plan.units)
    return parts


def run_units(units: Sequence[Unit], progress: Progress, workers: int = 1) -> list[Any]:
    """The values of ``units`` (in order), run on ``workers`` threads; see the module docstring."""
    if workers <= 1 or len(units) <= 1:
        return [unit.run(progress) for unit in units]
    counts: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in units]

    def job(index: int) -> Any:
        try:
            return units[index].run(lambda stage, done, total: counts[index].put((stage, done, total)))
        finally:
            counts[index].put(_DONE)

    workers = min(workers, len(units))
    pool = ThreadPoolExecutor(workers, thread_name_prefix="arz-verify")
    futures: dict[int, Future] = {}
    try:
        for index in submission_order([unit.cost for unit in units], workers):
            futures[index] = pool.submit(job, index)
        for index in range(len(units)):
            _forward(counts[index], progress)
            futures[index].result()  # raises the unit's exception, in plan order
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [futures[index].result() for index in range(len(units))]


def submission_order(costs: Sequence[float], workers: int) -> list[int]:
    """The first unit, then the ``workers - 1`` costliest others, then the rest in plan order.

    The first unit's counts are the first sign of progress; the longest units start at once so
    none of them is left running alone at the end; the rest go in plan order, so each one's counts
    are forwarded soon after it ran (costliest-first throughout held the cheap first-order ladder,
    second in plan order, back until every other unit had run).
    """
    rest = list(range(1, len(costs)))
    early = sorted(sorted(rest, key=lambda i: -costs[i])[: max(0, workers - 1)])
    return [0, *early, *(i for i in rest if i not in early)] if costs else []


def _forward(counts: queue.SimpleQueue, progress: Progress) -> None:
    """Pass one unit's counts on until it has finished."""
    while True:
        try:
            item = counts.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if item is _DONE:
            return
        progress(*item)
