"""What the environments read from a batch after each step: observations, measures, rewards.

:func:`make_readout` picks the readout of the batch's backend: :class:`Readout` for a CPU
:class:`solver.network.batch.BatchedNetwork` (numba-cpu over the copies), or
:class:`rl.readout_cuda.CudaReadout` for a :class:`solver.network.batch_cuda.CudaBatchedNetwork`
(one kernel next to the step; only the small arrays below come to the host). Both run the same
per-copy function, :func:`rl.features.read_copy`.

A read returns a :class:`Reading`: ``obs`` (B, D) float32, ``measures`` (B, M) float64 (the measure
vector of :mod:`rl.features`) and ``reward`` (B,) float64 for the interval since the last adopted
read. The readout keeps that last adopted measure vector itself (on the device for the GPU).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from rl.features import measure_size, read_copy
from rl.observation import ObservationLayout
from rl.rewards import RewardWeights, delay_reward
from solver.kernels.common import generic_paths
from solver.network.compile import max_degree
from solver.network.speeds import N_FACE_WORK

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "c438c66420f0661f"


class Reading(NamedTuple):
    """One read of every copy. Shapes: obs (B, D) float32 (None when not observed); measures
    (B, M) float64; reward (B,) float64 (0 when the read had no interval)."""

    obs: np.ndarray | None
    measures: np.ndarray
    reward: np.ndarray


@numba.njit(cache=True)
def read_range(lo, hi, state, topo, sig_static, num, oa, rw, scratch, OBS, PREV, CUR, REW, dt, adopt, observe,
               generic=True):
    """:func:`rl.features.read_copy` for copies ``lo .. hi-1`` (batch axis first).

    Shapes: ``state = (Q, QU, T, DSCALE, SP, SS, ST, ACC, AQ, AQMAX)`` as in
    :class:`solver.network.batch.BatchedNetwork`; ``scratch`` one copy's (see ``read_copy``);
    OBS (B, D) float32; PREV CUR (B, M) float64; REW (B,) float64; ``generic`` as in
    :func:`solver.network.speeds.face_fluxes` (None: only the common case's paths compiled).
    """
    Q, QU, T, DSCALE, SP, SS, ST, ACC, AQ, AQMAX = state
    for b in range(lo, hi):
        one = (Q[b], QU[b], T[b], DSCALE[b], SP[b], SS[b], ST[b], ACC[b], AQ[b], AQMAX[b])
        REW[b] = read_copy(one, topo, sig_static, num, oa, rw, scratch, OBS[b], PREV[b], CUR[b], dt,
                           adopt, observe, generic)


def default_weights(net) -> RewardWeights:
    """Weights used when a readout is made without a reward (the ``delay`` reward)."""
    return delay_reward(net)


class Readout:
    """Readout of a CPU batch (see the module docstring).

    Args:
        sim: :class:`solver.network.batch.BatchedNetwork`.
        layout: the observation layout of ``sim.net``.
        weights: the reward's weights (default: ``delay``).
    """

    def __init__(self, sim, layout: ObservationLayout, weights: RewardWeights | None = None):
        net = sim.net
        self.sim, self.layout = sim, layout
        self.weights = weights or default_weights(net)
        self.oa = layout.arrays(net.par)
        self.num = net.numerics()
        self.generic = generic_paths(self.num.kind, self.num.par)
        B, M = sim.B, measure_size(len(net.approaches), len(net.links))
        self.prev, self.cur, self.rew = np.zeros((B, M)), np.zeros((B, M)), np.zeros(B)
        self.obs = np.zeros((B, layout.size), np.float32)
        self.scratch = (np.zeros((4, net.n_cells)), np.zeros((6, max_degree(net.topo))),
                        np.zeros(len(net.approaches)), np.zeros((len(net.entries), 2)),
                        np.zeros((N_FACE_WORK, 4, net.n_cells)))
        self.copy_s = 0.0  # host<->device copies: none on the CPU

    def read(self, dt: float = 0.0, adopt: bool = True, observe: bool = True) -> Reading:
        """Read every copy from the batch's current state.

        Args:
            dt: the interval since the last adopted read, s (0: no reward).
            adopt: this read's measures become the start of the next interval.
            observe: compute the observation too.
        """
        s, n = self.sim, self.sim.net
        state = (s.Q, s.QU, s.T, s.DSCALE, s.SP, s.SS, s.ST, s.ACC, s.AQ, s.AQMAX)
        read_range(0, s.B, state, n.topo, n.sig_static, self.num, self.oa, self.weights, self.scratch,
                   self.obs, self.prev, self.cur, self.rew, float(dt), bool(adopt), bool(observe), self.generic)
        return Reading(self.obs.copy() if observe else None, self.cur.copy(), self.rew.copy())


def make_readout(sim, layout: ObservationLayout, weights: RewardWeights | None = None):
    """The readout for ``sim``'s backend: :class:`Readout` on the CPU, ``CudaReadout`` on the GPU."""
    from solver.network.batch import BatchedNetwork

    if isinstance(sim, BatchedNetwork):
        return Readout(sim, layout, weights)
    from rl.readout_cuda import CudaReadout

    return CudaReadout(sim, layout, weights)
