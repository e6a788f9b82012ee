"""numba-cuda kernels for B copies of one road network: one GPU thread per copy (DESIGN §3, §4).

The same batched network step as :func:`solver.kernels_network.advance_network_range`: each
thread advances its copy through the whole interval (every substep, signal and ledger update)
inside one launch; the state never leaves the device within a decision interval.

Layout: the batch axis is LAST (``Q[var, cell, b]``, ``W[k, var, cell, b]``, ``SP[s, b]`` ...),
so the 32 threads of a warp, which hold neighbouring copies, read neighbouring addresses for the
same (var, cell) (coalesced). Inside a thread a copy is seen through strided views
(``Q[:, :, b]`` has the CPU kernels' ``q[var, cell]`` shape), which lets the CPU kernels that
need no allocation be compiled here unchanged: :func:`compile_kernels` follows the calls of
the functions below into ``kernels_cpu``/``kernels_network`` and compiles every numba function it
meets from its ``py_func`` -- the link sweep :func:`solver.kernels_network.link_sweep` (WENO5,
limiter, interior fluxes and supply cap of one link, faces in registers) included. What is
GPU-specific:

* :func:`network_rk3` and :func:`advance_network` repeat the CPU control flow with explicit copy
  loops (numba-cuda has no array-to-slice assignment and no allocation).

Precision: ``compile_kernels("float32")`` rewrites every float literal of the compiled code to
``float32`` (so arithmetic stays in single precision) and flushes round-off negatives down to
``-1e-10 rho_jam`` to vacuum (float64: ``-1e-15 rho_jam``; anything more negative is retried with
half the dt, as on the CPU). Time (T, ST, dt) and the accumulators (ACC, AQ, AQMAX) stay float64.
WENO's smoothness indicators are divided by each variable's scale squared and its epsilon is
dimensionless (``1e-6``, WENO-Z and WENO-JS alike), so it neither underflows nor drowns the
indicators in float32.
The pointwise physics is :func:`solver.physics.compile_physics` compiled for ``cuda.jit(device=True)``.
"""

from __future__ import annotations

import types

import numba
import numpy as np
from numba import cuda
from numba.core.registry import CPUDispatcher

from solver import physics
from solver.kernels_cpu import NG, ROUNDOFF_VACUUM
from solver.kernels_network import (
    ARRIVED,
    EXITED,
    FLUX,
    Q0,
    Q1,
    Q2,
    SAVED,
    _relax_all,
    _update_links,
    accumulate_measures,
    cfl_time_step,
    entry_exit_fluxes,
    junction_fluxes,
    link_sweep,
    signal_dt_cap,
    signal_greens,
    signal_update,
)

#: queue work slots: QW[k] for k = queue at the RK start, stage 1, stage 2, rate, saved queue
N_QWORK = 5
#: round-off below zero flushed to vacuum, as a fraction of rho_jam, per precision
VACUUM_FLUSH = {"float64": ROUNDOFF_VACUUM, "float32": 1e-10}
# One warp per block: the kernel needs ~255 registers per thread (<= 8 warps per SM), so larger
# blocks only leave SMs idle at moderate batches (4,096 copies in blocks of 128 would use 32 of an
# H100's 132 SMs; in blocks of 32 they use all of them).
THREADS_PER_BLOCK = 32

REAL = numba.float64  # rebound to the precision's numba type by compile_kernels


def copy_cells(dst, src, lk):
    """``dst = src`` on the interior cells of every link. Shapes: (4, Ncells)."""
    for l in range(lk.shape[0]):
        for v in range(4):
            for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
                dst[v, c] = src[v, c]


def copy_queues(dst, src):
    """``dst = src`` for the entry queues. Shapes: (E, 2)."""
    for e in range(src.shape[0]):
        dst[e, 0] = src[e, 0]
        dst[e, 1] = src[e, 1]


def queue_stage(qwork, qu, stage, dt):
    """SSP-RK3 stage of the entry queues, written as in ``kernels_network.network_rk3``."""
    qu0, qu1, qu2, dqu = qwork[0], qwork[1], qwork[2], qwork[3]
    for e in range(qu.shape[0]):
        for k in range(2):
            if stage == 0:
                qu1[e, k] = qu0[e, k] + dt * dqu[e, k]
            elif stage == 1:
                qu2[e, k] = 0.75 * qu0[e, k] + 0.25 * (qu1[e, k] + dt * dqu[e, k])
            else:
                qu[e, k] = (1.0 - 2.0 / 3.0) * qu0[e, k] + 2.0 / 3.0 * (qu2[e, k] + dt * dqu[e, k])


def network_rk3(q, qu, t, dt, topo, dscale, order, kind, scales, par, supply_cap, green, work,
                qwork, scr, acc):
    """One SSP-RK3 transport step of a whole network copy (``kernels_network.network_rk3``).

    Returns False (state restored) when a density would go negative; ``acc[k, ARRIVED|EXITED]``
    receives the step's arrivals and exits (veh). Shapes: work (N_WORK, 4, Ncells),
    qwork (N_QWORK, E, 2).
    """
    (lk, lk_dx, vmax, en_link, dem_t, dem_v, dem_np, dem_lin, ex_link, jn_in_ptr, jn_in,
     jn_out_ptr, jn_out, jn_beta_ptr, beta) = topo
    q0, F = work[Q0], work[FLUX]
    copy_cells(q0, q, lk)
    copy_queues(qwork[0], qu)
    rates = cuda.local.array((2, 2), numba.float64)
    arr_m, arr_c, ex_m, ex_c = 0.0, 0.0, 0.0, 0.0
    rdt = REAL(dt)
    for stage in range(3):
        src, usrc, ts, wgt = work[stage], qwork[stage], t, 1.0 / 6.0
        if stage == 1:
            ts = t + dt
        elif stage == 2:
            ts, wgt = t + 0.5 * dt, 2.0 / 3.0
        for k in range(2):
            rates[k, 0], rates[k, 1] = 0.0, 0.0
        for l in range(lk.shape[0]):
            link_sweep(src, F, vmax, lk[l, 0], lk[l, 1], order, kind, scales, par, supply_cap)
        entry_exit_fluxes(src, usrc, ts, dt, lk, vmax, en_link, dem_t, dem_v, dem_np, dem_lin,
                          dscale, ex_link, par, F, qwork[3], rates)
        junction_fluxes(src, lk, vmax, jn_in_ptr, jn_in, jn_out_ptr, jn_out, jn_beta_ptr, beta,
                        green, par, F, scr)
        arr_m += wgt * dt * rates[0, ARRIVED]
        arr_c += wgt * dt * rates[1, ARRIVED]
        ex_m += wgt * dt * rates[0, EXITED]
        ex_c += wgt * dt * rates[1, EXITED]
        negative = False
        if stage == 0:
            _update_links(work[Q1], q0, 0.0, q0, 1.0, F, lk, lk_dx, rdt, scales, par, False)
        elif stage == 1:
            _update_links(work[Q2], q0, 0.75, work[Q1], 0.25, F, lk, lk_dx, rdt, scales, par, False)
        else:
            negative = _update_links(q, q0, 1.0 - 2.0 / 3.0, work[Q2], 2.0 / 3.0, F, lk, lk_dx, rdt,
                                     scales, par, True)
        queue_stage(qwork, qu, stage, dt)
    if negative:
        copy_cells(q, q0, lk)
        copy_queues(qu, qwork[0])
        return False
    acc[0, ARRIVED] += arr_m
    acc[1, ARRIVED] += arr_c
    acc[0, EXITED] += ex_m
    acc[1, EXITED] += ex_c
    return True


def advance_network(q, qu, t, t_end, max_steps, topo, dscale, sigs, obs_topo, order, kind, cfl,
                    scales, par, supply_cap, work, qwork, scr, green, acc, aq, aqmax):
    """Advance one network copy from t to t_end (s): ``kernels_network.advance_network``.

    Returns (t reached, steps, failures).
    """
    lk, lk_dx, vmax = topo[0], topo[1], topo[2]
    sp, ss, st, sn, req, sig_times, app_sig, app_pos, sig_green = sigs
    app_link, thresh = obs_topo
    saved, qsaved = work[SAVED], qwork[4]
    steps = 0
    failures = 0
    dt_cfl = cfl_time_step(q, lk, lk_dx, cfl, par)  # later ones come with the measures
    while t_end - t > 1e-9 * max(1.0, abs(t_end)) and steps < max_steps:
        signal_greens(sp, ss, app_sig, app_pos, sig_green, green)
        dt = min(t_end - t, signal_dt_cap(sp, ss, st, req, sig_times), dt_cfl)
        copy_cells(saved, q, lk)
        copy_queues(qsaved, qu)
        ok = False
        for _attempt in range(12):
            _relax_all(q, lk, vmax, REAL(0.5 * dt), par)
            ok = network_rk3(q, qu, t, dt, topo, dscale, order, kind, scales, par, supply_cap,
                             green, work, qwork, scr, acc)
            if ok:
                break
            copy_cells(q, saved, lk)
            copy_queues(qu, qsaved)
            dt *= 0.5
        if not ok:
            failures += 1
        _relax_all(q, lk, vmax, REAL(0.5 * dt), par)
        dt_cfl = accumulate_measures(q, qu, dt, lk, lk_dx, vmax, app_link, thresh, cfl, par, acc, aq,
                                     aqmax)
        signal_update(sp, ss, st, sn, req, sig_times, dt)
        t += dt
        steps += 1
    return t, steps, failures


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


OWN_DEVICE = (copy_cells, copy_queues, queue_stage,
              network_rk3, advance_network, count_nonfinite)


def advance_kernel(duration, max_steps, Q, QU, T, DSCALE, SP, SS, ST, SN, REQ, W, QW, SCR, GREEN, ACC,
                   AQ, AQMAX, STEPS, FAIL, lk, lk_dx, vmax, en_link, dem_t, dem_v, dem_np, dem_lin,
                   ex_link, jn_in_ptr, jn_in, jn_out_ptr, jn_out, jn_beta_ptr, beta, sig_times,
                   app_sig, app_pos, sig_green, app_link, thresh, order, kind, cfl, scales, par,
                   supply_cap):
    """Advance copy b = thread index by ``duration`` s from its own time T[b]
    (arguments as in ``kernels_network.advance_network_range``).

    Shapes (batch last): Q (4, Ncells, B); QU (E, 2, B); T (B,); DSCALE (E, B); SP SS SN REQ
    (S, B) int64; ST (S, B); W (N_WORK, 4, Ncells, B); QW (N_QWORK, E, 2, B);
    SCR (6, maxdeg, B); GREEN (A, B); ACC (2, N_ACC, B); AQ AQMAX (A, B); STEPS FAIL (B,) int64
    (FAIL also counts non-finite values left in the copy).
    """
    b = cuda.grid(1)
    if b >= T.shape[0]:
        return
    topo = (lk, lk_dx, vmax, en_link, dem_t, dem_v, dem_np, dem_lin, ex_link, jn_in_ptr, jn_in,
            jn_out_ptr, jn_out, jn_beta_ptr, beta)
    sigs = (SP[:, b], SS[:, b], ST[:, b], SN[:, b], REQ[:, b], sig_times, app_sig, app_pos, sig_green)
    q, qu = Q[:, :, b], QU[:, :, b]
    t, s, f = advance_network(q, qu, T[b], T[b] + duration, max_steps, topo, DSCALE[:, b], sigs,
                              (app_link, thresh), order, kind, cfl, scales, par, supply_cap,
                              W[:, :, :, b], QW[:, :, :, b], SCR[:, :, b], GREEN[:, b],
                              ACC[:, :, b], AQ[:, b], AQMAX[:, b])
    T[b] = t
    STEPS[b] = s
    FAIL[b] = f + count_nonfinite(q, qu, lk)


_COMPILED: dict[str, types.SimpleNamespace] = {}


def _retyped(fn, dtype: str):
    """``fn`` with its float literals as ``float32`` when dtype is float32 (else unchanged)."""
    if dtype == "float64":
        return fn
    code = fn.__code__
    consts = tuple(np.float32(c) if type(c) is float else c for c in code.co_consts)
    return types.FunctionType(code.replace(co_consts=consts), fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _rebound(fn, scope: dict):
    """``fn`` whose global names resolve to ``scope`` first (compiled callees, precision)."""
    new = types.FunctionType(fn.__code__, {**fn.__globals__, **scope}, fn.__name__,
                             fn.__defaults__, fn.__closure__)
    new.__qualname__, new.__module__ = fn.__qualname__, fn.__module__
    return new


def _port_callees(fn, scope: dict, device) -> None:
    """Compile for the device, callees first, every numba CPU function that ``fn`` calls by a
    global name not yet in ``scope`` (the CPU kernels reused unchanged)."""
    for name in fn.__code__.co_names:
        target = fn.__globals__.get(name)
        if name in scope or not isinstance(target, CPUDispatcher):
            continue
        _port_callees(target.py_func, scope, device)
        scope[name] = device(_rebound(target.py_func, scope))


def compile_kernels(dtype: str = "float64") -> types.SimpleNamespace:
    """Compile the device functions and kernels for one precision (cached per dtype).

    Args:
        dtype: ``"float64"`` or ``"float32"``: the dtype of the state arrays on the device.

    Returns:
        A namespace with the ``advance`` kernel and ``dtype``.

    Raises:
        ValueError: an unsupported dtype.
    """
    if dtype not in VACUUM_FLUSH:
        raise ValueError(f"dtype {dtype!r} is not supported on the GPU: use float64 or float32")
    if dtype in _COMPILED:
        return _COMPILED[dtype]
    device = lambda fn: cuda.jit(device=True)(_retyped(fn, dtype))  # noqa: E731
    P = physics.compile_physics(device)
    # the round-off flush (kernels_network._update_links, kernels_cpu.clean_vacuum) reads ROUNDOFF_VACUUM
    scope: dict = {"REAL": getattr(numba, dtype), "ROUNDOFF_VACUUM": VACUUM_FLUSH[dtype]}
    for name in physics.POINTWISE:
        scope[name] = scope["_" + name] = getattr(P, name)
    for fn in OWN_DEVICE:
        _port_callees(fn, scope, device)
        scope[fn.__name__] = device(_rebound(fn, scope))
    advance = cuda.jit(_retyped(_rebound(advance_kernel, scope), dtype))
    _COMPILED[dtype] = types.SimpleNamespace(advance=advance, dtype=dtype)
    return _COMPILED[dtype]
