"""The batched stepping API on the GPU: B copies of one network resident on the device.

:class:`CudaBatchedNetwork` has the public methods of :class:`solver.network.batch.BatchedNetwork`
(``reset``, ``advance``, ``stored``, ``ledger``, ``measures``, ``link_density``) and its state
attributes (``Q``, ``QU``, ``T``, ``SP`` ...) as host copies made on demand, batch axis first as on
the CPU. On the device every array has the batch axis last (see :mod:`solver.kernels.cuda`).
One :meth:`advance` is one kernel launch; between launches only the requested phases go up and
the times and failure counts come down.
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import cuda

from solver.errors import BackendError
from solver.kernels import cuda as KG
from solver.kernels.link import NG
from solver.network.batch import NetworkReadout, checked_requests, invalid_state_error
from solver.network.batch import state_arrays as batch_state_arrays
from solver.network.compile import Network, Topology

#: device arrays exposed as host copies, batch axis moved first
STATE_NAMES = ("Q", "QU", "T", "DSCALE", "SP", "SS", "SN", "REQ", "ST", "ACC", "AQ", "AQMAX",
               "STEPS", "FAIL")  # fmt: skip


def stored_kernel(Q, lk, lk_dx, OUT):
    """Vehicles on the links per class and copy, ``OUT[k, b]`` (veh, float64).

    Shapes: Q (4, Ncells, B); OUT (2, B).
    """
    b = cuda.grid(1)
    if b >= OUT.shape[1]:
        return
    m, c = 0.0, 0.0
    for l in range(lk.shape[0]):
        sm, sc = 0.0, 0.0
        for i in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
            sm += float(Q[0, i, b])
            sc += float(Q[2, i, b])
        m += sm * lk_dx[l]
        c += sc * lk_dx[l]
    OUT[0, b] = m
    OUT[1, b] = c


def reset_kernel(mask, q0, Q, QU, T, SP, SS, SN, REQ, ST, ACC, AQ, AQMAX):
    """Put the copies with ``mask[b] != 0`` back to the initial state ``q0`` (4, Ncells)."""
    b = cuda.grid(1)
    if b >= T.shape[0] or mask[b] == 0:
        return
    for v in range(Q.shape[0]):
        for c in range(Q.shape[1]):
            Q[v, c, b] = q0[v, c]
    for e in range(QU.shape[0]):
        QU[e, 0, b] = 0.0
        QU[e, 1, b] = 0.0
    T[b] = 0.0
    for s in range(SP.shape[0]):
        SP[s, b], SS[s, b], SN[s, b], REQ[s, b], ST[s, b] = 0, 0, 0, 0, 0.0
    for k in range(2):
        for i in range(ACC.shape[1]):
            ACC[k, i, b] = 0.0
    for a in range(AQ.shape[0]):
        AQ[a, b], AQMAX[a, b] = 0.0, 0.0


_BOOKKEEPING: dict = {}


def _bookkeeping() -> dict:
    """The stored/reset kernels, jitted once (numba specialises them per dtype)."""
    if not _BOOKKEEPING:
        _BOOKKEEPING.update(stored=cuda.jit(stored_kernel), reset=cuda.jit(reset_kernel))
    return _BOOKKEEPING


def _cuda():
    if not cuda.is_available():
        raise BackendError("numba-cuda finds no usable GPU (no NVIDIA driver or device here): "
                           "use device 'cpu' or 'auto', or run on a GPU machine")  # fmt: skip
    return cuda


def static_arguments(net: Network, dtype: str) -> tuple:
    """The advance kernel's read-only arguments after the state (host arrays and scalars).

    ``(topo, sig_static, obs, num)`` as in ``solver.kernels.network.advance_network_range``: state-like
    values in ``dtype``, times and indices as they are, ``num.flush`` the precision's
    :data:`solver.kernels.cuda.VACUUM_FLUSH`.
    """
    real = np.dtype(dtype)
    reals = {"lk_dx", "vmax", "dem_v", "beta"}
    topo = Topology(**{k: np.ascontiguousarray(a, real if k in reals else a.dtype)
                          for k, a in net.topo._asdict().items()})
    sig_times, app_sig, app_pos, sig_green = net.sig_static
    sig = (np.ascontiguousarray(sig_times, np.float64), app_sig, app_pos,
           np.ascontiguousarray(sig_green, real))
    app_link, thresh = net.obs
    return topo, sig, (app_link, real.type(thresh)), net.numerics(dtype, KG.VACUUM_FLUSH[dtype])


def on_device(value, to_device):
    """``value`` with every numpy array in it (nested tuples and NamedTuples) put on the device."""
    if isinstance(value, np.ndarray):
        return to_device(value)
    if isinstance(value, tuple):
        items = [on_device(v, to_device) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return value


def state_arrays(net: Network, batch: int, dtype: str) -> dict[str, np.ndarray]:
    """Zeroed host arrays of the per-copy state and scratch (:func:`solver.network.batch.state_layout`),
    batch axis last (see the kernel), plus ``STORED`` (2, B) for the stored-vehicles kernel."""
    out = batch_state_arrays(net, batch, dtype, batch_last=True)
    out["STORED"] = np.zeros((2, batch))
    return out


def advance_arguments(duration: float, max_steps: int, state: dict, static: tuple) -> tuple:
    """The advance kernel's arguments in order, from the state dict and the static tuple."""
    names = ("Q", "QU", "T", "DSCALE", "SP", "SS", "ST", "SN", "REQ", "W", "QW", "SCR", "GREEN",
             "ACC", "AQ", "AQMAX", "STEPS", "FAIL")  # fmt: skip
    return (float(duration), int(max_steps), *(state[k] for k in names), *static)


def _host_attr(name: str) -> property:
    def get(self) -> np.ndarray:
        if name not in self.host:  # one copy per state version (cleared by advance and reset)
            self.host[name] = np.ascontiguousarray(np.moveaxis(self.dev[name].copy_to_host(), -1, 0))
        return self.host[name]

    get.__doc__ = (f"Host copy of ``{name}`` with the batch axis first, made once per advance or "
                   "reset (writes do not go back to the device).")
    return property(get)


class CudaBatchedNetwork(NetworkReadout):
    """State and stepping of B copies of one network on the GPU (numba-cuda backend).

    Args:
        net: compiled network.
        batch: number of independent copies B.
        dtype: ``"float64"`` or ``"float32"``: precision of the state on the device (time and
            the measures' accumulators stay float64).
        threads_per_block: CUDA block size (one thread per copy); None:
            :data:`solver.kernels.cuda.THREADS_PER_BLOCK` on a GPU, 1 on the CUDA simulator.

    Attributes:
        dev: the device arrays by name (batch axis last). ``Q``, ``QU``, ``T`` ... (see
            :class:`solver.network.batch.BatchedNetwork`) are host copies, batch axis first.
    """

    def __init__(self, net: Network, batch: int = 1, dtype: str = "float64",
                 threads_per_block: int | None = None):
        self.cuda = _cuda()
        self.net, self.B, self.dtype = net, int(batch), dtype
        self.kernels = KG.compile_kernels(dtype)
        if threads_per_block is None:
            # the CUDA simulator runs a block's threads as Python threads, which contend for its
            # per-call locks (a lock convoy made 3 copies ~60x slower than 1), and blocks one
            # after another: there one copy per block gives the same numbers, in series
            threads_per_block = 1 if numba.config.ENABLE_CUDASIM else KG.THREADS_PER_BLOCK
        tpb = max(1, min(threads_per_block, self.B))  # no idle threads for tiny batches
        self.grid = ((self.B + tpb - 1) // tpb, tpb)
        self.shape = (len(net.entries), len(net.signals), len(net.approaches))
        to = self.cuda.to_device
        self.static = on_device(static_arguments(net, dtype), to)
        self.dev = {k: to(a) for k, a in state_arrays(net, self.B, dtype).items()}
        self.host: dict[str, np.ndarray] = {}
        self.q0_dev = self.cuda.to_device(np.ascontiguousarray(net.q0, dtype))
        self.DSCALE_host = np.ones((self.B, self.shape[0]))
        self.copy_s = 0.0  # wall seconds of the requests' upload and the failure counts' download
        self.reset()

    def reset(self, index=None, demand_scale=None) -> None:
        """Put copies back to the scenario's initial state (as :meth:`BatchedNetwork.reset`).

        Args:
            index: copies to reset (None: all).
            demand_scale: demand multipliers for those copies, scalar or (len(index), E).
        """
        index = np.arange(self.B) if index is None else np.atleast_1d(index)
        mask = np.zeros(self.B, np.int64)
        mask[index] = 1
        d = self.dev
        self.host.clear()
        _bookkeeping()["reset"][self.grid](
            self.cuda.to_device(mask), self.q0_dev, d["Q"], d["QU"], d["T"], d["SP"], d["SS"],
            d["SN"], d["REQ"], d["ST"], d["ACC"], d["AQ"], d["AQMAX"])  # fmt: skip
        self.DSCALE_host[index] = 1.0 if demand_scale is None else demand_scale
        d["DSCALE"].copy_to_device(np.ascontiguousarray(self.DSCALE_host.T, self.dtype))
        q0 = self.net.q0.astype(self.dtype).astype(np.float64)  # what the device holds
        self.Q0MASS = np.broadcast_to(self.mass_of(q0), (self.B, 2)).copy()

    def advance(self, duration: float, requested=None, max_steps: int = 10**7) -> None:
        """Advance every copy by ``duration`` s from its own time, holding the requested phases.

        One kernel launch; as :meth:`BatchedNetwork.advance`.

        Args:
            duration: simulated seconds (> 0).
            requested: phase requested per copy and signal, (B, S) int (None: keep the last).

        Raises:
            ValueError: a requested phase does not exist.
            NumericalError: positivity could not be kept or a NaN appeared (a bug).
        """
        d = self.dev
        self.host.clear()
        start = time.perf_counter()
        if requested is not None:
            req = checked_requests(self.net, self.B, requested)
            d["REQ"].copy_to_device(np.ascontiguousarray(req.T))
        self.copy_s += time.perf_counter() - start
        self.kernels.advance[self.grid](*advance_arguments(duration, max_steps, d, self.static))
        self.cuda.synchronize()  # the kernel's time is not the copy's
        start = time.perf_counter()
        fail = d["FAIL"].copy_to_host()
        self.copy_s += time.perf_counter() - start
        if fail.any():
            t_end = float(d["T"].copy_to_host().max())
            raise invalid_state_error(t_end, fail, " on the GPU")

    def synchronize(self) -> None:
        """Wait for the device to finish (for timing)."""
        self.cuda.synchronize()

    def stored(self) -> np.ndarray:
        """Vehicles on the links per copy and class (computed on the device). Shapes: (B, 2)."""
        d = self.dev
        lk, lk_dx = self.static[0].lk, self.static[0].lk_dx
        _bookkeeping()["stored"][self.grid](d["Q"], lk, lk_dx, d["STORED"])
        return d["STORED"].copy_to_host().T


for _name in STATE_NAMES:
    setattr(CudaBatchedNetwork, _name, _host_attr(_name))
