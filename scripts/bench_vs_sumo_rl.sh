#!/usr/bin/env bash
# Side-by-side speed of the ARZ intersection and sumo-rl's single-intersection scenario.
#
# Usage: scripts/bench_vs_sumo_rl.sh [ROUNDS]      (default 3; needs PyPI for the first run)
# Makes .venv-sumo (sumo-rl 1.4.5, libsumo and eclipse-sumo 1.28.0; the project's optional
# `bench` extra, kept in its own environment here), then alternates the two simulators ROUNDS
# times on this machine, so both see the same load. Both sides run the same episodes: 3,600 s of
# simulated time, 5 s decisions, seeded random actions, start-up / compile excluded, 5 episodes per
# side and round (solver.bench.runner.measure_intersection, solver.bench.sumo.measure_sumo_rl). Prints
# the medians, both mean vehicle counts, the machine load and the ratios (ARZ one copy on one core
# / sumo-rl, ARZ batch on every core summed over the batch / sumo-rl) and, as the third acceptance
# figure of issue 18, the 200-cell WENO5 road step on one core (us, median of the rounds'
# medians, solver.bench.runner.measure_road). Timings are wall-clock.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-3}"
PY="${ARZ_PYTHON:-.venv/bin/python}"
if [ ! -x .venv-sumo/bin/python ]; then
  python3 -m venv .venv-sumo
  .venv-sumo/bin/pip install -q "sumo-rl==1.4.5" "libsumo==1.28.0" "eclipse-sumo==1.28.0"
fi
ARZ_SUMO_PYTHON="$ROOT/.venv-sumo/bin/python" "$PY" - "$ROUNDS" <<'PY'
import json, os, statistics, sys

from solver.bench.runner import EPISODE_S, EPISODES, measure_intersection, measure_road
from solver.bench.sumo import measure_sumo_rl
from solver.threads import default_threads

rounds, cores = int(sys.argv[1]), default_threads()
load_before, sumo, one, batch, road = os.getloadavg()[0], [], [], [], []
for i in range(rounds):
    print(f"round {i + 1}/{rounds}", file=sys.stderr, flush=True)
    got = measure_sumo_rl(EPISODES, EPISODE_S, seed=1000 * i)
    if "omitted" in got:
        sys.exit(f"sumo-rl: {got['omitted']}")
    sumo.append(got)
    one.append(measure_intersection(1, 1, EPISODES, EPISODE_S, seed=1000 * i))
    batch.append(measure_intersection(4 * cores, cores, EPISODES, EPISODE_S, seed=1000 * i))
    road.append(measure_road(200, "weno5", 1, 1, repeats=5, target_s=0.1))
median = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
sumo_rate = median(sumo, "sim_s_per_wall_s")
out = {"rounds": rounds, "episode_s": EPISODE_S, "episodes_per_round": EPISODES, "cores": cores,
       "load_average_1min_before": load_before, "load_average_1min_after": os.getloadavg()[0],
       "sumo_rl_sim_s_per_wall_s": sumo_rate, "sumo_rl_mean_vehicles": median(sumo, "mean_vehicles"),
       "arz_mean_vehicles": median(one, "mean_vehicles"),
       "arz_one_core_sim_s_per_wall_s": median(one, "batch_sim_s_per_wall_s"),
       "arz_batch_all_cores_sim_s_per_wall_s": median(batch, "batch_sim_s_per_wall_s"),
       "arz_batch_size": 4 * cores, "weno5_200_us_per_step_one_core": median(road, "us_per_step"),
       "sumo_rl_rates_per_round": [r["sim_s_per_wall_s"] for r in sumo],
       "arz_one_core_rates_per_round": [r["batch_sim_s_per_wall_s"] for r in one],
       "arz_batch_rates_per_round": [r["batch_sim_s_per_wall_s"] for r in batch]}
out["arz_one_core_vs_sumo_rl"] = out["arz_one_core_sim_s_per_wall_s"] / sumo_rate
out["arz_batch_all_cores_vs_sumo_rl"] = out["arz_batch_all_cores_sim_s_per_wall_s"] / sumo_rate
print(json.dumps(out, indent=2))
PY
