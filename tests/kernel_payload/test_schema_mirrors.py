"""The job schema mirrors rl's names (the orchestrator cannot import rl): both lists must agree."""

from kernel_payload.schema.job import RL_CONTROLLERS, RL_ENV_IDS, RL_TEACHERS


def test_env_ids_mirror_rl():
    from rl import ENV_IDS

    assert tuple(ENV_IDS) == RL_ENV_IDS


def test_controller_names_mirror_rl():
    from rl.controllers import CONTROLLERS

    assert set(RL_CONTROLLERS) == {"ppo", *CONTROLLERS}


def test_rl_presets_and_devices_mirror_rl():
    from typing import get_args

    from kernel_payload.schema.job import RLSettings
    from rl.config import DEVICES
    from rl.presets import PRESETS

    assert get_args(RLSettings.model_fields["preset"].annotation) == PRESETS
    device = [a for a in get_args(RLSettings.model_fields["device"].annotation) if a is not type(None)]
    assert get_args(device[0]) == DEVICES


def test_warm_start_teachers_mirror_rl():
    import pytest

    from kernel_payload.schema.job import RLSettings
    from rl.presets import warm_start_teachers

    assert list(RL_TEACHERS) == warm_start_teachers()
    assert RLSettings(warm_start="none").warm_start == "none"
    with pytest.raises(ValueError, match="warm-start teacher 'actuatd' \\(did you mean 'actuated'"):
        RLSettings(warm_start="actuatd")


def test_warm_start_defaults_mirror_rl():
    from kernel_payload.schema.job import (
        RL_AUTO_TEACHERS,
        RL_DEFAULT_ROUNDS,
        RL_ENV_TEACHERS,
        RL_REFITS,
        RL_TEACHER_ROUNDS,
    )
    from rl.imitation import AUTO_TEACHERS, TEACHER_ROUNDS, WarmStartConfig
    from rl.presets import ENV_TEACHERS

    assert RL_ENV_TEACHERS == ENV_TEACHERS and RL_TEACHER_ROUNDS == TEACHER_ROUNDS
    assert RL_DEFAULT_ROUNDS == WarmStartConfig.rounds
    assert RL_REFITS == WarmStartConfig.refits and RL_AUTO_TEACHERS == AUTO_TEACHERS


def test_the_plan_tunes_the_teachers_that_rl_tunes():
    from kernel_payload.schema.job import RL_TUNED_TEACHERS
    from rl.imitation import make_teacher, tuned_part
    from rl.tuning import is_tunable

    assert [t for t in RL_TEACHERS if is_tunable(tuned_part(make_teacher(t)))] == [
        t for t in RL_TEACHERS if t in RL_TUNED_TEACHERS]


def test_the_advisor_gate_range_mirrors_rl():
    from kernel_payload.schema.job import RL_ADVISOR_GATE_RANGE
    from rl.decoding import GATE_RANGE

    assert RL_ADVISOR_GATE_RANGE == GATE_RANGE
