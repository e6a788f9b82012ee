"""Compile the solver's cached kernels into ``$ARZ_KERNEL_CACHE_DIR`` ahead of the tests.

``python -m tests.kernel_warmup`` runs a tiny road (numba-cpu), a tiny network (the batched
kernels the network runs and the RL envs share) and the transport speeds, so numba compiles and
caches those kernels. tests/conftest.py starts it in the background when a session on a cold
cache holds both kernel tests and orchestrator tests: the compile (minutes on a fresh clone) then
overlaps the orchestrator tests, which need no kernels, instead of stalling the first kernel test.
A test that calls a kernel before the warm-up has cached it compiles it itself, as without it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kernel_payload import kernel_cache

ROOT = Path(__file__).resolve().parents[1]
ROAD = {
    "name": "warmup-road",
    "road": {"length": 200, "cells": 20},
    "initial": {"type": "uniform", "state": {"rho_m": 0.02, "v_m": 8.0, "rho_c": 0.01, "v_c": 8.0}},
    "time": {"end": 1.0},
}


def main() -> int:
    """Compile (or load) the kernels; exit 0."""
    kernel_cache.install(Path(os.environ[kernel_cache.CACHE_ENV]))
    from solver.network.batch import BatchedNetwork
    from solver.network.compile import build_network
    from solver.network.run import simulate_network
    from solver.network.speeds import transport_speeds
    from solver.road.simulate import simulate
    from solver.scenario.loader import load_mapping, load_scenario

    simulate(load_mapping(ROAD), backend="numba-cpu")
    scenario = load_scenario(ROOT / "scenarios" / "red_light.yml")
    scenario = scenario.model_copy(update={"time": scenario.time.model_copy(update={"end": 2.0})})
    simulate_network(scenario)
    sim = BatchedNetwork(build_network(scenario), batch=2, threads=2)
    sim.advance(1.0)
    transport_speeds(sim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
