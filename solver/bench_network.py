"""Network throughput: simulated seconds per wall second of a catalogue scenario (numba-cpu).

Measured one copy on one core, and a batch on every core (threads over copies). Medians of
repeats; the first call (numba compile or cache load) is excluded.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from solver.batch import BatchedNetwork
from solver.network import build_network
from solver.scenario import load_scenario
from solver.threads import default_threads

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


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
