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


@pytest.mark.parametrize("key", ["advisor_gate", "advisor_gate_heavy"])
def test_a_gate_without_an_advisor_is_refused_before_training(tmp_path, key):
    from rl.training import TrainConfig, train

    cfg = TrainConfig(n_steps=8, batch_size=16, n_epochs=1, eval_every=0, checkpoint_every=0, tensorboard=False,
                      **{key: 0.85})
    with pytest.raises(EnvConfigError, match=key):
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


def test_a_per_copy_gate_reads_each_copy_behind_its_own():
    probs = [np.array([[0.8, 0.2], [0.8, 0.2]])]
    advice = np.array([[1], [1]])
    np.testing.assert_array_equal(gate_requests(probs, advice, np.array([0.7, 0.85])), [[0], [1]])


def test_the_heavy_gate_applies_from_the_measured_demand_level(advised_model):
    from rl.decoding import copy_gates, describe_gate

    model, venv = advised_model
    model.arz_advisor_gate, model.arz_advisor_gate_heavy, model.arz_heavy_demand = 0.7, 0.85, 1.1
    try:
        np.testing.assert_array_equal(copy_gates(model, np.array([0.9, 1.1, 1.19]), 3), [0.7, 0.85, 0.85])
        assert describe_gate(model) == "gate 0.7, 0.85 from x1.1 demand"
        with pytest.raises(ValueError, match="measured demand"):  # never silently the light gate
            deterministic_actions(model, venv.reset())
        model.arz_advisor_gate_heavy = 1.0  # heavy copies: the advisor's request; light: the argmax
        model.arz_advisor_gate = 0.0
        obs = venv.reset()
        nvec = venv.core.nvec
        acts = deterministic_actions(model, obs, np.array([1.0, 1.2, 1.05]))
        advice = advisor_requests(obs[:, -int(nvec.sum()):], nvec)[:, 0]
        plain = model.predict(obs, deterministic=True)[0]
        np.testing.assert_array_equal(acts, [plain[0], advice[1], plain[2]])
    finally:
        model.arz_advisor_gate, model.arz_advisor_gate_heavy = 0.0, 0.0
    assert copy_gates(model, None, 2).tolist() == [0.0, 0.0]  # one gate everywhere: no demand needed


@pytest.mark.parametrize("level", [0, -1.0, True, "1.1", None, float("inf")])
def test_heavy_demand_must_be_a_positive_multiplier(level):
    from rl.decoding import check_heavy_demand

    with pytest.raises(EnvConfigError, match="heavy_demand"):
        check_heavy_demand(level)


def test_the_measured_demand_is_the_counted_arrivals_over_the_profiles():
    """Deterministic profiles: the count over the nominal integral is each copy's multiplier, from
    the first interval on (1 at the reset); the nominal integral is checked against a fine sum."""
    from rl.simulation import nominal_arrivals

    venv = rl.make_vec_env("ARZ-Arterial-v0", 3, seed=5, episode_length=120.0, device="cpu")
    venv.core.fixed_scale = np.array([0.83, 1.0, 1.17])
    venv.reset()
    np.testing.assert_array_equal(venv.core.measured_demand(), [1.0, 1.0, 1.0])
    for _ in range(6):
        venv.step(np.zeros((3, 3), np.int64))
        np.testing.assert_allclose(venv.core.measured_demand(), [0.83, 1.0, 1.17], rtol=1e-12)
    topo = venv.core.net.topo
    from solver.kernels.network import demand_rate

    t = np.linspace(0.0, 4000.0, 4001)  # past the profiles' last point (3600 s): the end value held
    rate = sum(np.array([demand_rate(e, k, s, topo.dem_t, topo.dem_v, topo.dem_np, topo.dem_lin) for s in t])
               for e in range(topo.dem_np.shape[0]) for k in range(2))
    fine = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
    np.testing.assert_allclose(nominal_arrivals(topo, t[[100, 1800, 3999]]), fine[[100, 1800, 3999]], rtol=1e-9)


def test_step_profiles_integrate_level_by_level():
    from rl.simulation import _profile_integral

    ts, vs = np.array([0.0, 10.0, 30.0]), np.array([1.0, 2.0, 4.0])
    assert _profile_integral(ts, vs, False, 5.0) == 5.0
    assert _profile_integral(ts, vs, False, 20.0) == 10.0 + 20.0
    assert _profile_integral(ts, vs, False, 40.0) == 10.0 + 40.0 + 40.0
    assert _profile_integral(ts, vs, True, 20.0) == pytest.approx(15.0 + 25.0)  # 1->2 over 10 s, 2->3 over 10 s
    assert _profile_integral(ts, vs, False, 0.0) == 0.0


def test_the_presets_raise_the_arterials_gate_with_the_measured_demand():
    from rl.presets import ENV_HEAVY_GATES, plan_training

    art = plan_training("cpu", "cpu", env_id="ARZ-Arterial-v0").config
    assert (art.advisor_gate_heavy, art.heavy_demand) == ENV_HEAVY_GATES["ARZ-Arterial-v0"]
    assert plan_training("cpu", "cpu", env_id="ARZ-Intersection-v0").config.advisor_gate_heavy == 0
    own = plan_training("cpu", "cpu", env_id="ARZ-Arterial-v0", advisor_gate_heavy=0, heavy_demand=1.05).config
    assert (own.advisor_gate_heavy, own.heavy_demand) == (0, 1.05)
    with pytest.raises(EnvConfigError, match="advisor_gate_heavy"):
        plan_training("cpu", "cpu", env_id="ARZ-Arterial-v0", advisor_gate_heavy=0.3)
    with pytest.raises(EnvConfigError, match="heavy_demand"):
        plan_training("cpu", "cpu", env_id="ARZ-Arterial-v0", heavy_demand=0)


def test_training_saves_the_heavy_gate_and_evaluation_reads_it_per_copy(tmp_path):
    from stable_baselines3 import PPO

    from rl.evaluation import PolicyController
    from rl.training import TrainConfig, train

    cfg = TrainConfig(n_steps=8, batch_size=16, n_epochs=1, eval_every=16, eval_envs=2, checkpoint_every=0,
                      tensorboard=False, advisor_gate=0.0, advisor_gate_heavy=1.0, heavy_demand=1.0)
    result = train("ARZ-Intersection-v0", 16, 2, 0, tmp_path, train_config=cfg, **ADVISED)
    saved = PPO.load(result.model_path)
    assert (saved.arz_advisor_gate, saved.arz_advisor_gate_heavy, saved.arz_heavy_demand) == (0.0, 1.0, 1.0)
    ctl = PolicyController(result.model_path)
    core = rl.make_vec_env("ARZ-Intersection-v0", 2, seed=9, **ADVISED).core
    core.fixed_scale = np.array([0.9, 1.1])
    core.reset(np.arange(2), [np.random.default_rng(s) for s in (0, 1)])
    ctl.reset(core)
    core.step(ctl.act(core.observe(), core))  # the first interval: the demand is measured from here on
    for _ in range(4):  # the heavy copy takes the advisor's requests, the light one the policy's argmax
        obs = core.observe()
        act = ctl.act(obs, core)
        assert act[1] == advisor_requests(obs[:, -int(core.nvec.sum()):], core.nvec)[1]
        assert act[0] == ctl.model.predict(obs, deterministic=True)[0][0]
        core.step(act)
