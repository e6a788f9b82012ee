"""The batched stepping API: B independent copies of one network advanced in one call.

Typical use (controllers, the RL environment)::

    net = build_network(load_scenario("scenarios/intersection_4arm.yml"))
    sim = BatchedNetwork(net, batch=64)
    sim.reset(demand_scale=rng.uniform(0.8, 1.2, size=(64, 1)))
    sim.advance(5.0, requested_phase)   # (64, n_signals) int
    sim.ledger(), sim.measures(), sim.state_view()
"""

from __future__ import annotations

import numpy as np

from solver.errors import NumericalError
from solver.kernels import link as K
from solver.kernels import network as KN
from solver.kernels.common import generic_paths
from solver.network.compile import Network, max_degree
from solver.threads import default_threads, run_claimed


def state_layout(net: Network) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every per-copy array of a batched network: name -> (shape without the batch axis, kind).

    Kind ``real`` is the state's precision, ``f64`` time and accumulators (float64 on every
    backend), ``i64`` signal indices and counters. The CPU batch puts the batch axis first, the
    GPU batch last (:func:`state_arrays`). W, QW, SCR and GREEN are the step's scratch.
    """
    E, S, A, N = len(net.entries), len(net.signals), len(net.approaches), net.n_cells
    return {"Q": ((4, N), "real"), "QU": ((E, 2), "real"), "T": ((), "f64"),
            "DSCALE": ((E,), "real"), "SP": ((S,), "i64"), "SS": ((S,), "i64"),
            "ST": ((S,), "f64"), "SN": ((S,), "i64"), "REQ": ((S,), "i64"),
            "W": ((KN.N_WORK, 4, N), "real"), "QW": ((KN.N_QWORK, E, 2), "real"),
            "SCR": ((6, max_degree(net.topo)), "real"), "GREEN": ((A,), "real"),
            "ACC": ((2, KN.N_ACC), "f64"), "AQ": ((A,), "f64"), "AQMAX": ((A,), "f64"),
            "STEPS": ((), "i64"), "FAIL": ((), "i64")}  # fmt: skip


def state_arrays(net: Network, batch: int, dtype: str = "float64",
                 batch_last: bool = False) -> dict[str, np.ndarray]:
    """Zeroed arrays of :func:`state_layout` for ``batch`` copies, ``real`` ones in ``dtype``,
    the batch axis first (CPU) or last (``batch_last``, the GPU's coalesced layout)."""
    kinds = {"real": dtype, "f64": np.float64, "i64": np.int64}
    out = {}
    for name, (shape, kind) in state_layout(net).items():
        out[name] = np.zeros((*shape, batch) if batch_last else (batch, *shape), kinds[kind])
    return out


def cell_lengths(net: Network) -> np.ndarray:
    """Length (m) of every cell of the flat axis, 0 for ghost cells: vehicles on the links of a
    state ``q`` (4, Ncells) are ``q[0::2] @ cell_lengths(net)`` per class. Shapes: (Ncells,)."""
    out = np.zeros(net.n_cells)
    for l, (off, n) in enumerate(net.lk):
        out[off + K.NG: off + K.NG + n] = net.lk_dx[l]
    return out


def invalid_state_error(t_end: float, failed, where: str = "") -> NumericalError:
    """The error of an advance that could not keep positivity or left a non-finite value."""
    return NumericalError(f"network state became invalid near t = {t_end:g} s{where} (copies "
                          f"{np.flatnonzero(failed).tolist()}); report it as a bug")


def checked_requests(net: Network, batch: int, requested) -> np.ndarray:
    """Requested phases as a (batch, S) int64 array.

    Raises:
        ValueError: a requested phase does not exist at its signal.
    """
    req = np.asarray(requested, np.int64).reshape(batch, -1)
    if req.size and (req.min() < 0 or req.max() >= min(net.n_phases) and (req >= np.array(net.n_phases)).any()):
        raise ValueError(f"requested phases {req.tolist()} outside 0..n_phases-1 {net.n_phases}")
    return req


class NetworkReadout:
    """Ledger, measures and densities of a batch, shared by the CPU and GPU batches.

    Reads ``net``, ``B``, ``Q``, ``QU``, ``ACC``, ``AQ``, ``AQMAX``, ``Q0MASS`` (batch axis first)
    and :meth:`stored` of the class it is mixed into.
    """

    def mass_of(self, q: np.ndarray) -> np.ndarray:
        """Vehicles on the links of states ``q`` (..., 4, Ncells) per class. Shapes: (..., 2)."""
        if not hasattr(self, "_cell_lengths"):
            self._cell_lengths = cell_lengths(self.net)
        return np.asarray(q, np.float64)[..., 0::2, :] @ self._cell_lengths

    def stored(self) -> np.ndarray:
        """Vehicles on the links per copy and class. Shapes: (B, 2)."""
        raise NotImplementedError

    def ledger(self) -> dict[str, np.ndarray]:
        """Per copy and class: entered - exited - stored - queued = residual (veh). Each (B, 2)."""
        entered = self.ACC[:, :, KN.ARRIVED]
        exited = self.ACC[:, :, KN.EXITED]
        stored = self.stored() - self.Q0MASS
        queued = np.asarray(self.QU, np.float64).sum(axis=1)
        return {"entered": entered, "exited": exited, "stored": stored, "queued": queued,
                "residual": entered - exited - stored - queued}

    def measures(self) -> dict[str, np.ndarray]:
        """Cumulative traffic measures since reset.

        Returns:
            ``tts``, ``delay`` (veh s, (B, 2)), ``throughput`` (veh, (B, 2)), ``entry_queue``
            (veh, (B, 2)), ``queue_ms`` and ``queue_max_m`` per approach ((B, A)).
        """
        acc = self.ACC
        return {"tts": acc[:, :, KN.TTS].copy(), "delay": acc[:, :, KN.DELAY].copy(),
                "throughput": acc[:, :, KN.EXITED].copy(),
                "entry_queue": np.asarray(self.QU, np.float64).sum(axis=1),
                "queue_ms": self.AQ.copy(), "queue_max_m": self.AQMAX.copy()}

    def link_density(self, link: str) -> np.ndarray:
        """Densities of one link. Shapes: (B, 2, n) veh/m (motorcycles, cars)."""
        return self.Q[:, [0, 2], self.net.link_slice(link)]


class BatchedNetwork(NetworkReadout):
    """State and stepping of B copies of one network (numba-cpu backend).

    Args:
        net: compiled network.
        batch: number of independent copies B.
        threads: worker threads (default: all cores); copies are split into contiguous ranges.

    Attributes (all with a leading batch axis B):
        Q: (B, 4, Ncells) conserved variables; QU: (B, E, 2) entry queues, veh;
        T: (B,) time, s; SP/SS/SN/REQ: (B, S) signal phase, stage, next, requested; ST: (B, S)
        time in stage, s; DSCALE: (B, E) demand multipliers; ACC: (B, 2, N_ACC) cumulative
        per-class measures (``solver.kernels.network.ARRIVED`` ...); AQ, AQMAX: (B, A) approach queue
        integral (m s) and maximum (m).
    """

    def __init__(self, net: Network, batch: int = 1, threads: int | None = None):
        self.net = net
        self.B = int(batch)
        self.threads = max(1, int(threads or default_threads()))
        self.numerics = net.numerics()
        self.generic = generic_paths(self.numerics.kind, self.numerics.par)  # None: common-case paths only
        self.reset()

    def reset(self, index=None, demand_scale=None) -> None:
        """Put copies back to the scenario's initial state.

        Args:
            index: copies to reset (None: all; every array is then allocated anew).
            demand_scale: demand multipliers for those copies, scalar or (len(index), E).
        """
        if index is None:
            self.__dict__.update(state_arrays(self.net, self.B))
            self.Q0MASS = np.zeros((self.B, 2))
            index = np.arange(self.B)
        index = np.atleast_1d(index)
        self.Q[index] = self.net.q0
        self.QU[index] = 0.0
        self.T[index] = 0.0
        for arr in (self.SP, self.SS, self.SN, self.REQ, self.ST, self.ACC, self.AQ, self.AQMAX):
            arr[index] = 0
        self.DSCALE[index] = 1.0 if demand_scale is None else demand_scale
        self.Q0MASS[index] = self.mass_of(self.net.q0)

    def advance(self, duration: float, requested=None, max_steps: int = 10**7) -> None:
        """Advance every copy by ``duration`` s (each from its own time) holding the requested phases.

        Args:
            duration: simulated seconds (> 0).
            requested: phase requested per copy and signal, (B, S) int (None: keep the last).

        Raises:
            NumericalError: positivity could not be kept or a NaN appeared (a bug).
        """
        if requested is not None:
            self.REQ[:] = checked_requests(self.net, self.B, requested)
        n = self.net  # the kernel counts non-finite values into FAIL: no numpy pass over Q here
        run_claimed(KN.advance_network_range, self.B, self.threads, self.Q, self.QU, self.T,
                    float(duration), max_steps, n.topo, self.DSCALE, self.SP, self.SS, self.ST, self.SN,
                    self.REQ, n.sig_static, n.obs, self.numerics, self.W, self.QW, self.SCR, self.GREEN,
                    self.ACC, self.AQ, self.AQMAX, self.STEPS, self.FAIL, self.generic)
        if self.FAIL.any():
            t_end = float(self.T.max())
            raise invalid_state_error(t_end, (self.FAIL > 0) | ~np.isfinite(self.Q).all(axis=(1, 2)))

    def stored(self) -> np.ndarray:
        """Vehicles on the links per copy and class. Shapes: (B, 2)."""
        return self.mass_of(self.Q)
