"""Face values, face fluxes, relaxation and per-cell measures of a link as straight-line passes
over contiguous cells.

LLVM vectorises these loops (AVX2: four cells per instruction; check with numba's
``inspect_asm``: packed ``vmulpd``/``vdivpd`` on ``ymm`` registers) because they are written for
it: one variable pair or one face per iteration with no branch that is not a select, slices
indexed from 0 (a possibly negative index made LLVM assume that the rows of one array overlap and
keep the scalar loop), numpy's error model (python's checks every division for zero and jumps to
an exception), and constants for what selects a code path (WENO-Z or JS, the flux kind, the
calibrated pressure exponents). Each lane computes exactly what the scalar code did, in the same
order (no reassociation or contraction in FASTMATH): the results are bitwise those of the
face-by-face loops. Used by the road kernels (:mod:`solver.kernels.link`) and the network's link
sweep (:mod:`solver.kernels.sweep`); numba-cuda compiles them unchanged (one thread runs the loop).
"""

from __future__ import annotations

import numba

from solver.kernels.common import (
    CENTRAL_UPWIND,
    FASTMATH,
    PHYSICS,
    default_gammas_tuple,
    jit_point,
    jit_simd,
)
from solver.params import EPS_VAC

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "1112c5067da4d8e3"

_flux_and_speeds = PHYSICS.flux_and_speeds
_marker = PHYSICS.marker
_pressures = PHYSICS.pressures
_numerical_flux = PHYSICS.numerical_flux
_relax_marker = PHYSICS.relax_marker
_supplies = PHYSICS.supplies
_weno5_class_faces = PHYSICS.weno5_class_faces


@jit_point
def scale_faces(rbar, ybar, rm, ym, rp, yp, vtop, thresh):
    """Zhang–Shu scaling of one class's faces ``(rm, ym)``, ``(rp, yp)`` in a cell of average
    ``(rbar, ybar)`` towards that average, so that the faces and the implied midpoint value are
    non-negative; then, on faces of density at least ``thresh`` (veh/m, ``VACUUM_FACE rho_jam``),
    the marker is kept below the ARZ bound ``w <= vtop`` (m/s), i.e. ``y <= rho vtop`` (a marker
    below is returned bitwise unchanged). Only the upper bound: a wall's ghost cells mirror the
    velocity (``w = 2p - w_inside``, below p and possibly below 0, never above vtop), and their
    faces must keep that to stop the flow at the wall. Below ``thresh``
    :func:`bound_face_markers` bounds the marker by the neighbours' (clamping there too made the
    red light against a wall fail its positivity check: ``arz verify``).

    The marker bound: WENO reconstructs rho and y separately, so where one class almost vanishes
    at a face inside a strongly mixed queue the face's w = y / rho can leave the physical range
    far from vacuum (seen on the GPU in float32: a face of rho 1.5e-3 veh/m with w = 353 m/s
    beside cells of w <= 25, whose marker flux blew up in the next RK stage and overflowed WENO's
    weights). Branch-free after if-conversion: :func:`limit_pass` vectorises it."""
    mid = (rbar - (rm + rp) / 6.0) * 1.5
    low = min(rm, rp, mid)
    if low < 0.0:
        theta = rbar / (rbar - low) if rbar > 0.0 else 0.0
        rm = rbar + theta * (rm - rbar)
        rp = rbar + theta * (rp - rbar)
        ym = ybar + theta * (ym - ybar)
        yp = ybar + theta * (yp - ybar)
    ym = min(ym, rm * vtop) if rm >= thresh else ym  # below thresh: bound_face_markers' job
    yp = min(yp, rp * vtop) if rp >= thresh else yp
    return rm, ym, rp, yp


@jit_point
def bound_face_markers(rbar, ybar, rm, ym, rp, yp, r_lo, y_lo, r_hi, y_hi, thresh, eps):
    """Near vacuum (a face density below ``thresh``) the faces' markers are bounded by those of
    the cell and its neighbours ``(r_lo, y_lo)``, ``(r_hi, y_hi)``; returns ``(rm, ym, rp, yp)``."""
    if rm < thresh or rp < thresh:
        w0 = _marker(r_lo, y_lo, eps)
        w1 = _marker(rbar, ybar, eps)
        w2 = _marker(r_hi, y_hi, eps)
        lo, hi = min(w0, w1, w2), max(w0, w1, w2)
        wm = min(max(_marker(rm, ym, eps), lo), hi)
        wp = min(max(_marker(rp, yp, eps), lo), hi)
        ym = rm * wm
        yp = rp * wp
    return rm, ym, rp, yp


@jit_point
def limit_faces(rbar, ybar, rm, ym, rp, yp, r_lo, y_lo, r_hi, y_hi, thresh, eps, vtop):
    """Zhang–Shu scaling of one class's faces in a cell and the marker bound near vacuum
    (:func:`scale_faces`, then :func:`bound_face_markers`).

    ``(rbar, ybar)`` the cell average, ``(rm, ym)``/``(rp, yp)`` its left/right faces,
    ``(r_lo, y_lo)``/``(r_hi, y_hi)`` the neighbours' averages; ``thresh`` = VACUUM_FACE rho_jam
    (veh/m), ``eps`` the marker's vacuum epsilon and ``vtop`` the markers' upper bound (m/s:
    the largest free speed plus the pressure scale, ``scales[1] / scales[0]``), computed once per
    link by the caller.
    Returns the limited ``(rm, ym, rp, yp)``.
    """
    rm, ym, rp, yp = scale_faces(rbar, ybar, rm, ym, rp, yp, vtop, thresh)
    return bound_face_markers(rbar, ybar, rm, ym, rp, yp, r_lo, y_lo, r_hi, y_hi, thresh, eps)


@jit_simd
def weno5_pass(q, k, lo, hi, scale_r, scale_y, z, qm, qp):
    """WENO5 faces (:func:`solver.physics.weno5_class_faces`) of class k in cells ``lo .. hi-1``,
    one straight-line loop over contiguous cells (vectorised). Reads cells ``lo-2 .. hi+1``.

    ``z`` True for WENO-Z weights, False for WENO-JS. Shapes: q, qm, qp (4, Ncells).
    """
    r, y = 2 * k, 2 * k + 1
    rho, yy = q[r, lo - 2:hi + 2], q[y, lo - 2:hi + 2]
    rl, rr, yl, yr = qm[r, lo:hi], qp[r, lo:hi], qm[y, lo:hi], qp[y, lo:hi]
    if z:  # two loops, each with a constant z: no branch inside
        for i in range(hi - lo):
            rl[i], rr[i], yl[i], yr[i] = _weno5_class_faces(
                rho[i], rho[i + 1], rho[i + 2], rho[i + 3], rho[i + 4],
                yy[i], yy[i + 1], yy[i + 2], yy[i + 3], yy[i + 4], scale_r, scale_y, True)
    else:
        for i in range(hi - lo):
            rl[i], rr[i], yl[i], yr[i] = _weno5_class_faces(
                rho[i], rho[i + 1], rho[i + 2], rho[i + 3], rho[i + 4],
                yy[i], yy[i + 1], yy[i + 2], yy[i + 3], yy[i + 4], scale_r, scale_y, False)


@jit_simd
def limit_pass(q, k, lo, hi, first, last, thresh, eps, vtop, qm, qp):
    """:func:`limit_faces` of class k's faces in cells ``lo .. hi-1``, in place: the Zhang–Shu
    scaling in one vectorised loop, then the (rarely active) marker bound in a scalar one, with
    the neighbours' indices clamped to ``first .. last`` (what outflow ghosts hold).

    Shapes: q, qm, qp (4, Ncells).
    """
    r, y = 2 * k, 2 * k + 1
    rb, yb = q[r, lo:hi], q[y, lo:hi]
    rl, rr, yl, yr = qm[r, lo:hi], qp[r, lo:hi], qm[y, lo:hi], qp[y, lo:hi]
    for i in range(hi - lo):
        rl[i], yl[i], rr[i], yr[i] = scale_faces(rb[i], yb[i], rl[i], yl[i], rr[i], yr[i], vtop, thresh)
    for i in range(hi - lo):
        if rl[i] < thresh or rr[i] < thresh:
            c = lo + i
            b, d = max(c - 1, first), min(c + 1, last)
            rl[i], yl[i], rr[i], yr[i] = bound_face_markers(
                rb[i], yb[i], rl[i], yl[i], rr[i], yr[i], q[r, b], q[y, b], q[r, d], q[y, d], thresh, eps)


@jit_point
def cap_by_supply(f0, f1, f2, f3, s_m, s_c):
    """Face fluxes ``(rho_m, y_m, rho_c, y_c)`` with each class's mass flux capped by the receiving
    cell's supply ``s_m``, ``s_c`` (veh/s) and its marker flux scaled alike (the vehicles carry
    their marker, so mass stays conserved). Returns (f0, f1, f2, f3)."""
    if f0 > s_m:
        f1 *= s_m / f0
        f0 = s_m
    if f2 > s_c:
        f3 *= s_c / f2
        f2 = s_c
    return f0, f1, f2, f3


@numba.njit(cache=True, fastmath=FASTMATH)
def called_flux(p0, p1, p2, p3, m0, m1, m2, m3, kind, par):
    """:func:`solver.physics.numerical_flux` (any flux kind, any exponents; ``par`` a parameter tuple)
    as a called function, for the face-by-face paths outside the vectorised common case: the
    flux is inlined (by LLVM) into every call site, and each inlined copy is optimised and turned
    into machine code again; these paths share one. Returns (f0, f1, f2, f3, a_max)."""
    return _numerical_flux(p0, p1, p2, p3, m0, m1, m2, m3, kind, par)


@jit_simd
def capped_cu_fluxes(q, qm, qp, F, vmax, cl, nf, fo, par, supply_cap):
    """Central-upwind fluxes of ``nf`` faces, when ``par`` holds the DEFAULT_GAMMAS exponents:
    face i lies between cells ``cl + i`` (its left state ``qp``) and ``cl + i + 1`` (``qm``) and
    goes to ``F[:, fo + i]``; with ``supply_cap`` each class's flux is capped by the right cell's
    supply (the y flux scaled alike, as :func:`solver.kernels.sweep._capped_face_flux`).

    With the flux kind and the exponents constants every branch of the flux is a select and the
    loop vectorises (3x faster than face by face, the same numbers).
    Shapes: q, qm, qp, F (4, Ncells); vmax (>= 2, Ncells) (read only with ``supply_cap``).
    """
    pt = default_gammas_tuple(par)
    p0, p1, p2, p3 = qp[0, cl:cl + nf], qp[1, cl:cl + nf], qp[2, cl:cl + nf], qp[3, cl:cl + nf]
    m0, m1, m2, m3 = qm[0, cl + 1:cl + nf + 1], qm[1, cl + 1:cl + nf + 1], qm[2, cl + 1:cl + nf + 1], qm[3, cl + 1:cl + nf + 1]
    F0, F1, F2, F3 = F[0, fo:fo + nf], F[1, fo:fo + nf], F[2, fo:fo + nf], F[3, fo:fo + nf]
    for i in range(nf):  # the one inlined copy of the flux on the vectorised path
        F0[i], F1[i], F2[i], F3[i], _ = _numerical_flux(p0[i], p1[i], p2[i], p3[i], m0[i], m1[i],
                                                       m2[i], m3[i], CENTRAL_UPWIND, pt)
    if not supply_cap:
        return
    r_m, r_c = q[0, cl + 1:cl + nf + 1], q[2, cl + 1:cl + nf + 1]
    v_m, v_c = vmax[0, cl + 1:cl + nf + 1], vmax[1, cl + 1:cl + nf + 1]
    for i in range(nf):  # the cap as a second pass (a branch in the flux loop stopped the vectoriser)
        s_m, s_c = _supplies(r_m[i], r_c[i], v_m[i], v_c[i], pt)
        F0[i], F1[i], F2[i], F3[i] = cap_by_supply(F0[i], F1[i], F2[i], F3[i], s_m, s_c)


@jit_simd
def clean_pass(q, c0, n, thresh, tiny, vtop, eps):
    """:func:`solver.kernels.link.clean_cell` of cells ``c0 .. c0+n-1`` in place, vectorised (the
    same numbers): per class, a density in ``(-tiny, 0)`` is round-off at a vacuum front and
    becomes vacuum (marker too); below ``thresh`` the marker is bounded to ``[0, vtop]``.

    Shapes: q (4, Ncells).
    """
    for k in range(2):
        r, y = q[2 * k, c0:c0 + n], q[2 * k + 1, c0:c0 + n]
        for i in range(n):
            rho, yy = r[i], y[i]
            flush = rho < 0.0 and rho > -tiny
            small = 0.0 <= rho < thresh
            w = min(max(_marker(rho, yy, eps), 0.0), vtop)
            r[i] = 0.0 if flush else rho
            y[i] = 0.0 if flush else (rho * w if small else yy)


@jit_simd
def copy_rows(dst, src, c0, n):
    """``dst = src`` on cells ``c0 .. c0+n-1`` of the four variables. Shapes: (4, Ncells)."""
    for v in range(4):
        d, s = dst[v, c0:c0 + n], src[v, c0:c0 + n]
        for i in range(n):
            d[i] = s[i]


@jit_simd
def relax_pass(q, c0, n, vmax, v0, decay_m, decay_c, par):
    """Exact relaxation (:func:`solver.physics.relax_marker`) of cells ``c0 .. c0+n-1`` in place,
    when ``par`` holds the DEFAULT_GAMMAS exponents (vectorised; the same numbers as cell by cell).

    ``vmax`` columns ``v0 .. v0+n-1`` are those cells' free speeds; ``decay_k = exp(-h/tau_k)``.
    Shapes: q (4, Ncells); vmax (2, >= v0 + n).
    """
    pt = default_gammas_tuple(par)
    r_m, y_m, r_c, y_c = q[0, c0:c0 + n], q[1, c0:c0 + n], q[2, c0:c0 + n], q[3, c0:c0 + n]
    v_m, v_c = vmax[0, v0:v0 + n], vmax[1, v0:v0 + n]
    for i in range(n):
        y_m[i], y_c[i] = _relax_marker(r_m[i], y_m[i], r_c[i], y_c[i], v_m[i], v_c[i], decay_m, decay_c, pt)


@jit_simd
def cell_measures(q, c0, n, vmax, par, out):
    """Per cell ``c0 .. c0+n-1``, when ``par`` holds the DEFAULT_GAMMAS exponents (vectorised):
    ``out[k, c]`` the fraction of free speed class k is missing, ``1 - v_k/Vmax_k`` clipped to
    [0, 1], and ``out[2, c]`` the largest |wave-speed bound| of the cell (m/s); the per-cell part
    of :func:`solver.kernels.network.accumulate_measures`, whose sums stay in cell order.

    Shapes: q (4, Ncells); vmax (2, Ncells); out (>= 3, Ncells).
    """
    pt = default_gammas_tuple(par)
    eps = pt[EPS_VAC]
    r_m, y_m, r_c, y_c = q[0, c0:c0 + n], q[1, c0:c0 + n], q[2, c0:c0 + n], q[3, c0:c0 + n]
    v_m, v_c = vmax[0, c0:c0 + n], vmax[1, c0:c0 + n]
    lag_m, lag_c, speed = out[0, c0:c0 + n], out[1, c0:c0 + n], out[2, c0:c0 + n]
    for i in range(n):
        p_m, p_c = _pressures(r_m[i], r_c[i], pt)
        lag_m[i] = min(max(1.0 - (_marker(r_m[i], y_m[i], eps) - p_m) / v_m[i], 0.0), 1.0)
        lag_c[i] = min(max(1.0 - (_marker(r_c[i], y_c[i], eps) - p_c) / v_c[i], 0.0), 1.0)
        _, _, _, _, lo, hi = _flux_and_speeds(r_m[i], y_m[i], r_c[i], y_c[i], pt)
        speed[i] = max(abs(lo), abs(hi))


@jit_simd
def cell_speeds(q, c0, n, par, out):
    """``out[c]`` = the largest |wave-speed bound| (m/s) of each cell ``c0 .. c0+n-1`` when
    ``par`` holds the DEFAULT_GAMMAS exponents (vectorised; the maximum is the caller's).

    Shapes: q (4, Ncells); out (Ncells,).
    """
    pt = default_gammas_tuple(par)
    r_m, y_m, r_c, y_c = q[0, c0:c0 + n], q[1, c0:c0 + n], q[2, c0:c0 + n], q[3, c0:c0 + n]
    speed = out[c0:c0 + n]
    for i in range(n):
        _, _, _, _, lo, hi = _flux_and_speeds(r_m[i], y_m[i], r_c[i], y_c[i], pt)
        speed[i] = max(abs(lo), abs(hi))
