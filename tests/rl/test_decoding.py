"""``rl.decoding``: a policy read behind the advisor gate, in evaluation, validation and training."""

from __future__ import annotations

import numpy as np
import pytest

import rl
from rl.decoding import check_advisor_gate, deterministic_actions, gate_requests
from rl.errors import EnvConfigError, RLError
from rl.simulation import advisor_requests

SHORT = {"episode_length": 60.0, "device": "cpu"}
ADVISED = {**SHORT, "advisor": "actuated-gap", "advisor_params": {"gap_s": 1.5, "max_out": 0.75}}


def test_the_gate_follows_the_policy_only_where_it_is_sure_enough():
    probs = [np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]),  # signal 0
             np.array([[0.5, 0.5], [0.05, 0.95], [0.7, 0.3]])]  # signal 1
    advice = np.array([[1, 0], [1, 0], [0, 0]])
    np.testing.assert_array_equal(gate_requests(probs, advice, 0.85), [[0, 0], [1, 1], [0, 0]])
    np.testing.assert_array_equal(gate_requests(probs, advice, 0.5), [[0, 0], [0, 1], [1, 0]])  # the argmax
    np.testing.assert_array_equal(gate_requests(probs, advice, 1.0), advice)  # never sure enough


@pytest.mark.parametrize("gate", [0, 0.0, 0.5, 0.85, 1])
def test_gates_in_range_are_accepted(gate):
    assert check_advisor_gate(gate) == float(gate)


@pytest.mark.parametrize("gate", [0.3, 1.2, -1, True, "0.85", None])
def test_gates_out_of_range_name_the_key(gate):
    with pytest.raises(EnvConfigError, match="advisor_gate"):
        check_advisor_gate(gate)


@pytest.fixture(scope="module")
def advised_model():
    """An untrained policy of the intersection with gap-out's request observed (Discrete actions)."""
    from stable_baselines3 import PPO

    venv = rl.make_vec_env("ARZ-Intersection-v0", 3, seed=4, **ADVISED)
    return PPO("MlpPolicy", venv, n_steps=8, batch_size=8, seed=0, device="cpu"), venv


def test_no_gate_is_the_most_likely_action_and_a_strict_gate_the_advisor(advised_model):
    model, venv = advised_model
    obs = venv.reset()
    nvec = venv.core.nvec
    for _ in range(5):
        model.arz_advisor_gate = 0.0
        plain = deterministic_actions(model, obs)
        np.testing.assert_array_equal(plain, model.predict(obs, deterministic=True)[0])
        model.arz_advisor_gate = 1.0
        strict = deterministic_actions(model, obs)
        assert strict.shape == plain.shape == (3,)
        np.testing.assert_array_equal(strict, advisor_requests(obs[:, -int(nvec.sum()):], nvec)[:, 0])
        obs, *_ = venv.step(strict)
    model.arz_advisor_gate = 0.0


def test_training_saves_the_gate_and_evaluation_reads_the_policy_behind_it(tmp_path):
    from stable_baselines3 import PPO

    from rl.evaluation import PolicyController
    from rl.training import TrainConfig, train

    cfg = TrainConfig(n_steps=8, batch_size=16, n_epochs=1, eval_every=16, eval_envs=2, checkpoint_every=0,
                      tensorboard=False, advisor_gate=1.0)
    result = train("ARZ-Intersection-v0", 16, 2, 0, tmp_path, train_config=cfg, **ADVISED)
    assert PPO.load(result.model_path).arz_advisor_gate == 1.0
    ctl = PolicyController(result.model_path)
    core = rl.make_vec_env("ARZ-Intersection-v0", 2, seed=9, **ADVISED).core
    core.reset(np.arange(2), [np.random.default_rng(s) for s in (0, 1)])
    ctl.reset(core)
    for _ in range(4):  # a gate of 1: the advisor's requests
        obs = core.observe()
        act = ctl.act(obs, core)
        np.testing.assert_array_equal(act, advisor_requests(obs[:, -int(core.nvec.sum()):], core.nvec))
        core.step(act)


def test_a_gate_without_an_advisor_is_refused_before_training(tmp_path):
    from rl.training import TrainConfig, train

    cfg = TrainConfig(n_steps=8, batch_size=16, n_epochs=1, eval_every=0, checkpoint_every=0, tensorboard=False,
                      advisor_gate=0.85)
    with pytest.raises(EnvConfigError, match="advisor_gate"):
        train("ARZ-Intersection-v0", 16, 2, 0, tmp_path / "out", train_config=cfg, **SHORT)
    assert not (tmp_path / "out").exists()


def test_a_gated_policy_is_not_evaluated_without_its_advisor(advised_model, tmp_path):
    from rl.evaluation import PolicyController

    model, _ = advised_model
    model.arz_advisor_gate = 0.85
    path = tmp_path / "gated.zip"
    model.save(path)
    model.arz_advisor_gate = 0.0
    ctl = PolicyController(path)
    plain = rl.make_vec_env("ARZ-Intersection-v0", 1, **SHORT).core
    with pytest.raises(RLError):  # other features (no advisor): refused by shape or by the gate
        ctl.reset(plain)
    ctl.model.observation_space = type(ctl.model.observation_space)(0.0, 1.0, (plain.obs_size,), np.float32)
    with pytest.raises(RLError, match="advisor gate"):
        ctl.reset(plain)


def test_the_presets_gate_the_arterial_only():
    from rl.presets import ENV_ADVISOR_GATES, plan_training

    assert plan_training("cpu", "cpu", env_id="ARZ-Arterial-v0").config.advisor_gate == ENV_ADVISOR_GATES["ARZ-Arterial-v0"]
    assert plan_training("cpu", "cpu", env_id="ARZ-Intersection-v0").config.advisor_gate == 0
    assert plan_training("cpu", "cpu", env_id="ARZ-Arterial-v0", advisor_gate=0).config.advisor_gate == 0
    with pytest.raises(EnvConfigError, match="advisor_gate"):
        plan_training("cpu", "cpu", env_id="ARZ-Arterial-v0", advisor_gate=0.2)
