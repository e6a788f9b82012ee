"""The PPO recipe's mechanics: keep/switch actions, upstream observation bins, model selection."""

import numpy as np
import pytest

import rl
from rl.errors import EnvConfigError
from rl.training import (
    BestModel,
    TrainConfig,
    controller_delays,
    policy_delays,
    selection_score,
    train,
)

SHORT = {"episode_length": 60.0}


def test_switch_action_walks_the_phase_sequence_through_clearance():
    env = rl.TrafficSignalEnv(decision_interval=1.0, episode_length=40.0, action="switch")
    assert env.action_space == rl.TrafficSignalEnv(action="phase", **SHORT).action_space  # Discrete(2)
    env.reset(seed=0)
    shown = []  # (phase, stage) after each decision
    for a in [0] * 12 + [1] + [1] * 5 + [0] * 12:
        env.step(a)
        shown.append((int(env.core.sim.SP[0, 0]), int(env.core.sim.SS[0, 0])))
    assert shown[:12] == [(0, 0)] * 12  # keep: phase 0 stays green past min green
    assert shown[12:17] == [(0, 1)] * 3 + [(0, 2)] * 2  # switch: yellow 3 s, all-red 2 s
    assert shown[17:] == [(1, 0)] * 13  # 1 during clearance continues, never reverses; then keep


def test_switch_asked_during_min_green_waits_for_it():
    env = rl.TrafficSignalEnv(decision_interval=1.0, episode_length=40.0, action="switch")
    env.reset(seed=0)
    stages = [int(env.core.sim.SS[0, 0])]
    for _ in range(30):
        env.step(1)  # always switch
        stages.append(int(env.core.sim.SS[0, 0]))
    change = np.flatnonzero(np.diff(stages)) + 1
    runs = {(stages[a], b - a) for a, b in zip(change[:-1], change[1:], strict=True)}
    assert runs == {(0, 10), (1, 3), (2, 2)}  # the signal's min green and clearance still hold


def test_switch_action_per_signal_on_the_arterial():
    env = rl.TrafficSignalEnv(scenario="arterial_3", decision_interval=5.0, episode_length=60.0, action="switch")
    env.reset(seed=0)
    env.step([0, 0, 0])
    env.step([0, 0, 0])  # 10 s: min green done
    env.step([1, 0, 1])
    assert env.core.sim.SP[0].tolist() == [0, 0, 0] and env.core.sim.SS[0].tolist() == [2, 0, 2]
    env.step([0, 0, 0])
    assert env.core.sim.SP[0].tolist() == [1, 0, 1] and env.core.sim.SS[0].tolist() == [0, 0, 0]


def test_switch_and_upstream_bins_pass_the_sb3_env_checker():
    from stable_baselines3.common.env_checker import check_env

    check_env(rl.TrafficSignalEnv(scenario="arterial_3", action="switch", upstream_bins=2, **SHORT), warn=True)


def test_upstream_bins_cover_each_approach_link_after_the_near_bins():
    near = rl.TrafficSignalEnv(upstream_bins=0, **SHORT)
    far = rl.TrafficSignalEnv(upstream_bins=2, **SHORT)
    lay0, lay = near.core.layout, far.core.layout
    assert lay.n_feat == lay0.n_feat + 2 * 4
    assert lay.names[:12] == lay0.names[:12]  # the near bins first: bin 0 of approach a is feature 3a
    net = far.core.net
    for a in net.approaches:
        sl = net.link_slice(a.link)
        cells = []
        for name in (f"{a.link} {kind} {i}" for kind in ("bin", "upstream") for i in range(3)):
            if f"density m {name}" in lay.names:
                k = lay.names.index(f"density m {name}") // 2
                cells += lay.idx[lay.fptr[k]:lay.fptr[k + 1]].tolist()
        assert sorted(cells) == list(range(sl.start, sl.stop))  # 25 cells: 8 near, 17 upstream
    far.reset(seed=0)
    k = lay.names.index("density m E_in upstream 0") // 2
    far.core.sim.Q[0, 0, lay.idx[lay.fptr[k]:lay.fptr[k + 1]]] = 0.1  # motorcycles queued there, veh/m
    obs = far.core.observe()[0]
    assert obs[lay.names.index("density m E_in upstream 0")] == pytest.approx(0.1 / 0.25)  # / rho_jam
    assert obs[lay.names.index("density m E_in upstream 1")] < 0.01
    with pytest.raises(EnvConfigError, match="upstream_bins"):
        rl.TrafficSignalEnv(upstream_bins=-1, **SHORT)
    with pytest.raises(EnvConfigError, match="action"):
        rl.TrafficSignalEnv(action="extend", **SHORT)


def test_best_model_keeps_the_lowest_score_and_the_earlier_of_ties(tmp_path):
    best = BestModel(tmp_path / "best.zip")
    kept = [best.offer(score, step, lambda p, step=step: p.write_text(str(step)))
            for step, score in ((10, 5.0), (20, 3.0), (30, 4.0), (40, 3.0), (50, float("nan")))]
    assert kept == [True, True, False, False, False]
    assert (best.score, best.timesteps, best.path.read_text()) == (3.0, 20, "20")


def test_selection_score_is_the_geometric_mean_delay_per_vehicle():
    # 10 and 40 s per vehicle: geometric mean 20 (the pooled mean, 50 veh s / 2 veh... would be 25)
    assert selection_score(np.array([100.0, 4000.0]), np.array([10.0, 100.0])) == pytest.approx(20.0)


def test_ratio_selection_is_the_mean_of_ratios_and_weighs_a_breakdown_fully():
    # 10 and 40 s per vehicle against a reference of 20 and 20: ratios 0.5 and 2, mean 1.25
    assert selection_score(np.array([100.0, 4000.0]), np.array([10.0, 100.0]), np.array([20.0, 20.0])) \
        == pytest.approx(1.25)
    ref = np.full(8, 30.0)
    steady = np.full(8, 30.0)  # as good as the reference everywhere
    breakdown = np.r_[np.full(7, 0.9 * 30.0), 2.0 * 30.0]  # 10 % better on 7 copies, x2 on the eighth
    # geometric mean ratio (0.9**7 * 2)**(1/8) = 0.994, mean (7 * 0.9 + 2) / 8 = 1.04
    ones = np.ones(8)
    # the geometric mean prefers the policy that breaks down; the mean of ratios does not
    assert selection_score(breakdown, ones) < selection_score(steady, ones)
    assert selection_score(breakdown, ones, ref) > selection_score(steady, ones, ref)


def test_controller_delays_measure_a_controller_as_run_episodes_does():
    from rl.controllers import make_controller
    from rl.evaluation import run_episodes

    venv = rl.make_vec_env("ARZ-Intersection-v0", 2, seed=5, **SHORT)
    delay, served = controller_delays(make_controller("actuated"), venv, 7)
    trace = run_episodes(make_controller("actuated"), venv.core, [7, 8])
    np.testing.assert_allclose(delay, trace.measures["delay"].sum(axis=1), rtol=1e-9)
    assert np.all(served > 0)


def test_validation_replays_the_same_draws(tmp_path):
    from stable_baselines3 import PPO

    venv = rl.make_vec_env("ARZ-Intersection-v0", 2, seed=5, **SHORT)
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=16, seed=0)
    first, second = policy_delays(model, venv, 5), policy_delays(model, venv, 5)
    np.testing.assert_array_equal(first[0], second[0])
    third = policy_delays(model, venv)  # without the seed: new demand draws
    assert not np.array_equal(first[0], third[0])


def test_train_delivers_the_selected_policy_and_the_last_one(tmp_path):
    from stable_baselines3 import PPO

    cfg = TrainConfig(n_steps=8, batch_size=16, n_epochs=1, eval_every=16, eval_envs=2, checkpoint_every=0,
                      tensorboard=False)
    result = train("ARZ-Intersection-v0", 48, 2, 0, tmp_path, train_config=cfg, action="switch", **SHORT)
    assert result.selected_timesteps in (16, 32, 48)
    assert result.model_path.read_bytes() == (tmp_path / "best_model.zip").read_bytes()
    assert (tmp_path / "last_model.zip").is_file()
    assert PPO.load(result.model_path).arz_action == "switch"  # evaluation maps its actions the same way
    plain = train("ARZ-Intersection-v0", 32, 2, 0, tmp_path / "plain",
                  train_config=TrainConfig(n_steps=8, batch_size=16, n_epochs=1, eval_every=0, checkpoint_every=0,
                                           tensorboard=False), **SHORT)
    assert plain.selected_timesteps == 32 and not (tmp_path / "plain" / "best_model.zip").exists()


def test_stratified_scales_are_the_strata_midpoints_by_hand():
    from rl.config import stratified_scales

    np.testing.assert_allclose(stratified_scales((0.8, 1.2), 4), [0.85, 0.95, 1.05, 1.15])
    np.testing.assert_allclose(stratified_scales((1.0, 1.0), 3), [1.0, 1.0, 1.0])


def test_fixed_scale_replaces_the_draws_of_the_reset_copies():
    venv = rl.make_vec_env("ARZ-Intersection-v0", 3, seed=5, **SHORT)
    venv.reset()
    drawn = venv.core.demand_scale.copy()
    assert len(set(np.round(drawn, 6))) == 3 and np.all((drawn >= 0.8) & (drawn <= 1.2))
    venv.core.fixed_scale = np.array([0.9, 1.0, 1.1])
    venv.reset()
    np.testing.assert_allclose(venv.core.demand_scale, [0.9, 1.0, 1.1])
    assert [i["demand_scale"] for i in venv.reset_infos] == pytest.approx([0.9, 1.0, 1.1])


def spy_validation(monkeypatch) -> list[np.ndarray]:
    """The demand multipliers of the validation copies at every validation of a train() call."""
    import rl.training

    seen, real = [], rl.training.policy_delays

    def spy(model, venv, seed=None):
        out = real(model, venv, seed)
        seen.append(venv.core.demand_scale.copy())
        return out

    monkeypatch.setattr(rl.training, "policy_delays", spy)
    return seen


@pytest.mark.parametrize("validation", ["stratified", "random"])
def test_train_validates_at_the_strata_midpoints_or_at_drawn_multipliers(tmp_path, monkeypatch, validation):
    seen = spy_validation(monkeypatch)
    cfg = TrainConfig(n_steps=8, batch_size=16, n_epochs=1, eval_every=16, eval_envs=4, checkpoint_every=0,
                      tensorboard=False, validation=validation)
    train("ARZ-Intersection-v0", 32, 2, 0, tmp_path, train_config=cfg, **SHORT)
    assert len(seen) >= 2 and all(np.array_equal(s, seen[0]) for s in seen)  # the same copies every time
    if validation == "stratified":
        np.testing.assert_allclose(seen[0], [0.85, 0.95, 1.05, 1.15])
    else:
        assert not np.allclose(np.sort(seen[0]), [0.85, 0.95, 1.05, 1.15])


def test_a_training_demand_range_moves_training_and_not_validation(tmp_path, monkeypatch):
    import rl.training

    made, validated = [], spy_validation(monkeypatch)
    real_make = rl.training.make_vec_env
    monkeypatch.setattr(rl.training, "make_vec_env", lambda *a, **k: made.append(real_make(*a, **k)) or made[-1])
    cfg = TrainConfig(n_steps=8, batch_size=16, n_epochs=1, eval_every=16, eval_envs=4, checkpoint_every=0,
                      tensorboard=False, train_demand_stretch=0.5)
    train("ARZ-Intersection-v0", 32, 2, 0, tmp_path, train_config=cfg, **SHORT)
    training = made[0]
    assert training.config.demand_scale == pytest.approx((0.8, 1.4))  # 1.2 + 0.5 x 0.4
    assert np.all((training.core.demand_scale >= 0.8) & (training.core.demand_scale <= 1.4))
    np.testing.assert_allclose(validated[0], [0.85, 0.95, 1.05, 1.15])  # the environment's range


def test_a_negative_stretch_is_a_clear_error(tmp_path):
    with pytest.raises(EnvConfigError, match="train_demand_stretch"):
        train("ARZ-Intersection-v0", 16, 2, 0, tmp_path, train_config=TrainConfig(train_demand_stretch=-0.1), **SHORT)


def test_train_rejects_an_unknown_validation(tmp_path):
    with pytest.raises(EnvConfigError, match="validation"):
        train("ARZ-Intersection-v0", 16, 2, 0, tmp_path, train_config=TrainConfig(validation="grid"), **SHORT)


def test_a_policy_of_another_observation_is_a_clear_error(tmp_path):
    from stable_baselines3 import PPO

    from rl.config import resolve_config
    from rl.errors import RLError
    from rl.evaluation import PolicyController
    from rl.simulation import ControlledNetwork

    PPO("MlpPolicy", rl.make_vec_env("ARZ-Intersection-v0", 1, **SHORT), n_steps=8, batch_size=8).save(tmp_path / "m")
    cfg, sc = resolve_config(**{**rl.ENV_IDS["ARZ-Arterial-v0"], **SHORT})
    with pytest.raises(RLError, match=r"shape \(60,\), the environment gives \(146,\)"):
        PolicyController(tmp_path / "m.zip").reset(ControlledNetwork(cfg, sc, batch=1))


def test_clock_feature_is_the_episode_progress_and_restarts_with_the_episode():
    plain = rl.TrafficSignalEnv(**SHORT)
    env = rl.TrafficSignalEnv(clock=True, **SHORT)
    assert env.feature_names[-1] == "clock" and env.feature_names[:-1] == plain.feature_names
    assert env.observation_space.shape == (plain.observation_space.shape[0] + 1,)
    obs, _ = env.reset(seed=0)
    assert obs[-1] == 0.0
    length, di = env.config.episode_length, env.config.decision_interval
    for k in range(1, env.config.n_decisions + 1):
        obs, _, _, truncated, _ = env.step(env.action_space.sample())
        assert obs[-1] == pytest.approx(min(k * di / length, 1.0), abs=1e-6)
    assert truncated
    obs, _ = env.reset(seed=1)
    assert obs[-1] == 0.0
    ref, _ = plain.reset(seed=1)
    np.testing.assert_array_equal(obs[:-1], ref)  # the other features are untouched
    with pytest.raises(EnvConfigError, match="clock"):
        rl.TrafficSignalEnv(clock="yes", **SHORT)


def test_advisor_feature_is_the_rules_request_at_every_decision_and_the_rest_is_untouched():
    from rl.controllers import make_controller

    params = {"gap_s": 1.5, "max_out": 0.75}
    kw = {"scenario": "arterial_3", "episode_length": 120.0, "device": "cpu"}
    plain = rl.TrafficSignalEnv(**kw)
    env = rl.TrafficSignalEnv(advisor="actuated-gap", advisor_params=params, **kw)
    nvec = env.core.nvec
    extra = int(nvec.sum())
    assert env.observation_space.shape == (plain.observation_space.shape[0] + extra,)
    assert env.feature_names[:-extra] == plain.feature_names
    assert env.feature_names[-extra:][:2] == ["advisor phase 0 J1", "advisor phase 1 J1"]
    rule = make_controller("actuated-gap")
    rule.gap_s, rule.max_out = params["gap_s"], params["max_out"]
    obs, _ = env.reset(seed=3)
    ref, _ = plain.reset(seed=3)
    rule.reset(env.core)
    offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
    requests = []
    for _ in range(env.config.n_decisions):
        np.testing.assert_array_equal(obs[:-extra], ref)
        onehot = obs[-extra:]
        want = rule.act(obs[None], env.core)[0]
        assert onehot.sum() == len(nvec) and all(onehot[o + w] == 1.0 for o, w in zip(offsets, want, strict=True))
        requests.append(tuple(want))
        obs, *_ = env.step(want)  # the rule drives both copies alike
        ref, *_ = plain.step(want)
    assert len(set(requests)) > 1  # the feature moves with the rule's request, not a constant


@pytest.mark.parametrize("kwargs, key", [
    ({"advisor": "fixed-time"}, "advisor"),
    ({"advisor": "actuated-gap", "advisor_params": {"gap": 1.0}}, "advisor_params"),
    ({"advisor": "actuated-gap", "advisor_params": {"gap_s": "fast"}}, "advisor_params"),
    ({"advisor_params": {"gap_s": 1.0}}, "advisor_params"),
])
def test_bad_advisor_options_name_the_key(kwargs, key):
    with pytest.raises(EnvConfigError, match=key):
        rl.TrafficSignalEnv(device="cpu", **kwargs, **SHORT)


def test_a_teacher_observed_as_advisor_takes_its_parameters_and_its_lookahead_reads_no_advisor():
    from rl.imitation import adopt_advisor, make_teacher, observed_rule, tuned_part

    env = rl.TrafficSignalEnv(advisor="actuated-gap", advisor_params={"gap_s": 2.5, "max_out": 1.5},
                              device="cpu", **SHORT)
    teacher = make_teacher("rollout")
    base = tuned_part(teacher)
    assert observed_rule(base, env.config)
    adopt_advisor(base, env.config)
    assert (base.gap_s, base.max_out) == (2.5, 1.5)
    other = make_teacher("max-pressure-advanced")
    assert not observed_rule(other, env.config)
    teacher.reset(env.core)
    ahead, _ = teacher._lookahead_copies(2)
    assert ahead.cfg.advisor is None and ahead.obs_size == env.core.layout.size
