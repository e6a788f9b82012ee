"""PPO smoke run and the evaluation loop: the files and rows the kernel payload relies on."""

import csv

import numpy as np
import pytest

from rl.evaluation import SUMMARY_COLUMNS, evaluate
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


def test_evaluate_compares_ppo_and_classical_controllers(trained, tmp_path):
    calls = []
    result = evaluate("ARZ-Intersection-v0", [f"ppo:{trained.model_path}", "fixed-time", "max-pressure"],
                      episodes=2, seeds=[0, 1], out_dir=tmp_path,
                      progress=lambda *a: calls.append(a), **SHORT)
    assert calls[-1] == ("evaluate", 6, 6)
    with result.summary_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == SUMMARY_COLUMNS and len(rows) == len(result.rows) == 3 * 11
    delay = {r["controller"]: r for r in result.rows
             if r["metric"] == "delay_per_vehicle_s" and r["class"] == "total"}
    assert len(delay) == 3 and all(r["mean"] > 0 and np.isfinite(r["ci95"]) for r in delay.values())
    names = sorted(p.name for p in result.figures)
    assert names == ["controller_comparison.png", "learning_curve.png", "queue_over_time.png",
                     "time_space_density.png"]
    assert all(p.read_bytes()[:8] == PNG for p in result.figures)
