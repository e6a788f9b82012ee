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

from solver.kernels.atomics import fetch_add
from solver.kernels.common import calibrated, default_gammas_tuple, jit_inline, jit_point
from solver.kernels.faces import copy_rows, relax_pass
from solver.kernels.link import FASTMATH, NG, PHYSICS, RK3, max_wave_speed, par_tuple
from solver.kernels.measures import (  # noqa: F401
    ARRIVED,
    DELAY,
    EXITED,
    N_ACC,
    QUEUED_VS,
    TTS,
    accumulate_measures,
)
from solver.kernels.signals import signal_dt_cap, signal_greens, signal_update
from solver.kernels.sweep import copy_faces, copy_fluxes, update_copy
from solver.params import RELAX, TAU_C, TAU_M

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "b7c63899f3ee98d0"

# the pointwise physics compiled once, in solver.kernels.common; the CUDA port rebinds these names
_sending_receiving = PHYSICS.sending_receiving
_relax_marker = PHYSICS.relax_marker

jit = numba.njit(cache=True, fastmath=FASTMATH)

#: work slots per copy: W[k] for k = state at the RK start (relaxed), stage 1, stage 2, fluxes
#: (node and interior faces), the state before the step (restored when the step is rejected), the
#: left and right faces of every cell (the link sweep's scratch, :mod:`solver.kernels.sweep`)
Q0, Q1, Q2, FLUX, SAVED, QM, QP = range(7)
N_WORK = 7
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


@jit_point
def _cell_sr(q, vmax, c, pt):
    return _sending_receiving(q[0, c], q[1, c], q[2, c], q[3, c], vmax[0, c], vmax[1, c], pt)


@jit
def entry_exit_fluxes(q, qu, t, dt, lk, vmax, en_link, dem_t, dem_v, dem_np, dem_lin, dscale,
                      ex_link, par, F, dqu, generic=True):
    """Entry faces: ``min(demand + queue/dt, supply)``; exit faces: free discharge of demand.

    ``dqu[e, k]`` receives the entry queue's rate of change. Returns the stage's arrivals and
    exits (veh/s) ``(arrived_m, arrived_c, exited_m, exited_c)``, summed in float64. With the
    calibrated pressure exponents (``generic`` None: checked by the host) the rules run on
    :func:`solver.kernels.common.default_gammas_tuple`, whose constants LLVM folds into the
    inlined physics (~30 % faster, the same numbers).
    """
    if generic is None or calibrated(par):
        return _entry_exit(q, qu, t, dt, lk, vmax, en_link, dem_t, dem_v, dem_np, dem_lin, dscale,
                           ex_link, default_gammas_tuple(par), F, dqu)
    return _entry_exit(q, qu, t, dt, lk, vmax, en_link, dem_t, dem_v, dem_np, dem_lin, dscale,
                       ex_link, par_tuple(par), F, dqu)


@jit_point
def _entry_exit(q, qu, t, dt, lk, vmax, en_link, dem_t, dem_v, dem_np, dem_lin, dscale, ex_link,
                pt, F, dqu):
    """:func:`entry_exit_fluxes` with the parameters as a tuple ``pt``."""
    arr_m, arr_c, ex_m, ex_c = float(0), float(0), float(0), float(0)  # float64 in float32 ports too
    for e in range(en_link.shape[0]):
        off = lk[en_link[e], 0]
        c = off + NG
        _, _, s_m, s_c, _, _, win_m, win_c = _cell_sr(q, vmax, c, pt)
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
        d_m, d_c, _, _, w_m, w_c, _, _ = _cell_sr(q, vmax, off + NG + n - 1, pt)
        F[0, off + n], F[1, off + n] = d_m, d_m * w_m
        F[2, off + n], F[3, off + n] = d_c, d_c * w_c
        ex_m += d_m
        ex_c += d_c
    return arr_m, arr_c, ex_m, ex_c


@jit
def junction_fluxes(q, lk, vmax, jn_in_ptr, jn_in, jn_out_ptr, jn_out, jn_beta_ptr, beta, green,
                    par, F, scr, generic=True):
    """Junction faces, per class: demand split by turning ratios, each outgoing supply shared in
    proportion to what is sent to it, every approach held back by its tightest destination (FIFO).
    ``generic`` as in :func:`entry_exit_fluxes`.

    Shapes: scr (6, >= max degree) scratch.
    """
    if generic is None or calibrated(par):
        _junction(q, lk, vmax, jn_in_ptr, jn_in, jn_out_ptr, jn_out, jn_beta_ptr, beta, green,
                  default_gammas_tuple(par), F, scr)
    else:
        _junction(q, lk, vmax, jn_in_ptr, jn_in, jn_out_ptr, jn_out, jn_beta_ptr, beta, green,
                  par_tuple(par), F, scr)


@jit_point
def _junction(q, lk, vmax, jn_in_ptr, jn_in, jn_out_ptr, jn_out, jn_beta_ptr, beta, green, pt, F, scr):
    """:func:`junction_fluxes` with the parameters as a tuple ``pt``."""
    for j in range(jn_in_ptr.shape[0] - 1):
        i0, ni = jn_in_ptr[j], jn_in_ptr[j + 1] - jn_in_ptr[j]
        o0, no = jn_out_ptr[j], jn_out_ptr[j + 1] - jn_out_ptr[j]
        b0 = jn_beta_ptr[j]
        for i in range(ni):
            off, n = lk[jn_in[i0 + i], 0], lk[jn_in[i0 + i], 1]
            d_m, d_c, _, _, w_m, w_c, _, _ = _cell_sr(q, vmax, off + NG + n - 1, pt)
            scr[0, i], scr[1, i] = d_m * green[i0 + i], d_c * green[i0 + i]
            scr[2, i], scr[3, i] = w_m, w_c
        for o in range(no):  # supply share of each exit per class: scr[4 + k, o]
            _, _, s_m, s_c, _, _, _, _ = _cell_sr(q, vmax, lk[jn_out[o0 + o], 0] + NG, pt)
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


@jit
def relax_and_save(q, q0, saved, lk, vmax, h, par, generic=True):
    """``saved = q`` and ``q0 = R(h) q`` (exact relaxation over h s, :func:`solver.kernels.link.relax`;
    a copy when relaxation is off) on the interior cells of every link, in one pass; ``generic``
    as in :func:`solver.kernels.sweep.copy_fluxes`.

    Shapes: (4, Ncells); vmax (2, Ncells) m/s.
    """
    relaxing = par[RELAX] != 0.0 and h > 0.0
    decay_m = math.exp(-h / par[TAU_M])
    decay_c = math.exp(-h / par[TAU_C])
    pt = par_tuple(par)
    passes = calibrated(par)
    if generic is None or passes:  # the same numbers, vectorised over all the links (ghosts included:
        # q0's are refilled by copy_faces, saved's never read): copies, then q0 relaxed in place
        L = lk.shape[0]
        c0, c1 = lk[0, 0] + NG, lk[L - 1, 0] + NG + lk[L - 1, 1]
        copy_rows(saved, q, c0, c1 - c0)
        copy_rows(q0, q, c0, c1 - c0)
        if relaxing:
            relax_pass(q0, c0, c1 - c0, vmax, c0, decay_m, decay_c, par)
        return
    for l in range(lk.shape[0]):
        for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
            r_m, y_m, r_c, y_c = q[0, c], q[1, c], q[2, c], q[3, c]
            saved[0, c], saved[1, c], saved[2, c], saved[3, c] = r_m, y_m, r_c, y_c
            if relaxing:
                y_m, y_c = _relax_marker(r_m, y_m, r_c, y_c, vmax[0, c], vmax[1, c], decay_m, decay_c, pt)
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


@jit_inline
def copy_interior_fluxes(q, qm, qp, F, vmax, lk, num, generic=True):
    """Faces (:func:`solver.kernels.sweep.copy_faces`, ghosts filled first) and interior face
    fluxes (:func:`solver.kernels.sweep.copy_fluxes`) of every link of a copy, in passes over the
    whole copy: the CPU's vectorised form. The GPU compiles
    :func:`solver.kernels.cuda.fused_interior_fluxes` in its place (the same numbers, faces in
    registers instead of the ``qm``/``qp`` arrays in device memory).

    Shapes: q, qm, qp, F (4, Ncells); vmax (2, Ncells); lk (L, 2).
    """
    copy_faces(q, qm, qp, lk, num.order, num.scales, num.par)
    copy_fluxes(q, qm, qp, F, vmax, lk, num.kind, num.par, num.supply_cap, generic)


@jit_inline  # one caller (advance_network): not compiled on its own
def network_rk3(q, qu, t, dt, h, topo, dscale, num, green, work, qwork, scr, acc, generic=True):
    """Relaxation over h s (Strang's first half), then one SSP-RK3 transport step
    (:data:`solver.kernels.link.RK3`) of a whole network copy: links and entry queues together.

    Allocation-free (named work slots, loops instead of slice assignment), so numba-cuda compiles
    this same function for the GPU. Each stage computes the faces and interior fluxes of every
    link in passes over the whole copy (:func:`copy_interior_fluxes`; on the GPU one fused sweep
    per link), then the node fluxes over the node faces, then
    updates every link in one pass (:func:`solver.kernels.sweep.update_copy`); the relaxation is fused with saving the state (:func:`relax_and_save`).
    Returns False (q and qu restored to their values on entry) when a density would go negative.
    ``acc[k, ARRIVED|EXITED]`` receives this step's arrivals and exits (veh), RK-weighted like
    the state.

    Shapes: q (4, Ncells); qu (E, 2); work (N_WORK, 4, Ncells); qwork (N_QWORK, E, 2);
    scr (6, maxdeg); green (A,); acc (2, N_ACC).
    """
    lk, vmax, par = topo.lk, topo.vmax, num.par
    q0, F, dqu, qm, qp = work[Q0], work[FLUX], qwork[QRATE], work[QM], work[QP]
    relax_and_save(q, q0, work[SAVED], lk, vmax, h, par, generic)
    copy_queues(qwork[QU0], qu)
    rdt = par.dtype.type(dt)  # the state's precision
    arr_m, arr_c, ex_m, ex_c = float(0), float(0), float(0), float(0)
    negative = False
    for stage in range(3):
        a, b, c, w = RK3[stage]
        ra, rb = par.dtype.type(a), par.dtype.type(b)
        src, usrc = work[Q0 + stage], qwork[QU0 + stage]
        # interior faces of every link in passes over the whole copy, then the node faces over them
        copy_interior_fluxes(src, qm, qp, F, vmax, lk, num, generic)
        s_am, s_ac, s_em, s_ec = entry_exit_fluxes(
            src, usrc, t + c * dt, dt, lk, vmax, topo.en_link, topo.dem_t, topo.dem_v, topo.dem_np,
            topo.dem_lin, dscale, topo.ex_link, par, F, dqu, generic)
        junction_fluxes(src, lk, vmax, topo.jn_in_ptr, topo.jn_in, topo.jn_out_ptr, topo.jn_out,
                        topo.jn_beta_ptr, topo.beta, green, par, F, scr, generic)
        arr_m += w * dt * s_am
        arr_c += w * dt * s_ac
        ex_m += w * dt * s_em
        ex_c += w * dt * s_ec
        # every link in one pass (QM's first row, read by copy_fluxes above, holds each cell's dt/dx)
        if stage < 2:  # two call sites: a constant ``final`` keeps the pass specialised
            update_copy(work[Q1 + stage], q0, ra, src, rb, F, lk, topo.lk_dx, rdt, qm[0], num.scales,
                        par, num.flush, False)
        elif update_copy(q, q0, ra, src, rb, F, lk, topo.lk_dx, rdt, qm[0], num.scales, par,
                         num.flush, True):
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


@jit_inline
def advance_network(q, qu, t, t_end, max_steps, topo, dscale, sigs, obs, num, work, qwork, scr,
                    green, acc, aq, aqmax, generic=True):
    """Advance one network copy from t to t_end (s); Strang splitting around SSP-RK3.

    Allocation-free like :func:`network_rk3` (numba-cuda compiles it unchanged).
    ``sigs = (sp, ss, st, sn, req, sig_times, app_sig, app_pos, sig_green)``: the copy's signal
    state and the static signal arrays; ``obs = (app_link, thresh)``; ``generic`` None when the
    host checked the common case (:func:`solver.kernels.common.generic_paths`: only its paths are
    then compiled; the CUDA port leaves it out and keeps both).

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
                             work, qwork, scr, acc, generic)
            if ok:
                break
            dt *= 0.5
        if not ok:
            failures += 1
        dt_cfl = accumulate_measures(q, qu, dt, par.dtype.type(0.5 * dt), lk, lk_dx, vmax, app_link,
                                     thresh, num.cfl, par, acc, aq, aqmax, work[QM], generic)
        signal_update(sp, ss, st, sn, req, sig_times, dt)
        t += dt
        steps += 1
    return t, steps, failures


@jit
def count_nonfinite(q, qu, lk):
    """Number of non-finite interior values and entry queues of one copy (0 for a valid state)."""
    bad = 0
    for l in range(lk.shape[0]):
        for v in range(4):
            for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
                x = q[v, c]
                if not (x - x == 0.0):
                    bad += 1
    for e in range(qu.shape[0]):
        for k in range(2):
            x = qu[e, k]
            if not (x - x == 0.0):
                bad += 1
    return bad


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def advance_network_range(claim, hi, Q, QU, T, duration, max_steps, topo, DSCALE, SP, SS, ST, SN, REQ,
                          sig_static, obs, num, W, QW, SCR, GREEN, ACC, AQ, AQMAX, STEPS, FAIL,
                          generic=True):
    """Advance copies ``claim[0] .. hi-1`` of one network by ``duration`` s each (from its own T[b]).

    Releases the GIL. Every thread that runs this kernel at once takes its next copy from the
    shared counter ``claim[0]`` (int64, an atomic add: :func:`solver.kernels.atomics.fetch_add`)
    until ``hi``, so the copies are shared out one at a time without going back to Python
    (:func:`solver.threads.run_claimed`); alone, a call advances them all in order.

    Args: topo a :class:`solver.network.compile.Topology`; sig_static ``(sig_times, app_sig, app_pos,
    sig_green)``; obs ``(app_link, thresh)``; num a :class:`solver.network.compile.Numerics`.

    Shapes: Q (B, 4, Ncells); QU (B, E, 2) entry queues (veh); T (B,); DSCALE (B, E) demand
    multipliers; SP SS SN REQ (B, S) int64, ST (B, S) signal state; W (B, N_WORK, 4, Ncells),
    QW (B, N_QWORK, E, 2), SCR (B, 6, maxdeg), GREEN (B, A) scratch; ACC (B, 2, N_ACC), AQ AQMAX
    (B, A) accumulated measures; STEPS FAIL (B,) int64 outputs (FAIL also counts non-finite
    values left in the copy, :func:`count_nonfinite`); ``generic`` as in :func:`advance_network`.
    """
    sig_times, app_sig, app_pos, sig_green = sig_static
    while True:
        b = fetch_add(claim, 0, 1)
        if b >= hi:
            break
        sigs = (SP[b], SS[b], ST[b], SN[b], REQ[b], sig_times, app_sig, app_pos, sig_green)
        t, s, f = advance_network(Q[b], QU[b], T[b], T[b] + duration, max_steps, topo, DSCALE[b],
                                  sigs, obs, num, W[b], QW[b], SCR[b], GREEN[b], ACC[b], AQ[b],
                                  AQMAX[b], generic)
        T[b] = t
        STEPS[b] = s
        FAIL[b] = f + count_nonfinite(Q[b], QU[b], topo.lk)
