"""One meaning of "order" in the verify suite's tables: the observed order between the two finest grids."""

from __future__ import annotations

from kernel_payload.suites.verify import ORDER_DEFINITION, _one_order

RIEMANN = {"check": "riemann_shock", "value": 0.61, "threshold": "> 0", "passed": True,
           "description": "L1 of rho falls at every refinement 100 -> 800 cells (value: smallest observed order)"}


def test_a_passing_ladder_check_shows_the_finest_order_like_the_ladder_table():
    shown = _one_order(RIEMANN, {"riemann_shock": 0.70})
    assert shown["value"] == 0.70 and shown["passed"] is True
    assert "two finest grids" in shown["description"] and "smallest" not in shown["description"]
    assert "two finest grids" in ORDER_DEFINITION


def test_a_failing_ladder_check_keeps_the_order_that_failed_and_others_are_untouched():
    failed = _one_order({**RIEMANN, "value": -0.2, "passed": False}, {"riemann_shock": 0.70})
    assert failed["value"] == -0.2 and failed["passed"] is False
    other = {"check": "weno5_smooth_order", "value": 5.18, "threshold": ">= 4.5", "passed": True,
             "description": "WENO5 order"}
    assert _one_order(other, {"weno5_sine": 5.18}) == other
