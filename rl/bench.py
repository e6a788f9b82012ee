"""PPO training throughput: env-steps per second with learning, and where the time goes.

:func:`measure_training` trains a preset (``rl.presets``) for a few rollouts, without evaluation
or checkpoints, and times the rollouts after the first (the first compiles the kernels and starts
PPO). :func:`training_rows` measures the CPU preset and, when numba-cuda can use a GPU, the GPU
preset in the same run. ``arz bench`` and the ``bench`` suite add these rows (:data:`COLUMNS`)
next to the solver's (this lives in ``rl`` because the solver imports nothing of ``rl``).

Columns: ``env_steps_per_s`` (all copies, learning included, over the timed rollouts and their
updates), the split in wall seconds ``env_s`` (env steps: solver advance, readout, resets),
``copies_s`` (host<->device copies of the env, part of ``env_s``; 0 on the CPU), ``advance_s`` and
``readout_s`` (the solver's advance, on the GPU the kernel waited for, and the readout: parts of
``env_s``; the rest of it is host-side Python), ``policy_s`` (the
rest of the rollouts: policy forward passes, SB3's buffer, obs/action copies to torch's device),
``update_s`` (PPO's epochs over the rollout), and ``env_only_steps_per_s`` (steps / env_s).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

COLUMNS = ("case", "env", "preset", "device", "ppo_device", "n_envs", "n_steps", "batch_size", "n_epochs",
           "rollouts", "steps", "wall_s", "env_steps_per_s", "env_s", "copies_s", "advance_s", "readout_s",
           "policy_s", "update_s",
           "env_only_steps_per_s", "warmup_s")  # fmt: skip


def measure_training(preset: str = "cpu", device: str = "cpu", n_envs: int | None = None, rollouts: int = 2,
                     env_id: str = "ARZ-Intersection-v0", seed: int = 0, n_steps: int | None = None) -> dict:
    """Train ``preset`` on ``device`` for ``rollouts + 1`` rollouts and time the last ``rollouts``.

    Args:
        preset, device, n_envs: as :func:`rl.presets.plan_training`.
        rollouts: timed rollouts (each followed by its PPO update).
        env_id: a registered environment; seed: PPO and demand seed.
        n_steps: rollout length per copy (default: the preset's; smaller for a smoke run).

    Returns:
        One row with the :data:`COLUMNS`.
    """
    from rl.presets import plan_training
    from rl.training import train

    plan = plan_training(device, preset, n_envs)
    cfg = dataclasses.replace(plan.config, eval_every=0, checkpoint_every=0, tensorboard=False, warm_start=None,
                              n_steps=n_steps or plan.config.n_steps)  # throughput of PPO itself: no warm start
    cfg = dataclasses.replace(cfg, batch_size=min(cfg.batch_size, cfg.n_steps * plan.n_envs))
    steps = (rollouts + 1) * plan.n_envs * cfg.n_steps
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arz-bench-ppo-") as tmp:
        result = train(env_id, steps, plan.n_envs, seed, Path(tmp), train_config=cfg, ppo_device=plan.ppo_device,
                       device=plan.device)
    total = time.perf_counter() - start
    split = result.split or {}
    wall, timed = split.get("wall_s", 0.0), split.get("steps", 0)
    return {"case": "ppo_train", "env": env_id, "preset": plan.preset, "device": plan.device,
            "ppo_device": result.ppo_device, "n_envs": plan.n_envs, "n_steps": cfg.n_steps,
            "batch_size": cfg.batch_size, "n_epochs": cfg.n_epochs, "rollouts": rollouts, "steps": timed,
            "wall_s": wall, "env_steps_per_s": timed / wall if wall > 0 else 0.0,
            "env_s": split.get("env_s", 0.0), "copies_s": split.get("copies_s", 0.0),
            "advance_s": split.get("advance_s", 0.0), "readout_s": split.get("readout_s", 0.0),
            "policy_s": split.get("policy_s", 0.0), "update_s": split.get("update_s", 0.0),
            "env_only_steps_per_s": timed / split["env_s"] if split.get("env_s") else 0.0,
            "warmup_s": total - wall}  # fmt: skip


def training_rows(rollouts: int = 2, gpu: bool | None = None, smoke: bool = False, progress=None) -> list[dict]:
    """The CPU preset on the CPU and, when a GPU is usable (or ``gpu=True``), the GPU preset on it.

    ``smoke``: one timed rollout of 16 steps per copy (proves the row, measures nothing).
    ``progress(line)`` is called before each row.
    """
    from solver.device import gpu_available

    n_steps = 16 if smoke else None
    rollouts = 1 if smoke else rollouts
    plans = [("cpu", "cpu")] + ([("gpu", "gpu")] if (gpu_available() if gpu is None else gpu) else [])
    rows = []
    for preset, device in plans:
        if progress:
            progress(f"PPO training throughput, {preset} preset on the {device}")
        rows.append(measure_training(preset, device, rollouts=rollouts, n_steps=n_steps))
    return rows


def training_summary(rows: list[dict]) -> dict:
    """Headline figures: ``ppo_<preset>_env_steps_per_s`` per row and the GPU/CPU ratio when both ran."""
    out = {f"ppo_{r['preset']}_env_steps_per_s": round(r["env_steps_per_s"], 1) for r in rows}
    if "ppo_gpu_env_steps_per_s" in out and out.get("ppo_cpu_env_steps_per_s"):
        out["ppo_gpu_speedup_vs_cpu"] = round(out["ppo_gpu_env_steps_per_s"] / out["ppo_cpu_env_steps_per_s"], 2)
    return out
