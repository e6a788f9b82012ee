"""The GPU preset trained on a real GPU, for issue 16's learning-quality check.

Trains ``ARZ-Intersection-v0`` with the GPU preset (env and policy on the device, validation on
CPU copies) from the warm start ``GPU_TRAIN_WARM_START`` (default ``auto``: the best classical
controller on training-side draws; the preset's ``rollout`` teacher labels for ~30 min on one
core, too long for a lent GPU's minutes). The PPO steps are sized from a measured rate and a
budget: ``GPU_TRAIN_PPO_S`` seconds (default 90) at the GPU preset's rate read from
``scripts.gpu_rl_check``'s JSON (the best ``ppo`` row on the GPU; 50,000 env-steps/s if absent),
whole rollouts, at least 4. Validation every quarter of the run (whole rollouts). Knobs for a
smoke run on the CPU: ``GPU_TRAIN_DEVICE=cpu``, ``GPU_TRAIN_N_ENVS``, ``GPU_TRAIN_WARM_ROUNDS``,
``GPU_TRAIN_SEED``.

Writes into DEST: ``model.zip`` (the selected policy), ``train_metrics.csv``, ``validation.csv``
(if validated) and ``train_summary.json`` (plan, steps, rates, split, warm start, wall seconds).
The held-out comparison is done afterwards on the CPU (``arz evaluate``; docs/gpu.md).

Usage: python -m scripts.gpu_train_check DEST [RL_JSON]   (the repository root on PYTHONPATH)
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path

ENV = "ARZ-Intersection-v0"
DEFAULT_RATE = 50_000.0


def measured_rate(rl_json: Path | None, n_envs: int) -> tuple[float, str]:
    """The GPU preset's env-steps/s at ``n_envs`` copies from ``rl_json`` (else the best GPU row,
    else :data:`DEFAULT_RATE`), and where it came from."""
    try:
        rows = [r for r in json.loads(Path(rl_json).read_text()).get("ppo", []) if r.get("device") == "gpu"]
    except (OSError, ValueError, TypeError):
        rows = []
    same = [r for r in rows if r.get("n_envs") == n_envs] or rows
    if not same:
        return DEFAULT_RATE, "default"
    best = max(same, key=lambda r: r["env_steps_per_s"])
    return float(best["env_steps_per_s"]), f"measured at {best['n_envs']} envs"


def plan_steps(rate: float, budget_s: float, rollout: int, min_rollouts: int = 4) -> int:
    """Whole rollouts of ``rollout`` env steps that ``rate`` env-steps/s fill in ``budget_s``
    seconds, at least ``min_rollouts``."""
    return max(min_rollouts, int(rate * budget_s // rollout)) * rollout


def main(dest: Path, rl_json: Path | None) -> int:
    """Train, copy the selected model and the curves to ``dest``; 0 on success."""
    from rl.presets import plan_training
    from rl.training import train

    dest.mkdir(parents=True, exist_ok=True)
    seed = int(os.environ.get("GPU_TRAIN_SEED", "0"))
    n_envs = int(os.environ["GPU_TRAIN_N_ENVS"]) if os.environ.get("GPU_TRAIN_N_ENVS") else None
    rounds = int(os.environ["GPU_TRAIN_WARM_ROUNDS"]) if os.environ.get("GPU_TRAIN_WARM_ROUNDS") else None
    plan = plan_training(os.environ.get("GPU_TRAIN_DEVICE", "gpu"), "gpu", n_envs, env_id=ENV,
                         warm_start=os.environ.get("GPU_TRAIN_WARM_START", "auto"), warm_start_rounds=rounds)
    rollout = plan.n_envs * plan.config.n_steps
    rate, source = measured_rate(rl_json, plan.n_envs)
    steps = plan_steps(rate, float(os.environ.get("GPU_TRAIN_PPO_S", "90")), rollout)
    every = max(1, steps // rollout // 4) * rollout
    cfg = dataclasses.replace(plan.config, eval_every=every, checkpoint_every=0, tensorboard=False)
    summary = {"env": ENV, "seed": seed, "device": plan.device, "preset": plan.preset, "n_envs": plan.n_envs,
               "warm_start": cfg.warm_start, "planned_timesteps": steps, "eval_every": every,
               "planning_rate_env_steps_per_s": rate, "planning_rate_source": source}
    (dest / "train_summary.json").write_text(json.dumps(summary, indent=2))
    work = Path(os.environ.get("GPU_TRAIN_WORK", "/tmp/arz-gpu-train"))
    shutil.rmtree(work, ignore_errors=True)
    start = time.perf_counter()

    def progress(stage, done, total):
        print(f"[gpu_train_check] {time.perf_counter() - start:6.0f} s  {stage} {done:,}/{total:,}",
              file=sys.stderr, flush=True)

    result = train(ENV, steps, plan.n_envs, seed, work, progress=progress, train_config=cfg,
                   ppo_device=plan.ppo_device, device=plan.device)
    for name in ("model.zip", "train_metrics.csv", "validation.csv"):
        if (work / name).is_file():
            shutil.copy2(work / name, dest / name)
    summary.update(timesteps=result.timesteps, wall_s=time.perf_counter() - start, ppo_device=result.ppo_device,
                   steps_per_s=result.steps_per_s, warm_steps_per_s=result.warm_steps_per_s, split=result.split,
                   selected_timesteps=result.selected_timesteps,
                   warm_start_result={k: v for k, v in (result.warm_start or {}).items()
                                      if isinstance(v, (int, float, str, bool, type(None)))})
    (dest / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps({k: summary[k] for k in ("timesteps", "wall_s", "warm_steps_per_s", "selected_timesteps")}),
          file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(Path(args[0] if args else "gpu_train"), Path(args[1]) if len(args) > 1 else None))
