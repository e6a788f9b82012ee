"""numba-cpu kernels for one road link: reconstruction, fluxes, SSP-RK3 with exact relaxation.

Index diagram of one link (``ng = 3`` ghost cells each side, ``n`` interior cells)::

    cell:    0   1   2 | 3   4  ...  n+2 | n+3 n+4 n+5
             ghosts    | interior        | ghosts
    interface j (0..n) lies between cells ng-1+j and ng+j; j = 0 is the left boundary face.

``q[var, cell]`` with var = (rho_m, y_m, rho_c, y_c); fluxes ``F[var, j]``. Faces ``qm[var, c]``
(value at the left face of cell c) and ``qp[var, c]`` (right face). Every kernel takes arrays and
scalars only; the pointwise physics comes from :mod:`solver.physics`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from solver.kernels.common import (  # noqa: F401 (re-exported: callers find them here)
    BC_INFLOW,
    BC_NODE,
    BC_OUTFLOW,
    BC_PERIODIC,
    BC_WALL,
    CENTRAL_UPWIND,
    DEFAULT_GAMMAS,
    FASTMATH,
    FIRST_ORDER,
    HLL,
    NG,
    PHYSICS,
    RK3,
    ROUNDOFF_VACUUM,
    VACUUM_FACE,
    WENO5,
    WENO5_JS,
    calibrated,
    generic_paths,
    jit_inline,
    jit_point,
    par_tuple,
)
from solver.kernels.faces import (
    called_flux,
    capped_cu_fluxes,
    cell_speeds,
    copy_rows,
    limit_pass,
    relax_pass,
    weno5_pass,
)
from solver.params import EPS_VAC, RELAX, RHO_JAM, TAU_C, TAU_M

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "db1ece5e2c3e9832"

_flux_and_speeds = PHYSICS.flux_and_speeds
_marker = PHYSICS.marker
_pressures = PHYSICS.pressures
_relax_marker = PHYSICS.relax_marker

jit = numba.njit(cache=True, fastmath=FASTMATH)


def order_code(reconstruction: str, weno_weights: str = "z") -> int:
    """Kernel reconstruction code of a scenario's ``numerics.reconstruction`` / ``weno_weights``.

    ``first_order`` -> FIRST_ORDER; ``weno5`` -> WENO5 (WENO-Z weights) or, with
    ``weno_weights: js``, WENO5_JS.
    """
    if reconstruction == "first_order":
        return FIRST_ORDER
    return WENO5_JS if weno_weights == "js" else WENO5


@jit
def fill_ghosts(q, n, bc_left, bc_right, state_left, state_right):
    """Fill the ghost cells of one link in place. Shapes: q (4, n + 2 NG), states (4,)."""
    for g in range(NG):
        for v in range(4):
            lo = NG - 1 - g  # ghost cells from the boundary outwards
            hi = NG + n + g
            if bc_left == BC_PERIODIC:
                q[v, lo] = q[v, NG + n - 1 - g]
            elif bc_left == BC_INFLOW:
                q[v, lo] = state_left[v]
            elif bc_left == BC_WALL:
                q[v, lo] = q[v, NG + g]
            else:
                q[v, lo] = q[v, NG]
            if bc_right == BC_PERIODIC:
                q[v, hi] = q[v, NG + g]
            elif bc_right == BC_INFLOW:
                q[v, hi] = state_right[v]
            elif bc_right == BC_WALL:
                q[v, hi] = q[v, NG + n - 1 - g]
            else:
                q[v, hi] = q[v, NG + n - 1]


@jit
def reflect_wall_ghosts(q, n, side, par):
    """Wall ghosts (mirrored by :func:`fill_ghosts`) get the speed reversed: ``w = 2 p - w``.

    A wall reflects: the mirrored cell moves the other way. Copying y as well (the first version)
    gave the ghosts the inner cells' speed towards the wall; the wall face flux is zero either
    way, but the reconstruction of the last cells then saw vehicles still arriving and the
    verification's red light (a single road against a wall, no supply cap) compressed its last
    cell to 27 rho_jam with w = 150 m/s under WENO5-Z (dt -> 0, run cut short; WENO5-JS: 13
    rho_jam at 240 s). With the reflection both run 600 s (35k steps, JS needed 72k before).
    ``side`` 0 left, 1 right.
    """
    eps = par[EPS_VAC]
    for g in range(NG):
        ghost = NG - 1 - g if side == 0 else NG + n + g
        p_m, p_c = _pressures(q[0, ghost], q[2, ghost], par)
        for k in range(2):
            rho = q[2 * k, ghost]
            p = p_m if k == 0 else p_c
            q[2 * k + 1, ghost] = rho * (2.0 * p - _marker(rho, q[2 * k + 1, ghost], eps))


@jit
def reconstruct(q, n, order, scales, par, qm, qp):
    """Face values of cells NG-1 .. NG+n (first order, WENO5-Z or WENO5-JS), positivity-limited.

    WENO5 works per class on (rho, y) with nonlinear weights shared by both
    (:func:`solver.physics.weno5_class_faces`); ``order`` is FIRST_ORDER, WENO5 (Z weights) or
    WENO5_JS.

    Shapes: q, qm, qp (4, n + 2 NG); scales (4,) magnitudes of each variable.
    """
    lo, hi = NG - 1, NG + n + 1
    if order == FIRST_ORDER:
        for v in range(4):
            for c in range(lo, hi):
                qm[v, c] = q[v, c]
                qp[v, c] = q[v, c]
        return
    z = order == WENO5
    thresh, eps = VACUUM_FACE * par[RHO_JAM], par[EPS_VAC]
    for k in range(2):
        weno5_pass(q, k, lo, hi, scales[2 * k], scales[2 * k + 1], z, qm, qp)
        limit_pass(q, k, lo, hi, lo - 1, hi, thresh, eps, scales[1] / scales[0], qm, qp)


@jit
def interface_fluxes(qm, qp, n, kind, par, F):
    """Numerical fluxes at the n+1 interfaces; returns the largest |wave speed| (m/s).

    Shapes: qm, qp (4, n + 2 NG); F (4, >= n + 1).
    """
    a_max = 0.0
    pt = par_tuple(par)
    for j in range(n + 1):
        cl = NG - 1 + j
        cr = NG + j
        f0, f1, f2, f3, a = called_flux(qp[0, cl], qp[1, cl], qp[2, cl], qp[3, cl],
                                        qm[0, cr], qm[1, cr], qm[2, cr], qm[3, cr], kind, pt)
        F[0, j], F[1, j], F[2, j], F[3, j] = f0, f1, f2, f3
        if a > a_max:
            a_max = a
    return a_max


@jit
def max_wave_speed(q, n, par):
    """Largest |wave speed| (m/s) over the interior cell averages. Shapes: q (4, n + 2 NG)."""
    a_max = 0.0
    pt = par_tuple(par)
    for c in range(NG, NG + n):
        _, _, _, _, lo, hi = _flux_and_speeds(q[0, c], q[1, c], q[2, c], q[3, c], pt)
        a = max(abs(lo), abs(hi))
        if a > a_max:
            a_max = a
    return a_max


@jit
def max_wave_speed_scratch(q, n, par, scr, generic=True):
    """:func:`max_wave_speed`, with the cells' speeds computed vectorised into the scratch row
    ``scr`` (N,) when ``par`` holds the calibrated pressure exponents (the same number).
    ``generic`` None: the host checked that it does (:func:`solver.kernels.common.generic_paths`)."""
    if generic is None or calibrated(par):
        cell_speeds(q, NG, n, par, scr)
        a_max = 0.0
        for c in range(NG, NG + n):
            if scr[c] > a_max:
                a_max = scr[c]
        return a_max
    return max_wave_speed(q, n, par)


@jit
def relax(q, n, vmax, h, par, generic=True):
    """Exact relaxation over h seconds of every interior cell (no-op if relaxation is off);
    ``generic`` as in :func:`max_wave_speed_scratch`.

    Shapes: q (4, n + 2 NG); vmax (2, n) free speeds per class and cell, m/s.
    """
    if par[RELAX] == 0.0 or h <= 0.0:
        return
    decay_m = math.exp(-h / par[TAU_M])
    decay_c = math.exp(-h / par[TAU_C])
    if generic is None or calibrated(par):
        relax_pass(q, np.int64(NG), n, vmax, np.int64(0), decay_m, decay_c, par)  # vectorised
        return
    pt = par_tuple(par)
    for i in range(n):
        c = NG + i
        ym, yc = _relax_marker(q[0, c], q[1, c], q[2, c], q[3, c], vmax[0, i], vmax[1, i],
                               decay_m, decay_c, pt)
        q[1, c] = ym
        q[3, c] = yc


@jit
def stage_fluxes(q, n, bc, bstate, order, kind, scales, par, qm, qp, F, generic=True):
    """Ghosts, reconstruction and interface fluxes of one RK stage (walls get zero flux);
    ``generic`` None: central-upwind with the calibrated exponents, checked by the host
    (:func:`solver.kernels.common.generic_paths`): the face-by-face fluxes are not compiled.

    Shapes: q, qm, qp (4, n + 2 NG); F (4, >= n + 1); bc (2,) int; bstate (2, 4).
    """
    fill_ghosts(q, n, bc[0], bc[1], bstate[0], bstate[1])
    for side in range(2):
        if bc[side] == BC_WALL:
            reflect_wall_ghosts(q, n, side, par)
    reconstruct(q, n, order, scales, par, qm, qp)
    if generic is None or (kind == CENTRAL_UPWIND and calibrated(par)):
        capped_cu_fluxes(qm, qm, qp, F, qm, NG - 1, n + 1, np.int64(0), par, np.bool_(False))  # vectorised
    else:
        interface_fluxes(qm, qp, n, kind, par, F)
    for v in range(4):
        if bc[0] == BC_WALL:
            F[v, 0] = 0.0
        if bc[1] == BC_WALL:
            F[v, n] = 0.0


@jit
def combine(dst, a, ca, b, cb, F, n, dtdx):
    """``dst = ca a + cb (b - dt/dx (F_{j+1} - F_j))`` on interior cells. Shapes: (4, n + 2 NG)."""
    for v in range(4):
        for i in range(n):
            c = NG + i
            dst[v, c] = ca * a[v, c] + cb * (b[v, c] - dtdx * (F[v, i + 1] - F[v, i]))


@jit
def clean_vacuum(q, n, scales, par):
    """After an RK stage: flush round-off negatives and bound near-vacuum markers, in place.

    At a vacuum front the combination of ~1e-60 numbers can leave a density like -5e-45; such
    values (above ``-ROUNDOFF_VACUUM rho_jam``, far below the ledger's round-off) become an exact
    vacuum, so the step is not rejected for nothing. Where a class is nearly absent
    (rho_k < VACUUM_FACE rho_jam), y_k and rho_k are moved by separate fluxes and w = y/rho can
    leave its physical range (tiny dt, NaN): there w is bounded to [0, vtop] (vtop = scales[1] /
    scales[0], the largest free speed plus pressure scale) and y recomputed from it, as
    Kurganov–Petrova do. Densities are never raised, so no mass is created.

    Shapes: q (4, n + 2 NG).
    """
    thresh = VACUUM_FACE * par[RHO_JAM]
    tiny = ROUNDOFF_VACUUM * par[RHO_JAM]
    vtop = scales[1] / scales[0]
    eps = par[EPS_VAC]
    for c in range(NG, NG + n):
        clean_cell(q, c, thresh, tiny, vtop, eps)


@jit_point
def clean_cell(q, c, thresh, tiny, vtop, eps):
    """:func:`clean_vacuum` of cell c: ``thresh`` = VACUUM_FACE rho_jam, ``tiny`` = the flush
    bound (veh/m), ``vtop`` the marker bound (m/s), ``eps`` the marker's vacuum epsilon."""
    for k in range(2):
        rho = q[2 * k, c]
        if rho < 0.0 and rho > -tiny:
            q[2 * k, c] = 0.0
            q[2 * k + 1, c] = 0.0
        elif 0.0 <= rho < thresh:
            w = min(max(_marker(rho, q[2 * k + 1, c], eps), 0.0), vtop)
            q[2 * k + 1, c] = rho * w


@jit
def accumulate_boundary(bflux, F, n, weight):
    """``bflux[side, var] += weight F`` at the two boundary faces (the ledger's in/out flows)."""
    for v in range(4):
        bflux[0, v] += weight * F[v, 0]
        bflux[1, v] += weight * F[v, n]


@jit
def _interior_min_density(q, n):
    """The smallest interior density (veh/m); -inf if one is not a number (a step to retry)."""
    low = np.inf
    for i in range(n):
        c = NG + i
        if not (q[0, c] == q[0, c] and q[2, c] == q[2, c]):
            return -np.inf
        low = min(low, q[0, c], q[2, c])
    return low


@jit_inline
def ssprk3_transport(q, n, dt, dx, bc, bstate, order, kind, scales, par, work, bstep, generic=True):
    """One SSP-RK3 transport step of one link; False (and q restored) if a density went < 0.

    Shapes: q (4, N); work (6, 4, N) scratch: q0, q1, q2, qm, qp, F; bstep (2, 4) receives
    the step's boundary-face transfers (veh or veh*m/s, already times dt).
    """
    q0, q1, q2, qm, qp, F = work[0], work[1], work[2], work[3], work[4], work[5]
    dtdx = dt / dx
    N = np.int64(q.shape[1])  # whole-array copies by copy_rows: a slice assignment compiled
    copy_rows(q0, q, np.int64(0), N)  # numba's shape-mismatch error message (6 s of a cold start)
    (a1, b1, _, w1), (a2, b2, _, w2), (a3, b3, _, w3) = RK3  # unrolled: the stages differ in arrays
    stage_fluxes(q, n, bc, bstate, order, kind, scales, par, qm, qp, F, generic)
    accumulate_boundary(bstep, F, n, dt * w1)
    combine(q1, q, a1, q, b1, F, n, dtdx)
    clean_vacuum(q1, n, scales, par)
    stage_fluxes(q1, n, bc, bstate, order, kind, scales, par, qm, qp, F, generic)
    accumulate_boundary(bstep, F, n, dt * w2)
    combine(q2, q, a2, q1, b2, F, n, dtdx)
    clean_vacuum(q2, n, scales, par)
    stage_fluxes(q2, n, bc, bstate, order, kind, scales, par, qm, qp, F, generic)
    accumulate_boundary(bstep, F, n, dt * w3)
    combine(q, q0, a3, q2, b3, F, n, dtdx)
    clean_vacuum(q, n, scales, par)
    if _interior_min_density(q, n) < 0.0:
        copy_rows(q, q0, np.int64(0), N)
        return False
    return True


@jit_inline
def _transport_with_retry(q, n, dt, dx, bc, bstate, order, kind, scales, par, vmax, relax_first,
                          work, bstep, generic=True):
    """R(relax_first) then T(dt); on a negative density restore and halve dt (up to 12 times).

    Returns (dt actually used, ok).
    """
    saved = work[6]
    N = np.int64(q.shape[1])
    copy_rows(saved, q, np.int64(0), N)
    for _attempt in range(12):
        relax(q, n, vmax, relax_first, par, generic)
        for s in range(2):
            for v in range(4):
                bstep[s, v] = 0.0
        if ssprk3_transport(q, n, dt, dx, bc, bstate, order, kind, scales, par, work[:6], bstep, generic):
            return dt, True
        copy_rows(q, saved, np.int64(0), N)
        relax_first -= 0.25 * dt  # the relaxation owed to this step shrinks with it
        dt *= 0.5
    return dt, False


@jit
def advance_link(q, n, t, t_end, max_steps, dx, cfl, bc, bstate, order, kind, scales, par, vmax,
                 work, bflux, generic=True):
    """Advance one link from t to t_end (s) with Strang splitting R(dt/2) T(dt) R(dt/2).

    Consecutive half relaxations are merged (exact relaxation composes: R(a) R(b) = R(a + b)),
    so each step relaxes once. dt = cfl dx / max|wave speed| of the cell averages, cut to land on
    t_end; a transport step that would make a density negative is redone with half the dt (no
    floors, mass is never created).

    Shapes: q (4, N = n + 2 NG); vmax (2, n); work (7, 4, N); bflux (2, 4) accumulated
    boundary transfers (face 0 in, face n out). ``generic``: None when the host checked the common
    case (:func:`solver.kernels.common.generic_paths`; only its paths are then compiled).

    Returns:
        (t reached, steps taken, failures): failures > 0 means positivity could not be kept.
    """
    steps = 0
    failures = 0
    owed = 0.0  # relaxation time owed from the previous step's second half
    bstep = np.zeros((2, 4))
    while t_end - t > 1e-12 * max(1.0, abs(t_end)) and steps < max_steps:
        a = max_wave_speed_scratch(q, n, par, work[3, 0], generic)  # work[3] (faces) is free here
        dt = t_end - t
        if a > 0.0:
            dt = min(dt, cfl * dx / a)
        dt, ok = _transport_with_retry(q, n, dt, dx, bc, bstate, order, kind, scales, par, vmax,
                                       owed + 0.5 * dt, work, bstep, generic)
        if not ok:
            failures += 1
        owed = 0.5 * dt
        for s in range(2):
            for v in range(4):
                bflux[s, v] += bstep[s, v]
        t += dt
        steps += 1
    relax(q, n, vmax, owed, par, generic)
    return t, steps, failures


@numba.njit(cache=True, nogil=True)
def advance_links_range(lo, hi, Q, T, t_end, max_steps, dx, cfl, bc, bstate, order, kind, scales,
                        par, vmax, W, BF, STEPS, FAIL, generic=True):
    """Advance copies ``lo .. hi-1`` of one link (GIL released; see :mod:`solver.threads`).

    Shapes: Q (B, 4, N); T (B,) current times (s), updated; W (B, 7, 4, N) scratch;
    BF (B, 2, 4) boundary transfers, accumulated; STEPS, FAIL (B,) int64 outputs; ``generic``
    as in :func:`advance_link`.
    """
    for b in range(lo, hi):
        t, s, f = advance_link(Q[b], Q.shape[2] - 2 * NG, T[b], t_end, max_steps, dx, cfl, bc,
                               bstate, order, kind, scales, par, vmax, W[b], BF[b], generic)
        T[b] = t
        STEPS[b] = s
        FAIL[b] = f


def advance_links_batch(Q, T, t_end, max_steps, dx, cfl, bc, bstate, order, kind, scales, par,
                        vmax, W, BF, STEPS, FAIL, threads=None):
    """Advance B independent copies of one link, one thread per core over the batch.

    Same arguments as :func:`advance_links_range` without the range and ``generic`` (from
    ``kind`` and ``par``: :func:`solver.kernels.common.generic_paths`); ``threads`` defaults to
    :func:`solver.threads.default_threads`.
    """
    from solver.threads import default_threads, run_batched

    run_batched(advance_links_range, Q.shape[0], threads or default_threads(), Q, T, t_end,
                max_steps, dx, cfl, bc, bstate, order, kind, scales, par, vmax, W, BF, STEPS, FAIL,
                generic_paths(kind, par))
