"""Figure labels name a job's trained models as the tables do: ``ppo (seed N)``."""

from rl.evaluation_figures import _label


def test_job_models_are_labelled_by_seed_like_the_tables():
    assert _label("ppo:/out/rl/data/models/ppo_seed3.zip") == "ppo (seed 3)"
    assert _label("ppo:runs/ppo/model.zip") == "ppo (ppo/model)"
    assert _label("fixed-time") == "fixed-time"
