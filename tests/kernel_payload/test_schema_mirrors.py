"""The job schema mirrors rl's names (the orchestrator cannot import rl): both lists must agree."""

from kernel_payload.schema.job import RL_CONTROLLERS, RL_ENV_IDS


def test_env_ids_mirror_rl():
    from rl import ENV_IDS

    assert tuple(ENV_IDS) == RL_ENV_IDS


def test_controller_names_mirror_rl():
    from rl.controllers import CONTROLLERS

    assert set(RL_CONTROLLERS) == {"ppo", *CONTROLLERS}
