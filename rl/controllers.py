"""Classical signal controllers behind one :class:`Controller` protocol, chosen by name.

Every controller sees what PPO sees (the observation) plus the batched simulator
(:class:`rl.simulation.ControlledNetwork`) and returns the requested phase per copy and signal,
so one evaluation loop runs them all. The signal itself enforces min green and clearance.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rl.controllers_tuned import AdvancedMaxPressure, GapActuated
from rl.errors import UnknownNameError
from rl.observation import OCCUPIED, detector_occupied  # noqa: F401  (OCCUPIED: the documented threshold)
from rl.rewards import link_vehicles
from rl.signal_plans import approach_flows, phase_greens, saturation_flows, webster_plan


class Controller(Protocol):
    """Requests one phase per signal for B copies at each decision."""

    name: str

    def reset(self, core, seed: int | None = None) -> None:
        """Prepare for new episodes of ``core`` (a :class:`ControlledNetwork`)."""

    def act(self, obs: np.ndarray, core) -> np.ndarray:
        """Requested phases. Shapes: obs (B, D); returns (B, S) int."""


class FixedTime:
    """Webster plan (cycle and splits from the scenario's mean demand), phases in order."""

    name = "fixed-time"
    design_flow = "mean"

    def reset(self, core, seed=None) -> None:
        flows = approach_flows(core.net, core.cfg.episode_length, float(np.mean(core.cfg.demand_scale)),
                               self.design_flow)
        sat = saturation_flows(core.net, flows)
        self.plans = [webster_plan(core.net, s, flows, sat) for s in range(len(core.net.signals))]

    def act(self, obs, core) -> np.ndarray:
        t = core.sim.T
        out = np.zeros((core.B, len(self.plans)), np.int64)
        for s, plan in enumerate(self.plans):
            ends = np.cumsum(plan.greens + plan.lost)
            out[:, s] = np.searchsorted(ends, np.mod(t + 1e-6, ends[-1]), side="right")
        return out


class FixedTimePeak(FixedTime):
    """Webster plan designed for the peak of the demand profile (classic design-hour practice):
    a longer cycle that serves the peak, at the cost of more delay off-peak."""

    name = "fixed-time-peak"
    design_flow = "peak"


class Actuated:
    """Extend the green while a green approach's detector zone is occupied, up to max green."""

    name = "actuated"

    def reset(self, core, seed=None) -> None:
        self.greens = phase_greens(core.net)
        nodes = {n.id: n.signal for n in core.net.scenario.nodes}
        self.max_green = np.array([nodes[s].max_green for s in core.net.signals])

    def act(self, obs, core) -> np.ndarray:
        sim = core.sim
        occupied = detector_occupied(obs, len(core.net.approaches))  # (B, A)
        out = sim.SP.copy()
        for s, greens in enumerate(self.greens):
            demand = np.stack([occupied[:, g].any(axis=1) for g in greens], axis=1)  # (B, P)
            for b in range(core.B):
                out[b, s] = self._choose(sim, b, s, demand[b])
        return out

    def _choose(self, sim, b, s, demand) -> int:
        p = int(sim.SP[b, s])
        if sim.SS[b, s] != 0:
            return int(sim.SN[b, s])
        if demand[p] and sim.ST[b, s] < self.max_green[s]:
            return p
        P = len(demand)
        waiting = [q % P for q in range(p + 1, p + P) if demand[q % P]]
        return waiting[0] if waiting else p


class MaxPressure:
    """Varaiya's max pressure: the phase with the largest sum of (upstream - downstream) vehicles."""

    name = "max-pressure"

    def reset(self, core, seed=None) -> None:
        net = core.net
        self.greens = phase_greens(net)
        self.links = list(net.links)
        nodes = {n.id: n for n in net.scenario.nodes}
        outs = {a.index: [lk.id for lk in net.scenario.links if lk.start == a.junction] for a in net.approaches}
        self.weights = np.zeros((len(net.approaches), len(self.links)))  # w_a = W @ x
        for a in net.approaches:
            turning = (nodes[a.junction].turning or {}).get(a.link, {outs[a.index][0]: 1.0})
            self.weights[a.index, self.links.index(a.link)] += 1.0
            for o, beta in turning.items():
                self.weights[a.index, self.links.index(o)] -= beta
        self.entry_link = [next(lk.id for lk in net.scenario.links if lk.start == e) for e in net.entries]

    def act(self, obs, core) -> np.ndarray:
        sim = core.sim
        x = np.stack([link_vehicles(sim, [lk]) for lk in self.links], axis=1)  # (B, L) veh
        for e, link in enumerate(self.entry_link):
            x[:, self.links.index(link)] += sim.QU[:, e].sum(axis=1)
        w = x @ self.weights.T  # (B, A)
        out = np.zeros((core.B, len(self.greens)), np.int64)
        for s, greens in enumerate(self.greens):
            pressure = np.stack([w[:, g].sum(axis=1) for g in greens], axis=1)  # (B, P)
            best = pressure.argmax(axis=1)
            keep = pressure[np.arange(core.B), sim.SP[:, s]] >= pressure.max(axis=1) - 1e-9
            out[:, s] = np.where(keep, sim.SP[:, s], best)
        return out


class RandomController:
    """Uniformly random phase requests (seeded)."""

    name = "random"

    def reset(self, core, seed=None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs, core) -> np.ndarray:
        return self.rng.integers(0, core.nvec, size=(core.B, len(core.nvec)))


CONTROLLERS: dict[str, type] = {c.name: c for c in (FixedTime, FixedTimePeak, Actuated, GapActuated, MaxPressure,
                                                    AdvancedMaxPressure, RandomController)}


def make_controller(name: str) -> Controller:
    """A controller by name (the keys of :data:`CONTROLLERS`; the tuned ones with default parameters)."""
    if name not in CONTROLLERS:
        raise UnknownNameError("controller", name, list(CONTROLLERS))
    return CONTROLLERS[name]()
