"""Rewards registered by name, each as weights over the measure vector of :mod:`rl.features`.

Every reward has the one form :func:`rl.features.interval_reward` computes per copy (on the CPU
and, next to the step, on the GPU)::

    r = sum(lin * (after - before)) / dt + absw * |sum(cur * after)|

with ``before``/``after`` the measure vectors at the start and end of the interval and ``dt`` its
length (s). A registered reward is a function of the compiled network returning its
:class:`RewardWeights`. Rewards are scaled to be of order one:

| name | reward |
|---|---|
| ``delay`` | ``-(D(t+dt) - D(t)) / (dt * 100 veh)``, D the cumulative delay (veh s), both classes |
| ``queue`` | minus the mean queued fraction of the approaches' length in the interval |
| ``pressure`` | ``-|vehicles on signalised approaches - vehicles on their junctions' exits| / 100`` |
| ``throughput`` | vehicles leaving the network per second in the interval (veh/s) |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from rl.errors import UnknownNameError
from rl.features import M_APPROACH, M_DELAY, M_THROUGHPUT, measure_size

DELAY_SCALE_VEH = 100.0  # delayed vehicles that give a reward of -1
PRESSURE_SCALE_VEH = 100.0


class RewardWeights(NamedTuple):
    """``lin`` (M,) weights of the interval's change, ``cur`` (M,) of the end state, ``absw`` of
    the end state's absolute value (see the module docstring). float64."""

    lin: np.ndarray
    cur: np.ndarray
    absw: float


RewardFn = Callable[[object], RewardWeights]


def _zeros(net) -> tuple[np.ndarray, np.ndarray]:
    m = measure_size(len(net.approaches), len(net.links))
    return np.zeros(m), np.zeros(m)


def delay_reward(net) -> RewardWeights:
    """Minus the mean number of fully delayed vehicles in the interval / 100."""
    lin, cur = _zeros(net)
    lin[M_DELAY:M_DELAY + 2] = -1.0 / DELAY_SCALE_VEH
    return RewardWeights(lin, cur, 0.0)


def queue_reward(net) -> RewardWeights:
    """Minus the mean queued fraction of the approaches' length in the interval."""
    lin, cur = _zeros(net)
    length = sum(float(net.lk_dx[net.links.index(a.link)]) * (net.link_slice(a.link).stop
                 - net.link_slice(a.link).start) for a in net.approaches)
    lin[M_APPROACH:M_APPROACH + len(net.approaches)] = -1.0 / length
    return RewardWeights(lin, cur, 0.0)


def pressure_reward(net) -> RewardWeights:
    """Minus |vehicles on signalised approaches - vehicles on their junctions' exits| / 100."""
    lin, cur = _zeros(net)
    signalised = {a.junction for a in net.approaches if a.signal >= 0}
    links = M_APPROACH + 2 * len(net.approaches)
    for a in net.approaches:
        if a.junction in signalised:
            cur[links + net.links.index(a.link)] += 1.0
    for lk in net.scenario.links:
        if lk.start in signalised:
            cur[links + net.links.index(lk.id)] -= 1.0
    return RewardWeights(lin, cur, -1.0 / PRESSURE_SCALE_VEH)


def throughput_reward(net) -> RewardWeights:
    """Vehicles leaving the network per second in the interval (veh/s)."""
    lin, cur = _zeros(net)
    lin[M_THROUGHPUT:M_THROUGHPUT + 2] = 1.0
    return RewardWeights(lin, cur, 0.0)


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


def link_vehicles(sim, links: list[str]) -> np.ndarray:
    """Vehicles (both classes) on the given links per copy, from the host state (the max-pressure
    controllers read it). Shapes: (B,)."""
    total = np.zeros(sim.B)
    for link in links:
        dx = float(sim.net.lk_dx[sim.net.links.index(link)])
        total += sim.link_density(link).sum(axis=(1, 2)) * dx
    return total
