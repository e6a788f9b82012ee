"""Grids and initial data: cell averages of the conserved variables by Gauss quadrature.

High order needs consistent data (DESIGN §3): the cell average of ``y_k = rho_k (v_k + p_k)`` is
integrated over each cell from the point-wise primitive state, not formed as rho_bar * w(rho_bar).
A cell containing a discontinuity (the Riemann split) is integrated piecewise on both sides.
"""

from __future__ import annotations

import math

import numpy as np

from solver import physics
from solver.params import ALPHA, GAMMA_C, GAMMA_M, INV_RHO_JAM, K_C, K_M, PhysicsParams

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(5)

_vec_equilibrium = np.vectorize(physics.equilibrium_speeds, excluded={4}, otypes=[float, float])


def road_grid(length: float, cells: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Uniform cells on [0, length].

    Returns:
        ``(edges, centres, dx)`` in m. Shapes: edges (cells + 1,), centres (cells,).
    """
    edges = np.linspace(0.0, length, cells + 1)
    return edges, 0.5 * (edges[1:] + edges[:-1]), length / cells


def quality_per_cell(quality, centres: np.ndarray) -> np.ndarray:
    """Road quality R per cell from an int, a per-cell list or piecewise segments.

    Shapes: centres (n,) m -> (n,) int64. Cells covered by no segment keep R = 1.
    """
    n = centres.size
    if isinstance(quality, int):
        return np.full(n, quality, dtype=np.int64)
    if quality and isinstance(quality[0], int):
        return np.asarray(quality, dtype=np.int64)
    out = np.ones(n, dtype=np.int64)
    for seg in quality:
        out[(centres >= seg.start) & (centres < seg.end)] = seg.quality
    return out


def _state_arrays(state, shape):
    return [np.full(shape, getattr(state, k), dtype=float) for k in ("rho_m", "v_m", "rho_c", "v_c")]


def primitive_at(initial, x: np.ndarray, vmax_at, length: float, params: PhysicsParams):
    """Point values ``(rho_m, v_m, rho_c, v_c)`` of an initial condition at positions x (m).

    Args:
        initial: one of the scenario's initial-condition models.
        x: positions, any shape.
        vmax_at: callable x -> (vmax_m, vmax_c) arrays (m/s) for equilibrium speeds.
        length: road length (m), for ``sine``.
        params: physics parameters.
    """
    kind = initial.type
    if kind == "uniform":
        return _state_arrays(initial.state, x.shape)
    if kind == "riemann":
        left, right = _state_arrays(initial.left, x.shape), _state_arrays(initial.right, x.shape)
        return [np.where(x < initial.split, a, b) for a, b in zip(left, right, strict=True)]
    if kind == "equilibrium":
        rm = np.full(x.shape, initial.rho_m)
        rc = np.full(x.shape, initial.rho_c)
        vm_max, vc_max = vmax_at(x)
        vm, vc = _vec_equilibrium(rm, rc, vm_max, vc_max, params.packed())
        return [rm, vm, rc, vc]
    bg = _state_arrays(initial.background, x.shape)
    if kind == "sine":
        shape = np.sin(2.0 * math.pi * initial.periods * x / length)
    else:  # hump
        shape = np.exp(-0.5 * ((x - initial.center) / initial.width) ** 2)
    amp = initial.amplitude
    return [bg[0] + amp.rho_m * shape, bg[1], bg[2] + amp.rho_c * shape, bg[3]]


def _power(x: np.ndarray, g: float) -> np.ndarray:
    """:func:`solver.physics.power` over an array, bitwise the same values (the same branches)."""
    x = np.asarray(x, dtype=float)
    pos = np.where(x > 0.0, x, 0.0)
    if g == 2.0:
        out = pos * pos
    elif g == 1.5:
        out = pos * np.sqrt(pos)
    elif g == 1.0:
        out = pos
    elif g == 0.5:
        out = np.sqrt(pos)
    else:
        out = np.array([float(v) ** g for v in pos.ravel()]).reshape(pos.shape)  # Python's pow, as the scalar code
    return np.where(x > 0.0, out, 0.0)


def pressures(rho_m, rho_c, params: PhysicsParams) -> tuple[np.ndarray, np.ndarray]:
    """:func:`solver.physics.pressures` over arrays (m/s), bitwise the scalar function's values.

    Shapes: rho_m, rho_c (...) veh/m -> two arrays (...). (``np.vectorize`` of the scalar function
    cost ~1.5 s of Python per quick verification, holding the GIL.)
    """
    par = params.packed()
    inv = par[INV_RHO_JAM]
    rho_m, rho_c = np.asarray(rho_m, dtype=float), np.asarray(rho_c, dtype=float)
    p_m = par[K_M] * _power((rho_m + par[ALPHA] * rho_c) * inv, par[GAMMA_M])
    p_c = par[K_C] * _power((rho_m + rho_c) * inv, par[GAMMA_C])
    return p_m, p_c


def conserved(rho_m, v_m, rho_c, v_c, params: PhysicsParams) -> np.ndarray:
    """Point-wise conserved variables. Shapes: inputs (...) -> (4, ...)."""
    p_m, p_c = pressures(rho_m, rho_c, params)
    return np.stack([rho_m, rho_m * (v_m + p_m), rho_c, rho_c * (v_c + p_c)])


def cell_averages(initial, edges: np.ndarray, quality: np.ndarray, params: PhysicsParams) -> np.ndarray:
    """Cell averages of ``(rho_m, y_m, rho_c, y_c)`` by 5-point Gauss–Legendre quadrature.

    Args:
        initial: the scenario's initial-condition model.
        edges: cell edges (m). Shapes: (n + 1,).
        quality: road quality per cell. Shapes: (n,).
        params: physics parameters.

    Returns:
        ``q[var, cell]``. Shapes: (4, n).
    """
    n = edges.size - 1
    vmax = params.vmax_cells(quality)
    length = edges[-1] - edges[0]

    def vmax_at(x):
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, n - 1)
        return vmax[0][idx], vmax[1][idx]

    cuts = [initial.split] if initial.type == "riemann" else []
    q = np.zeros((4, n))
    lo, hi = edges[:-1], edges[1:]
    pieces = [(lo, hi)]
    for cut in cuts:  # split the cell holding the discontinuity
        pieces = [(a, np.clip(np.full_like(b, cut), a, b)) for a, b in pieces] + [
            (np.clip(np.full_like(a, cut), a, b), b) for a, b in pieces
        ]
    for a, b in pieces:
        half = 0.5 * (b - a)
        mid = 0.5 * (a + b)
        for node, weight in zip(_GL_NODES, _GL_WEIGHTS, strict=True):
            x = mid + half * node
            q += weight * half * conserved(*primitive_at(initial, x, vmax_at, length, params), params)
    return q / (hi - lo)
