"""Per-copy observation features, measures and rewards, written once for the CPU and the GPU.

Each function here reads one network copy (its state arrays as the solver kernels see them,
``q[var, cell]``) and writes a few numbers. numba-cpu runs them over the batch in
:mod:`rl.readout`; numba-cuda compiles the very same functions from their ``py_func``
(:func:`solver.kernels.cuda.compile_entry`) into the readout kernel of :mod:`rl.readout_cuda`,
one thread per copy next to the step, so only the observation, the measure vector and the reward
cross to the host.

**Observation** (:func:`copy_observation`, the layout of :mod:`rl.observation`): per feature f
(near-stop-line bins, then observed cells) and class k, with the read cells ``idx[fptr[f]:fptr[f+1]]``
and their weights ``wt`` (1/cells):

* density ``sum(w rho) / rho_jam``;
* speed ``(sum(w rho vn) + prior sum(w)) / (sum(w rho) + prior sum(w))`` with ``vn`` the transport
  speed (:func:`solver.network.speeds.cell_transport_speed`) over the free speed, clipped to [0, 1],
  and ``prior = VACUUM_WEIGHT rho_jam`` (an empty bin reads free flow);
* entry queue ``qu / (qu + QUEUE_HALF_VEH)`` per entry and class;
* one-hot phase per signal; clearance (stage > 0); time in stage / max green (at most 1);
* with ``horizon > 0``, the clock ``t / horizon`` (the episode's progress through the demand profile).

Every feature is clipped to [0, 1].

**Measure vector** (:func:`copy_measures`, float64, slots below): the cumulative measures since
reset and the instantaneous vehicle counts, from which the step info and every reward follow.

**Reward** (:func:`interval_reward`): ``sum(lin * (after - before)) / dt + absw * |sum(cur * after)|``
over the measure vector: the registered rewards of :mod:`rl.rewards` are weights of this one form.
"""

from __future__ import annotations

import numba

from solver.kernels.link import NG
from solver.kernels.network import ARRIVED, DELAY, EXITED, TTS
from solver.network.speeds import cell_transport_speed, face_fluxes

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "d20638ab4d7d9f27"

QUEUE_HALF_VEH = 50.0  # entry queue that maps to 0.5, veh
VACUUM_WEIGHT = 1e-3  # free-speed prior weight in the bin speed average, fraction of rho_jam

#: measure-vector slots (per class m, c where two wide); then AQ (A), AQMAX (A), link vehicles (L)
M_TTS, M_DELAY, M_THROUGHPUT, M_ENTERED, M_QUEUED, M_STORED, M_TIME, M_APPROACH = 0, 2, 4, 6, 8, 10, 12, 13


def measure_size(n_approaches: int, n_links: int) -> int:
    """Length of the measure vector of a network with A approaches and L links."""
    return M_APPROACH + 2 * n_approaches + n_links


@numba.njit(cache=True)
def copy_observation(q, F, qu, sp, ss, st, vmax, idx, fptr, wt, n_phases, max_green, prior, rho_jam,
                     eps, t, horizon, out):
    """Observation features of one copy into ``out`` (D,), in the order of :mod:`rl.observation`.

    ``F`` holds the copy's face fluxes (:func:`solver.network.speeds.face_fluxes`).

    Shapes: q (4, Ncells); F (4, Ncells); qu (E, 2); sp ss (S,) int; st (S,) s; vmax (2, Ncells);
    idx wt (M,) read cells and weights; fptr (n_feat + 1,) int; n_phases (S,) int; max_green (S,) s;
    t the copy's clock, s; horizon the clock feature's scale, s (0: no clock feature, D one shorter).
    """
    n_feat = fptr.shape[0] - 1
    for f in range(n_feat):
        for k in range(2):
            mass = 0.0 * q[0, 0]
            moving = 0.0 * q[0, 0]
            wsum = 0.0 * q[0, 0]
            for j in range(fptr[f], fptr[f + 1]):
                c = idx[j]
                rho = q[2 * k, c]
                vn = min(max(cell_transport_speed(q, F, vmax, c, k, eps) / vmax[k, c], 0.0), 1.0)
                mass += wt[j] * rho
                moving += wt[j] * rho * vn
                wsum += wt[j]
            out[2 * f + k] = min(max(mass / rho_jam, 0.0), 1.0)
            speed = (moving + prior * wsum) / (mass + prior * wsum)
            out[2 * n_feat + 2 * f + k] = min(max(speed, 0.0), 1.0)
    i = 4 * n_feat
    for e in range(qu.shape[0]):
        for k in range(2):
            out[i] = min(max(qu[e, k] / (qu[e, k] + QUEUE_HALF_VEH), 0.0), 1.0)
            i += 1
    for s in range(sp.shape[0]):
        for p in range(n_phases[s]):
            out[i] = 1.0 if sp[s] == p else 0.0
            i += 1
    for s in range(sp.shape[0]):
        out[i] = 1.0 if ss[s] > 0 else 0.0
        i += 1
    for s in range(sp.shape[0]):
        out[i] = min(max(st[s] / max_green[s], 0.0), 1.0)
        i += 1
    if horizon > 0.0:
        out[i] = min(max(t / horizon, 0.0), 1.0)


@numba.njit(cache=True)
def copy_measures(q, qu, t, acc, aq, aqmax, lk, lk_dx, out):
    """Measure vector of one copy into ``out`` (float64, :func:`measure_size`).

    Slots: ``M_TTS`` total time spent, ``M_DELAY`` delay (veh s), ``M_THROUGHPUT`` exited,
    ``M_ENTERED`` arrived (veh), ``M_QUEUED`` entry queues (veh), ``M_STORED`` vehicles on the
    links (veh), each (m, c), cumulative since reset where a flow; ``M_TIME`` the clock (s);
    from ``M_APPROACH``: the approach queue integrals (m s, A), the longest queues (m, A), and the
    vehicles (both classes) on each link (L).

    Shapes: q (4, Ncells); qu (E, 2); acc (2, N_ACC); aq aqmax (A,); lk (L, 2); lk_dx (L,).
    """
    for k in range(2):
        out[M_TTS + k] = acc[k, TTS]
        out[M_DELAY + k] = acc[k, DELAY]
        out[M_THROUGHPUT + k] = acc[k, EXITED]
        out[M_ENTERED + k] = acc[k, ARRIVED]
        queued = 0.0
        for e in range(qu.shape[0]):
            queued += float(qu[e, k])
        out[M_QUEUED + k] = queued
    out[M_TIME] = t
    n_app = aq.shape[0]
    for a in range(n_app):
        out[M_APPROACH + a] = aq[a]
        out[M_APPROACH + n_app + a] = aqmax[a]
    stored_m = 0.0
    stored_c = 0.0
    for l in range(lk.shape[0]):
        sm = 0.0
        sc = 0.0
        for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
            sm += float(q[0, c])
            sc += float(q[2, c])
        dx = float(lk_dx[l])
        stored_m += sm * dx
        stored_c += sc * dx
        out[M_APPROACH + 2 * n_app + l] = (sm + sc) * dx
    out[M_STORED] = stored_m
    out[M_STORED + 1] = stored_c


@numba.njit(cache=True)
def interval_reward(before, after, dt, lin, cur, absw):
    """``sum(lin * (after - before)) / dt + absw * |sum(cur * after)|`` over the measure vector.

    Shapes: before after lin cur (M,) float64; dt in s.
    """
    change = 0.0
    level = 0.0
    for i in range(after.shape[0]):
        change += lin[i] * (after[i] - before[i])
        level += cur[i] * after[i]
    return change / dt + absw * abs(level)


@numba.njit(cache=True, inline="always")  # one caller on the CPU: not compiled on its own
def read_copy(state, topo, sig_static, num, oa, rw, scratch, obs, prev, cur, dt, adopt, observe,
              generic=True):
    """Everything an env step reads from one copy: the measure vector into ``cur``, the observation
    into ``obs`` (when ``observe``), and the reward of the interval ``prev`` -> ``cur`` (when
    ``dt > 0``, else 0); with ``adopt``, ``prev`` becomes ``cur`` (the next interval's start).

    Args: ``state = (q, qu, t, dscale, sp, ss, st, acc, aq, aqmax)`` the copy's views;
    ``topo``/``sig_static``/``num`` as in the step; ``oa`` an :class:`rl.observation.ObservationArrays`;
    ``rw`` an :class:`rl.rewards.RewardWeights`; ``scratch = (F, scr, green, dqu, work)`` as in
    :func:`solver.network.speeds.face_fluxes`.

    Returns the reward (float64).
    """
    q, qu, t, dscale, sp, ss, st, acc, aq, aqmax = state
    F, scr, green, dqu, work = scratch
    copy_measures(q, qu, t, acc, aq, aqmax, topo.lk, topo.lk_dx, cur)
    if observe:
        face_fluxes(q, qu, t, topo, dscale, sp, ss, sig_static, num, F, scr, green, dqu, work, generic)
        copy_observation(q, F, qu, sp, ss, st, topo.vmax, oa.idx, oa.fptr, oa.wt, oa.n_phases,
                         oa.max_green, oa.prior, oa.rho_jam, oa.eps, t, oa.horizon, obs)
    reward = 0.0
    if dt > 0.0:
        reward = interval_reward(prev, cur, dt, rw.lin, rw.cur, rw.absw)
    if adopt:
        for i in range(cur.shape[0]):
            prev[i] = cur[i]
    return reward
