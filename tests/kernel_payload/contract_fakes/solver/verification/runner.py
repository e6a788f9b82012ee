"""Contract fake of solver.verification.runner: a fixed two-ladder report, one failing check on demand."""

import os
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Check:
    name: str
    description: str
    value: float
    threshold: str
    passed: bool


@dataclass
class Ladder:
    name: str
    cells: list
    l1: list
    orders: list


@dataclass
class Sample:
    x: np.ndarray
    numeric: np.ndarray
    exact: np.ndarray
    label: str


@dataclass
class VerificationReport:
    checks: list = field(default_factory=list)
    ladders: list = field(default_factory=list)
    samples: dict = field(default_factory=dict)
    level: str = "quick"
    wall_s: float = 0.0

    @property
    def passed(self):
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self, samples=True):
        out = {"level": self.level, "passed": self.passed, "wall_s": self.wall_s,
               "checks": [c.__dict__ for c in self.checks],
               "ladders": [{"name": lad.name, "cells": lad.cells, "l1": lad.l1, "orders": lad.orders}
                           for lad in self.ladders]}
        if samples:
            out["samples"] = {k: {"label": s.label, "x": s.x.tolist(), "numeric": s.numeric.tolist(),
                                  "exact": s.exact.tolist()} for k, s in self.samples.items()}
        return out

    def to_markdown(self):
        return "| check |\n|---|\n" + "\n".join(f"| {c.name} |" for c in self.checks)


def run_verification(level="quick", progress=None, workers=None):
    cells = [50, 100, 200, 400]
    weno = [1e-3 / (n / 50) ** 5 for n in cells]
    first = [1e-2 / (n / 50) for n in cells]
    ladders = [
        Ladder("weno5_sine", cells, weno, [None, 5.0, 5.0, 5.0]),
        Ladder("first_order_sine", cells, first, [1.0, 1.0, 1.0]),
    ]
    fail = os.environ.get("FAKE_VERIFY_FAIL") == "1"
    checks = [
        Check("weno5_order", "observed order of WENO5", 5.0, ">= 4.5", True),
        Check("mass_drift", "relative mass drift", 1e-15, "<= 1e-12", not fail),
    ]
    x = np.linspace(0.0, 1000.0, 101)
    exact = np.where(x < 500.0, 20.0, 120.0)
    samples = {"shock+contact": Sample(x, exact + 0.5, exact, "Riemann: shock and contact")}
    if os.environ.get("FAKE_VERIFY_BAD_SAMPLE") == "1":  # a profile that cannot be drawn
        samples["bad"] = Sample(x, exact[:-1], exact, "x and the profile differ in length")
    for i in range(3):
        if progress:
            progress("ladders", i + 1, 3)
    return VerificationReport(checks, ladders, samples, level=level, wall_s=0.01)
