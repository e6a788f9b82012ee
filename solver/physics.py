"""Pointwise physics of the multi-class ARZ model, written once as scalar functions.

Every function here takes and returns plain floats (and reads the packed parameter vector
``par``, see :mod:`solver.params`). They are run as they are by the numpy oracle and compiled for
the other backends by :func:`compile_physics` (``numba.njit`` for the CPU,
``numba.cuda.jit(device=True)`` for the GPU). Functions may call each other: the compiler rebinds
those calls to the compiled versions.

State per cell: ``q = (rho_m, y_m, rho_c, y_c)``, ``y_k = rho_k * w_k``, ``v_k = w_k - p_k``.
Units: densities veh/m, speeds m/s, times s.
"""

from __future__ import annotations

import math
import types

from solver.params import (
    ALPHA,
    EPS_VAC,
    GAMMA_C,
    GAMMA_M,
    INV_RHO_JAM,
    K_C,
    K_M,
    RHO_JAM,
    V_CREEP,
)

# speed-bound safety margin on the pressure-derivative terms (Gershgorin bound times 1 + margin)
SPEED_MARGIN = 0.05


def power(x, g):
    """``x**g`` for x >= 0, with the common exponents 0.5, 1, 1.5 and 2 done without ``pow``."""
    if x <= 0.0:
        return 0.0
    if g == 2.0:
        return x * x
    if g == 1.5:
        return x * math.sqrt(x)
    if g == 1.0:
        return x
    if g == 0.5:
        return math.sqrt(x)
    return x**g


def pressures(rho_m, rho_c, par):
    """Pressures (m/s): ``p_m = K_m (rho_eff/rho_jam)^g_m``, ``p_c = K_c (rho_tot/rho_jam)^g_c``.

    ``rho_eff = rho_m + alpha rho_c`` (gap filling), ``rho_tot = rho_m + rho_c``.
    """
    inv = par[INV_RHO_JAM]
    p_m = par[K_M] * power((rho_m + par[ALPHA] * rho_c) * inv, par[GAMMA_M])
    p_c = par[K_C] * power((rho_m + rho_c) * inv, par[GAMMA_C])
    return p_m, p_c


def pressure_slopes(rho_m, rho_c, par):
    """Pressures and their slopes, without divisions.

    Returns:
        ``(p_m, p_c, s_m, s_c)``: pressures (m/s) and ``s_m = dp_m/drho_eff``,
        ``s_c = dp_c/drho_tot`` ((m/s)/(veh/m)); so ``dp_m/drho_c = alpha s_m`` and
        ``dp_c/drho_m = dp_c/drho_c = s_c``.
    """
    inv = par[INV_RHO_JAM]
    x_m = (rho_m + par[ALPHA] * rho_c) * inv
    x_c = (rho_m + rho_c) * inv
    g_m, g_c = par[GAMMA_M], par[GAMMA_C]
    h_m = power(x_m, g_m - 1.0)
    h_c = power(x_c, g_c - 1.0)
    return par[K_M] * x_m * h_m, par[K_C] * x_c * h_c, par[K_M] * g_m * inv * h_m, par[K_C] * g_c * inv * h_c


def marker(rho, y, eps):
    """Desingularised Lagrangian marker ``w = y / rho`` (m/s).

    Kurganov–Petrova style: ``w = 2 rho y / (rho^2 + max(rho^2, eps^2))``, exact for rho >= eps
    and smoothly going to 0 in vacuum instead of dividing by ~0.
    """
    r2 = rho * rho
    e2 = eps * eps
    den = r2 + (r2 if r2 > e2 else e2)
    if den <= 0.0:
        return 0.0
    return 2.0 * rho * y / den


def equilibrium_speeds(rho_m, rho_c, vmax_m, vmax_c, par):
    """Equilibrium speeds (m/s) with creeping motorcycles (DESIGN §2).

    ``V_e,c = Vmax_c g``, ``V_e,m = V_creep max(0, 1 - rho_eff/rho_jam) + (Vmax_m - V_creep) g``,
    ``g = max(0, 1 - rho_tot/rho_jam)``.
    """
    rj = par[RHO_JAM]
    g = 1.0 - (rho_m + rho_c) / rj
    g = g if g > 0.0 else 0.0
    h = 1.0 - (rho_m + par[ALPHA] * rho_c) / rj
    h = h if h > 0.0 else 0.0
    vc = par[V_CREEP]
    return vc * h + (vmax_m - vc) * g, vmax_c * g


def flux_and_speeds(rho_m, y_m, rho_c, y_c, par):
    """Physical flux and wave-speed bounds of one state.

    The bounds enclose the spectrum of the coupled 4x4 Jacobian: its eigenvalues are v_m, v_c
    (contacts) and those of the 2x2 block ``diag(v) - [rho_k dp_k/drho_j]``, bounded by
    Gershgorin discs; the pressure terms are widened by ``SPEED_MARGIN``.

    Returns:
        ``(F_rho_m, F_y_m, F_rho_c, F_y_c, s_min, s_max)``: fluxes in veh/s and veh/s * m/s,
        speeds in m/s.
    """
    eps = par[EPS_VAC]
    w_m = marker(rho_m, y_m, eps)
    w_c = marker(rho_c, y_c, eps)
    p_m, p_c, s_m, s_c = pressure_slopes(rho_m, rho_c, par)
    v_m = w_m - p_m
    v_c = w_c - p_c
    f = 1.0 + SPEED_MARGIN
    a = par[ALPHA]
    lo_m = v_m - f * rho_m * s_m * (1.0 + a)
    lo_c = v_c - f * rho_c * s_c * 2.0
    hi_m = v_m - rho_m * s_m + f * rho_m * a * s_m
    hi_c = v_c - rho_c * s_c + f * rho_c * s_c
    s_min = min(lo_m, lo_c, v_m, v_c)
    s_max = max(hi_m, hi_c, v_m, v_c)
    return rho_m * v_m, rho_m * w_m * v_m, rho_c * v_c, rho_c * w_c * v_c, s_min, s_max


def characteristic_speeds(rho_m, y_m, rho_c, y_c, par):
    """Smallest and largest eigenvalue of the 4x4 Jacobian of one state (no safety margin).

    The eigenvalues are the contact speeds ``v_m``, ``v_c`` and those of the 2x2 block
    ``A = diag(v) - [rho_k dp_k/drho_j]``, in closed form: ``tr/2 +- sqrt((a11 - a22)^2/4 +
    a12 a21)`` (``a12 a21 = alpha rho_m rho_c s_m s_c >= 0``, so they are real). These are the
    Davis wave-speed estimates of the HLL flux; :func:`flux_and_speeds` gives wider bounds.

    Returns:
        ``(lam_min, lam_max)`` in m/s.
    """
    eps = par[EPS_VAC]
    p_m, p_c, s_m, s_c = pressure_slopes(rho_m, rho_c, par)
    v_m = marker(rho_m, y_m, eps) - p_m
    v_c = marker(rho_c, y_c, eps) - p_c
    a11 = v_m - rho_m * s_m
    a22 = v_c - rho_c * s_c
    half_diff = 0.5 * (a11 - a22)
    root = math.sqrt(half_diff * half_diff + par[ALPHA] * rho_m * rho_c * s_m * s_c)
    mid = 0.5 * (a11 + a22)
    return min(mid - root, v_m, v_c), max(mid + root, v_m, v_c)


def relax_marker(rho_m, y_m, rho_c, y_c, vmax_m, vmax_c, decay_m, decay_c, par):
    """Exact relaxation over a time h at fixed densities.

    ``dw/dt = (V_e + p - w)/tau`` is linear in w at fixed rho, so
    ``w(h) = V_e + p + (w0 - V_e - p) exp(-h/tau)``; ``decay_k = exp(-h/tau_k)`` is passed in
    (it is the same for every cell).

    Returns:
        The new ``(y_m, y_c)``.
    """
    eps = par[EPS_VAC]
    p_m, p_c = pressures(rho_m, rho_c, par)
    ve_m, ve_c = equilibrium_speeds(rho_m, rho_c, vmax_m, vmax_c, par)
    target_m = ve_m + p_m
    target_c = ve_c + p_c
    w_m = target_m + (marker(rho_m, y_m, eps) - target_m) * decay_m
    w_c = target_c + (marker(rho_c, y_c, eps) - target_c) * decay_c
    return rho_m * w_m, rho_c * w_c


def numerical_flux(qm0, qm1, qm2, qm3, qp0, qp1, qp2, qp3, kind, par):
    """Numerical flux at one interface from its left (m) and right (p) reconstructed states.

    Central-upwind (Kurganov–Noelle–Petrova) takes the one-sided local speeds
    ``a+ = max(s_max(L), s_max(R), 0)``, ``a- = min(s_min(L), s_min(R), 0)`` from the Gershgorin
    bounds of :func:`flux_and_speeds`. HLL takes the Davis estimates from the eigenvalues
    themselves (:func:`characteristic_speeds`), ``S_L = min(lam_min(L), lam_min(R))``,
    ``S_R = max(lam_max(L), lam_max(R))``, and returns the upwind flux when ``S_L >= 0`` or
    ``S_R <= 0``. Both use ``(a+ F_L - a- F_R + a+ a- (q_R - q_L)) / (a+ - a-)`` otherwise; with
    the same speeds they would coincide, so it is the speeds that tell them apart (HLL's are
    tighter: less numerical diffusion).

    Args:
        qm0..qm3: left state ``(rho_m, y_m, rho_c, y_c)``.
        qp0..qp3: right state.
        kind: 0 central-upwind, 1 HLL.
        par: packed parameters.

    Returns:
        ``(F0, F1, F2, F3, a_max)``: the flux and the largest |wave-speed bound| seen (m/s).
    """
    fl0, fl1, fl2, fl3, sl_min, sl_max = flux_and_speeds(qm0, qm1, qm2, qm3, par)
    fr0, fr1, fr2, fr3, sr_min, sr_max = flux_and_speeds(qp0, qp1, qp2, qp3, par)
    a_lo = min(sl_min, sr_min)
    a_hi = max(sl_max, sr_max)
    a_abs = max(abs(a_lo), abs(a_hi))
    if kind == 1:  # HLL with Davis estimates from the eigenvalues of each state
        ll_lo, ll_hi = characteristic_speeds(qm0, qm1, qm2, qm3, par)
        lr_lo, lr_hi = characteristic_speeds(qp0, qp1, qp2, qp3, par)
        a_lo = min(ll_lo, lr_lo)
        a_hi = max(ll_hi, lr_hi)
        if a_lo >= 0.0:
            return fl0, fl1, fl2, fl3, a_abs
        if a_hi <= 0.0:
            return fr0, fr1, fr2, fr3, a_abs
    a_lo = min(a_lo, 0.0)
    a_hi = max(a_hi, 0.0)
    span = a_hi - a_lo
    if span <= 1e-14:
        return 0.5 * (fl0 + fr0), 0.5 * (fl1 + fr1), 0.5 * (fl2 + fr2), 0.5 * (fl3 + fr3), a_abs
    c1 = a_hi / span
    c2 = -a_lo / span
    c3 = a_hi * a_lo / span
    return (
        c1 * fl0 + c2 * fr0 + c3 * (qp0 - qm0),
        c1 * fl1 + c2 * fr1 + c3 * (qp1 - qm1),
        c1 * fl2 + c2 * fr2 + c3 * (qp2 - qm2),
        c1 * fl3 + c2 * fr3 + c3 * (qp3 - qm3),
        a_abs,
    )


#: compilation order (callees before callers)
POINTWISE = (
    "power",
    "pressures",
    "pressure_slopes",
    "marker",
    "equilibrium_speeds",
    "flux_and_speeds",
    "characteristic_speeds",
    "relax_marker",
    "numerical_flux",
    "weno5_class_faces",
    "equilibrium_capacity",
    "supplies",
    "sending_receiving",
)


def compile_physics(jit) -> types.SimpleNamespace:
    """Compile every pointwise function with ``jit``, rebinding their mutual calls.

    Args:
        jit: a decorator such as ``numba.njit(inline="always")`` or
            ``numba.cuda.jit(device=True)``.

    Returns:
        A namespace with the compiled functions under the same names.
    """
    compiled: dict[str, object] = {}
    for name in POINTWISE:
        src = globals()[name]
        scope = {**src.__globals__, **compiled}
        fn = types.FunctionType(src.__code__, scope, name, src.__defaults__, src.__closure__)
        fn.__qualname__ = src.__qualname__
        fn.__module__ = src.__module__
        compiled[name] = jit(fn)
    return types.SimpleNamespace(**compiled)


def weno5_class_faces(ra, rb, rc, rd, re, ya, yb, yc, yd, ye, scale_r, scale_y, z):
    """WENO5 faces of one class's (rho, y) with shared nonlinear weights, WENO-Z or WENO-JS.

    The smoothness indicators of rho and y, each divided by its scale squared, are added, so both
    variables get the same weights: the reconstruction is then one linear map for both, and a
    region of constant marker w (y = w rho) keeps exactly that w at the faces (no spurious marker
    oscillation at contacts or vacuum fronts; separate weights gave w = 1.4 m/s inside a
    rarefaction of constant w = 7.9 m/s and an L1 error that grew with refinement).

    Weights from the (dimensionless) indicators ``b_k``, linear weights ``d_k``:

    * ``z`` true, WENO-Z (Borges, Carmona, Costa & Don 2008) with p = 2:
      ``a_k = d_k (1 + (tau5 / (b_k + eps))^2)``, ``tau5 = |b_0 - b_2|``; it keeps fifth order
      at smooth extrema, where WENO-JS drops towards fourth (translated sine of large amplitude:
      JS 4.35 at 200 -> 400 cells).
    * ``z`` false, WENO-JS (Jiang & Shu 1996): ``a_k = d_k / (b_k + eps)^2``.

    ``eps = 1e-6`` for both (dimensionless, as the indicators are divided by the variables' scales
    squared). A smaller epsilon for Z (1e-12) made the weights depend on the round-off of
    indicators computed from near-vacuum densities (~1e-13 after normalisation, formed by
    cancellation): the numpy oracle and numba-cpu then differed by 1e-8 at a vacuum front.

    Returns:
        ``(rho_left, rho_right, y_left, y_right)`` at x_{c-1/2}^+ and x_{c+1/2}^-.
    """
    ir, iy = 1.0 / (scale_r * scale_r), 1.0 / (scale_y * scale_y)
    b0 = ir * (13.0 / 12.0 * (ra - 2.0 * rb + rc) ** 2 + 0.25 * (ra - 4.0 * rb + 3.0 * rc) ** 2) + iy * (
        13.0 / 12.0 * (ya - 2.0 * yb + yc) ** 2 + 0.25 * (ya - 4.0 * yb + 3.0 * yc) ** 2)
    b1 = ir * (13.0 / 12.0 * (rb - 2.0 * rc + rd) ** 2 + 0.25 * (rb - rd) ** 2) + iy * (
        13.0 / 12.0 * (yb - 2.0 * yc + yd) ** 2 + 0.25 * (yb - yd) ** 2)
    b2 = ir * (13.0 / 12.0 * (rc - 2.0 * rd + re) ** 2 + 0.25 * (3.0 * rc - 4.0 * rd + re) ** 2) + iy * (
        13.0 / 12.0 * (yc - 2.0 * yd + ye) ** 2 + 0.25 * (3.0 * yc - 4.0 * yd + ye) ** 2)
    # the epsilon is a literal (not a module global) so the float32 CUDA port rewrites it;
    # (a_0, a_1, a_2) / d_k are held, up to a common factor, in (s12, s02, s01)
    if z:
        # a_k / d_k = 1 + tau^2/e_k = (e_k + tau^2) / e_k with e_k = (eps + b_k)^2; times the common
        # factor e_0 e_1 e_2 this needs no division (two per face side remain, as for JS). The
        # products stay within [1e-36, ~1e30], normal numbers in float32 too.
        tau2 = (b0 - b2) * (b0 - b2)
        e0, e1, e2 = (1e-6 + b0) * (1e-6 + b0), (1e-6 + b1) * (1e-6 + b1), (1e-6 + b2) * (1e-6 + b2)
        s12, s02, s01 = (e0 + tau2) * e1 * e2, (e1 + tau2) * e0 * e2, (e2 + tau2) * e0 * e1
    else:
        # a_k / d_k = 1 / e_k; times e_0 e_1 e_2: e_i e_j
        s0 = (1e-6 + b0) * (1e-6 + b0)
        s1 = (1e-6 + b1) * (1e-6 + b1)
        s2 = (1e-6 + b2) * (1e-6 + b2)
        s12, s02, s01 = s1 * s2, s0 * s2, s0 * s1
    inv_r = 1.0 / (0.1 * s12 + 0.6 * s02 + 0.3 * s01)
    inv_l = 1.0 / (0.1 * s01 + 0.6 * s02 + 0.3 * s12)
    wr0, wr1, wr2 = 0.1 * s12 * inv_r, 0.6 * s02 * inv_r, 0.3 * s01 * inv_r
    wl0, wl1, wl2 = 0.1 * s01 * inv_l, 0.6 * s02 * inv_l, 0.3 * s12 * inv_l
    sixth = 1.0 / 6.0
    rho_r = sixth * (wr0 * (2.0 * ra - 7.0 * rb + 11.0 * rc) + wr1 * (-rb + 5.0 * rc + 2.0 * rd)
                     + wr2 * (2.0 * rc + 5.0 * rd - re))
    rho_l = sixth * (wl0 * (2.0 * re - 7.0 * rd + 11.0 * rc) + wl1 * (-rd + 5.0 * rc + 2.0 * rb)
                     + wl2 * (2.0 * rc + 5.0 * rb - ra))
    y_r = sixth * (wr0 * (2.0 * ya - 7.0 * yb + 11.0 * yc) + wr1 * (-yb + 5.0 * yc + 2.0 * yd)
                   + wr2 * (2.0 * yc + 5.0 * yd - ye))
    y_l = sixth * (wl0 * (2.0 * ye - 7.0 * yd + 11.0 * yc) + wl1 * (-yd + 5.0 * yc + 2.0 * yb)
                   + wl2 * (2.0 * yc + 5.0 * yb - ya))
    return rho_l, rho_r, y_l, y_r


def equilibrium_capacity(other, vmax, v_creep, alpha, inv, is_moto):
    """Concave equilibrium flux ``Q_e(rho) = rho (A - B rho)`` of one class, the other fixed.

    From DESIGN §2: ``V_e,c = Vmax_c (1 - (rho_m + rho_c)/rho_jam)``; motorcycles add the creeping
    term. ``other`` is the other class's density (veh/m).

    Returns:
        ``(A, B)`` (m/s and m^2/(s veh)): critical density ``A/(2B)``, capacity ``A^2/(4B)``.
    """
    if is_moto:
        g = 1.0 - other * inv
        h = 1.0 - alpha * other * inv
        a_val = v_creep * max(h, 0.0)
        b_val = v_creep * inv
        if g > 0.0:
            a_val += (vmax - v_creep) * g
            b_val += (vmax - v_creep) * inv
        return a_val, b_val
    g = 1.0 - other * inv
    return vmax * max(g, 0.0), vmax * inv


def supplies(rho_m, rho_c, vmax_m, vmax_c, par):
    """Supply (receiving) flows of one cell per class, veh/s: ``Q_e(max(rho, rho*))``.

    The cheap half of :func:`sending_receiving` (no markers or pressures), used for the supply cap
    inside links.
    """
    inv = par[INV_RHO_JAM]
    a_m, b_m = equilibrium_capacity(rho_c, vmax_m, par[V_CREEP], par[ALPHA], inv, True)
    a_c, b_c = equilibrium_capacity(rho_m, vmax_c, par[V_CREEP], par[ALPHA], inv, False)
    r = max(rho_m, 0.5 * a_m / b_m)
    s_m = r * (a_m - b_m * r)
    r = max(rho_c, 0.5 * a_c / b_c)
    s_c = r * (a_c - b_c * r)
    return max(s_m, 0.0), max(s_c, 0.0)


def sending_receiving(rho_m, y_m, rho_c, y_c, vmax_m, vmax_c, par):
    """Demand (sending) and supply (receiving) flows of one cell per class, veh/s.

    Junctions use the equilibrium fundamental diagram of each class (the other class fixed), as
    in cell-transmission junction models: demand ``Q_e(min(rho, rho*))`` (a standing queue
    discharges at capacity), supply ``Q_e(max(rho, rho*))`` (an empty road takes its capacity).

    Returns:
        ``(D_m, D_c, S_m, S_c, w_m, w_c, win_m, win_c)``: flows, the cell's markers and the
        equilibrium markers ``V_e,k + p_k`` (m/s) that vehicles entering the cell carry.
    """
    eps = par[EPS_VAC]
    inv = par[INV_RHO_JAM]
    w_m = marker(rho_m, y_m, eps)
    w_c = marker(rho_c, y_c, eps)
    p_m, p_c = pressures(rho_m, rho_c, par)
    ve_m, ve_c = equilibrium_speeds(rho_m, rho_c, vmax_m, vmax_c, par)
    a_m, b_m = equilibrium_capacity(rho_c, vmax_m, par[V_CREEP], par[ALPHA], inv, True)
    a_c, b_c = equilibrium_capacity(rho_m, vmax_c, par[V_CREEP], par[ALPHA], inv, False)
    crit_m = 0.5 * a_m / b_m
    crit_c = 0.5 * a_c / b_c
    r = min(rho_m, crit_m)
    d_m = r * (a_m - b_m * r)
    r = min(rho_c, crit_c)
    d_c = r * (a_c - b_c * r)
    r = max(rho_m, crit_m)
    s_m = r * (a_m - b_m * r)
    r = max(rho_c, crit_c)
    s_c = r * (a_c - b_c * r)
    return (max(d_m, 0.0), max(d_c, 0.0), max(s_m, 0.0), max(s_c, 0.0), w_m, w_c,
            ve_m + p_m, ve_c + p_c)
