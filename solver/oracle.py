"""The numpy backend: a slow, vectorised, obviously-correct oracle for one link.

Same algorithm as :mod:`solver.kernels_cpu` (WENO5/first order, Zhang–Shu limiter, central-upwind
or HLL, SSP-RK3, exact relaxation by Strang splitting), written with array slicing instead of
loops; the pointwise physics is the very same :mod:`solver.physics` run as plain Python.
"""

from __future__ import annotations

import math

import numpy as np

from solver import physics
from solver.kernels_cpu import (
    BC_INFLOW,
    BC_PERIODIC,
    BC_WALL,
    NG,
    ROUNDOFF_VACUUM,
    VACUUM_FACE,
    WENO5,
)
from solver.params import EPS_VAC, RELAX, RHO_JAM, TAU_C, TAU_M

_marker = np.vectorize(physics.marker, otypes=[float])


def fill_ghosts(q: np.ndarray, n: int, bc, bstate) -> None:
    """Ghost cells of one link. Shapes: q (4, n + 2 NG)."""
    inner = q[:, NG : NG + n]
    sides = {
        0: {BC_PERIODIC: inner[:, n - NG :], BC_WALL: inner[:, NG - 1 :: -1], BC_INFLOW: None},
        1: {BC_PERIODIC: inner[:, :NG], BC_WALL: inner[:, : n - NG - 1 : -1], BC_INFLOW: None},
    }
    for side, sl in ((0, slice(0, NG)), (1, slice(NG + n, n + 2 * NG))):
        kind = bc[side]
        if kind == BC_INFLOW:
            q[:, sl] = np.asarray(bstate[side])[:, None]
        elif kind in (BC_PERIODIC, BC_WALL):
            q[:, sl] = sides[side][kind]
        else:
            q[:, sl] = inner[:, [0 if side == 0 else n - 1]]


def reconstruct(q: np.ndarray, n: int, order: int, scales, par) -> tuple[np.ndarray, np.ndarray]:
    """Face values (left face, right face) of cells NG-1 .. NG+n. Shapes: (4, n + 2)."""
    c = np.arange(NG - 1, NG + n + 1)
    if order != WENO5:
        return q[:, c].copy(), q[:, c].copy()
    qm, qp = np.empty((4, c.size)), np.empty((4, c.size))
    for r in (0, 2):  # weights shared by rho and y (physics.weno5_class_faces)
        stencil = [q[v, c + s] for v in (r, r + 1) for s in (-2, -1, 0, 1, 2)]
        qm[r], qp[r], qm[r + 1], qp[r + 1] = physics.weno5_class_faces(*stencil, scales[r], scales[r + 1])
    for r in (0, 2):  # Zhang–Shu scaling toward the cell average, the same theta for y
        y = r + 1
        rbar, ybar = q[r, c], q[y, c]
        mid = (rbar - (qm[r] + qp[r]) / 6.0) * 1.5
        low = np.minimum(np.minimum(qm[r], qp[r]), mid)
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.where(low < 0.0, np.where(rbar > 0.0, rbar / (rbar - low), 0.0), 1.0)
        for face in (qm, qp):
            face[r] = rbar + theta * (face[r] - rbar)
            face[y] = ybar + theta * (face[y] - ybar)
        near = (qm[r] < VACUUM_FACE * par[RHO_JAM]) | (qp[r] < VACUUM_FACE * par[RHO_JAM])
        if near.any():
            eps = par[EPS_VAC]
            w_n = np.stack([_marker(q[r, c + s], q[y, c + s], eps) for s in (-1, 0, 1)])
            lo, hi = w_n.min(axis=0), w_n.max(axis=0)
            for face in (qm, qp):
                w = np.clip(_marker(face[r], face[y], eps), lo, hi)
                face[y] = np.where(near, face[r] * w, face[y])
    return qm, qp


def interface_fluxes(qm, qp, n: int, kind: int, par) -> np.ndarray:
    """Fluxes at the n+1 interfaces (left state = right face of the cell on the left)."""
    F = np.zeros((4, n + 1))
    for j in range(n + 1):
        left, right = qp[:, j], qm[:, j + 1]
        F[:, j] = physics.numerical_flux(*left, *right, kind, par)[:4]
    return F


def _rhs_flux(q, n, setup):
    fill_ghosts(q, n, setup.bc, setup.bstate)
    qm, qp = reconstruct(q, n, setup.order, setup.scales, setup.par)
    F = interface_fluxes(qm, qp, n, setup.kind, setup.par)
    if setup.bc[0] == BC_WALL:
        F[:, 0] = 0.0
    if setup.bc[1] == BC_WALL:
        F[:, n] = 0.0
    return F


def clean_vacuum(q: np.ndarray, n: int, setup) -> None:
    """Round-off flush and near-vacuum marker bound (see :func:`solver.kernels_cpu.clean_vacuum`)."""
    par = setup.par
    thresh, tiny = VACUUM_FACE * par[RHO_JAM], ROUNDOFF_VACUUM * par[RHO_JAM]
    vtop = setup.scales[1] / setup.scales[0]
    inner = slice(NG, NG + n)
    for r in (0, 2):
        rho, y = q[r, inner], q[r + 1, inner]
        flush = (rho < 0.0) & (rho > -tiny)
        rho[flush] = 0.0
        y[flush] = 0.0
        near = (rho >= 0.0) & (rho < thresh) & ~flush
        if near.any():
            w = np.clip(_marker(rho[near], y[near], par[EPS_VAC]), 0.0, vtop)
            y[near] = rho[near] * w


def _relax(q, n, setup, h):
    par = setup.par
    if par[RELAX] == 0.0 or h <= 0.0:
        return
    dm, dc = math.exp(-h / par[TAU_M]), math.exp(-h / par[TAU_C])
    for i in range(n):
        c = NG + i
        q[1, c], q[3, c] = physics.relax_marker(*q[:, c], setup.vmax[0, i], setup.vmax[1, i], dm, dc, par)


def advance_link(q: np.ndarray, t: float, t_end: float, max_steps: int, setup, bflux: np.ndarray):
    """Advance one link (see :func:`solver.kernels_cpu.advance_link` for the contract, including
    the merged half relaxations)."""
    n = q.shape[1] - 2 * NG
    inner = slice(NG, NG + n)
    steps = failures = 0
    owed = 0.0
    while t_end - t > 1e-12 * max(1.0, abs(t_end)) and steps < max_steps:
        speeds = [physics.flux_and_speeds(*q[:, c], setup.par)[4:] for c in range(NG, NG + n)]
        a = max(max(abs(lo), abs(hi)) for lo, hi in speeds)
        dt = t_end - t if a <= 0 else min(t_end - t, setup.cfl * setup.dx / a)
        saved = q.copy()
        relax_first = owed + 0.5 * dt
        for _attempt in range(12):
            _relax(q, n, setup, relax_first)
            q0 = q.copy()
            F1 = _rhs_flux(q0, n, setup)
            q1 = q0.copy()
            q1[:, inner] = q0[:, inner] - dt / setup.dx * np.diff(F1, axis=1)
            clean_vacuum(q1, n, setup)
            F2 = _rhs_flux(q1, n, setup)
            q2 = q0.copy()
            q2[:, inner] = 0.75 * q0[:, inner] + 0.25 * (q1[:, inner] - dt / setup.dx * np.diff(F2, axis=1))
            clean_vacuum(q2, n, setup)
            F3 = _rhs_flux(q2, n, setup)
            q[:, inner] = (1.0 - 2.0 / 3.0) * q0[:, inner] + 2.0 / 3.0 * (q2[:, inner] - dt / setup.dx * np.diff(F3, axis=1))
            clean_vacuum(q, n, setup)
            if min(q[0, inner].min(), q[2, inner].min()) >= 0.0:
                break
            q[:] = saved
            relax_first -= 0.25 * dt
            dt *= 0.5
        else:
            failures += 1
        owed = 0.5 * dt
        weights = dt * np.array([1 / 6, 1 / 6, 2 / 3])
        for w, F in zip(weights, (F1, F2, F3), strict=True):
            bflux[0] += w * F[:, 0]
            bflux[1] += w * F[:, n]
        t += dt
        steps += 1
    _relax(q, n, setup, owed)
    return t, steps, failures
