"""A sweep's figures: each metric against each matrix key, one line per controller (matplotlib, Agg).

matplotlib is imported inside :func:`plot_against_key` (``arz`` must start fast); figures use the
object API (no pyplot, no global state). Points are cell means with their 95 % interval as error
bars (none from a single seed).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

from orchestrator.study.members import MetricKey
from orchestrator.study.tables import SEED_KEY, Cell, value_text

DPI = 110
MAX_FIGURES = 60
"""A sweep with more (key, metric) pairs plots the first ones only, and the report says so."""


def figure_plan(cells: Sequence[Cell], keys: Sequence[MetricKey]) -> list[tuple[str, str, str]]:
    """(matrix key, suite, metric) pairs worth a figure: matrix keys with two values or more;
    metrics of class ``total`` (or classless) that are per controller, or whose cell means are
    not all equal (a constant headline such as ``cores`` is not drawn)."""
    matrix_keys = [k for k in dict.fromkeys(k for c in cells for k in c.matrix) if k != SEED_KEY]
    varied = [k for k in matrix_keys if len({value_text(c.matrix.get(k)) for c in cells}) > 1]
    metrics = dict.fromkeys((k.suite, k.metric) for k in keys if k.klass in ("", "total"))
    plan = []
    for suite, metric in metrics:
        chosen = [k for k in keys if (k.suite, k.metric) == (suite, metric) and k.klass in ("", "total")]
        per_controller = any(k.controller for k in chosen)
        varies = any(len({round(c.estimate(k)[0].mean, 12) for c in cells if c.estimate(k)[0].n}) > 1
                     for k in chosen)  # fmt: skip
        if per_controller or varies:
            plan += [(matrix_key, suite, metric) for matrix_key in varied]
    return plan


def plot_against_key(cells: Sequence[Cell], keys: Sequence[MetricKey], matrix_key: str,
                     suite: str, metric: str, path: Path) -> Path:  # fmt: skip
    """One PNG: ``metric`` against the values of ``matrix_key``; a line per controller and per
    combination of the other matrix keys; error bars are the cells' 95 % intervals."""
    from matplotlib.figure import Figure

    xs = list(dict.fromkeys(value_text(c.matrix.get(matrix_key)) for c in cells))
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    chosen = [k for k in keys if (k.suite, k.metric) == (suite, metric) and k.klass in ("", "total")]
    for line, points in _lines(cells, chosen, matrix_key).items():
        x = [xs.index(p[0]) for p in points]
        y = [p[1].mean for p in points]
        err = [0.0 if math.isnan(p[1].ci95) else p[1].ci95 for p in points]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=line or metric)
    ax.set_xticks(range(len(xs)), xs, rotation=15 if max(map(len, xs)) > 12 else 0, fontsize=8)
    ax.set_xlabel(matrix_key)
    ax.set_ylabel(metric)
    ax.set_title(f"{suite}: {metric} (mean, 95% CI over seeds)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def _lines(cells: Sequence[Cell], keys: Sequence[MetricKey], matrix_key: str) -> dict[str, list]:
    """line label -> [(x value, estimate)] over the cells that have the metric."""
    lines: dict[str, list] = {}
    for cell in cells:
        others = ", ".join(f"{k}={value_text(v)}" for k, v in cell.matrix.items() if k != matrix_key)
        for key in keys:
            estimate, _ = cell.estimate(key)
            if estimate.n:
                label = ", ".join(p for p in (key.controller, others) if p)
                lines.setdefault(label, []).append((value_text(cell.matrix.get(matrix_key)), estimate))
    return lines


def figure_name(matrix_key: str, suite: str, metric: str) -> str:
    """``<suite>_<metric>_vs_<key>.png`` with anything but letters, digits, ``-`` ``_`` ``.`` as ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{suite}_{metric}_vs_{matrix_key}") + ".png"


def _save(fig, path: Path) -> Path:
    """Write the PNG atomically (temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=DPI, format="png")
    os.replace(tmp, path)
    return path
