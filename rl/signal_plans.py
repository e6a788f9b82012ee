"""Signal timing from the scenario: mean approach flows, saturation flows, Webster's plan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solver import physics
from solver.params import RHO_JAM


@dataclass(frozen=True)
class WebsterPlan:
    """Fixed-time plan of one signal.

    Attributes:
        cycle: s; greens, lost: per phase, s (lost = yellow + all-red before the phase's green).
    """

    cycle: float
    greens: np.ndarray
    lost: np.ndarray


def phase_greens(net) -> list[list[list[int]]]:
    """Approach indices given green, per signal and phase."""
    nodes = {n.id: n for n in net.scenario.nodes}
    out = []
    for s, sid in enumerate(net.signals):
        phases = nodes[sid].signal.phases
        out.append([[a.index for a in net.approaches if a.signal == s and a.link in ph.green] for ph in phases])
    return out


def approach_flows(net, horizon: float, scale: float = 1.0, statistic: str = "mean") -> dict[str, np.ndarray]:
    """Flow into every link over [0, horizon] s, propagated through the turning ratios.

    Args:
        statistic: ``mean`` (the average of the demand profile) or ``peak`` (its highest value per
            class: the design flow of classic signal timing).

    Returns:
        link id -> (2,) veh/s (motorcycles, cars).
    """
    reduce = {"mean": np.mean, "peak": np.max}[statistic]
    from solver.kernels.network import demand_rate

    topo = net.topo
    dem_t, dem_v, dem_np, dem_lin = topo.dem_t, topo.dem_v, topo.dem_np, topo.dem_lin
    times = np.linspace(0.0, horizon, 121)
    flows = {lk: np.zeros(2) for lk in net.links}
    links = net.scenario.links
    for e, node in enumerate(net.entries):
        link = next(lk.id for lk in links if lk.start == node)
        flows[link] = scale * np.array([reduce([demand_rate(e, k, t, dem_t, dem_v, dem_np, dem_lin)
                                                for t in times]) for k in range(2)])
    nodes = {n.id: n for n in net.scenario.nodes}
    for _ in range(len(links)):  # relax along the (acyclic) network
        for node in (n for n in net.scenario.nodes if n.kind == "junction"):
            outs = [lk.id for lk in links if lk.start == node.id]
            for o in outs:
                flows[o] = sum((flows[i] * (nodes[node.id].turning or {}).get(i, {o: 1.0}).get(o, 0.0)
                                for i in (lk.id for lk in links if lk.end == node.id)), np.zeros(2))
    return flows


def saturation_flows(net, flows: dict[str, np.ndarray]) -> dict[str, float]:
    """Capacity (veh/s) of every approach link's last cell at its demand's class mix."""
    par = net.par
    rho = np.linspace(0.0, par[RHO_JAM], 400)
    out = {}
    for a in net.approaches:
        f = flows[a.link]
        share = f[0] / f.sum() if f.sum() > 0 else 0.5
        c = net.link_slice(a.link).stop - 1
        vm, vc = net.vmax[0, c], net.vmax[1, c]
        q = [r * share * ve[0] + r * (1 - share) * ve[1]
             for r in rho for ve in [physics.equilibrium_speeds(r * share, r * (1 - share), vm, vc, par)]]
        out[a.link] = float(max(q))
    return out


def webster_plan(net, s: int, flows, sat, max_cycle: float = 150.0) -> WebsterPlan:
    """Webster's cycle ``C = (1.5 L + 5) / (1 - Y)`` and splits ``g_p ~ y_p`` for signal s."""
    sig = {n.id: n for n in net.scenario.nodes}[net.signals[s]].signal
    greens = phase_greens(net)[s]
    ratio = np.array([max((flows[net.approaches[a].link].sum() / sat[net.approaches[a].link] for a in g),
                          default=0.0) for g in greens])
    lost = np.full(len(greens), float(sig.yellow + sig.all_red))
    Y = min(float(ratio.sum()), 0.9)
    cycle = float(np.clip((1.5 * lost.sum() + 5.0) / (1.0 - Y), len(greens) * sig.min_green + lost.sum(),
                          max_cycle))
    split = ratio / ratio.sum() if ratio.sum() > 0 else np.full(len(greens), 1.0 / len(greens))
    g = np.clip((cycle - lost.sum()) * split, sig.min_green, sig.max_green)
    return WebsterPlan(float(g.sum() + lost.sum()), g, lost)
