"""The RL vector env on a real GPU: agreement with the CPU and env steps per second.

``make_vec_env("ARZ-Intersection-v0", n_envs, device="gpu")`` runs the batched network on
numba-cuda in float32. This script (1) steps 4 copies on the GPU and on the CPU with the same
seeds and actions and reports the largest observation and reward differences, and (2) times
random-action env steps at several batch sizes (decisions per second, resets included).
Prints one JSON object. Needs numba-cuda, gymnasium and stable-baselines3.

Usage: python scripts/gpu_rl_check.py [N_ENVS ...]      (default 1024 4096 16384)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rl.vec_env import make_vec_env  # noqa: E402
from solver.device import device_name  # noqa: E402

ENV = "ARZ-Intersection-v0"


def agreement(steps: int = 12) -> dict:
    """Max |GPU - CPU| of observations and rewards over ``steps`` decisions of 4 copies."""
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


def throughput(n_envs: int, decisions: int = 20) -> dict:
    """Random-action env steps per second of ``n_envs`` GPU copies (after one warm-up step)."""
    env = make_vec_env(ENV, n_envs, seed=0, device="gpu")
    env.reset()
    rng = np.random.default_rng(1)
    env.step(rng.integers(0, 2, (n_envs, 1)))
    start = time.perf_counter()
    for _ in range(decisions):
        env.step(rng.integers(0, 2, (n_envs, 1)))
    wall = time.perf_counter() - start
    return {"n_envs": n_envs, "decisions": decisions, "wall_s": wall, "env_steps_per_s": n_envs * decisions / wall}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1024, 4096, 16384]
    result = {"device": device_name("gpu"), "agreement": agreement(), "rows": []}
    print(json.dumps(result["agreement"]), file=sys.stderr, flush=True)
    for n in sizes:
        result["rows"].append(throughput(n))
        print(json.dumps(result["rows"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
