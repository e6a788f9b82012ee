"""Warm start (rl.imitation): the returns by hand, the labels, the draws, and a clone that acts
like its teacher."""

import csv

import numpy as np
import pytest

from rl.controllers import make_controller
from rl.evaluation import EVAL_SEED_BASE
from rl.imitation import (
    IMITATION_SEED_BASE,
    WarmStartConfig,
    discounted_running,
    imitation_draws,
    returns_to_go,
    rollout,
    teacher_labels,
    warm_start,
)
from rl.training import EVAL_SEED_OFFSET, TrainConfig, train
from rl.tuning import tuning_draws
from rl.vec_env import make_vec_env

SHORT = {"episode_length": 150.0}  # 30 decisions: a few phase changes of actuated


def test_returns_by_hand():
    r = np.array([[1.0, 0.0], [2.0, 1.0], [4.0, 0.0]])  # (T=3, B=2)
    assert discounted_running(r, 0.5)[:, 0].tolist() == [1.0, 2.5, 5.25]  # R_t = 0.5 R_{t-1} + r_t
    assert returns_to_go(r, 0.5)[:, 0].tolist() == [3.0, 4.0, 4.0]  # G_t = r_t + 0.5 G_{t+1}
    assert returns_to_go(r, 0.5)[:, 1].tolist() == [0.5, 1.0, 0.0]


def test_switch_labels_mark_a_change_of_phase():
    venv = make_vec_env("ARZ-Intersection-v0", 2, seed=0, **SHORT)
    venv.reset()
    venv.core.sim.SP[:, 0] = [0, 1]
    asked = np.array([[1], [1]])
    assert teacher_labels(venv.core, asked, "phase").tolist() == [[1], [1]]
    assert teacher_labels(venv.core, asked, "switch").tolist() == [[1], [0]]


def test_imitation_draws_are_disjoint_from_every_other_range():
    mine = set(imitation_draws(0, 64)) | set(imitation_draws(99_999, 64))
    others = set(range(10_000)) | {EVAL_SEED_OFFSET + s + i for s in (0, 99_999) for i in range(100)}
    others |= {EVAL_SEED_BASE + 1000 * s + e for s in (0, 1000, 99_999) for e in range(100)}
    others |= set(tuning_draws(0, 50)) | set(tuning_draws(99_999, 50)) | {10**12 + 10**9 + i for i in range(100)}
    assert not mine & others and min(mine) >= IMITATION_SEED_BASE
    assert len(mine) == 128


def _agreement(model, teacher_name: str, seed: int) -> float:
    """Share of a fresh teacher-driven episode's green decisions where the policy's most likely
    action is the teacher's."""
    venv = make_vec_env("ARZ-Intersection-v0", 4, **SHORT, device="cpu")
    data = rollout(venv, make_controller(teacher_name), [seed])
    actions, _ = model.predict(data["obs"], deterministic=True)
    hits = np.asarray(actions).reshape(data["labels"].shape) == data["labels"]
    return float(hits[data["mask"]].mean())


@pytest.fixture(scope="module")
def cloned(tmp_path_factory):
    out = tmp_path_factory.mktemp("warm")
    cfg = TrainConfig(n_steps=16, batch_size=32, n_epochs=1, eval_every=32, eval_envs=2, checkpoint_every=0,
                      tensorboard=False, warm_start="max-pressure", selection="ratio")
    return train("ARZ-Intersection-v0", 32, 2, 0, out, train_config=cfg, **SHORT)


def test_the_clone_acts_like_its_teacher_on_new_draws(cloned):
    from stable_baselines3 import PPO

    stats = cloned.warm_start
    assert stats["teacher"] == "max-pressure" and stats["samples"] == 3 * 8 * 30 and stats["rounds"] == 3
    clone = PPO.load(cloned.model_path.parent / "clone_model.zip", device="cpu")
    mine = _agreement(clone, "max-pressure", 5_000)
    # max-pressure and actuated disagree on some states: the clone follows its own teacher there
    other = _agreement(clone, "actuated", 5_000)
    assert mine >= 0.9 and mine > other


def test_rounds_default_per_teacher_and_the_train_config_overrides_them(tmp_path, monkeypatch):
    import rl.imitation
    from rl.errors import EnvConfigError
    from rl.imitation import default_rounds

    assert default_rounds("rollout") == 9 and default_rounds("max-pressure") == WarmStartConfig.rounds == 3
    seen = []

    class Stop(Exception):
        pass

    def fake(model, env_id, seed, env_kwargs, ws, normalizer=None, progress=None, select=None):
        seen.append(ws.rounds)
        raise Stop

    monkeypatch.setattr(rl.imitation, "warm_start", fake)
    base = TrainConfig(n_steps=16, batch_size=32, eval_every=0, checkpoint_every=0, tensorboard=False)
    for teacher, rounds in (("rollout", None), ("actuated", None), ("rollout", 2)):
        with pytest.raises(Stop):
            train("ARZ-Intersection-v0", 16, 1, 0, tmp_path, train_config=TrainConfig(
                **{**base.__dict__, "warm_start": teacher, "warm_start_rounds": rounds}), **SHORT)
    assert seen == [9, 3, 2]
    with pytest.raises(EnvConfigError, match="warm_start_rounds"):
        train("ARZ-Intersection-v0", 16, 1, 0, tmp_path, train_config=TrainConfig(warm_start_rounds=0), **SHORT)


def test_the_clone_is_validated_first_and_is_a_selection_candidate(cloned):
    with cloned.metrics_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["timesteps"] == "0" and float(rows[0]["eval_mean_delay"]) > 0
    assert float(rows[0]["eval_mean_delay"]) == pytest.approx(cloned.warm_start["validation_delay"])
    assert cloned.selected_timesteps in {0, 32}


def test_the_clone_is_the_candidate_with_the_best_validation_score(cloned):
    stats = cloned.warm_start
    scores = stats["clone_scores"]
    assert set(scores) == {"round0", "round1", "round2", "refit0", "refit1", "refit2", "refit3"}
    assert stats["clone_chosen"] == min(scores, key=scores.get)
    with (cloned.model_path.parent / "validation.csv").open() as fh:
        first = [r for r in csv.DictReader(fh) if r["timesteps"] == "0"]
    # the kept clone is the one scored: its validation row repeats its candidate score
    assert float(first[0]["score"]) == pytest.approx(scores[stats["clone_chosen"]], rel=1e-9)


def test_warm_start_keeps_the_candidate_that_select_scores_lowest(tmp_path, monkeypatch):
    from stable_baselines3 import PPO

    import rl.imitation

    model = PPO("MlpPolicy", make_vec_env("ARZ-Intersection-v0", 2, seed=0, **SHORT), n_steps=16, batch_size=32,
                seed=0, device="cpu")
    seen, rounds = [], []
    labelled = rl.imitation.rollout
    monkeypatch.setattr(rl.imitation, "rollout", lambda *a, **k: rounds.append(labelled(*a, **k)) or rounds[-1])

    def select(m, teacher, params):  # any function of the policy: here its action head's mean weight
        seen.append((teacher, dict(params)))
        return float(m.policy.action_net.weight.detach().mean())

    ws = WarmStartConfig(teacher="actuated-gap", rounds=2, copies=2, steps=50, refits=3, tune_copies=2)
    calls = []
    stats = warm_start(model, "ARZ-Intersection-v0", 0, SHORT, ws, select=select, progress=lambda *a: calls.append(a))
    # the last phase counts the scored clones (round fits and refits) as its own stage
    assert [c for c in calls if c[0] != "warm-start/tune"] == [("warm-start/label", i, 2) for i in range(3)] + [
        ("warm-start/score", i, 5) for i in range(6)]
    scores = stats["clone_scores"]
    assert list(scores) == ["round0", "round1", "refit0", "refit1", "refit2"] and len(set(scores.values())) == 5
    assert stats["clone_chosen"] == min(scores, key=scores.get)
    assert float(model.policy.action_net.weight.detach().mean()) == pytest.approx(scores[stats["clone_chosen"]])
    assert seen == [("actuated-gap", stats["teacher_params"])] * 5 and stats["teacher_params"]
    # the agreement reported is the kept clone's, on the last round's labelled states
    assert stats["agreement"] == rl.imitation._agreement(model.policy, rounds[-1])
    no_select = warm_start(model, "ARZ-Intersection-v0", 0, SHORT, ws)
    assert "clone_scores" not in no_select


def test_ratio_selection_divides_by_the_teacher_on_the_validation_copies(cloned):
    from rl.training import controller_delays

    with (cloned.model_path.parent / "validation.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert cloned.warm_start["reference"] == "max-pressure"
    from rl.config import stratified_scales

    venv = make_vec_env("ARZ-Intersection-v0", 2, **SHORT, device="cpu")  # the validation copies of seed 0
    venv.core.fixed_scale = stratified_scales(venv.config.demand_scale, 2)
    delay, served = controller_delays(make_controller("max-pressure"), venv, 0 + EVAL_SEED_OFFSET)
    for step in {r["timesteps"] for r in rows}:
        mine = [r for r in rows if r["timesteps"] == step]
        assert [int(r["copy"]) for r in mine[:2]] == [0, 1]
        ratios = [float(r["delay_per_vehicle_s"]) / float(r["reference_s"]) for r in mine[:2]]
        assert float(mine[0]["score"]) == pytest.approx(np.mean(ratios))
        np.testing.assert_allclose([float(r["reference_s"]) for r in mine[:2]], delay / served, rtol=1e-9)
    assert cloned.warm_start["reference_validation_delay"] == pytest.approx(delay.sum() / served.sum())


def test_warm_start_primes_the_reward_normaliser_and_fits_the_critic(tmp_path):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    venv = VecNormalize(make_vec_env("ARZ-Intersection-v0", 2, seed=0, **SHORT), norm_obs=False)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, seed=0, device="cpu")
    before = float(venv.ret_rms.count)
    stats = warm_start(model, "ARZ-Intersection-v0", 0, SHORT, WarmStartConfig(teacher="actuated", rounds=1,
                       copies=4), normalizer=venv)
    assert venv.ret_rms.count == pytest.approx(before + 4 * 30)
    assert stats["reward_scale"] == pytest.approx(np.sqrt(venv.ret_rms.var + venv.epsilon))
    assert stats["value_explained"] > 0.5  # the critic learned the clone's returns, not noise
    assert stats["teacher_reward"] < 0  # delay reward


def test_auto_picks_the_teacher_with_the_best_return(tmp_path):
    from stable_baselines3 import PPO

    from rl.imitation import AUTO_TEACHERS

    venv = make_vec_env("ARZ-Intersection-v0", 2, seed=0, **SHORT)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, seed=0, device="cpu")
    calls = []
    stats = warm_start(model, "ARZ-Intersection-v0", 0, SHORT, WarmStartConfig(teacher="auto", rounds=1, copies=2,
                       steps=10, value_steps=10), progress=lambda *a: calls.append(a))
    # each phase its own stage and count: 12 tuning candidates of actuated-gap, then round 0 of the 3 candidates
    assert calls == [("warm-start/tune", i, 12) for i in range(13)] + [("warm-start/label", i, 3) for i in range(4)]
    returns = stats["teacher_returns"]
    assert set(returns) == set(AUTO_TEACHERS) and len(set(returns.values())) > 1  # they differ
    assert stats["teacher"] == max(returns, key=returns.get)
    assert stats["teacher_reward"] == pytest.approx(returns[stats["teacher"]])
    assert bool(stats["teacher_params"]) == (stats["teacher"] == "actuated-gap")


def test_the_rollout_teacher_tunes_its_base_and_labels_with_its_lookahead(tmp_path):
    from stable_baselines3 import PPO

    from rl.errors import UnknownNameError
    from rl.imitation import make_teacher, tuned_part
    from rl.rollout import RolloutController

    teacher = make_teacher("rollout")
    assert isinstance(teacher, RolloutController) and tuned_part(teacher) is teacher.base
    assert teacher.mode == "single"  # the base's request and its one-signal deviations
    with pytest.raises(UnknownNameError, match="rollout"):
        make_teacher("oracle")
    venv = make_vec_env("ARZ-Intersection-v0", 2, seed=0, **SHORT)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, seed=0, device="cpu")
    dump = tmp_path / "labels.npz"
    stats = warm_start(model, "ARZ-Intersection-v0", 0, SHORT, WarmStartConfig(teacher="rollout", rounds=1,
                       copies=2, steps=10, value_steps=10, weighting="stakes", dump=str(dump)))
    assert stats["teacher"] == "rollout" and set(stats["teacher_params"]) >= {"gap_s", "max_out"}
    assert stats["samples"] == 2 * 30
    # the labels kept for offline fits, with what each decision was worth to the look-ahead
    saved = np.load(dump)
    assert saved["obs"].shape[0] == saved["labels"].shape[0] == saved["stakes"].shape[0] == 60
    assert saved["labels"].shape == saved["mask"].shape == saved["stakes"].shape == (60, 1)
    assert (saved["stakes"] >= 0).all() and (saved["stakes"] > 0).any()
    assert ((saved["scale"] >= 0.8) & (saved["scale"] <= 1.2)).all() and (saved["batch"] == 0).all()


def test_label_weights_by_hand_and_stakes_need_the_rollout_teacher():
    from rl.errors import EnvConfigError
    from rl.imitation import STAKES_CAP, label_weights

    data = {"labels": np.zeros((4, 1), np.int64), "mask": np.array([[True], [True], [True], [False]]),
            "stakes": np.array([[0.0], [10.0], [20.0], [1e9]])}  # mean of the unmasked: 10
    assert label_weights(data, "none").tolist() == [[1.0]] * 4
    assert label_weights(data, "stakes").tolist() == [[1.0], [2.0], [3.0], [1.0 + STAKES_CAP]]
    assert label_weights({**data, "stakes": np.zeros((4, 1))}, "stakes").tolist() == [[1.0]] * 4
    with pytest.raises(EnvConfigError, match="warm_start_weighting='heavy'.*none"):
        label_weights(data, "heavy")
    with pytest.raises(EnvConfigError, match="does not report"):
        label_weights({k: data[k] for k in ("labels", "mask")}, "stakes")
    cfg = TrainConfig(warm_start="max-pressure", warm_start_weighting="stakes", tensorboard=False)
    with pytest.raises(EnvConfigError, match="only the 'rollout' teacher"):  # before anything is built
        train("ARZ-Intersection-v0", 32, 2, 0, "/nonexistent/never-made", train_config=cfg)


def test_deviations_worth_less_than_the_margin_follow_the_observed_advisor():
    from rl.errors import EnvConfigError
    from rl.imitation import follow_advisor_labels

    # two signals (2 and 3 phases): the observation ends with the advisor's one-hot request
    advice = np.array([[0, 2], [1, 0], [1, 1], [0, 0]])
    onehot = np.zeros((4, 5), np.float32)
    onehot[np.arange(4), advice[:, 0]] = 1.0
    onehot[np.arange(4), 2 + advice[:, 1]] = 1.0
    obs = np.concatenate([np.full((4, 3), 0.5, np.float32), onehot], axis=1)
    labels = np.array([[1, 2], [1, 1], [0, 1], [0, 0]])  # deviations: (0,0), (1,1), (2,0)
    stakes = np.array([[10.0, 0.0], [99.0, 50.0], [40.0, 7.0], [1.0, 1.0]])
    data = {"obs": obs, "labels": labels, "stakes": stakes}
    np.testing.assert_array_equal(follow_advisor_labels(data, [2, 3], 0.0), labels)
    np.testing.assert_array_equal(follow_advisor_labels(data, [2, 3], 60.0), [[0, 2], [1, 0], [1, 1], [0, 0]])
    np.testing.assert_array_equal(follow_advisor_labels(data, [2, 3], 45.0), [[0, 2], [1, 1], [1, 1], [0, 0]])
    np.testing.assert_array_equal(follow_advisor_labels(data, [2, 3], 20.0), [[0, 2], [1, 1], [0, 1], [0, 0]])
    assert labels[1, 1] == 1  # the input is not modified
    with pytest.raises(EnvConfigError, match="deviation_margin"):
        follow_advisor_labels({"obs": obs, "labels": labels}, [2, 3], 10.0)


def test_a_margin_needs_the_rollout_teacher_and_an_observed_advisor():
    import rl
    from rl.errors import EnvConfigError
    from rl.imitation import check_margin

    plain = rl.TrafficSignalEnv(device="cpu", episode_length=60.0).config
    advised = rl.TrafficSignalEnv(device="cpu", episode_length=60.0, advisor="actuated-gap").config
    assert check_margin(0, "actuated", plain) == 0.0
    assert check_margin(30, "rollout", advised) == 30.0
    for margin, teacher, cfg in ((-1, "rollout", advised), ("30", "rollout", advised),
                                 (30, "actuated-gap", advised), (30, "rollout", plain)):
        with pytest.raises(EnvConfigError, match="warm_start_margin"):
            check_margin(margin, teacher, cfg)
