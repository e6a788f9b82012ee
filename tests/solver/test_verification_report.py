"""Verification report types: checks computed from values, orders, JSON and Markdown output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from solver.verification.runner import (
    LEVELS,
    Check,
    Ladder,
    Sample,
    VerificationReport,
    make_check,
    observed_orders,
    run_verification,
)


@pytest.mark.parametrize(
    ("value", "op", "bound", "passed", "threshold"),
    [
        (5.0, ">=", 4.5, True, ">= 4.5"),
        (4.4, ">=", 4.5, False, ">= 4.5"),
        (1e-13, "<=", 1e-12, True, "<= 1e-12"),
        (2e-12, "<=", 1e-12, False, "<= 1e-12"),
        (0.0, "==", 0.0, True, "== 0"),
        (1.0, "==", 0.0, False, "== 0"),
        (0.01, ">", 0.0, True, "> 0"),
        (0.0, ">", 0.0, False, "> 0"),
        (1.02, "within", (0.9, 1.1), True, "0.9 .. 1.1"),
        (1.2, "within", (0.9, 1.1), False, "0.9 .. 1.1"),
        (math.nan, ">=", 0.0, False, ">= 0"),
        (math.inf, "<=", 1.0, False, "<= 1"),
    ],
)
def test_checks_are_computed_from_their_values(value, op, bound, passed, threshold):
    check = make_check("c", "d", value, op, bound)
    assert check.passed is passed and check.threshold == threshold


def test_observed_orders():
    cells = [100, 200, 400, 800]
    orders = observed_orders(cells, [1.0, 1 / 32, 1 / 1024, math.nan])
    assert orders[0] is None and orders[3] is None
    assert orders[1:3] == pytest.approx([5.0, 5.0])
    assert observed_orders([10, 30], [9.0, 1.0])[1] == pytest.approx(2.0)


def _report() -> VerificationReport:
    checks = [make_check("good", "a | b", 5.0, ">=", 4.5), make_check("bad", "nan", math.nan, ">=", 0.0)]
    ladder = Ladder("l", [10, 20], [1.0, math.nan], [None, None])
    x = np.linspace(0, 1, 3)
    return VerificationReport(checks, [ladder], {"s": Sample(x, x, x, "lbl")}, "quick", 1.0)


def test_report_is_json_able_and_fails_when_one_check_fails():
    report = _report()
    assert not report.passed
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["checks"][1]["value"] is None and data["ladders"][0]["l1"] == [1.0, None]
    assert data["samples"]["s"]["x"] == [0.0, 0.5, 1.0]
    assert "samples" not in report.to_dict(samples=False)
    assert VerificationReport([Check("a", "b", 1.0, "> 0", True)]).passed
    assert not VerificationReport().passed  # no checks is not a pass


def test_markdown_has_one_row_per_check_and_grid_with_escaped_pipes():
    text = _report().to_markdown()
    assert "| `good` | 5 | >= 4.5 | yes | a \\| b |" in text
    assert "| `bad` | n/a | >= 0 | **NO** | nan |" in text
    assert "| l | 20 | n/a |  |" in text


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="unknown verification level 'huge'"):
        run_verification("huge")
    assert {"smoke", "quick", "full"} <= set(LEVELS)
    quick = LEVELS["quick"]
    assert quick.smooth_cells[-1] >= 800 and quick.ring_end == 3600.0
    assert LEVELS["full"].riemann_cells == (200, 400, 800, 1600)
