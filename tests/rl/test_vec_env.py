"""The batched VecEnv: SB3 semantics and step-for-step equality with the single env."""

import gymnasium as gym
import numpy as np
import pytest

from rl import make_vec_env


def test_vec_env_equals_single_env_step_for_step_through_auto_reset():
    n, seed, length = 3, 11, 30.0
    venv = make_vec_env("ARZ-Arterial-v0", n, seed=seed, episode_length=length)
    envs = [gym.make("ARZ-Arterial-v0", episode_length=length) for _ in range(n)]
    obs = venv.reset()
    np.testing.assert_allclose(obs, np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]))
    rng = np.random.default_rng(0)
    dones_seen = 0
    for _ in range(14):  # 6 steps per episode: crosses two auto-resets
        actions = rng.integers(0, 2, size=(n, 3))
        obs, rewards, dones, infos = venv.step(actions)
        for i, env in enumerate(envs):
            o, r, term, trunc, info = env.step(actions[i])
            assert dones[i] == (term or trunc)
            np.testing.assert_allclose(rewards[i], r, rtol=1e-6)
            np.testing.assert_allclose(infos[i]["delay"], info["delay"])
            if dones[i]:
                dones_seen += 1
                np.testing.assert_allclose(infos[i]["terminal_observation"], o)
                o, _ = env.reset()
            np.testing.assert_allclose(obs[i], o)
    assert dones_seen == 2 * n


def test_sb3_vec_env_interface():
    venv = make_vec_env("ARZ-Intersection-v0", 2, seed=0, episode_length=10.0)
    assert venv.num_envs == 2 and venv.action_space == gym.spaces.Discrete(2)
    obs = venv.reset()
    assert obs.shape == (2,) + venv.observation_space.shape and obs.dtype == np.float32
    venv.step(np.array([0, 1]))
    _, rewards, dones, infos = venv.step(np.array([1, 1]))
    assert dones.all() and rewards.dtype == np.float32
    assert all("terminal_observation" in info and info["episode"]["l"] == 2 for info in infos)
    assert venv.get_attr("config")[0].decision_interval == 5.0


def test_copies_end_episodes_together_despite_solver_clock_round_off():
    # the solver ends an interval within 1e-9 t_end of its end: a copy a few microseconds short
    # must neither raise "out of step" nor miss its truncation (an RL run once stopped on this)
    venv = make_vec_env("ARZ-Intersection-v0", 2, seed=0, episode_length=15.0)
    venv.reset()
    venv.step(np.array([0, 1]))
    venv.core.sim.T[1] -= 4e-6
    venv.step(np.array([1, 1]))
    _, _, dones, infos = venv.step(np.array([0, 0]))
    assert dones.all() and all("terminal_observation" in i for i in infos)


def test_copy_info_reads_like_the_dict_of_row_views():
    """The VecEnv's per-copy info (rl.simulation.CopyInfo: no dict built per copy and step) gives
    what info_row's dict gives, takes keys of its own, and behaves as a mapping for SB3."""
    from rl.simulation import CopyInfo, info_row

    rng = np.random.default_rng(0)
    batch = {"delay": rng.random((4, 2)), "time": rng.random(4), "queue": rng.random((4, 3))}
    for b in range(4):
        info, ref = CopyInfo(batch, b), info_row(batch, b)
        assert set(info) == set(ref) and len(info) == len(ref)
        for key in ref:
            np.testing.assert_array_equal(info[key], ref[key])
        assert info.get("episode") is None and "terminal_observation" not in info
        info["terminal_observation"] = np.zeros(3)
        info["episode"] = {"r": 1.0, "l": 2}
        assert info.get("episode") == {"r": 1.0, "l": 2} and "terminal_observation" in info
        assert len(info) == len(ref) + 2 and set(info) == set(ref) | {"terminal_observation", "episode"}
        info["time"] = -1.0  # a set key hides the batch's, for this copy only
        assert info["time"] == -1.0 and CopyInfo(batch, b)["time"] == batch["time"][b]
        del info["episode"]
        assert "episode" not in info
        with pytest.raises(KeyError):
            del info["delay"]
        with pytest.raises(KeyError):
            info["missing"]


def test_the_arterial_observes_gap_outs_request_and_an_override_turns_it_off():
    """ARZ-Arterial-v0 registers the advisor with its parameters; advisor=None turns it off (its
    parameters go with it), another advisor starts from its own defaults; gymnasium.make, which
    merges the registered arguments itself, names the fix when only advisor=None is given."""
    from rl import registered_kwargs
    from rl.errors import EnvConfigError

    advised = make_vec_env("ARZ-Arterial-v0", 1, device="cpu")
    plain = make_vec_env("ARZ-Arterial-v0", 1, device="cpu", advisor=None)
    assert advised.config.advisor == "actuated-gap"
    assert dict(advised.config.advisor_params) == {"gap_s": 1.5, "max_out": 0.75}
    assert advised.observation_space.shape[0] == plain.observation_space.shape[0] + 6  # 3 signals x 2 phases
    assert plain.config.advisor is None and plain.config.advisor_params == ()
    assert "advisor_params" not in registered_kwargs("ARZ-Arterial-v0", {"advisor": "max-pressure-advanced"})
    with pytest.raises(EnvConfigError, match=r"advisor=None and advisor_params=\{\}"):
        gym.make("ARZ-Arterial-v0", advisor=None)
    assert gym.make("ARZ-Arterial-v0", advisor=None, advisor_params={}).observation_space.shape == plain.observation_space.shape
