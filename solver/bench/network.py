"""Network throughput: simulated seconds per wall second of a catalogue scenario (numba-cpu).

Measured one copy on one core, and a batch on every core (threads over copies). Medians of
repeats; the first call (numba compile or cache load) is excluded.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from solver.network.batch import BatchedNetwork
from solver.network.compile import build_network
from solver.scenario.loader import load_scenario
from solver.threads import default_threads

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _rate(net, batch: int, threads: int, interval: float, intervals: int, repeats: int) -> tuple[float, float]:
    """Median simulated s per wall s (summed over the batch) and mean substeps per interval."""
    sim = BatchedNetwork(net, batch=batch, threads=threads)
    sim.advance(60.0)  # warm-up: compile/load, and traffic on the roads
    rates, steps = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for k in range(intervals):
            sim.advance(interval, np.full((batch, len(net.signals)), (k // 6) % 2))
            steps.append(float(sim.STEPS.mean()))
        rates.append(batch * interval * intervals / (time.perf_counter() - start))
    return float(np.median(rates)), float(np.mean(steps))


def network_rate(name: str, batch: int, threads: int, interval: float = 5.0, intervals: int = 24,
                 repeats: int = 3):
    """Simulated s per wall s of ``batch`` copies of catalogue scenario ``name`` on ``threads``
    cores, fixed-time requests switching every 6 decisions.

    Returns:
        ``(sim_s_per_wall_s, substeps_per_interval, network)``.
    """
    net = build_network(load_scenario(SCENARIOS / f"{name}.yml"))
    rate, steps = _rate(net, batch, threads, interval, intervals, repeats)
    return rate, steps, net


def _requests(net, batch: int, rng: np.random.Generator) -> np.ndarray:
    """A random phase per copy and signal. Shapes: (batch, signals) int."""
    phases = {n.id: len(n.signal.phases) for n in net.scenario.nodes if n.signal}
    return np.stack([rng.integers(0, phases[s], batch) for s in net.signals], axis=1)


def episode_rates(name: str, batch: int, threads: int, episodes: int, seconds: float,
                  interval: float = 5.0, seed: int = 0) -> dict:
    """Whole episodes of catalogue scenario ``name`` under seeded random phase requests.

    Each episode starts from the initial state and runs ``seconds`` of simulated time in
    ``interval`` decisions; only the ``advance`` calls are timed (the first call, which compiles
    or loads the numba cache, runs before and is excluded; counting vehicles is not timed).

    Returns:
        ``{"rates": per-copy simulated s per wall s of each episode, "substeps": mean substeps per
        decision, "mean_vehicles": mean vehicles in the network per copy (links + entry queues),
        "wall_per_decision": median wall s of one decision of the whole batch, "network": net}``.
    """
    net = build_network(load_scenario(SCENARIOS / f"{name}.yml"))
    sim = BatchedNetwork(net, batch=batch, threads=threads)
    sim.advance(interval)  # warm-up: compile / cache load, excluded
    rng = np.random.default_rng(seed)
    rates, steps, vehicles, walls = [], [], [], []
    for _ in range(episodes):
        sim.reset()
        wall = 0.0
        for _ in range(int(round(seconds / interval))):
            requests = _requests(net, batch, rng)
            start = time.perf_counter()
            sim.advance(interval, requests)
            walls.append(time.perf_counter() - start)
            wall += walls[-1]
            steps.append(float(sim.STEPS.mean()))
            vehicles.append(float(sim.stored().sum(axis=1).mean() + sim.QU.sum(axis=(1, 2)).mean()))
        rates.append(seconds / wall)
    return {"rates": rates, "substeps": float(np.mean(steps)), "mean_vehicles": float(np.mean(vehicles)),
            "wall_per_decision": float(np.median(walls)), "network": net}  # fmt: skip


def bench_network(name: str = "intersection_4arm", interval: float = 5.0, intervals: int = 24,
                  repeats: int = 3, batch_per_core: int = 4) -> list[dict]:
    """Simulated seconds per wall second for one copy on one core and a batch on all cores.

    Returns:
        Rows ``{case, backend, reconstruction, cells, batch, threads, sim_s_per_wall_s,
        decisions_per_s, us_per_step, cell_updates_per_s}`` (the last two None here).
    """
    net = build_network(load_scenario(SCENARIOS / f"{name}.yml"))
    cells = int(net.lk[:, 1].sum())
    cores = default_threads()
    rows = []
    for batch, threads in ((1, 1), (batch_per_core * cores, cores)):
        rate, _ = _rate(net, batch, threads, interval, intervals, repeats)
        rows.append({
            "case": f"{name} ({interval:g} s decisions)", "backend": "numba-cpu",
            "reconstruction": net.scenario.numerics.reconstruction, "cells": cells, "batch": batch,
            "threads": threads, "sim_s_per_wall_s": rate, "decisions_per_s": rate / interval,
            "us_per_step": None, "cell_updates_per_s": None,
        })
    return rows
