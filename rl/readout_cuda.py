"""The readout of a GPU batch: one kernel next to the step, one thread per copy.

:func:`read_kernel` runs :func:`rl.features.read_copy` (the CPU readout's per-copy function,
compiled from its ``py_func`` by :func:`solver.kernels.cuda.compile_entry`) on the device-resident
state of a :class:`solver.network.batch_cuda.CudaBatchedNetwork`. The last adopted measure vector
stays on the device; per read only the observation (B, D) float32, the measure vector (B, M)
float64 and the reward (B,) float64 come to the host -- a few hundred bytes per copy instead of the
whole state (the observation needs the face fluxes, hence every cell).
"""

from __future__ import annotations

import time

import numpy as np
from numba import cuda

from rl.features import measure_size, read_copy
from rl.observation import ObservationLayout
from rl.readout import Reading, default_weights
from rl.rewards import RewardWeights
from solver.kernels.cuda import compile_entry
from solver.network.batch_cuda import on_device
from solver.network.compile import max_degree
from solver.network.speeds import sweep_interior_fluxes


def read_kernel(state, topo, sig_static, num, oa, rw, scratch, OBS, PREV, CUR, REW, dt, adopt, observe):
    """:func:`rl.features.read_copy` for copy b = thread index (batch axis last in the state and the
    scratch, first in OBS, PREV, CUR and REW).

    Shapes: ``state = (Q, QU, T, DSCALE, SP, SS, ST, ACC, AQ, AQMAX)`` as on the device
    (:mod:`solver.kernels.cuda`); ``scratch = (F (4, Ncells, B), SCR (6, maxdeg, B), GREEN (A, B),
    DQU (E, 2, B), WORK (1, 1, 1))`` (:func:`scratch_shapes`); OBS (B, D) float32; PREV CUR (B, M) float64; REW (B,) float64.
    """
    b = cuda.grid(1)
    Q, QU, T, DSCALE, SP, SS, ST, ACC, AQ, AQMAX = state
    if b >= T.shape[0]:
        return
    F, SCR, GREEN, DQU, WORK = scratch
    one = (Q[:, :, b], QU[:, :, b], T[b], DSCALE[:, b], SP[:, b], SS[:, b], ST[:, b], ACC[:, :, b],
           AQ[:, b], AQMAX[:, b])
    REW[b] = read_copy(one, topo, sig_static, num, oa, rw, (F[:, :, b], SCR[:, :, b], GREEN[:, b],
                       DQU[:, :, b], WORK), OBS[b], PREV[b], CUR[b], dt, adopt, observe)


def readout_kernel(dtype: str):
    """:func:`read_kernel` compiled for the device in ``dtype`` (cached): the interior fluxes by the
    fused sweep, faces in registers (:func:`solver.network.speeds.sweep_interior_fluxes`)."""
    return compile_entry(read_kernel, dtype, extra={"interior_fluxes": sweep_interior_fluxes})


def scratch_shapes(net, batch: int) -> tuple[tuple[int, ...], ...]:
    """Shapes of the readout's device scratch ``(F, SCR, GREEN, DQU, WORK)``, batch axis last;
    WORK is a placeholder (the fused sweep needs no face arrays)."""
    return ((4, net.n_cells, batch), (6, max_degree(net.topo), batch), (len(net.approaches), batch),
            (len(net.entries), 2, batch), (1, 1, 1))


class CudaReadout:
    """Readout of a GPU batch, with the interface of :class:`rl.readout.Readout`.

    Args:
        sim: :class:`solver.network.batch_cuda.CudaBatchedNetwork`.
        layout: the observation layout of ``sim.net``.
        weights: the reward's weights (default: ``delay``).
    """

    def __init__(self, sim, layout: ObservationLayout, weights: RewardWeights | None = None):
        net, B = sim.net, sim.B
        self.sim, self.layout = sim, layout
        self.kernel = readout_kernel(sim.dtype)
        to = cuda.to_device
        w = weights or default_weights(net)
        self.weights = on_device(w, to)
        self.oa = on_device(layout.arrays(net.par, sim.dtype), to)
        M, real = measure_size(len(net.approaches), len(net.links)), np.dtype(sim.dtype)
        self.scratch = tuple(cuda.device_array(shape, real) for shape in scratch_shapes(net, B))
        self.obs = cuda.device_array((B, layout.size), np.float32)
        self.prev, self.cur, self.rew = to(np.zeros((B, M))), cuda.device_array((B, M)), cuda.device_array(B)
        self.scratch[0].copy_to_device(np.zeros((4, net.n_cells, B), real))  # faces no rule writes read 0
        self.copy_s = 0.0  # wall seconds of the copies to the host (after the kernel finished)

    def read(self, dt: float = 0.0, adopt: bool = True, observe: bool = True) -> Reading:
        """Read every copy on the device; copy the observation, measures and reward to the host
        (as :meth:`rl.readout.Readout.read`)."""
        d, st = self.sim.dev, self.sim.static
        state = (d["Q"], d["QU"], d["T"], d["DSCALE"], d["SP"], d["SS"], d["ST"], d["ACC"], d["AQ"], d["AQMAX"])
        self.kernel[self.sim.grid](state, st[0], st[1], st[3], self.oa, self.weights, self.scratch, self.obs,
                                   self.prev, self.cur, self.rew, float(dt), bool(adopt), bool(observe))
        cuda.synchronize()
        start = time.perf_counter()
        obs = self.obs.copy_to_host() if observe else None
        reading = Reading(obs, self.cur.copy_to_host(), self.rew.copy_to_host())
        self.copy_s += time.perf_counter() - start
        return reading
