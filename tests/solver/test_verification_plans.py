"""Independent verification runs side by side: the same values and the same counts as in turn."""

from __future__ import annotations

import threading

import pytest

from solver.verification.plans import Plan, Unit, run_plans, run_units, submission_order
from solver.verification.runner import run_verification

GATE_S = 30.0


def _units(gate: threading.Event | None) -> list[Unit]:
    """Three units; with a gate the first waits until the third has finished (so the threads must
    run them side by side and the first finishes last)."""

    def first(progress):
        progress("a", 1, 2)
        if gate is not None:
            assert gate.wait(GATE_S), "the third unit never ran beside the first"
        progress("a", 2, 2)
        return "A"

    def second(progress):
        progress("b", 1, 1)
        return "B"

    def third(progress):
        progress("c", 1, 1)
        if gate is not None:
            gate.set()
        return "C"

    return [Unit(first, 1.0), Unit(second, 1.0), Unit(third, 5.0)]


def test_threads_give_the_values_and_counts_of_a_serial_run_even_out_of_order():
    serial_counts, threaded_counts = [], []
    serial = run_units(_units(None), lambda *c: serial_counts.append(c), workers=1)
    threaded = run_units(_units(threading.Event()), lambda *c: threaded_counts.append(c), workers=2)
    assert threaded == serial == ["A", "B", "C"]
    assert threaded_counts == serial_counts == [("a", 1, 2), ("a", 2, 2), ("b", 1, 1), ("c", 1, 1)]


def test_counts_reach_the_calling_thread_only():
    threads = set()
    run_units(_units(threading.Event()), lambda *c: threads.add(threading.get_ident()), workers=3)
    assert threads == {threading.get_ident()}


def test_a_failing_unit_raises_after_the_counts_before_it():
    def boom(progress):
        progress("boom", 1, 2)
        raise RuntimeError("unit failed")

    counts = []
    units = [Unit(lambda p: p("ok", 1, 1), 1.0), Unit(boom, 1.0), Unit(lambda p: p("late", 1, 1), 1.0)]
    with pytest.raises(RuntimeError, match="unit failed"):
        run_units(units, lambda *c: counts.append(c), workers=2)
    assert counts == [("ok", 1, 1), ("boom", 1, 2)]


def test_plans_combine_their_own_values_in_order():
    plans = [Plan([Unit(lambda p: 1, 1.0), Unit(lambda p: 2, 9.0)], lambda v: (v, [], {})),
             Plan([Unit(lambda p: 3, 1.0)], lambda v: (v, [], {}))]  # fmt: skip
    assert run_plans(plans, lambda *c: None, workers=2) == [([1, 2], [], {}), ([3], [], {})]


def test_the_first_unit_then_the_costliest_then_plan_order():
    costs = [1.0, 3.0, 1.0, 2.0, 9.0, 1.0]
    assert submission_order(costs, 1) == [0, 1, 2, 3, 4, 5]
    assert submission_order(costs, 2) == [0, 4, 1, 2, 3, 5]
    assert submission_order(costs, 3) == [0, 1, 4, 2, 3, 5]
    assert submission_order([], 2) == []


def test_the_real_verification_is_the_same_on_one_thread_and_on_two():
    """Every run is independent: the smoke level's report and counts do not depend on the threads."""
    reports, counts = [], []
    for workers in (1, 2):
        seen: list = []
        report = run_verification("smoke", progress=lambda *c, seen=seen: seen.append(c), workers=workers)
        reports.append({k: v for k, v in report.to_dict().items() if k != "wall_s"})
        counts.append(seen)
    assert reports[0] == reports[1]
    assert counts[0] == counts[1] and len(counts[0]) > 20
