"""Rewards registered by name. Each maps the interval's change of the measures to (B,) floats.

A reward function takes ``(sim, before, after, dt)``: the batched simulator, the cumulative
measures (:meth:`solver.network.batch.BatchedNetwork.measures`) at the start and end of the interval,
and the interval length (s). Rewards are scaled to be of order one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rl.errors import UnknownNameError

DELAY_SCALE_VEH = 100.0  # delayed vehicles that give a reward of -1
PRESSURE_SCALE_VEH = 100.0

RewardFn = Callable[[object, dict, dict, float], np.ndarray]


def delay_reward(sim, before: dict, after: dict, dt: float) -> np.ndarray:
    """Minus the mean number of fully delayed vehicles in the interval / 100.

    ``-(D(t+dt) - D(t)) / (dt * 100 veh)`` with D the cumulative delay (veh s), both classes.
    """
    return -(after["delay"] - before["delay"]).sum(axis=1) / (dt * DELAY_SCALE_VEH)


def queue_reward(sim, before: dict, after: dict, dt: float) -> np.ndarray:
    """Minus the mean queued fraction of the approaches' length in the interval."""
    length = sum(float(sim.net.lk_dx[sim.net.links.index(a.link)]) * (sim.net.link_slice(a.link).stop
                 - sim.net.link_slice(a.link).start) for a in sim.net.approaches)
    return -(after["queue_ms"] - before["queue_ms"]).sum(axis=1) / (dt * length)


def pressure_reward(sim, before: dict, after: dict, dt: float) -> np.ndarray:
    """Minus |vehicles on signalised approaches - vehicles on their junctions' exits| / 100."""
    net = sim.net
    signalised = {a.junction for a in net.approaches if a.signal >= 0}
    ins = [a.link for a in net.approaches if a.junction in signalised]
    outs = [lk.id for lk in net.scenario.links if lk.start in signalised]
    return -np.abs(link_vehicles(sim, ins) - link_vehicles(sim, outs)) / PRESSURE_SCALE_VEH


def throughput_reward(sim, before: dict, after: dict, dt: float) -> np.ndarray:
    """Vehicles leaving the network per second in the interval (veh/s)."""
    return (after["throughput"] - before["throughput"]).sum(axis=1) / dt


def link_vehicles(sim, links: list[str]) -> np.ndarray:
    """Vehicles (both classes) on the given links per copy. Shapes: (B,)."""
    total = np.zeros(sim.B)
    for link in links:
        dx = float(sim.net.lk_dx[sim.net.links.index(link)])
        total += sim.link_density(link).sum(axis=(1, 2)) * dx
    return total


REWARDS: dict[str, RewardFn] = {
    "delay": delay_reward,
    "queue": queue_reward,
    "pressure": pressure_reward,
    "throughput": throughput_reward,
}


def get_reward(name: str) -> RewardFn:
    """Look a reward up by name (raises UnknownNameError listing the names)."""
    if name not in REWARDS:
        raise UnknownNameError("reward", name, list(REWARDS))
    return REWARDS[name]
