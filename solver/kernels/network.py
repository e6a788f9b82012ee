"""numba-cpu kernels for B independent copies of one road network (DESIGN §4).

All links live in one flat cell axis: link l owns cells ``off[l] .. off[l] + n[l] + 2 NG`` of
``q[var, cell]`` (its own ghosts). Interior interfaces use the link kernels of
:mod:`solver.kernels.link`; the first and last interface of every link are overwritten by node
fluxes (entries, exits, junctions), each shared by the two links it joins, so mass is conserved.
Signals gate the junction demand of their approaches (red -> zero flux at the interface).

Topology arrays (int64 unless said):
    lk[L, 2] = (off, n); lk_dx[L] float
    en_link[E]; dem_t[E, 2, P], dem_v[E, 2, P] float (veh/s), dem_np[E, 2]; dem_lin[E]
    ex_link[X]
    jn_in_ptr[J+1], jn_in[A] (approach a = position in jn_in), jn_out_ptr[J+1], jn_out[.]
    jn_beta_ptr[J+1], beta[.] float (row-major n_in x n_out per junction, one class-blind matrix)
    app_sig[A] signal of approach (-1 none), app_pos[A] approach index within its junction
    sig_green[S, Pmax, Imax] float 0/1; sig_times[S, 4] = (yellow, all_red, min_green, max_green) s
Signal state per copy: sp phase, ss stage (0 green, 1 yellow, 2 all-red), st time in stage (s),
sn next phase, req requested phase.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from solver.kernels.link import (
    FASTMATH,
    FIRST_ORDER,
    NG,
    PHYSICS,
    RK3,
    VACUUM_FACE,
    WENO5,
    clean_cell,
    limit_faces,
    max_wave_speed,
)
from solver.kernels.signals import signal_dt_cap, signal_greens, signal_update
from solver.params import EPS_VAC, RELAX, RHO_JAM, TAU_C, TAU_M

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "9e8d84582473cd57"

# the pointwise physics compiled once, in solver.kernels.link; the CUDA port rebinds these names
_weno5_class_faces = PHYSICS.weno5_class_faces
_numerical_flux = PHYSICS.numerical_flux
_sending_receiving = PHYSICS.sending_receiving
_supplies = PHYSICS.supplies
_marker = PHYSICS.marker
_pressures = PHYSICS.pressures
_flux_and_speeds = PHYSICS.flux_and_speeds
_relax_marker = PHYSICS.relax_marker

jit = numba.njit(cache=True, fastmath=FASTMATH)

# accumulator columns per class
ARRIVED, EXITED, TTS, DELAY, QUEUED_VS = range(5)
N_ACC = 5
#: work slots per copy: W[k] for k = state at the RK start (relaxed), stage 1, stage 2, fluxes
#: (node faces only), the state before the step (restored when the step is rejected)
Q0, Q1, Q2, FLUX, SAVED = range(5)
N_WORK = 5
#: queue work slots per copy: QW[k] for k = queue at the RK start, stage 1, stage 2, rate
QU0, QU1, QU2, QRATE = range(4)
N_QWORK = 4


@jit
def demand_rate(e, k, t, dem_t, dem_v, dem_np, dem_lin):
    """Demand of entry e, class k at time t (veh/s): step or linear interpolation."""
    n = dem_np[e, k]
    if t <= dem_t[e, k, 0] or n == 1:
        return dem_v[e, k, 0]
    for i in range(1, n):
        if t < dem_t[e, k, i]:
            if dem_lin[e] == 1:
                t0, t1 = dem_t[e, k, i - 1], dem_t[e, k, i]
                return dem_v[e, k, i - 1] + (dem_v[e, k, i] - dem_v[e, k, i - 1]) * (t - t0) / (t1 - t0)
            return dem_v[e, k, i - 1]
    return dem_v[e, k, n - 1]


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def _cell_faces(q, c, first, last, order, s0, s1, s2, s3, thresh, eps):
    """Limited face values of interior cell c of a link whose interior is ``first..last``.

    Indices are clamped to the interior, which is what outflow ghost cells hold. ``s0..s3`` are
    the variables' scales (WENO's smoothness normalisation), ``thresh`` and ``eps`` as in
    :func:`solver.kernels.link.limit_faces`. All are passed in as scalars: reading them from
    ``scales`` and ``par`` inside the sweep's loop (where the compiler must assume the flux
    stores may change them) made the sweep 12 % (``par``) and 7 % (``scales``) slower.

    Returns:
        ``(left face rho_m, y_m, rho_c, y_c, right face rho_m, y_m, rho_c, y_c)``.
    """
    if order == FIRST_ORDER:
        return q[0, c], q[1, c], q[2, c], q[3, c], q[0, c], q[1, c], q[2, c], q[3, c]
    a, b, d, e = max(c - 2, first), max(c - 1, first), min(c + 1, last), min(c + 2, last)
    z = order == WENO5  # WENO-Z weights; WENO5_JS for comparison
    l0, r0, l1, r1 = _weno5_class_faces(q[0, a], q[0, b], q[0, c], q[0, d], q[0, e], q[1, a],
                                       q[1, b], q[1, c], q[1, d], q[1, e], s0, s1, z)
    l2, r2, l3, r3 = _weno5_class_faces(q[2, a], q[2, b], q[2, c], q[2, d], q[2, e], q[3, a],
                                       q[3, b], q[3, c], q[3, d], q[3, e], s2, s3, z)
    l0, l1, r0, r1 = limit_faces(q[0, c], q[1, c], l0, l1, r0, r1, q[0, b], q[1, b], q[0, d], q[1, d], thresh, eps)
    l2, l3, r2, r3 = limit_faces(q[2, c], q[3, c], l2, l3, r2, r3, q[2, b], q[3, b], q[2, d], q[3, d], thresh, eps)
    return l0, l1, l2, l3, r0, r1, r2, r3


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def _capped_face_flux(q, c, p0, p1, p2, p3, m0, m1, m2, m3, vmax, kind, par, supply_cap):
    """The numerical flux of the face left of cell c from its left (p) and right (m) face states,
    each class's mass flux capped by cell c's supply when ``supply_cap`` (the marker flux scaled
    with it). Returns (f0, f1, f2, f3)."""
    f0, f1, f2, f3, _ = _numerical_flux(p0, p1, p2, p3, m0, m1, m2, m3, kind, par)
    if supply_cap:
        s_m, s_c = _supplies(q[0, c], q[2, c], vmax[0, c], vmax[1, c], par)
        if f0 > s_m:
            f1 *= s_m / f0
            f0 = s_m
        if f2 > s_c:
            f3 *= s_c / f2
            f2 = s_c
    return f0, f1, f2, f3


@jit
def link_sweep(q, F, vmax, off, n, order, kind, scales, par, supply_cap):
    """Fluxes at the interior interfaces j = 1..n-1 of one link, faces kept in registers.

    With ``supply_cap`` each class's flux into a cell is capped by that cell's equilibrium supply
    (the y flux scaled alike). The supply cap keeps a standing queue at jam density instead of
    compressing it far beyond (the ARZ pressure alone allows ``p(rho) = w``, i.e. several times
    rho_jam with the calibrated K); scaling the y flux by the same factor carries the marker
    with the vehicles, so mass stays conserved.

    Node faces (j = 0 and j = n) are not computed: entry, exit and junction fluxes always
    overwrite them. Ghost cells are clamped indices (what outflow ghosts hold), so nothing is
    written outside F and nothing is allocated: the CUDA port compiles this unchanged.

    Shapes: q (4, Ncells) one copy; F (4, Ncells) interface j of the link at ``off + j``;
    vmax (2, Ncells) m/s.
    """
    first, last = off + NG, off + NG + n - 1
    thresh, eps = VACUUM_FACE * par[RHO_JAM], par[EPS_VAC]
    s0, s1, s2, s3 = scales[0], scales[1], scales[2], scales[3]
    _, _, _, _, p0, p1, p2, p3 = _cell_faces(q, first, first, last, order, s0, s1, s2, s3, thresh, eps)
    for j in range(1, n):
        c = first + j
        m0, m1, m2, m3, r0, r1, r2, r3 = _cell_faces(q, c, first, last, order, s0, s1, s2, s3, thresh, eps)
        f0, f1, f2, f3 = _capped_face_flux(q, c, p0, p1, p2, p3, m0, m1, m2, m3, vmax, kind, par, supply_cap)
        F[0, off + j], F[1, off + j], F[2, off + j], F[3, off + j] = f0, f1, f2, f3
        p0, p1, p2, p3 = r0, r1, r2, r3


@jit
def _cell_sr(q, vmax, c, par):
    return _sending_receiving(q[0, c], q[1, c], q[2, c], q[3, c], vmax[0, c], vmax[1, c], par)


@jit
def entry_exit_fluxes(q, qu, t, dt, lk, vmax, en_link, dem_t, dem_v, dem_np, dem_lin, dscale,
                      ex_link, par, F, dqu):
    """Entry faces: ``min(demand + queue/dt, supply)``; exit faces: free discharge of demand.

    ``dqu[e, k]`` receives the entry queue's rate of change. Returns the stage's arrivals and
    exits (veh/s) ``(arrived_m, arrived_c, exited_m, exited_c)``, summed in float64.
    """
    arr_m, arr_c, ex_m, ex_c = float(0), float(0), float(0), float(0)  # float64 in float32 ports too
    for e in range(en_link.shape[0]):
        off = lk[en_link[e], 0]
        c = off + NG
        _, _, s_m, s_c, _, _, win_m, win_c = _cell_sr(q, vmax, c, par)
        for k in range(2):
            lam = demand_rate(e, k, t, dem_t, dem_v, dem_np, dem_lin) * dscale[e]
            supply = s_m if k == 0 else s_c
            f = min(lam + max(qu[e, k], 0.0) / dt, supply)
            F[2 * k, off] = f
            F[2 * k + 1, off] = f * (win_m if k == 0 else win_c)
            dqu[e, k] = lam - f
            if k == 0:
                arr_m += lam
            else:
                arr_c += lam
    for x in range(ex_link.shape[0]):
        off, n = lk[ex_link[x], 0], lk[ex_link[x], 1]
        d_m, d_c, _, _, w_m, w_c, _, _ = _cell_sr(q, vmax, off + NG + n - 1, par)
        F[0, off + n], F[1, off + n] = d_m, d_m * w_m
        F[2, off + n], F[3, off + n] = d_c, d_c * w_c
        ex_m += d_m
        ex_c += d_c
    return arr_m, arr_c, ex_m, ex_c


@jit
def junction_fluxes(q, lk, vmax, jn_in_ptr, jn_in, jn_out_ptr, jn_out, jn_beta_ptr, beta, green,
                    par, F, scr):
    """Junction faces, per class: demand split by turning ratios, each outgoing supply shared in
    proportion to what is sent to it, every approach held back by its tightest destination (FIFO).

    Shapes: scr (6, >= max degree) scratch.
    """
    for j in range(jn_in_ptr.shape[0] - 1):
        i0, ni = jn_in_ptr[j], jn_in_ptr[j + 1] - jn_in_ptr[j]
        o0, no = jn_out_ptr[j], jn_out_ptr[j + 1] - jn_out_ptr[j]
        b0 = jn_beta_ptr[j]
        for i in range(ni):
            off, n = lk[jn_in[i0 + i], 0], lk[jn_in[i0 + i], 1]
            d_m, d_c, _, _, w_m, w_c, _, _ = _cell_sr(q, vmax, off + NG + n - 1, par)
            scr[0, i], scr[1, i] = d_m * green[i0 + i], d_c * green[i0 + i]
            scr[2, i], scr[3, i] = w_m, w_c
        for o in range(no):  # supply share of each exit per class: scr[4 + k, o]
            _, _, s_m, s_c, _, _, _, _ = _cell_sr(q, vmax, lk[jn_out[o0 + o], 0] + NG, par)
            for k in range(2):
                req = 0.0
                for i in range(ni):
                    req += beta[b0 + i * no + o] * scr[k, i]
                sup = s_m if k == 0 else s_c
                scr[4 + k, o] = min(1.0, sup / req) if req > 0.0 else 1.0
        for k in range(2):
            for o in range(no):
                F[2 * k, lk[jn_out[o0 + o], 0]] = 0.0
                F[2 * k + 1, lk[jn_out[o0 + o], 0]] = 0.0
            for i in range(ni):
                theta = 1.0
                for o in range(no):
                    if beta[b0 + i * no + o] > 0.0:
                        theta = min(theta, scr[4 + k, o])
                f = scr[k, i] * theta
                off, n = lk[jn_in[i0 + i], 0], lk[jn_in[i0 + i], 1]
                F[2 * k, off + n] = f
                F[2 * k + 1, off + n] = f * scr[2 + k, i]
                for o in range(no):
                    share = beta[b0 + i * no + o] * f
                    F[2 * k, lk[jn_out[o0 + o], 0]] += share
                    F[2 * k + 1, lk[jn_out[o0 + o], 0]] += share * scr[2 + k, i]


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def bound_cell(q, c, vtop, eps, par):
    """Keep markers in the ARZ invariant region, in place: ``w_k >= 0`` and ``v_k <= vtop``.

    vtop = scales[1]/scales[0] is the largest free speed plus the pressure scale. Under signal
    switching with strongly mixed classes the marker of a cell next to an entry was seen to run
    away (w = 1.3e5 m/s beside w = -3e4 m/s, dt -> 1e-5 s, a stalled RL run). Out-of-range
    markers (w < 0: clamped to p, i.e. v = 0; w > vtop: clamped to at most p + vtop) get
    y = rho w recomputed; densities are untouched (mass is conserved). The check costs one
    division per class and cell; pressures are only evaluated for cells out of range, which
    never happens in normal flow.

    Cell c of q (4, Ncells); vtop (m/s), eps the marker's vacuum epsilon (veh/m).
    """
    for k in range(2):
        rho = q[2 * k, c]
        if rho > 0.0:
            w = _marker(rho, q[2 * k + 1, c], eps)
            if w < 0.0 or w > vtop:
                p_m, p_c = _pressures(q[0, c], q[2, c], par)
                p = p_m if k == 0 else p_c
                q[2 * k + 1, c] = rho * min(max(w, p), p + vtop)


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def _combine_cell(dst, a, ca, src, cb, d, dtdx, f0, f1, f2, f3, g0, g1, g2, g3, thresh, tiny, vtop,
                  eps, par, final):
    """``dst = ca a + cb (src - dt/dx (f - g))`` in cell d (g its left face flux, f its right), then
    :func:`solver.kernels.link.clean_cell`; with ``final`` also :func:`bound_cell`. Returns True if
    ``final`` and a density of the cell is negative after cleaning."""
    dst[0, d] = ca * a[0, d] + cb * (src[0, d] - dtdx * (f0 - g0))
    dst[1, d] = ca * a[1, d] + cb * (src[1, d] - dtdx * (f1 - g1))
    dst[2, d] = ca * a[2, d] + cb * (src[2, d] - dtdx * (f2 - g2))
    dst[3, d] = ca * a[3, d] + cb * (src[3, d] - dtdx * (f3 - g3))
    clean_cell(dst, d, thresh, tiny, vtop, eps)
    if final:
        bound_cell(dst, d, vtop, eps, par)
        return dst[0, d] < 0.0 or dst[2, d] < 0.0
    return False


@jit
def stage_link(dst, a, ca, src, cb, F, vmax, off, n, dtdx, order, kind, scales, par, supply_cap,
               flush, final):
    """One RK stage of one link in one pass: the interior fluxes of :func:`link_sweep` (faces and
    fluxes kept in registers) and ``dst = ca a + cb (src - dt/dx (F_{j+1} - F_j))`` of each cell
    as soon as both its faces are known, the cell then cleaned (:func:`_combine_cell`).

    The node faces ``F[:, off]`` and ``F[:, off + n]`` must hold the entry, exit and junction
    fluxes of this stage (interior faces are not written to F). ``dtdx`` = dt/dx (s/m), ``flush``
    as in :class:`solver.network.Numerics`. Returns True if ``final`` and an interior density is
    negative after cleaning (the step must then be retried). Shapes: (4, Ncells).
    """
    first, last = off + NG, off + NG + n - 1
    thresh, eps = VACUUM_FACE * par[RHO_JAM], par[EPS_VAC]
    tiny = flush * par[RHO_JAM]
    vtop = scales[1] / scales[0]
    s0, s1, s2, s3 = scales[0], scales[1], scales[2], scales[3]
    negative = False
    _, _, _, _, p0, p1, p2, p3 = _cell_faces(src, first, first, last, order, s0, s1, s2, s3, thresh, eps)
    g0, g1, g2, g3 = F[0, off], F[1, off], F[2, off], F[3, off]
    for j in range(1, n):
        c = first + j
        m0, m1, m2, m3, r0, r1, r2, r3 = _cell_faces(src, c, first, last, order, s0, s1, s2, s3, thresh, eps)
        f0, f1, f2, f3 = _capped_face_flux(src, c, p0, p1, p2, p3, m0, m1, m2, m3, vmax, kind, par, supply_cap)
        if _combine_cell(dst, a, ca, src, cb, c - 1, dtdx, f0, f1, f2, f3, g0, g1, g2, g3, thresh,
                         tiny, vtop, eps, par, final):
            negative = True
        g0, g1, g2, g3 = f0, f1, f2, f3
        p0, p1, p2, p3 = r0, r1, r2, r3
    if _combine_cell(dst, a, ca, src, cb, last, dtdx, F[0, off + n], F[1, off + n], F[2, off + n],
                     F[3, off + n], g0, g1, g2, g3, thresh, tiny, vtop, eps, par, final):
        negative = True
    return negative


@jit
def relax_and_save(q, q0, saved, lk, vmax, h, par):
    """``saved = q`` and ``q0 = R(h) q`` (exact relaxation over h s, :func:`solver.kernels.link.relax`;
    a copy when relaxation is off) on the interior cells of every link, in one pass.

    Shapes: (4, Ncells); vmax (2, Ncells) m/s.
    """
    relaxing = par[RELAX] != 0.0 and h > 0.0
    decay_m = math.exp(-h / par[TAU_M])
    decay_c = math.exp(-h / par[TAU_C])
    for l in range(lk.shape[0]):
        for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
            r_m, y_m, r_c, y_c = q[0, c], q[1, c], q[2, c], q[3, c]
            saved[0, c], saved[1, c], saved[2, c], saved[3, c] = r_m, y_m, r_c, y_c
            if relaxing:
                y_m, y_c = _relax_marker(r_m, y_m, r_c, y_c, vmax[0, c], vmax[1, c], decay_m, decay_c, par)
            q0[0, c], q0[1, c], q0[2, c], q0[3, c] = r_m, y_m, r_c, y_c


@jit
def copy_cells(dst, src, lk):
    """``dst = src`` on the interior cells of every link. Shapes: (4, Ncells)."""
    for l in range(lk.shape[0]):
        for v in range(4):
            for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
                dst[v, c] = src[v, c]


@jit
def copy_queues(dst, src):
    """``dst = src`` for the entry queues. Shapes: (E, 2)."""
    for e in range(src.shape[0]):
        dst[e, 0] = src[e, 0]
        dst[e, 1] = src[e, 1]


@jit
def network_rk3(q, qu, t, dt, h, topo, dscale, num, green, work, qwork, scr, acc):
    """Relaxation over h s (Strang's first half), then one SSP-RK3 transport step
    (:data:`solver.kernels.link.RK3`) of a whole network copy: links and entry queues together.

    Allocation-free (named work slots, loops instead of slice assignment), so numba-cuda compiles
    this same function for the GPU. Each stage is one pass per link (:func:`stage_link`) after
    the node fluxes; the relaxation is fused with saving the state (:func:`relax_and_save`).
    Returns False (q and qu restored to their values on entry) when a density would go negative.
    ``acc[k, ARRIVED|EXITED]`` receives this step's arrivals and exits (veh), RK-weighted like
    the state.

    Shapes: q (4, Ncells); qu (E, 2); work (N_WORK, 4, Ncells); qwork (N_QWORK, E, 2);
    scr (6, maxdeg); green (A,); acc (2, N_ACC).
    """
    lk, vmax, par = topo.lk, topo.vmax, num.par
    q0, F, dqu = work[Q0], work[FLUX], qwork[QRATE]
    relax_and_save(q, q0, work[SAVED], lk, vmax, h, par)
    copy_queues(qwork[QU0], qu)
    rdt = par.dtype.type(dt)  # the state's precision
    arr_m, arr_c, ex_m, ex_c = float(0), float(0), float(0), float(0)
    negative = False
    for stage in range(3):
        a, b, c, w = RK3[stage]
        ra, rb = par.dtype.type(a), par.dtype.type(b)
        src, usrc = work[Q0 + stage], qwork[QU0 + stage]
        s_am, s_ac, s_em, s_ec = entry_exit_fluxes(
            src, usrc, t + c * dt, dt, lk, vmax, topo.en_link, topo.dem_t, topo.dem_v, topo.dem_np,
            topo.dem_lin, dscale, topo.ex_link, par, F, dqu)
        junction_fluxes(src, lk, vmax, topo.jn_in_ptr, topo.jn_in, topo.jn_out_ptr, topo.jn_out,
                        topo.jn_beta_ptr, topo.beta, green, par, F, scr)
        arr_m += w * dt * s_am
        arr_c += w * dt * s_ac
        ex_m += w * dt * s_em
        ex_c += w * dt * s_ec
        for l in range(lk.shape[0]):
            dtdx = rdt / topo.lk_dx[l]
            if stage < 2:  # two call sites: a constant ``final`` keeps the pass specialised
                stage_link(work[Q1 + stage], q0, ra, src, rb, F, vmax, lk[l, 0], lk[l, 1], dtdx,
                           num.order, num.kind, num.scales, par, num.supply_cap, num.flush, False)
            elif stage_link(q, q0, ra, src, rb, F, vmax, lk[l, 0], lk[l, 1], dtdx, num.order,
                            num.kind, num.scales, par, num.supply_cap, num.flush, True):
                negative = True  # markers bounded and negatives looked for in the same pass
        udst = qwork[QU1 + stage] if stage < 2 else qu
        for e in range(qu.shape[0]):
            for k in range(2):
                udst[e, k] = ra * qwork[QU0, e, k] + rb * (usrc[e, k] + rdt * dqu[e, k])
    if negative:
        copy_cells(q, work[SAVED], lk)
        copy_queues(qu, qwork[QU0])
        return False
    acc[0, ARRIVED] += arr_m
    acc[1, ARRIVED] += arr_c
    acc[0, EXITED] += ex_m
    acc[1, EXITED] += ex_c
    return True


@jit
def accumulate_measures(q, qu, dt, h, lk, lk_dx, vmax, app_link, thresh, cfl, par, acc, aq, aqmax):
    """Relax every interior cell over h s (Strang's second half, in place), then add dt-weighted
    total time spent, delay, queued vehicle-seconds and approach queues of the relaxed state, and
    return its CFL time step (s; ``inf`` when nothing moves). One pass over the cells.

    Delay counts, per vehicle, the fraction of free speed it is missing, ``1 - v/Vmax``; every
    vehicle in an entry queue is fully delayed. Approach queue = metres of the approach whose total
    density exceeds ``thresh`` (veh/m). The time step is :func:`cfl_time_step` of the same state,
    computed in the same pass over the cells (the next step starts from this state).
    """
    eps = par[EPS_VAC]
    relaxing = par[RELAX] != 0.0 and h > 0.0  # as solver.kernels.link.relax
    decay_m = math.exp(-h / par[TAU_M])
    decay_c = math.exp(-h / par[TAU_C])
    dt_cfl = np.inf
    # veh m, summed in registers; float(0) stays float64 in the float32 CUDA port (0.0 would not)
    tts_m, tts_c, delay_m, delay_c = float(0), float(0), float(0), float(0)
    for l in range(lk.shape[0]):
        off, n, dx = lk[l, 0], lk[l, 1], lk_dx[l]
        a_max = 0.0
        for c in range(off + NG, off + NG + n):
            if relaxing:
                q[1, c], q[3, c] = _relax_marker(q[0, c], q[1, c], q[2, c], q[3, c], vmax[0, c],
                                                 vmax[1, c], decay_m, decay_c, par)
            p_m, p_c = _pressures(q[0, c], q[2, c], par)
            rho_m, rho_c = q[0, c], q[2, c]
            lag_m = 1.0 - (_marker(rho_m, q[1, c], eps) - p_m) / vmax[0, c]
            lag_c = 1.0 - (_marker(rho_c, q[3, c], eps) - p_c) / vmax[1, c]
            tts_m += rho_m * dx
            tts_c += rho_c * dx
            delay_m += rho_m * dx * min(max(lag_m, 0.0), 1.0)
            delay_c += rho_c * dx * min(max(lag_c, 0.0), 1.0)
            _, _, _, _, lo, hi = _flux_and_speeds(q[0, c], q[1, c], q[2, c], q[3, c], par)
            a_max = max(a_max, abs(lo), abs(hi))
        if a_max > 0.0:
            dt_cfl = min(dt_cfl, cfl * dx / a_max)
    acc[0, TTS] += dt * tts_m
    acc[1, TTS] += dt * tts_c
    acc[0, DELAY] += dt * delay_m
    acc[1, DELAY] += dt * delay_c
    for e in range(qu.shape[0]):
        for k in range(2):
            acc[k, TTS] += dt * qu[e, k]
            acc[k, DELAY] += dt * qu[e, k]
            acc[k, QUEUED_VS] += dt * qu[e, k]
    for a in range(app_link.shape[0]):
        off, n = lk[app_link[a], 0], lk[app_link[a], 1]
        length = 0.0
        for c in range(off + NG, off + NG + n):
            if q[0, c] + q[2, c] >= thresh:
                length += lk_dx[app_link[a]]
        aq[a] += dt * length
        aqmax[a] = max(aqmax[a], length)
    return dt_cfl


@jit
def cfl_time_step(q, lk, lk_dx, cfl, par):
    """Largest stable time step (s) of the state: min over links of ``cfl dx / max |speed|``
    (:func:`solver.kernels.link.max_wave_speed`); ``inf`` when nothing moves."""
    dt_cfl = np.inf
    for l in range(lk.shape[0]):
        off, n = lk[l, 0], lk[l, 1]
        a = max_wave_speed(q[:, off:off + n + 2 * NG], n, par)
        if a > 0.0:
            dt_cfl = min(dt_cfl, cfl * lk_dx[l] / a)
    return dt_cfl


@jit
def advance_network(q, qu, t, t_end, max_steps, topo, dscale, sigs, obs, num, work, qwork, scr,
                    green, acc, aq, aqmax):
    """Advance one network copy from t to t_end (s); Strang splitting around SSP-RK3.

    Allocation-free like :func:`network_rk3` (numba-cuda compiles it unchanged).
    ``sigs = (sp, ss, st, sn, req, sig_times, app_sig, app_pos, sig_green)``: the copy's signal
    state and the static signal arrays; ``obs = (app_link, thresh)``.

    Returns (t reached, steps, failures).
    """
    lk, lk_dx, vmax, par = topo.lk, topo.lk_dx, topo.vmax, num.par
    sp, ss, st, sn, req, sig_times, app_sig, app_pos, sig_green = sigs
    app_link, thresh = obs
    steps = 0
    failures = 0
    dt_cfl = cfl_time_step(q, lk, lk_dx, num.cfl, par)  # later ones come with the measures
    while t_end - t > 1e-9 * max(1.0, abs(t_end)) and steps < max_steps:
        signal_greens(sp, ss, app_sig, app_pos, sig_green, green)
        dt = min(t_end - t, signal_dt_cap(sp, ss, st, req, sig_times), dt_cfl)
        ok = False
        for _attempt in range(12):  # a rejected step leaves q and qu as they were
            ok = network_rk3(q, qu, t, dt, par.dtype.type(0.5 * dt), topo, dscale, num, green,
                             work, qwork, scr, acc)
            if ok:
                break
            dt *= 0.5
        if not ok:
            failures += 1
        dt_cfl = accumulate_measures(q, qu, dt, par.dtype.type(0.5 * dt), lk, lk_dx, vmax, app_link,
                                     thresh, num.cfl, par, acc, aq, aqmax)
        signal_update(sp, ss, st, sn, req, sig_times, dt)
        t += dt
        steps += 1
    return t, steps, failures


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def advance_network_range(lo, hi, Q, QU, T, duration, max_steps, topo, DSCALE, SP, SS, ST, SN, REQ,
                          sig_static, obs, num, W, QW, SCR, GREEN, ACC, AQ, AQMAX, STEPS, FAIL):
    """Advance copies ``lo .. hi-1`` of one network by ``duration`` s each (from its own T[b]).

    Releases the GIL: :class:`solver.network.batch.BatchedNetwork` runs disjoint ranges on a thread per
    core (a ``parallel=True`` prange version cost ~8 ms of fixed overhead per call here).

    Args: topo a :class:`solver.network.compile.Topology`; sig_static ``(sig_times, app_sig, app_pos,
    sig_green)``; obs ``(app_link, thresh)``; num a :class:`solver.network.compile.Numerics`.

    Shapes: Q (B, 4, Ncells); QU (B, E, 2) entry queues (veh); T (B,); DSCALE (B, E) demand
    multipliers; SP SS SN REQ (B, S) int64, ST (B, S) signal state; W (B, N_WORK, 4, Ncells),
    QW (B, N_QWORK, E, 2), SCR (B, 6, maxdeg), GREEN (B, A) scratch; ACC (B, 2, N_ACC), AQ AQMAX
    (B, A) accumulated measures; STEPS FAIL (B,) int64 outputs.
    """
    sig_times, app_sig, app_pos, sig_green = sig_static
    for b in range(lo, hi):
        sigs = (SP[b], SS[b], ST[b], SN[b], REQ[b], sig_times, app_sig, app_pos, sig_green)
        t, s, f = advance_network(Q[b], QU[b], T[b], T[b] + duration, max_steps, topo, DSCALE[b],
                                  sigs, obs, num, W[b], QW[b], SCR[b], GREEN[b], ACC[b], AQ[b],
                                  AQMAX[b])
        T[b] = t
        STEPS[b] = s
        FAIL[b] = f
