"""PNG figures for the suites, drawn with matplotlib's object API (no pyplot, no global state).

Every function takes plain numbers, writes one PNG and returns its path. matplotlib is imported
inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DPI = 120
REFERENCE_ORDERS = (1, 2, 5)


def _figure(width: float = 6.4, height: float = 4.2) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def plot_convergence(
    ladders: Sequence[tuple[str, Sequence[int], Sequence[float]]], path: Path, title: str
) -> Path:
    """Log-log L1 error against the number of cells, with dotted reference slopes.

    Args:
        ladders: ``(name, cells, l1)`` per refinement ladder; ``cells`` and ``l1`` have equal length.
        path: PNG to write.
        title: figure title.

    Shapes:
        cells, l1: (n_levels,) per ladder.
    """
    fig = _figure()
    ax = fig.add_subplot()
    for name, cells, l1 in ladders:
        points = [(n, e) for n, e in zip(cells, l1, strict=True) if e and e > 0]
        if points:
            ax.loglog(*zip(*points, strict=True), marker="o", label=name)
    anchors = [(n, e) for _, cells, l1 in ladders for n, e in zip(cells, l1, strict=True) if e > 0]
    if anchors:
        n0, e0 = min(anchors)
        n1 = max(n for n, _ in anchors)
        for order in REFERENCE_ORDERS:
            ax.loglog([n0, n1], [e0, e0 * (n0 / n1) ** order], ":", color="gray", linewidth=1)
            ax.annotate(f"order {order}", (n1, e0 * (n0 / n1) ** order), fontsize=8, color="gray")
    ax.set_xlabel("cells")
    ax.set_ylabel("L1 error")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_profile(
    x: Sequence[float], numeric: Sequence[float], exact: Sequence[float], label: str, path: Path
) -> Path:
    """Numerical against exact density profile (x in m, density in veh/km).

    Shapes:
        x, numeric, exact: (n_cells,).
    """
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(x, exact, color="black", linewidth=1.5, label="exact")
    ax.plot(x, numeric, "o", markersize=2.5, color="tab:red", label="numerical")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("density (veh/km)")
    ax.set_title(label)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_bars(
    labels: Sequence[str],
    values: Sequence[float],
    path: Path,
    xlabel: str,
    title: str,
    errors: Sequence[float] | None = None,
    log: bool = False,
) -> Path:
    """Horizontal bar chart, one bar per label, with optional error bars.

    Shapes:
        labels, values, errors: (n_bars,).
    """
    fig = _figure(6.4, max(2.5, 0.35 * len(labels) + 1.2))
    ax = fig.add_subplot()
    ax.barh(range(len(labels)), values, xerr=errors, color="tab:blue", alpha=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def plot_curves(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: Path,
    xlabel: str,
    ylabel: str,
    title: str,
) -> Path:
    """Line plot of several ``label -> (x, y)`` series (e.g. a learning curve per seed).

    Shapes:
        x, y: (n_points,) per series.
    """
    fig = _figure()
    ax = fig.add_subplot()
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, marker=".", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    return _save(fig, path)
