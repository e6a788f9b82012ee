"""The Gymnasium environment: contract checks, spaces, determinism, info and errors."""

import gymnasium as gym
import numpy as np
import pytest

import rl
from rl.errors import BackendUnavailableError, EnvConfigError, UnknownNameError

SHORT = {"episode_length": 60.0}


def rollout(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [np.append(obs, 0.0)]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        out.append(np.append(obs, r))
    return np.stack(out)


def test_import_registers_ids_only():
    for env_id in ("ARZ-Intersection-v0", "ARZ-Arterial-v0", "ARZ-SeedCorridor-v0"):
        assert env_id in gym.registry
    assert gym.registry["ARZ-Intersection-v0"].entry_point == "rl.env:TrafficSignalEnv"


@pytest.mark.parametrize("env_id", sorted(rl.ENV_IDS))
def test_gymnasium_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    kw = {"episode_length": 120.0} if "Seed" in env_id else SHORT
    check_env(gym.make(env_id, **kw).unwrapped, skip_render_check=True)


def test_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env

    check_env(gym.make("ARZ-Arterial-v0", **SHORT).unwrapped, warn=True)


def test_spaces_match_scenarios():
    inter = gym.make("ARZ-Intersection-v0", **SHORT).unwrapped
    art = gym.make("ARZ-Arterial-v0", **SHORT).unwrapped
    seed = gym.make("ARZ-SeedCorridor-v0", episode_length=120.0).unwrapped
    assert inter.action_space == gym.spaces.Discrete(2)
    assert art.action_space == gym.spaces.MultiDiscrete([2, 2, 2])
    assert seed.config.decision_interval == 60.0
    assert [n for n in seed.feature_names if n.startswith("density m road cell")] == [
        f"density m road cell {c}" for c in (10, 50, 100, 150, 190)]
    assert inter.observation_space.shape == (len(inter.feature_names),)


def test_reset_with_seed_is_deterministic_and_seeds_differ():
    env = gym.make("ARZ-Intersection-v0", **SHORT)
    actions = [0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1]
    a, b = rollout(env, 7, actions), rollout(env, 7, actions)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(rollout(env, 8, actions), a)  # another demand draw


def test_episode_truncates_at_episode_length_and_info_carries_measures():
    env = gym.make("ARZ-Intersection-v0", **SHORT)
    env.reset(seed=0)
    steps, trunc = 0, False
    while not trunc:
        _, reward, term, trunc, info = env.step(0)
        steps += 1
        assert not term
    assert steps == 12 and info["time"] == pytest.approx(60.0)
    assert info["delay"].shape == (2,) and (info["delay"] >= 0).all()
    assert info["queue"].shape == (4,) and (info["arrived"] > 0).all()
    assert np.abs(info["residual"]).max() < 1e-6
    assert reward == pytest.approx(-info["delay"].sum() / (5.0 * 100.0))


def test_signal_holds_min_green_and_clearance_whatever_the_agent_asks():
    env = gym.make("ARZ-Intersection-v0", decision_interval=1.0, episode_length=40.0).unwrapped
    env.reset(seed=0)
    stages = [0]  # stage at t = 0, 1, 2, ... s
    for _ in range(40):
        env.step(1 - int(env.core.sim.SP[0, 0]))  # always ask for the other phase
        stages.append(int(env.core.sim.SS[0, 0]))
    change = np.flatnonzero(np.diff(stages)) + 1
    runs = [(stages[a], b - a) for a, b in zip(change[:-1], change[1:], strict=True)]
    assert runs and {s for s, _ in runs} == {0, 1, 2}
    assert {(s, n) for s, n in runs} == {(0, 10), (1, 3), (2, 2)}  # min green, yellow, all-red


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(BackendUnavailableError, match="no usable NVIDIA GPU"):
        rl.TrafficSignalEnv(device="gpu")
    with pytest.raises(EnvConfigError, match="scenario"):
        rl.TrafficSignalEnv(scenario="no_such_place")
    with pytest.raises(UnknownNameError, match="delay"):
        rl.TrafficSignalEnv(reward="happiness", **SHORT)
    with pytest.raises(EnvConfigError, match="observed_cells"):
        rl.TrafficSignalEnv(observed_cells=[999], **SHORT)


@pytest.mark.parametrize("reward", ["delay", "queue", "pressure", "throughput"])
def test_every_reward_is_finite_and_signed(reward):
    env = gym.make("ARZ-Intersection-v0", reward=reward, **SHORT)
    env.reset(seed=0)
    rewards = [env.step(i // 4 % 2)[1] for i in range(12)]
    assert np.isfinite(rewards).all()
    assert (np.array(rewards) >= 0).all() if reward == "throughput" else (np.array(rewards) <= 0).all()
    assert np.ptp(rewards) > 0


def test_auto_device_resolves_to_cpu_without_a_gpu():
    env = rl.TrafficSignalEnv(episode_length=10.0, device="auto")
    from solver.device import gpu_available
    from solver.network.batch import BatchedNetwork

    if gpu_available():  # auto takes the GPU where there is one
        from solver.network.batch_cuda import CudaBatchedNetwork

        assert isinstance(env.unwrapped.core.sim, CudaBatchedNetwork)
    else:
        assert isinstance(env.unwrapped.core.sim, BatchedNetwork)
