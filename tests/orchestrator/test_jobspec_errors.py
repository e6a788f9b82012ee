"""Job-file errors name the key as written, with a "did you mean" from the keys and names known."""

from __future__ import annotations

import pytest

from orchestrator.errors import JobSpecError
from orchestrator.jobspec import load_jobspec


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("suites: [verfy]", "unknown suite 'verfy' (did you mean 'verify'?)"),
        ("suites: [rl]\nrl: {env: ARZ-Intersection-v1}", "key 'rl.env' = 'ARZ-Intersection-v1': unknown environment "
                                                         "'ARZ-Intersection-v1' (did you mean 'ARZ-Intersection-v0'?)"),
        ("suites: [rl]\nrl: {timestep: 4}", "key 'rl.timestep': unknown key (did you mean 'timesteps'?)"),
        ("suites: [rl]\nrl: {controllers: [ppo, fixed_time]}", "unknown controller 'fixed_time' (did you mean "
                                                               "'fixed-time'?)"),
        ("suites: [verify]\ndevise: gpu", "key 'devise': unknown key (did you mean 'device'?)"),
        ("suites: [verify]\ndevice: gpuu", "key 'device' = 'gpuu': not one of auto, cpu, gpu (did you mean 'gpu'?)"),
        ("suites: [verify]\nkaggle: {acelerator: T4}", "key 'kaggle.acelerator': unknown key (did you mean "
                                                       "'accelerator'?)"),
    ],
)
def test_job_file_errors_suggest_the_known_name(tmp_path, body, expected):
    job = tmp_path / "job.yml"
    job.write_text(f"name: demo\n{body}\n")
    with pytest.raises(JobSpecError) as info:
        load_jobspec(job)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 2
