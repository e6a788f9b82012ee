"""``scripts.clone_screen`` refits a kept warm start's labels under each weighting and screens every fit."""

from __future__ import annotations

import numpy as np
import pytest

import scripts.clone_screen as clone_screen
import scripts.ppo_screen as ppo_screen
from rl.imitation import WarmStartConfig, warm_start
from rl.vec_env import make_vec_env

SHORT = {"episode_length": 150.0}


def test_candidates_screen_none_once_and_stakes_at_every_cap():
    assert clone_screen.candidates(["none", "stakes"], [5.0, 20.0]) == [("none", None), ("stakes", 5.0), ("stakes", 20.0)]


def test_every_weighting_is_refitted_and_screened_against_the_best_baseline(tmp_path, monkeypatch, capsys):
    from stable_baselines3 import PPO

    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(SystemExit, match="warm_labels.npz: not found; run ppo_screen with the 'dump' lever"):
        clone_screen.main([str(run)])
    venv = make_vec_env("ARZ-Intersection-v0", 2, seed=0, **SHORT)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, seed=0, device="cpu")
    warm_start(model, "ARZ-Intersection-v0", 0, SHORT, WarmStartConfig(teacher="rollout", rounds=1, copies=2, steps=10,
               value_steps=10, dump=str(run / "warm_labels.npz")))
    model.save(run / "clone_model.zip")
    seen = []

    def fake_run(ctl, env_id, draws, env_kwargs, stratified=False):  # the fit's parameters, and fixed delays
        seen.append(sum(float(p.detach().abs().sum()) for p in ctl.model.policy.parameters()))
        return {"delay": [9.0, 18.0], "throughput": [100.0, 100.0], "starved": [0, 0]}

    monkeypatch.setattr(ppo_screen, "run_controller", fake_run)
    monkeypatch.setattr(ppo_screen, "baselines", lambda *a, **k: {
        "actuated": {"delay": [10.0, 20.0], "throughput": [100.0, 100.0]},
        "max-pressure": {"delay": [30.0, 40.0], "throughput": [100.0, 100.0]}})
    assert clone_screen.main([str(run), "--env", "ARZ-Intersection-v0", "--caps", "0.5", "20", "--refits", "2",
                              "--draws", "2", "--stratified", "--rounds", "1", "--header"]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == list(clone_screen.COLUMNS) and len(rows) == 1 + 3 * 2
    table = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [(r["weighting"], r["cap"], r["refit"]) for r in table] == [
        ("none", "", "1"), ("none", "", "2"), ("stakes", "0.5", "1"), ("stakes", "0.5", "2"), ("stakes", "20", "1"), ("stakes", "20", "2")]
    assert all(r["best_classical"] == "actuated" and float(r["rel_mean"]) == pytest.approx(-0.1) for r in table)
    assert all(float(r["top_delay"]) == 18.0 for r in table)
    assert len(set(np.round(seen, 6))) == 6  # six different fits: seeds, weights and caps change them
    assert (run / "clone_screen_stakes_cap0.5_fit2.json").is_file()
