"""The shipped validation jobs: the published recipe, the draws it is judged on, the three envs."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import BadInput
from orchestrator.jobspec import load_jobspec
from orchestrator.sweep.spec import load_sweep
from rl import ENV_IDS
from rl.presets import CPU_N_ENVS

JOBS = Path(__file__).resolve().parents[2] / "jobs"
PUBLISHED_DRAWS = 20  # issue 17: published figures use at least 20 held-out episodes per env


def test_the_validation_job_is_the_laptop_recipe_on_twenty_held_out_draws():
    rl = load_jobspec(JOBS / "rl_validation.yml").rl
    assert (rl.timesteps, rl.n_envs, rl.preset, rl.device) == (300_000, CPU_N_ENVS, "cpu", "cpu")
    assert len(rl.seeds) == 5
    assert rl.eval_episodes * len(rl.eval_seeds) >= PUBLISHED_DRAWS
    assert not set(rl.eval_seeds) & set(rl.seeds)  # evaluation draws are not training seeds
    assert {"ppo", "actuated-gap", "max-pressure-advanced", "fixed-time", "actuated", "max-pressure"} <= set(rl.controllers)


def test_the_sweep_runs_the_same_rl_settings_on_the_three_envs():
    base = load_jobspec(JOBS / "rl_validation.yml").rl
    members = load_sweep(JOBS / "rl_validation_sweep.yml", "kaggle").members
    assert sorted(m.job.rl.env for m in members) == sorted(ENV_IDS)
    for m in members:
        assert m.job.suites == ["rl"] and m.job.kaggle.accelerator is None  # CPU kernels: no GPU quota
        assert m.job.rl.model_dump(exclude={"env"}) == base.model_dump(exclude={"env"})


def test_the_quickstart_stays_small():
    rl = load_jobspec(JOBS / "quickstart.yml").rl
    assert rl.eval_episodes * len(rl.eval_seeds) <= 2


def test_a_sweep_over_an_unknown_env_names_the_member_and_the_key(tmp_path):
    sweep = tmp_path / "bad.yml"
    sweep.write_text(f"name: bad\njob: {JOBS / 'rl_validation.yml'}\n"
                     "matrix:\n  rl.env: [ARZ-Intersection-v0, ARZ-Nowhere-v0]\n")
    with pytest.raises(BadInput) as err:
        load_sweep(sweep, "local")
    message = str(err.value)
    assert "m02" in message and "rl.env" in message and "ARZ-Nowhere-v0" in message
    assert "\n" not in message.strip()
