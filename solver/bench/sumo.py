"""sumo-rl's single-intersection scenario, timed the way ``arz bench`` times ``intersection_4arm``.

The comparison is made only when it can be measured in the same run on the same machine: the
same episode length (:data:`EPISODE_S`, 3,600 s), 5 s decisions, seeded random actions, start-up
excluded (``reset`` is not timed), the median of :data:`EPISODES` episodes, and SUMO's mean number
of vehicles in the network reported beside the rate (a microscopic simulator's cost grows with
it). sumo-rl, libsumo and eclipse-sumo are an optional extra (``pip install '.[bench]'``); they can
also live in another interpreter named by ``$ARZ_SUMO_PYTHON`` (``scripts/bench_vs_sumo_rl.sh``
makes one). Without them the ratio is omitted and :func:`measure_sumo_rl` says why.

The measurement runs in a child process (libsumo is a process-wide singleton and needs
``SUMO_HOME``); the child part of this file imports only the standard library and sumo-rl.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EPISODE_S = 3600.0  # s, one episode, on both sides
DECISION_S = 5.0  # s between actions, on both sides
EPISODES = 5  # timed episodes per side (median)
SUMO_ENV = "ARZ_SUMO_PYTHON"
NOT_INSTALLED = "sumo-rl not installed: pip install '.[bench]' (or set ARZ_SUMO_PYTHON to a Python that has it)"
CASE = "sumo-rl single-intersection (libsumo, random actions)"


def sumo_python() -> str | None:
    """The interpreter with sumo-rl and libsumo: ``$ARZ_SUMO_PYTHON``, else this one if it has them."""
    chosen = os.environ.get(SUMO_ENV)
    if chosen:
        return chosen if Path(chosen).is_file() else None
    found = all(importlib.util.find_spec(m) is not None for m in ("sumo_rl", "libsumo"))
    return sys.executable if found else None


def measure_sumo_rl(episodes: int = EPISODES, seconds: float = EPISODE_S, seed: int = 0,
                    timeout_s: float = 600.0) -> dict:
    """sumo-rl's rate over ``episodes`` episodes of ``seconds`` simulated seconds.

    Returns:
        ``{"sim_s_per_wall_s": median, "mean_vehicles": mean over episodes, "episodes": n,
        "episode_s": seconds, "rates": [...]}``, or ``{"omitted": reason}`` when sumo-rl is not
        installed or the child failed (the reason names the fix).
    """
    python = sumo_python()
    if python is None:
        return {"omitted": NOT_INSTALLED}
    code = f"import runpy; runpy.run_path({str(Path(__file__))!r}, run_name='__main__')"
    try:
        with tempfile.TemporaryDirectory(prefix="arz-sumo-") as tmp:  # cwd: no project package shadows
            proc = subprocess.run([python, "-c", code, str(episodes), str(seconds), str(seed)], cwd=tmp,
                                  capture_output=True, text=True, timeout=timeout_s)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"omitted": f"sumo-rl run failed ({type(err).__name__}: {err})"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"omitted": f"sumo-rl run failed (exit {proc.returncode}: {tail})"}
    return json.loads(lines[-1])


def _sumo_episodes(episodes: int, seconds: float, seed: int) -> dict:
    """(Child process) time ``episodes`` sumo-rl episodes with seeded random actions."""
    os.environ["LIBSUMO_AS_TRACI"] = "1"
    if "SUMO_HOME" not in os.environ:
        import sumo  # the eclipse-sumo wheel

        os.environ["SUMO_HOME"] = os.path.dirname(sumo.__file__)
    import sumo_rl
    from sumo_rl import SumoEnvironment

    nets = os.path.join(os.path.dirname(sumo_rl.__file__), "nets", "single-intersection")
    env = SumoEnvironment(net_file=f"{nets}/single-intersection.net.xml",
                          route_file=f"{nets}/single-intersection.rou.xml", use_gui=False,
                          num_seconds=int(seconds), single_agent=True, delta_time=int(DECISION_S),
                          sumo_warnings=False)  # fmt: skip
    rates, vehicles = [], []
    for episode in range(episodes):
        env.reset(seed=seed + episode)  # starts SUMO: not timed
        env.action_space.seed(seed + episode)
        counts, done, t0, wall = [], False, env.sim_step, 0.0
        while not done:
            action = env.action_space.sample()
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(action)
            wall += time.perf_counter() - start
            counts.append(env.sumo.vehicle.getIDCount())  # not timed, as on the ARZ side
            done = terminated or truncated
        rates.append((env.sim_step - t0) / wall)
        vehicles.append(statistics.fmean(counts))
    env.close()
    return {"case": CASE, "sim_s_per_wall_s": statistics.median(rates), "rates": rates,
            "mean_vehicles": statistics.fmean(vehicles), "episodes": episodes, "episode_s": seconds}  # fmt: skip


if __name__ == "__main__":
    args = sys.argv[1:]
    n, secs, first_seed = int(args[0]), float(args[1]), int(args[2])
    print(json.dumps(_sumo_episodes(n, secs, first_seed)), flush=True)
