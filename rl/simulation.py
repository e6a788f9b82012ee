"""The pure part of the environments: B controlled network copies stepped in one batched call.

:class:`ControlledNetwork` is shared by :class:`rl.env.TrafficSignalEnv` (B = 1) and
:class:`rl.vec_env.BatchedVecEnv` (B = n_envs): observation, reward, info and episode end are
computed here once, as functions of the batched simulator's state, by the readout of the batch's
backend (:mod:`rl.readout`: numba-cpu, or a kernel next to the step on the GPU, so that only the
observation, the measure vector and the reward cross to the host).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping

import numpy as np

from rl.config import EnvConfig
from rl.errors import RLError
from rl.features import M_APPROACH, M_DELAY, M_ENTERED, M_QUEUED, M_STORED, M_THROUGHPUT, M_TIME
from rl.observation import build_layout, detector_occupied
from rl.readout import make_readout
from rl.rewards import get_reward

#: copies whose clocks differ by more than this fraction of a decision interval are out of step.
#: The solver stops an interval within 1e-9 t_end of its end (a few microseconds at t ~ 3600 s),
#: so clocks of copies in step may differ by that much; copies reset at different decisions
#: differ by whole intervals.
OUT_OF_STEP = 0.1


class ControlledNetwork:
    """B copies of one signalised network with decisions every ``decision_interval`` s.

    Args:
        cfg: resolved environment configuration.
        scenario: the validated network scenario of ``cfg.scenario``.
        batch: number of copies B.

    Attributes:
        sim: the batched network (:func:`solver.backends.make_batched_network`); net: its compiled network.
        layout: observation layout; nvec: phases per signal (the action's MultiDiscrete nvec).
    """

    def __init__(self, cfg: EnvConfig, scenario, batch: int = 1, dtype: str | None = None):
        from solver.backends import make_batched_network
        from solver.network.batch import BatchedNetwork
        from solver.network.compile import build_network

        self.cfg = cfg
        self.net = build_network(scenario)
        if not self.net.signals:
            raise RLError(f"scenario {cfg.scenario} has no signal to control; add a signal to a junction")
        # float32 state on the GPU: T4-class GPUs are slow in float64; the CPU runs float64
        dtype = dtype or ("float32" if cfg.device == "gpu" else "float64")
        self.sim = make_batched_network(self.net, batch, device=cfg.device, dtype=dtype)
        link = scenario.observe.link if scenario.observe else None
        self.layout = build_layout(self.net, cfg.observed_cells, link, cfg.upstream_bins,
                                   cfg.episode_length if cfg.clock else 0.0)
        self.readout = make_readout(self.sim, self.layout, get_reward(cfg.reward)(self.net))
        self.on_device = not isinstance(self.sim, BatchedNetwork)  # the GPU batch: keep the read observation
        self.nvec = np.array(self.net.n_phases, np.int64)
        from rl.signal_plans import phase_greens

        self._phase_approaches = phase_greens(self.net)  # per signal, per phase: approach indices
        self.demand_scale = np.ones(batch)
        self.fixed_scale: np.ndarray | None = None  # (B,): per-copy multipliers that replace the draws
        self.decisions = np.zeros(batch, np.int64)  # decisions taken in the current episode, per copy
        self._before = self.readout.read(observe=False).measures  # measure vectors (B, M) at the interval start
        self._obs: np.ndarray | None = None  # the GPU's observation read with the last step or reset
        #: wall seconds spent in :meth:`step` advancing the solver (on the GPU: the kernel, waited
        #: for) and reading observations, rewards and measures (the readout, copies included)
        self.step_s = {"advance_s": 0.0, "readout_s": 0.0}
        self.advisor = make_advisor(self) if cfg.advisor else None
        names = [f"advisor phase {p} {sid}" for sid, n in zip(self.net.signals, self.nvec, strict=True) for p in range(int(n))]
        #: the features of :meth:`observe`: the layout's, then the advisor's one-hot request (if any)
        self.feature_names = list(self.layout.names) + (names if self.advisor is not None else [])
        self.obs_size = len(self.feature_names)

    @property
    def B(self) -> int:
        """Number of copies."""
        return self.sim.B

    def measured_demand(self) -> np.ndarray:
        """The demand level each copy has measured so far: the vehicles that arrived at the
        network's entries since the reset (both classes, whether they entered or wait in an entry
        queue: what a detector upstream of each entry counts) over the arrivals the scenario's
        demand profiles give up to the copy's clock at a multiplier of 1
        (:func:`nominal_arrivals`). Where demand is a deterministic profile times a multiplier (the
        registered environments) it equals the copy's multiplier from the first interval on;
        before any arrival (the reset) it is 1. Shapes: (B,), dimensionless."""
        m = self._before
        arrived = m[:, M_ENTERED] + m[:, M_ENTERED + 1]
        nominal = nominal_arrivals(self.net.topo, m[:, M_TIME])
        return np.where(nominal > 0, arrived / np.maximum(nominal, 1e-12), 1.0)

    def reset(self, index: np.ndarray, rngs: list[np.random.Generator]) -> None:
        """Reset copies ``index``, each drawing its demand multiplier from its own generator (or
        taking ``fixed_scale[index]`` when :attr:`fixed_scale` is set, e.g. the stratified
        validation copies of :func:`rl.config.stratified_scales`).

        Shapes: index (n,); rngs: n generators in the same order.
        """
        lo, hi = self.cfg.demand_scale
        if self.fixed_scale is not None:
            scale = np.asarray(self.fixed_scale, float)[np.asarray(index)]
        else:
            scale = np.array([lo if lo == hi else rng.uniform(lo, hi) for rng in rngs])
        self.sim.reset(index=index, demand_scale=scale[:, None])
        self.demand_scale[index] = scale
        self.decisions[index] = 0
        # the other copies have not moved since the last adopted read: their interval start stays
        reading = self.readout.read(observe=self.on_device)
        self._obs = reading.obs
        self._before[index] = reading.measures[index]

    def load_copies(self, src: ControlledNetwork, rows: np.ndarray) -> None:
        """Make copy i an exact copy of ``src``'s copy ``rows[i]`` (state, signals, demand, the
        interval start and the decision count): what a look-ahead (:mod:`rl.rollout`) starts from.
        Both on the CPU. Shapes: rows (B,) int into ``src``'s copies."""
        from solver.network.batch import state_layout

        rows = np.asarray(rows, np.int64)
        for name in (*state_layout(self.net), "Q0MASS"):
            getattr(self.sim, name)[:] = getattr(src.sim, name)[rows]
        self.readout.prev[:] = src.readout.prev[rows]
        self.readout.cur[:] = src.readout.cur[rows]
        self._before[:] = src._before[rows]
        self.demand_scale[:] = src.demand_scale[rows]
        self.decisions[:] = src.decisions[rows]

    def observe(self) -> np.ndarray:
        """Observation of every copy. Shapes: (B, D) float32.

        On the GPU, the one read with the last step or reset (the device state changes only
        there); on the CPU, read anew from the host state (which a caller may have edited).
        """
        obs = self._raw_observe()
        if self.advisor is None:
            return obs
        return np.concatenate([obs, advisor_onehot(self.advisor.act(obs, self), self.nvec)], axis=1)

    def _raw_observe(self) -> np.ndarray:
        """The layout's features alone (no advisor). Shapes: (B, layout.size) float32."""
        if self.on_device and self._obs is not None:
            return self._obs
        return self.readout.read(adopt=False).obs

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Hold the requested phases for one decision interval.

        Args:
            actions: requested phase per copy and signal. Shapes: (B, S) int.

        Returns:
            rewards (B,), truncated (B,) bool, interval measures (each with leading axis B):
            ``delay`` (veh s, (B, 2)), ``throughput`` and ``arrived`` (veh, (B, 2)), ``queue``
            (mean queue per approach, m, (B, A)), ``residual`` (conservation ledger, veh, (B, 2)),
            ``time`` (s, (B,)).
        """
        clocks = self._before[:, M_TIME]
        if self.B > 1 and np.ptp(clocks) > OUT_OF_STEP * self.cfg.decision_interval:
            raise RLError(f"copies are out of step in time (clocks {clocks.min():g} .. {clocks.max():g} s): "
                          "episodes have one length, so reset all copies together")
        dt = self.cfg.decision_interval
        requests = max_green_guard(*self._green_state(), np.asarray(actions, np.int64).reshape(self.B, -1), self.nvec)
        start = time.perf_counter()
        self.sim.advance(dt, requests)
        middle = time.perf_counter()
        reading = self.readout.read(dt, observe=self.on_device)
        self.step_s["advance_s"] += middle - start
        self.step_s["readout_s"] += time.perf_counter() - middle
        self._obs = reading.obs
        info = interval_info(self._before, reading.measures, self.sim.Q0MASS, dt, len(self.net.approaches))
        self._before = reading.measures
        self.decisions += 1
        truncated = self.decisions >= self.cfg.n_decisions
        return reading.reward, truncated, info

    def _green_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Phase shown and "must end" per copy and signal, (B, S) each: in green (not clearance)
        for at least max green while another phase has a call (:func:`conflicting_calls`; as in
        an actuated controller, max green only ends a green that someone else is waiting for).
        On the CPU from the host state, the observation read only when some green reached max
        green (a fresh read cost 10 % of a step); on the GPU from the observation read with the
        last step (no extra copy)."""
        if self.on_device:
            obs = self._raw_observe()
            shown, at_max = green_state_from_obs(obs, self.nvec)
        else:
            sim, obs = self.sim, None
            shown = np.asarray(sim.SP)
            at_max = (np.asarray(sim.SS) == 0) & (np.asarray(sim.ST) >= self.layout.max_green - 1e-9)
        if at_max.any():
            obs = self._raw_observe() if obs is None else obs
            at_max &= conflicting_calls(obs, shown, self._phase_approaches, len(self.net.approaches))
        return shown, at_max


def nominal_arrivals(topo, t) -> np.ndarray:
    """Vehicles (both classes, all entries) the scenario's demand profiles bring from 0 to ``t``
    at a demand multiplier of 1: the exact integral of the rate the solver's entries use
    (``solver.kernels.network.demand_rate``: linear interpolation or steps between the points,
    the end values held outside them). Shapes: t (n,) s; returns (n,) veh."""
    times, where = np.unique(np.atleast_1d(np.asarray(t, float)), return_inverse=True)  # copies share a clock
    total = np.zeros_like(times)
    for e in range(topo.dem_np.shape[0]):
        for k in range(2):
            n = int(topo.dem_np[e, k])
            ts, vs = np.asarray(topo.dem_t[e, k, :n], float), np.asarray(topo.dem_v[e, k, :n], float)
            for i, ti in enumerate(times):
                total[i] += _profile_integral(ts, vs, bool(topo.dem_lin[e]), ti)
    return total[where.reshape(-1)]


def _profile_integral(ts: np.ndarray, vs: np.ndarray, linear: bool, t: float) -> float:
    """The integral from 0 to ``t`` (s) of one demand profile (veh/s at the points ``ts``, s)."""
    if t <= 0:
        return 0.0
    if linear:
        grid = np.concatenate([[0.0], ts[(ts > 0) & (ts < t)], [t]])
        rate = np.interp(grid, ts, vs)
        return float(np.sum(0.5 * (rate[1:] + rate[:-1]) * np.diff(grid)))
    # steps: the value of point i - 1 holds on [ts[i-1], ts[i]); before ts[0] and after the last, the end values
    edges = np.concatenate([[0.0], np.clip(ts[1:], 0.0, t), [t]])
    return float(np.sum(vs * np.maximum(np.diff(edges), 0.0)))


def make_advisor(core: ControlledNetwork):
    """The advisor of ``core.cfg`` (:data:`rl.config.ADVISORS`) with its parameters, reset on ``core``."""
    from rl.controllers import make_controller

    advisor = make_controller(core.cfg.advisor)
    for name, value in core.cfg.advisor_params:
        setattr(advisor, name, value)
    advisor.reset(core)
    return advisor


def advisor_onehot(requests: np.ndarray, nvec: np.ndarray) -> np.ndarray:
    """One-hot of the requested phase per signal, signal-major. Shapes: requests (B, S) int;
    returns (B, sum(nvec)) float32."""
    requests = np.asarray(requests, np.int64).reshape(len(requests), -1)
    offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
    out = np.zeros((len(requests), int(np.sum(nvec))), np.float32)
    out[np.arange(len(requests))[:, None], offsets[None, :] + requests] = 1.0
    return out


def advisor_requests(onehot: np.ndarray, nvec) -> np.ndarray:
    """The requests that :func:`advisor_onehot` encoded. Shapes: onehot (N, sum(nvec)); returns (N, S) int64."""
    offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]]).astype(np.int64)
    return np.stack([onehot[:, o:o + int(n)].argmax(axis=1) for o, n in zip(offsets, nvec, strict=True)], axis=1)


def conflicting_calls(obs: np.ndarray, shown: np.ndarray, phase_approaches, n_approaches: int) -> np.ndarray:
    """Whether another phase has a call: an approach it serves, and the phase shown does not, with
    its detector zone occupied (:func:`rl.observation.detector_occupied`, as actuated detects it).

    Shapes: obs (B, D); shown (B, S) int; phase_approaches: per signal, per phase, the indices of
    the approaches it serves (:func:`rl.signal_plans.phase_greens`). Returns (B, S) bool.
    """
    occupied = detector_occupied(obs, n_approaches)
    out = np.zeros(np.shape(shown), bool)
    for s, phases in enumerate(phase_approaches):
        for p, own in enumerate(phases):
            waiting = sorted({a for q, served in enumerate(phases) if q != p for a in served} - set(own))
            if waiting:
                out[:, s] |= (shown[:, s] == p) & occupied[:, waiting].any(axis=1)
    return out


def green_state_from_obs(obs: np.ndarray, nvec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phase shown and "in green for at least max green" per copy and signal, from an
    observation's last blocks (phase one-hot, clearance flag, ``min(t / max_green, 1)``).
    Shapes: obs (B, D); nvec (S,). Returns (B, S) int64 and (B, S) bool."""
    S = len(nvec)
    starts = obs.shape[1] - 2 * S - int(np.sum(nvec)) + np.concatenate([[0], np.cumsum(nvec)[:-1]]).astype(int)
    shown = np.stack([obs[:, a:a + n].argmax(axis=1) for a, n in zip(starts, nvec, strict=True)], axis=1)
    clear, stage = obs[:, obs.shape[1] - 2 * S:obs.shape[1] - S], obs[:, obs.shape[1] - S:]
    return shown.astype(np.int64), (clear < 0.5) & (stage >= 1.0 - 1e-6)


def max_green_guard(shown: np.ndarray, at_max: np.ndarray, requests: np.ndarray, nvec: np.ndarray) -> np.ndarray:
    """End greens that have lasted their signal's max green: the scenario's ``max_green`` binds
    every controller, PPO included (the signal kernel enforces min green and clearance itself).

    Where ``at_max`` (a signal in green, not clearance, for at least ``max_green``, with a call
    on another phase) and the request keeps the phase shown, the next phase in the scenario's
    order is asked instead; a request for another phase stands. Decisions come every
    ``decision_interval`` s, so a green lasts at most ``max_green`` rounded up to the next decision.

    Shapes: shown, at_max, requests (B, S) (int, bool, int); nvec (S,) phases per signal.
    Returns (B, S) int64.
    """
    out = np.array(requests, np.int64, copy=True)
    keep = np.asarray(at_max, bool) & (out == shown)
    return np.where(keep, (np.asarray(shown, np.int64) + 1) % np.asarray(nvec)[None, :], out)


def interval_info(before: np.ndarray, after: np.ndarray, q0mass: np.ndarray, dt: float,
                  n_approaches: int) -> dict[str, np.ndarray]:
    """The step info of every copy from the measure vectors at the interval's start and end.

    Shapes: before after (B, M) (:mod:`rl.features`); q0mass (B, 2) vehicles on the links at reset.
    Returns the arrays documented in :meth:`ControlledNetwork.step`.
    """
    A = n_approaches
    change = after - before
    def pair(slot):
        return after[:, slot:slot + 2]
    stored = pair(M_STORED) - q0mass
    return {"delay": change[:, M_DELAY:M_DELAY + 2], "throughput": change[:, M_THROUGHPUT:M_THROUGHPUT + 2],
            "arrived": change[:, M_ENTERED:M_ENTERED + 2], "queue": change[:, M_APPROACH:M_APPROACH + A] / dt,
            "residual": pair(M_ENTERED) - pair(M_THROUGHPUT) - stored - pair(M_QUEUED),
            "time": after[:, M_TIME].copy()}


def info_row(info: dict[str, np.ndarray], b: int) -> dict:
    """The info dict of copy b (arrays lose their batch axis)."""
    return {k: v[b] for k, v in info.items()}


class CopyInfo(MutableMapping):
    """The info of copy b as a mapping that indexes the batch's arrays when a key is read.

    :class:`rl.vec_env.BatchedVecEnv` returns one per copy and step: building a dict of row views
    for each of 4,096 copies took 37 ms a step (on 2 loaded cores; the GPU env's advance of those
    copies takes ~50 ms), and PPO reads none of them. Keys set on it (``terminal_observation``,
    ``episode``) are its own; a set key hides the batch's. Reads give what :func:`info_row` gives.
    """

    __slots__ = ("_batch", "_b", "_own")

    def __init__(self, batch: dict[str, np.ndarray], b: int):
        self._batch, self._b, self._own = batch, b, None

    def __getitem__(self, key):
        if self._own is not None and key in self._own:
            return self._own[key]
        return self._batch[key][self._b]

    def __setitem__(self, key, value) -> None:
        if self._own is None:
            self._own = {}
        self._own[key] = value

    def __delitem__(self, key) -> None:
        if self._own is None or key not in self._own:
            raise KeyError(f"{key!r} is the batch's (only keys set on this copy's info can be deleted)")
        del self._own[key]

    def __iter__(self):
        yield from self._batch
        if self._own is not None:
            yield from (k for k in self._own if k not in self._batch)

    def __len__(self) -> int:
        own = 0 if self._own is None else sum(k not in self._batch for k in self._own)
        return len(self._batch) + own

    def __repr__(self) -> str:
        return f"CopyInfo({dict(self)!r})"
