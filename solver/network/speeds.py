"""Reported speeds of a network state: the transport speed of the fluxes the scheme applies.

``v_k = w_k - p_k`` is the speed the PDE would give a cell, but on a network the flux through a
face is also limited by the downstream supply (the supply cap inside links, junction supply
shares) and by the signals (zero flux at red). Inside a standing queue behind a red light the
fluxes are zero while ``w - p`` still read up to 3.7 km/h. What a user sees (NPZ fields of
``arz simulate``, the RL observations) is therefore the speed at which the scheme actually moves
the vehicles of each cell:

    ``u_k(c) = (F_k(c - 1/2) + F_k(c + 1/2)) / (2 rho_k(c))``

with ``F_k`` the mass fluxes of class k that one stage of the step would apply to this state
(interior faces from :func:`solver.kernels.sweep.link_sweep`, node faces from the entry, exit
and junction rules with the signal state's greens), divided by rho desingularised as the marker
is (``2 rho / (rho^2 + max(rho^2, eps^2))``, so an empty cell reports 0, as ``w - p`` does).
The result is clipped to ``[0, Vmax_k(c)]``: in a nearly empty cell next to busy faces (a vacuum
front, a gap between platoons) the face fluxes divided by a density of ~1e-5 veh/m would read
hundreds of m/s, while the few vehicles there move at most at the free speed.
An entry queue that is not empty enters at the first cell's supply (the rule's ``queue/dt`` term
with dt -> 0). The state update is untouched: this is output only, and on a free-flowing link it
agrees with ``w - p`` up to the reconstruction error. Units: m/s.
"""

from __future__ import annotations

import numba
import numpy as np

from solver.kernels.common import jit_inline
from solver.kernels.link import NG
from solver.kernels.network import copy_cells, entry_exit_fluxes, junction_fluxes, signal_greens
from solver.kernels.sweep import copy_faces, copy_fluxes, link_sweep
from solver.network.compile import max_degree
from solver.params import EPS_VAC

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "57ce501b212fed3f"

#: dt of the entry rule ``min(demand + queue/dt, supply)`` when reporting: a waiting queue enters at the supply
REPORT_DT = 1e-9


#: slots of the CPU scratch ``work`` (3, 4, Ncells) of :func:`interior_fluxes`: the copy with its
#: ghosts filled, its left and right faces
WQ, WQM, WQP = range(3)
N_FACE_WORK = 3


@jit_inline  # one caller (face_fluxes): not compiled on its own
def interior_fluxes(q, F, vmax, lk, num, work, generic=True):
    """Interior face fluxes of every link of a copy into ``F``, by the network step's own passes
    (:func:`solver.kernels.sweep.copy_faces` and :func:`~solver.kernels.sweep.copy_fluxes` on a
    copy of ``q`` in ``work``: the state is only read). These are bitwise the fluxes of the fused
    :func:`solver.kernels.sweep.link_sweep` (tests/solver/test_vector_passes.py), which the GPU
    readout runs instead (:func:`sweep_interior_fluxes`); on the CPU the passes are the step's
    compiled functions, so a process that steps a network compiles no second flux kernel for its
    readout (the fused sweep alone took 34 s of a cold start). Node faces get scratch values that
    the node rules then overwrite.

    Shapes: q F (4, Ncells); vmax (2, Ncells); lk (L, 2); work (3, 4, Ncells) scratch.
    """
    copy_cells(work[WQ], q, lk)
    copy_faces(work[WQ], work[WQM], work[WQP], lk, num.order, num.scales, num.par)
    copy_fluxes(work[WQ], work[WQM], work[WQP], F, vmax, lk, num.kind, num.par, num.supply_cap, generic)


def sweep_interior_fluxes(q, F, vmax, lk, num, work, generic=True):
    """:func:`interior_fluxes` by the fused sweep, faces in registers (``work``, ``generic`` unused): what the GPU
    readout compiles in its place (``rl.readout_cuda``), one thread per copy without face arrays."""
    for l in range(lk.shape[0]):
        link_sweep(q, F, vmax, lk[l, 0], lk[l, 1], num.order, num.kind, num.scales, num.par,
                   num.supply_cap)


@numba.njit(cache=True)
def face_fluxes(q, qu, t, topo, dscale, sp, ss, sig_static, num, F, scr, green, dqu, work, generic=True):
    """Mass and marker fluxes ``F[var, face]`` that one stage of the step would apply to one copy.

    Interior faces from :func:`interior_fluxes`, node faces from the entry, exit and junction
    rules with the greens of the signal state ``sp``, ``ss``; a waiting entry queue enters at the
    first cell's supply (:data:`REPORT_DT`). Allocation-free: the GPU readout of the RL
    observations compiles it unchanged (``rl.readout_cuda``, with :func:`sweep_interior_fluxes`).

    Shapes: q (4, Ncells); qu (E, 2); dscale (E,); sp ss (S,); F (4, Ncells) out; scratch scr
    (6, maxdeg), green (A,), dqu (E, 2), work (3, 4, Ncells) (see :func:`interior_fluxes`).
    """
    (lk, lk_dx, vmax, en_link, dem_t, dem_v, dem_np, dem_lin, ex_link, jn_in_ptr, jn_in,
     jn_out_ptr, jn_out, jn_beta_ptr, beta) = topo
    sig_times, app_sig, app_pos, sig_green = sig_static
    par = num.par
    signal_greens(sp, ss, app_sig, app_pos, sig_green, green)
    interior_fluxes(q, F, vmax, lk, num, work, generic)
    entry_exit_fluxes(q, qu, t, REPORT_DT, lk, vmax, en_link, dem_t, dem_v, dem_np, dem_lin,
                      dscale, ex_link, par, F, dqu, generic)
    junction_fluxes(q, lk, vmax, jn_in_ptr, jn_in, jn_out_ptr, jn_out, jn_beta_ptr, beta, green,
                    par, F, scr, generic)


@numba.njit(cache=True)
def cell_transport_speed(q, F, vmax, c, k, eps):
    """Transport speed (m/s) of class k in flat cell c from the face fluxes ``F`` of
    :func:`face_fluxes`: ``(F(c - 1/2) + F(c + 1/2)) rho / (rho^2 + max(rho^2, eps^2))``,
    clipped to ``[0, vmax[k, c]]`` (0 in an empty cell)."""
    j = c - NG  # the cell's left face (F[:, off + i] is face i of the link)
    rho = q[2 * k, c]
    r2 = rho * rho
    den = r2 + max(r2, eps * eps)
    if den > 0.0:  # a near-empty cell between busy faces reports at most the free speed
        u = (F[2 * k, j] + F[2 * k, j + 1]) * rho / den
        return min(max(u, 0.0), vmax[k, c])
    return 0.0 * rho


@numba.njit(cache=True)
def flux_speeds(Q, QU, T, topo, maxdeg, DSCALE, SP, SS, sig_static, num, out):
    """Transport speeds ``out[b, k, c]`` (m/s) of every interior cell of every copy.

    ``maxdeg`` is :func:`solver.network.compile.max_degree` of ``topo`` (junction scratch size);
    ``num`` a :class:`solver.network.compile.Numerics`.

    Shapes: Q (B, 4, Ncells); QU (B, E, 2); T (B,); DSCALE (B, E); SP SS (B, S); out (B, 2, Ncells)
    (ghost cells get 0).
    """
    lk, vmax = topo.lk, topo.vmax
    eps = num.par[EPS_VAC]
    F = np.zeros((4, Q.shape[2]))
    scr = np.zeros((6, maxdeg))
    green = np.zeros(sig_static[1].shape[0])
    dqu = np.zeros((topo.en_link.shape[0], 2))
    work = np.zeros((N_FACE_WORK, 4, Q.shape[2]))
    out[:, :, :] = 0.0
    for b in range(Q.shape[0]):
        q = Q[b]
        face_fluxes(q, QU[b], T[b], topo, DSCALE[b], SP[b], SS[b], sig_static, num, F, scr, green, dqu,
                    work)
        for l in range(lk.shape[0]):
            for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
                for k in range(2):
                    out[b, k, c] = cell_transport_speed(q, F, vmax, c, k, eps)
    return out


def transport_speeds(sim) -> np.ndarray:
    """Transport speeds of every copy of a batched network (see the module docstring).

    Args:
        sim: :class:`solver.network.batch.BatchedNetwork` (or any object with its ``net``, ``Q``, ``QU``,
            ``T``, ``DSCALE``, ``SP`` and ``SS`` as host arrays of the same shapes).

    Returns:
        m/s per copy, class and cell. Shapes: (B, 2, Ncells).
    """
    n = sim.net
    Q = np.ascontiguousarray(sim.Q, dtype=np.float64)
    out = np.zeros((Q.shape[0], 2, Q.shape[2]))
    return flux_speeds(Q, np.asarray(sim.QU, np.float64), np.asarray(sim.T, np.float64), n.topo,
                       max_degree(n.topo),
                       np.asarray(sim.DSCALE, np.float64), np.asarray(sim.SP, np.int64),
                       np.asarray(sim.SS, np.int64), n.sig_static, n.numerics(), out)
