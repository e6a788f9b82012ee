"""PPO smoke run and the evaluation loop: the files and rows the kernel payload relies on."""

import csv

import numpy as np
import pytest

from rl.evaluation import (
    PAIRED_PREFIX,
    SUMMARY_COLUMNS,
    evaluate,
    paired_relative_difference,
    paired_rows,
)
from rl.training import METRICS_COLUMNS, TrainConfig, train

SHORT = {"episode_length": 40.0}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    cfg = TrainConfig(n_steps=16, batch_size=32, n_epochs=1, eval_every=32, eval_envs=2,
                      checkpoint_every=32, tensorboard=False)
    return train("ARZ-Intersection-v0", 64, 2, 0, out, train_config=cfg, **SHORT)


def test_train_writes_model_checkpoints_and_the_real_learning_curve(trained):
    assert trained.model_path.is_file() and trained.timesteps == 64 and trained.steps_per_s > 0
    assert (trained.model_path.parent / "best_model.zip").is_file()
    assert list((trained.model_path.parent / "checkpoints").glob("model_*.zip"))
    with trained.metrics_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == METRICS_COLUMNS
    assert [int(r["timesteps"]) for r in rows] == [32, 64]
    assert float(rows[-1]["ep_rew_mean"]) < 0  # delay reward, 8-step episodes have finished
    assert float(rows[-1]["eval_mean_delay"]) > 0
    split = trained.split  # the second rollout and its update: env, policy and update all took time
    assert split["steps"] == 32 and split["env_s"] > 0 and split["policy_s"] > 0 and split["update_s"] > 0
    assert split["copies_s"] == 0.0 and (trained.device, trained.ppo_device) == ("cpu", "cpu")
    assert 0 < split["advance_s"] and 0 < split["readout_s"] and split["advance_s"] + split["readout_s"] < split["env_s"]


def test_evaluate_compares_ppo_and_classical_controllers(trained, tmp_path):
    calls = []
    result = evaluate("ARZ-Intersection-v0", [f"ppo:{trained.model_path}", "fixed-time", "max-pressure"],
                      episodes=2, seeds=[0, 1], out_dir=tmp_path,
                      progress=lambda *a: calls.append(a), **SHORT)
    assert calls[-1] == ("evaluate", 6, 6)
    with result.summary_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    # 15 (metric, class) per controller: delay, throughput, time spent x 3 classes, mean and max
    # queue, max_queue_full, longest_wait_s, starved, p95_delay_s; plus 2 x 3 paired rows
    assert tuple(rows[0]) == SUMMARY_COLUMNS and len(rows) == len(result.rows) == 3 * 15 + 2 * 3
    assert len(result.draws) == 3 * 15 * 4  # controllers x (metric, class) x draws: the pivot's frame
    assert {d["draw"] for d in result.draws} == {2_000_000 + e for e in (0, 1)} | {2_001_000 + e for e in (0, 1)}
    paired = {(r["metric"], r["class"]) for r in result.rows if r["metric"].startswith(PAIRED_PREFIX)}
    assert paired == {(PAIRED_PREFIX + b, k) for b in ("fixed-time", "max-pressure") for k in ("m", "c", "total")}
    assert [(pc.baseline, pc.n) for pc in result.paired] == [("fixed-time", 4), ("max-pressure", 4)]
    delay = {r["controller"]: r for r in result.rows
             if r["metric"] == "delay_per_vehicle_s" and r["class"] == "total"}
    assert len(delay) == 3 and all(r["mean"] > 0 and np.isfinite(r["ci95"]) for r in delay.values())
    names = sorted(p.name for p in result.figures)
    assert names == ["controller_comparison.png", "learning_curve.png", "queue_over_time.png",
                     "time_space_density.png"]
    assert all(p.read_bytes()[:8] == PNG for p in result.figures)


def test_paired_relative_difference_by_hand():
    # per draw: -10 %, -20 %, -30 %: mean -0.2, sd 0.1, t(0.975, 2) = 4.302653
    mean, hw = paired_relative_difference(np.array([90.0, 40.0, 14.0]), np.array([100.0, 50.0, 20.0]))
    assert mean == pytest.approx(-0.2)
    assert hw == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-6)


def test_pairing_removes_the_shared_spread_of_demand():
    # delays swing 10x across draws, but the policy is 20 % better on every one: a zero-width interval
    base = np.array([20.0, 80.0, 200.0, 35.0])
    per_draw = {"ppo:m.zip": {("delay_per_vehicle_s", k): 0.8 * base for k in ("m", "c", "total")},
                "fixed-time": {("delay_per_vehicle_s", k): base for k in ("m", "c", "total")}}
    rows, paired = paired_rows(per_draw, ["ppo:m.zip", "fixed-time"])
    assert [(r["metric"], r["class"]) for r in rows] == [(PAIRED_PREFIX + "fixed-time", k) for k in ("m", "c", "total")]
    (pc,) = paired
    assert (pc.controller, pc.baseline, pc.n) == ("ppo:m.zip", "fixed-time", 4)
    assert pc.mean == pytest.approx(-0.2) and pc.ci95 == pytest.approx(0.0, abs=1e-12)
    assert pc.upper < -0.1  # at least 10 % below the baseline, with confidence


def test_train_counts_real_steps_from_the_first_batch_on(tmp_path):
    calls = []
    cfg = TrainConfig(n_steps=16, batch_size=32, n_epochs=1, eval_every=0, checkpoint_every=0,
                      tensorboard=False)
    train("ARZ-Intersection-v0", 64, 2, 0, tmp_path, progress=lambda *a: calls.append(a),
          train_config=cfg, **SHORT)
    done = [d for _, d, _ in calls]
    assert calls[0] == ("train", 2, 64)  # one step of both copies: no wait for the whole rollout
    assert done == sorted(done) and done[-1] == 64 and {32, 64} <= set(done)  # rollout ends too


def test_presets_resolve_device_preset_and_learning_rate():
    from rl.errors import EnvConfigError
    from rl.presets import GPU_CONFIG, plan_training
    from solver.device import gpu_available

    plan = plan_training("cpu")
    assert (plan.device, plan.preset, plan.n_envs, plan.ppo_device) == ("cpu", "cpu", 8, "cpu")
    # the CPU preset: the defaults, a warm start and the smaller step that keeps the clone
    assert plan.config == TrainConfig(learning_rate=1e-4, warm_start="auto")
    recipe = plan_training("cpu", "gpu", n_envs=64)  # the GPU recipe on CPU copies
    assert (recipe.device, recipe.preset, recipe.n_envs, recipe.config) == ("cpu", "gpu", 64, GPU_CONFIG)
    if not gpu_available():
        assert plan_training("auto").preset == "cpu"
    schedule = GPU_CONFIG.learning_rate_schedule()
    assert schedule(1.0) == pytest.approx(1e-3) and schedule(0.0) == pytest.approx(1e-4)
    assert TrainConfig().learning_rate_schedule() == 3e-4
    with pytest.raises(EnvConfigError, match="preset"):
        plan_training("cpu", "tpu")
    assert plan_training("cpu", warm_start="max-pressure").config.warm_start == "max-pressure"
    assert plan_training("cpu", warm_start="none").config.warm_start is None
    with pytest.raises(EnvConfigError, match="warm_start"):
        plan_training("cpu", warm_start="random")  # not a teacher
    assert plan_training("cpu", warm_start="rollout").config.warm_start == "rollout"
    # the teacher per environment replaces the preset's auto, never an explicit choice
    assert plan_training("cpu", env_id="ARZ-Intersection-v0").config.warm_start == "rollout"
    assert plan_training("cpu", "gpu", env_id="ARZ-Intersection-v0").config.warm_start == "rollout"
    assert plan_training("cpu", env_id="ARZ-Arterial-v0").config.warm_start == "rollout"
    assert plan_training("cpu", env_id="ARZ-SeedCorridor-v0").config.warm_start == "auto"
    assert plan_training("cpu", warm_start="auto", env_id="ARZ-Intersection-v0").config.warm_start == "auto"
    assert plan_training("cpu", warm_start="none", env_id="ARZ-Intersection-v0").config.warm_start is None
    assert plan_training("cpu", demand_stretch=0.25).config.train_demand_stretch == 0.25
    assert plan_training("cpu").config.train_demand_stretch == 0.0
    assert plan_training("cpu").config.warm_start_rounds is None  # the teacher's default
    assert plan_training("cpu", warm_start_rounds=4).config.warm_start_rounds == 4
    with pytest.raises(EnvConfigError, match="warm_start_rounds"):
        plan_training("cpu", warm_start_rounds=0)
    with pytest.raises(EnvConfigError, match="demand_stretch"):
        plan_training("cpu", demand_stretch=-1.0)
    with pytest.raises(EnvConfigError, match="lr_schedule"):
        TrainConfig(lr_schedule="cosine").learning_rate_schedule()
