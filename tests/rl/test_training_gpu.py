"""PPO end to end on a real GPU (``-m gpu``; scripts/gpu_check.sh runs it): the GPU preset trains
with the env and the policy on the device, the observations agree with the CPU's, and it learns
something (the reward rises over a short run)."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def test_gpu_preset_trains_end_to_end_on_the_device(tmp_path):
    from rl.presets import plan_training
    from rl.training import train

    plan = plan_training("gpu", "auto", n_envs=512)
    assert (plan.device, plan.preset, plan.ppo_device) == ("gpu", "gpu", "cuda")
    # a one-round warm start from untuned actuated: the clone's tensors go to cuda (the preset's
    # ``auto`` tunes every classical controller first, minutes of CPU that test nothing of the GPU)
    cfg = dataclasses.replace(plan.config, eval_every=0, checkpoint_every=0, tensorboard=False,
                              warm_start="actuated", warm_start_rounds=1)
    steps = 6 * plan.n_envs * cfg.n_steps
    result = train("ARZ-Intersection-v0", steps, plan.n_envs, 0, tmp_path, train_config=cfg,
                   ppo_device=plan.ppo_device, device=plan.device)
    assert result.device == "gpu" and result.ppo_device == "cuda" and result.timesteps == steps
    assert result.model_path.is_file() and result.warm_steps_per_s > 0
    split = result.split
    assert split["env_s"] > 0 and split["update_s"] > 0 and 0 <= split["copies_s"] <= split["env_s"]
    assert 0 < split["advance_s"] + split["readout_s"] < split["env_s"]
    with result.metrics_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6


def test_gpu_env_agrees_with_the_cpu_at_full_size():
    from rl.vec_env import make_vec_env

    envs = {dev: make_vec_env("ARZ-Intersection-v0", 8, seed=3, device=dev, episode_length=30.0)
            for dev in ("cpu", "gpu")}
    obs = {dev: env.reset() for dev, env in envs.items()}
    assert np.abs(obs["gpu"] - obs["cpu"]).max() <= 1e-5
    rng = np.random.default_rng(0)
    for _ in range(8):  # one episode end (6 decisions) and auto-reset included
        actions = rng.integers(0, 2, (8, 1))
        out = {dev: env.step(actions) for dev, env in envs.items()}
        assert np.abs(out["gpu"][0] - out["cpu"][0]).max() <= 1e-5
        assert np.abs(out["gpu"][1] - out["cpu"][1]).max() <= 1e-5  # rewards are of order 0.01-0.1
        assert np.array_equal(out["gpu"][2], out["cpu"][2])


def test_gpu_arterial_observes_the_advisor_like_the_cpu():
    """ARZ-Arterial-v0 with gap-out's request observed (``advisor``, computed on the host from the
    GPU batch's host copies): float32 on the device against float64 on the CPU, 8 copies, 12
    random decisions. The layout's features agree to float32 round-off; a request may flip where
    a detector sits at its threshold, so the one-hot part must agree on 95 % of copy-steps."""
    from rl.vec_env import make_vec_env

    kw = {"advisor": "actuated-gap", "advisor_params": {"gap_s": 1.5, "max_out": 0.75}}
    envs = {dev: make_vec_env("ARZ-Arterial-v0", 8, seed=3, device=dev, **kw) for dev in ("cpu", "gpu")}
    n = int(envs["cpu"].core.nvec.sum())
    obs = {dev: [env.reset()] for dev, env in envs.items()}
    rng = np.random.default_rng(0)
    for _ in range(12):
        actions = rng.integers(0, 2, (8, 3))
        for dev, env in envs.items():
            obs[dev].append(env.step(actions)[0])
    gpu, cpu = (np.array(obs[d]) for d in ("gpu", "cpu"))
    assert np.abs(gpu[..., :-n] - cpu[..., :-n]).max() <= 1e-4
    same = np.all(gpu[..., -n:] == cpu[..., -n:], axis=-1)
    assert same.mean() >= 0.95, same.mean()
