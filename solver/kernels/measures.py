"""The measures of a network copy after each step: Strang's second half relaxation, total time
spent, delay, queued vehicle-seconds, approach queues, and the CFL step of the next substep, in
one call (:func:`accumulate_measures`, part of the network step of :mod:`solver.kernels.network`,
compiled for numba-cpu and numba-cuda alike).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from solver.kernels.common import FASTMATH, NG, PHYSICS, calibrated, par_tuple
from solver.kernels.faces import cell_measures, relax_pass
from solver.params import EPS_VAC, RELAX, TAU_C, TAU_M

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "db1ece5e2c3e9832"

_flux_and_speeds = PHYSICS.flux_and_speeds
_marker = PHYSICS.marker
_pressures = PHYSICS.pressures
_relax_marker = PHYSICS.relax_marker

jit = numba.njit(cache=True, fastmath=FASTMATH)

#: accumulator columns per class (``ACC[..., k, column]``)
ARRIVED, EXITED, TTS, DELAY, QUEUED_VS = range(5)
N_ACC = 5


@jit
def accumulate_measures(q, qu, dt, h, lk, lk_dx, vmax, app_link, thresh, cfl, par, acc, aq, aqmax, scr,
                        generic=True):
    """Relax every interior cell over h s (Strang's second half, in place), then add dt-weighted
    total time spent, delay, queued vehicle-seconds and approach queues of the relaxed state, and
    return its CFL time step (s; ``inf`` when nothing moves). One pass over the cells.

    Delay counts, per vehicle, the fraction of free speed it is missing, ``1 - v/Vmax``; every
    vehicle in an entry queue is fully delayed. Approach queue = metres of the approach whose total
    density exceeds ``thresh`` (veh/m). The time step is :func:`cfl_time_step` of the same state,
    computed in the same pass over the cells (the next step starts from this state). With the
    calibrated pressure exponents the per-cell part runs vectorised over all the links at once
    (:func:`solver.kernels.faces.relax_pass`, :func:`solver.kernels.faces.cell_measures`, into the
    scratch ``scr`` (>= 3, Ncells)) and only the sums loop cell by cell, in the same order;
    ``generic`` as in :func:`solver.kernels.sweep.copy_fluxes`.
    """
    eps = par[EPS_VAC]
    relaxing = par[RELAX] != 0.0 and h > 0.0  # as solver.kernels.link.relax
    decay_m = math.exp(-h / par[TAU_M])
    decay_c = math.exp(-h / par[TAU_C])
    pt = par_tuple(par)
    passes = calibrated(par)
    dt_cfl = np.inf
    # veh m, summed in registers; float(0) stays float64 in the float32 CUDA port (0.0 would not)
    tts_m, tts_c, delay_m, delay_c = float(0), float(0), float(0), float(0)
    L = lk.shape[0]
    if generic is None or passes:
        # the per-cell part in one pass over every link (the ghost cells between them included:
        # finite leftovers, relaxed too and never read as cells), the sums link by link in cell order
        c0, c1 = lk[0, 0] + NG, lk[L - 1, 0] + NG + lk[L - 1, 1]
        if relaxing:
            relax_pass(q, c0, c1 - c0, vmax, c0, decay_m, decay_c, par)
        cell_measures(q, c0, c1 - c0, vmax, par, scr)
    for l in range(L):
        off, n, dx = lk[l, 0], lk[l, 1], lk_dx[l]
        a_max = 0.0
        if generic is None or passes:
            for c in range(off + NG, off + NG + n):
                rho_m, rho_c = q[0, c], q[2, c]
                tts_m += rho_m * dx
                tts_c += rho_c * dx
                delay_m += rho_m * dx * scr[0, c]
                delay_c += rho_c * dx * scr[1, c]
                a_max = max(a_max, scr[2, c])
        else:
            for c in range(off + NG, off + NG + n):
                # each value read once into a register: reloaded after the relaxation's stores (which
                # the compiler must assume may change any of them), the pressures, markers and par
                # values were computed again
                rho_m, y_m, rho_c, y_c = q[0, c], q[1, c], q[2, c], q[3, c]
                if relaxing:
                    q[1, c], q[3, c] = _relax_marker(rho_m, y_m, rho_c, y_c, vmax[0, c], vmax[1, c],
                                                     decay_m, decay_c, pt)
                    y_m, y_c = q[1, c], q[3, c]  # as stored (in the state's precision)
                p_m, p_c = _pressures(rho_m, rho_c, pt)
                lag_m = 1.0 - (_marker(rho_m, y_m, eps) - p_m) / vmax[0, c]
                lag_c = 1.0 - (_marker(rho_c, y_c, eps) - p_c) / vmax[1, c]
                tts_m += rho_m * dx
                tts_c += rho_c * dx
                delay_m += rho_m * dx * min(max(lag_m, 0.0), 1.0)
                delay_c += rho_c * dx * min(max(lag_c, 0.0), 1.0)
                _, _, _, _, lo, hi = _flux_and_speeds(rho_m, y_m, rho_c, y_c, pt)
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
