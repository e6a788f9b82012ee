"""Simulated seconds per wall second of ``intersection_4arm`` under random phase requests.

The counterpart of ``scripts/sumo_rl_rate.py``: 5 s decisions, a random phase requested per copy
and decision (seeded), one copy on one core, then ``4 x cores`` copies on every core. Prints one
JSON line per configuration.

Usage: python scripts/arz_intersection_rate.py [SECONDS] [SEED]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver.batch import BatchedNetwork  # noqa: E402
from solver.network import build_network  # noqa: E402
from solver.scenario import load_scenario  # noqa: E402
from solver.threads import default_threads  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "intersection_4arm.yml"


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3600.0
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    net = build_network(load_scenario(SCENARIO))
    cores, signals, decisions = default_threads(), len(net.signals), int(seconds // 5)
    for batch, threads in ((1, 1), (4 * cores, cores)):
        sim = BatchedNetwork(net, batch=batch, threads=threads)
        sim.advance(5.0)  # compile / load the numba cache
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        for _ in range(decisions):
            sim.advance(5.0, rng.integers(0, 2, (batch, signals)))
        wall = time.perf_counter() - start
        print(json.dumps({"case": "arz intersection_4arm (random requests)", "batch": batch,
                          "threads": threads, "sim_s": batch * 5.0 * decisions, "wall_s": wall,
                          "sim_s_per_wall_s": batch * 5.0 * decisions / wall}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
