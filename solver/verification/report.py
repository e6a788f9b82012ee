"""Result types of the numerical verification: checks, refinement ladders, profiles, report.

Every check's ``passed`` is computed from its measured ``value`` by :func:`make_check`; nothing
here is typed by hand. See :mod:`solver.verification.runner` for the cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Check:
    """One verified property: ``passed`` is ``value`` compared with ``threshold``."""

    name: str
    description: str
    value: float
    threshold: str
    passed: bool


@dataclass
class Ladder:
    """A refinement ladder: L1 errors (veh) per grid and the observed orders between grids.

    ``orders[i] = log(l1[i-1]/l1[i]) / log(cells[i]/cells[i-1])``; None for the coarsest grid
    and wherever a run failed (its L1 is NaN).
    """

    name: str
    cells: list[int]
    l1: list[float]
    orders: list[float | None]


@dataclass
class Sample:
    """A density profile for plots. Shapes: x (n,) m; numeric, exact (n,) veh/km."""

    x: np.ndarray
    numeric: np.ndarray
    exact: np.ndarray
    label: str


@dataclass
class VerificationReport:
    """Everything :func:`run_verification` measured."""

    checks: list[Check] = field(default_factory=list)
    ladders: list[Ladder] = field(default_factory=list)
    samples: dict[str, Sample] = field(default_factory=dict)
    level: str = "quick"
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self, samples: bool = True) -> dict:
        """JSON-able dict (non-finite numbers become None); ``samples=False`` drops the profiles."""
        out = {
            "level": self.level, "passed": self.passed, "wall_s": round(self.wall_s, 3),
            "checks": [{**c.__dict__, "value": _finite(c.value)} for c in self.checks],
            "ladders": [{"name": lad.name, "cells": list(lad.cells), "l1": [_finite(e) for e in lad.l1],
                         "orders": [_finite(o) for o in lad.orders]} for lad in self.ladders],
        }  # fmt: skip
        if samples:
            out["samples"] = {k: {"label": s.label, "x": _floats(s.x), "numeric": _floats(s.numeric),
                                  "exact": _floats(s.exact)} for k, s in self.samples.items()}  # fmt: skip
        return out

    def to_markdown(self) -> str:
        """The checks and the ladders as two Markdown tables."""
        lines = ["| check | value | threshold | passed | what |", "|---|---|---|---|---|"]
        for c in self.checks:
            mark = "yes" if c.passed else "**NO**"
            lines.append(f"| `{c.name}` | {_fmt(c.value)} | {_cell(c.threshold)} | {mark} | {_cell(c.description)} |")
        lines += ["", "| ladder | cells | L1 error (veh) | observed order |", "|---|---|---|---|"]
        for lad in self.ladders:
            for n, e, o in zip(lad.cells, lad.l1, lad.orders, strict=True):
                lines.append(f"| {lad.name} | {n} | {_fmt(e)} | {'' if o is None else f'{o:.2f}'} |")
        return "\n".join(lines) + "\n"


def _finite(v):
    return None if v is None or not math.isfinite(v) else float(v)


def _floats(a: np.ndarray) -> list:
    return [_finite(float(v)) for v in np.asarray(a).ravel()]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fmt(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def make_check(name: str, description: str, value: float, op: str, bound) -> Check:
    """Build a check; ``op`` is ``>=``, ``<=``, ``>``, ``==`` or ``within`` (bound = (lo, hi)).

    A non-finite value never passes.
    """
    ok = math.isfinite(value)
    if op == "within":
        lo, hi = bound
        threshold, ok = f"{lo:g} .. {hi:g}", ok and lo <= value <= hi
    else:
        compare = {">=": value >= bound, "<=": value <= bound, ">": value > bound, "==": value == bound}
        threshold, ok = f"{op} {bound:g}", ok and compare[op]
    return Check(name, description, float(value), threshold, bool(ok))


def observed_orders(cells: list[int], l1: list[float]) -> list[float | None]:
    """``log(e_{i-1}/e_i) / log(N_i/N_{i-1})`` per grid (None first, or where an error is not > 0)."""
    orders: list[float | None] = [None]
    for i in range(1, len(cells)):
        a, b = l1[i - 1], l1[i]
        good = math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0
        orders.append(math.log(a / b) / math.log(cells[i] / cells[i - 1]) if good else None)
    return orders
