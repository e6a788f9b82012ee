"""Simulated seconds per wall second of sumo-rl's single-intersection scenario (libsumo).

Run with a Python that has sumo-rl, libsumo and eclipse-sumo (``scripts/bench_vs_sumo_rl.sh``
makes one). The settings are sumo-rl's defaults for that scenario: a 20,000 s episode, 5 s
decisions, random actions (seeded), libsumo instead of TraCI sockets. Prints one JSON line.

Usage: python scripts/sumo_rl_rate.py [SECONDS] [SEED]
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ["LIBSUMO_AS_TRACI"] = "1"
if "SUMO_HOME" not in os.environ:
    import sumo  # the eclipse-sumo wheel

    os.environ["SUMO_HOME"] = os.path.dirname(sumo.__file__)

import sumo_rl  # noqa: E402
from sumo_rl import SumoEnvironment  # noqa: E402


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    nets = os.path.join(os.path.dirname(sumo_rl.__file__), "nets", "single-intersection")
    env = SumoEnvironment(net_file=f"{nets}/single-intersection.net.xml",
                          route_file=f"{nets}/single-intersection.rou.xml", use_gui=False,
                          num_seconds=seconds, single_agent=True, delta_time=5, sumo_warnings=False)  # fmt: skip
    env.reset(seed=seed)
    env.action_space.seed(seed)
    start, t0, done = time.perf_counter(), env.sim_step, False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
    wall = time.perf_counter() - start
    sim_s = env.sim_step - t0
    env.close()
    print(json.dumps({"case": "sumo-rl single-intersection (libsumo, random actions)", "sim_s": sim_s,
                      "wall_s": wall, "sim_s_per_wall_s": sim_s / wall}))  # fmt: skip


if __name__ == "__main__":
    main()
