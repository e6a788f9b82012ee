"""RL on a real GPU: agreement with the CPU, env-alone and PPO end-to-end throughput (issue 16).

Parts, in this order, each row written to the JSON file as soon as it is measured (a timeout or a
failure keeps what was measured, and the failure is recorded in the row):

1. ``agreement``: ``make_vec_env("ARZ-Intersection-v0", 4)`` on the GPU and on the CPU, same
   seeds and random actions, 12 decisions: the largest observation and reward differences.
2. ``env``: random-action env steps per second of the GPU env alone at ``GPU_RL_ENV_SIZES``
   (default 16384) copies (readout on the device, resets included).
3. ``ppo``: PPO end to end (:func:`rl.bench.measure_training`, 2 timed rollouts after a warm-up
   one): the GPU preset at ``GPU_RL_PPO_SIZES`` (default 4096 16384 1024) copies, then the CPU preset
   on this machine's CPU (side by side; the 2-core laptop's figure is measured there).

A part is skipped once ``GPU_RL_BUDGET`` seconds (default 230) have passed since the start.

Usage: python -m scripts.gpu_rl_check OUT.json   (the repository root on PYTHONPATH)
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ENV = "ARZ-Intersection-v0"
START = time.perf_counter()


def agreement(steps: int = 12) -> dict:
    """Max |GPU - CPU| of observations and rewards over ``steps`` decisions of 4 copies."""
    from rl.vec_env import make_vec_env

    envs = {dev: make_vec_env(ENV, 4, seed=7, device=dev) for dev in ("cpu", "gpu")}
    obs = {dev: env.reset() for dev, env in envs.items()}
    rng, d_obs, d_rew, scale = np.random.default_rng(0), float(np.abs(obs["cpu"] - obs["gpu"]).max()), 0.0, 0.0
    for _ in range(steps):
        actions = rng.integers(0, 2, (4, 1))
        out = {dev: env.step(actions) for dev, env in envs.items()}
        d_obs = max(d_obs, float(np.abs(out["cpu"][0] - out["gpu"][0]).max()))
        d_rew = max(d_rew, float(np.abs(out["cpu"][1] - out["gpu"][1]).max()))
        scale = max(scale, float(np.abs(out["cpu"][1]).max()))
    return {"max_abs_obs_diff": d_obs, "max_abs_reward_diff": d_rew, "max_abs_reward": scale}


def env_throughput(n_envs: int, decisions: int = 20) -> dict:
    """Random-action env steps per second of ``n_envs`` GPU copies (after one warm-up step)."""
    from rl.vec_env import make_vec_env

    env = make_vec_env(ENV, n_envs, seed=0, device="gpu")
    env.reset()
    rng = np.random.default_rng(1)
    env.step(rng.integers(0, 2, (n_envs, 1)))
    before = env.timings
    start = time.perf_counter()
    for _ in range(decisions):
        env.step(rng.integers(0, 2, (n_envs, 1)))
    wall = time.perf_counter() - start
    spent = {k: env.timings[k] - before[k] for k in ("copies_s", "advance_s", "readout_s")}
    return {"n_envs": n_envs, "decisions": decisions, "wall_s": wall, **spent,
            "env_steps_per_s": n_envs * decisions / wall}


def _sizes(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).split()]


def main(dest: Path) -> int:
    """Run the parts within the budget, rewriting ``dest`` after each row; 1 if any part failed."""
    from rl.bench import measure_training
    from solver.device import device_name

    budget = float(os.environ.get("GPU_RL_BUDGET", "230"))
    result: dict = {"device": None, "agreement": None, "env": [], "ppo": [], "skipped": [], "errors": []}
    try:
        result["device"] = device_name("gpu")
    except Exception as exc:  # no usable GPU: every GPU part records its own error below
        result["errors"].append({"part": "device", "size": None, "error": f"{type(exc).__name__}: {exc}"})
    jobs = [("agreement", None, agreement)]
    jobs += [("env", n, lambda n=n: env_throughput(n)) for n in _sizes("GPU_RL_ENV_SIZES", "16384")]
    jobs += [("ppo", n, lambda n=n: measure_training("gpu", "gpu", n_envs=n)) for n in _sizes("GPU_RL_PPO_SIZES", "4096 16384 1024")]
    jobs.append(("ppo", "cpu", lambda: measure_training("cpu", "cpu")))
    for part, size, job in jobs:
        if time.perf_counter() - START > budget:
            result["skipped"].append(f"{part} {size}: over the {budget:.0f} s budget")
            continue
        print(f"[gpu_rl_check] {part} {size or ''} at {time.perf_counter() - START:.0f} s", file=sys.stderr, flush=True)
        try:
            row = job()
        except Exception as exc:  # record and go on: the other parts still say something
            result["errors"].append({"part": part, "size": size, "error": f"{type(exc).__name__}: {exc}",
                                     "traceback": traceback.format_exc()[-3000:]})
        else:
            if part == "agreement":
                result["agreement"] = row
            else:
                result[part].append(row)
        result["elapsed_s"] = round(time.perf_counter() - START, 1)
        dest.write_text(json.dumps(result, indent=2))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "gpu_rl_check.json")))
