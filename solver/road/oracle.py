"""The numpy backend: a slow, vectorised, obviously-correct oracle for one link.

Same algorithm as :mod:`solver.kernels.link` (WENO5/first order, Zhang–Shu limiter, central-upwind
or HLL, SSP-RK3, exact relaxation by Strang splitting), written with array slicing instead of
loops. Its pointwise physics (pressures, marker, equilibrium speeds, flux, wave speeds, WENO5,
relaxation) is written here again in plain numpy from the equations in ``docs/numerics.md``, not
imported from :mod:`solver.physics`, so that "the backends agree" checks the physics too.
"""

from __future__ import annotations

import math

import numpy as np

from solver.kernels.link import (
    BC_INFLOW,
    BC_PERIODIC,
    BC_WALL,
    FIRST_ORDER,
    HLL,
    NG,
    ROUNDOFF_VACUUM,
    VACUUM_FACE,
    WENO5,
)
from solver.params import (
    ALPHA,
    EPS_VAC,
    GAMMA_C,
    GAMMA_M,
    K_C,
    K_M,
    RELAX,
    RHO_JAM,
    TAU_C,
    TAU_M,
    V_CREEP,
)

SPEED_SAFETY = 1.05  # the factor f on the pressure terms of the wave-speed bounds (numerics.md §3)


# ------------------------------------------------------------------ physics (docs/numerics.md)


def pressures(rho_m, rho_c, par):
    """``p_m = K_m (rho_eff/rho_jam)^g_m``, ``p_c = K_c (rho_tot/rho_jam)^g_c`` (m/s), arrays."""
    x_m = np.maximum((rho_m + par[ALPHA] * rho_c) / par[RHO_JAM], 0.0)
    x_c = np.maximum((rho_m + rho_c) / par[RHO_JAM], 0.0)
    return par[K_M] * x_m ** par[GAMMA_M], par[K_C] * x_c ** par[GAMMA_C]


def pressure_slopes(rho_m, rho_c, par):
    """``s_m = dp_m/drho_eff``, ``s_c = dp_c/drho_tot`` ((m/s)/(veh/m)), arrays."""
    x_m = np.maximum((rho_m + par[ALPHA] * rho_c) / par[RHO_JAM], 0.0)
    x_c = np.maximum((rho_m + rho_c) / par[RHO_JAM], 0.0)
    s_m = par[K_M] * par[GAMMA_M] / par[RHO_JAM] * x_m ** (par[GAMMA_M] - 1.0)
    s_c = par[K_C] * par[GAMMA_C] / par[RHO_JAM] * x_c ** (par[GAMMA_C] - 1.0)
    return np.where(x_m > 0.0, s_m, 0.0), np.where(x_c > 0.0, s_c, 0.0)


def marker(rho, y, eps):
    """Desingularised ``w = 2 rho y / (rho^2 + max(rho^2, eps^2))`` (0 where both vanish)."""
    rho, y = np.asarray(rho, float), np.asarray(y, float)
    den = rho * rho + np.maximum(rho * rho, eps * eps)
    return np.where(den > 0.0, 2.0 * rho * y / np.where(den > 0.0, den, 1.0), 0.0)


def equilibrium_speeds(rho_m, rho_c, vmax_m, vmax_c, par):
    """``V_e,c = Vmax_c g``, ``V_e,m = V_creep max(0, 1 - rho_eff/rho_jam) + (Vmax_m - V_creep) g``."""
    g = np.maximum(1.0 - (rho_m + rho_c) / par[RHO_JAM], 0.0)
    h = np.maximum(1.0 - (rho_m + par[ALPHA] * rho_c) / par[RHO_JAM], 0.0)
    return par[V_CREEP] * h + (vmax_m - par[V_CREEP]) * g, vmax_c * g


def flux(q, par):
    """Physical flux ``(rho_m v_m, y_m v_m, rho_c v_c, y_c v_c)``. Shapes: q (4, ...) -> (4, ...)."""
    p_m, p_c = pressures(q[0], q[2], par)
    v_m = marker(q[0], q[1], par[EPS_VAC]) - p_m
    v_c = marker(q[2], q[3], par[EPS_VAC]) - p_c
    return np.stack([q[0] * v_m, q[1] * v_m, q[2] * v_c, q[3] * v_c])


def speed_bounds(q, par):
    """Gershgorin bounds ``(s_min, s_max)`` of the 4x4 Jacobian's spectrum (numerics.md §3)."""
    p_m, p_c = pressures(q[0], q[2], par)
    s_m, s_c = pressure_slopes(q[0], q[2], par)
    v_m = marker(q[0], q[1], par[EPS_VAC]) - p_m
    v_c = marker(q[2], q[3], par[EPS_VAC]) - p_c
    f, a = SPEED_SAFETY, par[ALPHA]
    lo = np.minimum(np.minimum(v_m - f * q[0] * s_m * (1.0 + a), v_c - 2.0 * f * q[2] * s_c), np.minimum(v_m, v_c))
    hi = np.maximum(np.maximum(v_m - q[0] * s_m + f * a * q[0] * s_m, v_c - q[2] * s_c + f * q[2] * s_c),
                    np.maximum(v_m, v_c))
    return lo, hi


def eigenvalues(q, par):
    """The four eigenvalues of the Jacobian: ``v_m``, ``v_c`` and those of
    ``diag(v) - [rho_k dp_k/drho_j]``. Shapes: q (4, ...) -> (4, ...), sorted."""
    p_m, p_c = pressures(q[0], q[2], par)
    s_m, s_c = pressure_slopes(q[0], q[2], par)
    v_m = marker(q[0], q[1], par[EPS_VAC]) - p_m
    v_c = marker(q[2], q[3], par[EPS_VAC]) - p_c
    a11, a12 = v_m - q[0] * s_m, -q[0] * par[ALPHA] * s_m
    a21, a22 = -q[2] * s_c, v_c - q[2] * s_c
    root = np.sqrt(((a11 - a22) / 2.0) ** 2 + a12 * a21)
    mid = (a11 + a22) / 2.0
    return np.sort(np.stack([mid - root, mid + root, v_m, v_c]), axis=0)


def numerical_flux(ql, qr, kind, par):
    """Central-upwind or HLL flux between left and right states. Shapes: (4, ...) -> (4, ...).

    Central-upwind: ``a+ = max(s_max(L), s_max(R), 0)``, ``a- = min(s_min(L), s_min(R), 0)`` from
    :func:`speed_bounds`. HLL: ``S_L = min(lam_min(L), lam_min(R))``, ``S_R = max(lam_max(L),
    lam_max(R))`` from :func:`eigenvalues`, upwind flux when ``S_L >= 0`` or ``S_R <= 0``.
    """
    fl, fr = flux(ql, par), flux(qr, par)
    if kind == HLL:
        el, er = eigenvalues(ql, par), eigenvalues(qr, par)
        lo, hi = np.minimum(el[0], er[0]), np.maximum(el[3], er[3])
    else:
        (ll, lh), (rl, rh) = speed_bounds(ql, par), speed_bounds(qr, par)
        lo, hi = np.minimum(ll, rl), np.maximum(lh, rh)
    a_lo, a_hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    span = a_hi - a_lo
    safe = np.where(span > 1e-14, span, 1.0)
    mixed = (a_hi * fl - a_lo * fr + a_hi * a_lo * (qr - ql)) / safe
    out = np.where(span > 1e-14, mixed, 0.5 * (fl + fr))
    if kind == HLL:
        out = np.where(lo >= 0.0, fl, np.where(hi <= 0.0, fr, out))
    return out


def weno5_class_faces(r, y, scale_r, scale_y, z=True):
    """WENO5 faces of one class with weights shared by rho and y (numerics.md §3).

    Args:
        r, y: the five cell averages of the stencil each, ``r[k]`` for cells c-2..c+2.
        scale_r, scale_y: magnitudes dividing each variable's smoothness indicator.
        z: WENO-Z weights ``d_k (1 + (|b0 - b2| / (b_k + 1e-6))^2)`` (Borges et al. 2008, p = 2);
            False: WENO-JS ``d_k / (b_k + 1e-6)^2``.

    Returns:
        ``(rho_left, rho_right, y_left, y_right)``: values at x_{c-1/2}^+ and x_{c+1/2}^-.
    """
    def beta(u):
        return (13.0 / 12.0 * (u[0] - 2 * u[1] + u[2]) ** 2 + 0.25 * (u[0] - 4 * u[1] + 3 * u[2]) ** 2,
                13.0 / 12.0 * (u[1] - 2 * u[2] + u[3]) ** 2 + 0.25 * (u[1] - u[3]) ** 2,
                13.0 / 12.0 * (u[2] - 2 * u[3] + u[4]) ** 2 + 0.25 * (3 * u[2] - 4 * u[3] + u[4]) ** 2)

    b = [br / scale_r**2 + by / scale_y**2 for br, by in zip(beta(r), beta(y), strict=True)]
    tau = np.abs(b[0] - b[2])

    def weight(d, bk):
        return d * (1.0 + (tau / (bk + 1e-6)) ** 2) if z else d / (1e-6 + bk) ** 2

    alpha_r = [weight(d, bk) for d, bk in zip((0.1, 0.6, 0.3), b, strict=True)]
    alpha_l = [weight(d, bk) for d, bk in zip((0.3, 0.6, 0.1), b, strict=True)]

    def right(u):
        cand = ((2 * u[0] - 7 * u[1] + 11 * u[2]) / 6, (-u[1] + 5 * u[2] + 2 * u[3]) / 6,
                (2 * u[2] + 5 * u[3] - u[4]) / 6)
        return sum(a * c for a, c in zip(alpha_r, cand, strict=True)) / sum(alpha_r)

    def left(u):
        cand = ((2 * u[2] + 5 * u[1] - u[0]) / 6, (-u[3] + 5 * u[2] + 2 * u[1]) / 6,
                (2 * u[4] - 7 * u[3] + 11 * u[2]) / 6)
        return sum(a * c for a, c in zip(alpha_l, cand, strict=True)) / sum(alpha_l)

    return left(r), right(r), left(y), right(y)


def relax_marker(q, vmax, h, par):
    """Exact relaxation over h s at fixed densities: ``w(h) = V_e + p + (w0 - V_e - p) e^(-h/tau)``.

    Shapes: q (4, n) changed in place (y only); vmax (2, n) m/s.
    """
    p_m, p_c = pressures(q[0], q[2], par)
    ve_m, ve_c = equilibrium_speeds(q[0], q[2], vmax[0], vmax[1], par)
    for r, p, ve, tau in ((0, p_m, ve_m, par[TAU_M]), (2, p_c, ve_c, par[TAU_C])):
        target = ve + p
        w = target + (marker(q[r], q[r + 1], par[EPS_VAC]) - target) * math.exp(-h / tau)
        q[r + 1] = q[r] * w


# ------------------------------------------------------------------ scheme


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
    """Face values (left face, right face) of cells NG-1 .. NG+n: WENO5, Zhang–Shu scaling, the
    markers kept below ``vtop`` away from vacuum and bounded by the neighbours' near it. Shapes: (4, n + 2)."""
    c = np.arange(NG - 1, NG + n + 1)
    if order == FIRST_ORDER:
        return q[:, c].copy(), q[:, c].copy()
    qm, qp = np.empty((4, c.size)), np.empty((4, c.size))
    for r in (0, 2):  # weights shared by rho and y
        st_r, st_y = ([q[v, c + s] for s in (-2, -1, 0, 1, 2)] for v in (r, r + 1))
        qm[r], qp[r], qm[r + 1], qp[r + 1] = weno5_class_faces(st_r, st_y, scales[r], scales[r + 1],
                                                               order == WENO5)
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
            # markers below the ARZ bound w <= vtop away from vacuum (solver.kernels.faces.scale_faces)
            capped = np.minimum(face[y], face[r] * (scales[1] / scales[0]))
            face[y] = np.where(face[r] >= VACUUM_FACE * par[RHO_JAM], capped, face[y])
        near = (qm[r] < VACUUM_FACE * par[RHO_JAM]) | (qp[r] < VACUUM_FACE * par[RHO_JAM])
        if near.any():
            eps = par[EPS_VAC]
            w_n = np.stack([marker(q[r, c + s], q[y, c + s], eps) for s in (-1, 0, 1)])
            lo, hi = w_n.min(axis=0), w_n.max(axis=0)
            for face in (qm, qp):
                w = np.clip(marker(face[r], face[y], eps), lo, hi)
                face[y] = np.where(near, face[r] * w, face[y])
    return qm, qp


def interface_fluxes(qm, qp, n: int, kind: int, par) -> np.ndarray:
    """Fluxes at the n+1 interfaces (left state = right face of the cell on the left)."""
    return numerical_flux(qp[:, : n + 1], qm[:, 1 : n + 2], kind, par)


def reflect_wall_ghosts(q: np.ndarray, n: int, bc, par) -> None:
    """Wall ghosts (already mirrored) get the speed reversed: ``w = 2 p - w``, i.e. ``v -> -v``."""
    for side, sl in ((0, slice(0, NG)), (1, slice(NG + n, n + 2 * NG))):
        if bc[side] != BC_WALL:
            continue
        g = q[:, sl]
        p_m, p_c = pressures(g[0], g[2], par)
        for r, p in ((0, p_m), (2, p_c)):
            g[r + 1] = g[r] * (2.0 * p - marker(g[r], g[r + 1], par[EPS_VAC]))
        q[:, sl] = g


def _rhs_flux(q, n, setup):
    fill_ghosts(q, n, setup.bc, setup.bstate)
    reflect_wall_ghosts(q, n, setup.bc, setup.par)
    qm, qp = reconstruct(q, n, setup.order, setup.scales, setup.par)
    F = interface_fluxes(qm, qp, n, setup.kind, setup.par)
    if setup.bc[0] == BC_WALL:
        F[:, 0] = 0.0
    if setup.bc[1] == BC_WALL:
        F[:, n] = 0.0
    return F


def clean_vacuum(q: np.ndarray, n: int, setup) -> None:
    """Round-off flush and near-vacuum marker bound (see :func:`solver.kernels.link.clean_vacuum`)."""
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
            w = np.clip(marker(rho[near], y[near], par[EPS_VAC]), 0.0, vtop)
            y[near] = rho[near] * w


def _relax(q, n, setup, h):
    if setup.par[RELAX] == 0.0 or h <= 0.0:
        return
    inner = q[:, NG : NG + n]
    relax_marker(inner, setup.vmax, h, setup.par)
    q[:, NG : NG + n] = inner


def advance_link(q: np.ndarray, t: float, t_end: float, max_steps: int, setup, bflux: np.ndarray):
    """Advance one link (see :func:`solver.kernels.link.advance_link` for the contract, including
    the merged half relaxations)."""
    n = q.shape[1] - 2 * NG
    inner = slice(NG, NG + n)
    steps = failures = 0
    owed = 0.0
    while t_end - t > 1e-12 * max(1.0, abs(t_end)) and steps < max_steps:
        lo, hi = speed_bounds(q[:, inner], setup.par)
        a = float(np.maximum(np.abs(lo), np.abs(hi)).max())
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
