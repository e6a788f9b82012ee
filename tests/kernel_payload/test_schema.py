"""The shared contracts: job files, progress events and the computed summary status."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kernel_payload.schema import (
    EVENT_PREFIX,
    ErrorInfo,
    JobSpec,
    KaggleSettings,
    ProgressEvent,
    RunStatus,
    SessionSummary,
    SuiteResult,
    SuiteStatus,
    ValidationError,
)

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def summary(
    *statuses: str, finished: bool = True, error: ErrorInfo | None = None
) -> SessionSummary:
    return SessionSummary(
        job_id="j", job_name="n", started_at=T0,
        finished_at=T0 + timedelta(seconds=90) if finished else None,
        suites=[SuiteResult(name=f"s{i}", status=s) for i, s in enumerate(statuses)], error=error,
    )  # fmt: skip


def test_minimal_job_gets_defaults():
    job = JobSpec(name="quick", suites=["verify"])
    assert job.device == "auto" and job.backend == "local" and job.training_seeds == [0]
    assert job.kaggle.accelerator == "NvidiaTeslaT4"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"name": "x", "suites": ["verify"], "rl": {"timestep": 5}}, ("rl", "timestep")),
        ({"name": "x", "suites": ["verfy"]}, ("suites",)),
        ({"name": "bad name!", "suites": ["verify"]}, ("name",)),
        ({"name": "x", "suites": ["verify"], "device": "tpu"}, ("device",)),
        ({"name": "x", "suites": []}, ("suites",)),
        ({"name": "x", "suites": ["rl"], "rl": {"demand_stretch": -0.5}}, ("rl", "demand_stretch")),
        ({"name": "x", "suites": ["rl"], "rl": {"advisor_gate": 0.3}}, ("rl", "advisor_gate")),
        ({"name": "x", "suites": ["rl"], "rl": {"advisor_gate": 1.5}}, ("rl", "advisor_gate")),
        ({"name": "x", "suites": ["rl"], "rl": {"advisor_gate_heavy": 0.2}}, ("rl", "advisor_gate_heavy")),
        ({"name": "x", "suites": ["rl"], "rl": {"heavy_demand": 0}}, ("rl", "heavy_demand")),
        ({"name": "x", "suites": ["rl"], "rl": {"warm_start_rounds": 0}}, ("rl", "warm_start_rounds")),
    ],
)
def test_invalid_jobs_name_the_key(data, key):
    with pytest.raises(ValidationError) as info:
        JobSpec.model_validate(data)
    assert info.value.errors()[0]["loc"][: len(key)] == key


def test_test_suites_are_known_only_when_registered(monkeypatch):
    with pytest.raises(ValidationError):
        JobSpec(name="x", suites=["tiny"])
    monkeypatch.setenv("ARZ_TEST_SUITES", "tiny=tests.kernel_payload.fake_suites:tiny")
    assert JobSpec(name="x", suites=["tiny"]).suites == ["tiny"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("2h", 7200), ("90 min", 5400), ("45m", 2700), (600, 600)]
)
def test_deadline_accepts_durations(text, seconds):
    assert KaggleSettings(deadline=text).deadline == seconds


def test_deadline_rejects_nonsense():
    with pytest.raises(ValidationError, match="not a duration"):
        KaggleSettings(deadline="soon")


@pytest.mark.parametrize(
    ("statuses", "finished", "expected"),
    [
        (["succeeded", "succeeded"], True, RunStatus.SUCCEEDED),
        (["succeeded", "skipped"], True, RunStatus.PARTIAL),
        (["succeeded", "not_run"], True, RunStatus.PARTIAL),
        (["succeeded", "succeeded"], False, RunStatus.PARTIAL),
        (["succeeded", "failed"], True, RunStatus.FAILED),
        (["interrupted", "skipped"], True, RunStatus.FAILED),
        ([], True, RunStatus.PARTIAL),
    ],
)
def test_status_is_computed_from_the_suites(statuses, finished, expected):
    assert summary(*statuses, finished=finished).status == expected


def test_an_error_always_fails_the_run():
    result = summary("succeeded", error=ErrorInfo(type="Interrupted", message="SIGTERM"))
    assert result.status == RunStatus.FAILED
    assert result.reason == "Interrupted: SIGTERM"


def test_reason_lists_what_did_not_succeed():
    result = summary("succeeded", "skipped")
    result.suites[1].reason = "rl package not available yet"
    assert result.reason == "s1 skipped (rl package not available yet)"
    assert summary("succeeded").reason == ""


def test_summary_round_trips_with_its_computed_fields(tmp_path):
    original = summary("succeeded", "failed")
    original.write(tmp_path)
    text = (tmp_path / "session_summary.json").read_text()
    assert '"status": "failed"' in text and '"duration_s": 90.0' in text
    loaded = SessionSummary.read(tmp_path)
    assert loaded == original and loaded.status == RunStatus.FAILED


def test_a_stored_status_cannot_override_the_computed_one(tmp_path):
    data = summary("failed").model_dump(mode="json")
    data["status"] = "succeeded"
    assert SessionSummary.model_validate(data).status == RunStatus.FAILED


def test_progress_event_line_round_trip():
    event = ProgressEvent(stage="verify/ladders", done=2, total=3, metrics={"l1": 1e-4}, time=5.0)
    line = event.to_line()
    assert line.startswith(EVENT_PREFIX) and "\n" not in line
    assert ProgressEvent.from_line(line + "\n") == event


@pytest.mark.parametrize("line", ["plain log line", "@@arz {not json", '@@arz {"done": 1}', ""])
def test_non_events_are_not_parsed(line):
    assert ProgressEvent.from_line(line) is None


def test_suite_status_failure_states():
    assert SuiteStatus.INTERRUPTED.is_failure() and not SuiteStatus.SKIPPED.is_failure()


def test_reason_names_the_first_error_then_the_other_suites():
    result = summary("failed", "interrupted", "not_run")
    result.error = ErrorInfo(type="VerificationFailed", message="2 checks failed", suite="s0")
    result.suites[1].reason = "stopped by SIGTERM"
    assert result.reason == (
        "VerificationFailed in suite 's0': 2 checks failed; s1 interrupted (stopped by SIGTERM); "
        "s2 not_run"
    )


def test_stage_is_its_word_everywhere():
    from kernel_payload.schema import ProgressEvent, Stage

    assert [s.value for s in Stage] == ["load", "git", "build", "git push", "push", "bootstrap", "job"]
    assert Stage("git push") is Stage.GIT_PUSH and f"{Stage.GIT_PUSH}" == str(Stage.GIT_PUSH) == "git push"
    assert {"job": 1}[Stage.JOB] == 1 and {Stage.BOOTSTRAP: 2}["bootstrap"] == 2  # hashed as the word
    event = ProgressEvent.from_line(ProgressEvent(stage=Stage.JOB, done=1).to_line())
    assert event is not None and event.stage == "job" and type(event.stage) is str


def test_rl_accepts_the_rollout_teacher_and_a_demand_stretch():
    job = JobSpec.model_validate({"name": "x", "suites": ["rl"],
                                  "rl": {"warm_start": "rollout", "demand_stretch": 0.25, "warm_start_rounds": 4}})
    assert (job.rl.warm_start, job.rl.demand_stretch, job.rl.warm_start_rounds) == ("rollout", 0.25, 4)
    assert JobSpec.model_validate({"name": "x", "suites": ["rl"]}).rl.demand_stretch is None


def test_rl_advisor_gate_is_off_a_probability_or_the_presets():
    for gate in (0, 0.5, 0.85, 1):
        assert JobSpec.model_validate({"name": "x", "suites": ["rl"], "rl": {"advisor_gate": gate}}).rl.advisor_gate == gate
    assert JobSpec.model_validate({"name": "x", "suites": ["rl"]}).rl.advisor_gate is None  # the preset's
    rl = JobSpec.model_validate({"name": "x", "suites": ["rl"], "rl": {"advisor_gate_heavy": 0.85, "heavy_demand": 1.1}}).rl
    assert (rl.advisor_gate_heavy, rl.heavy_demand) == (0.85, 1.1)
    unset = JobSpec.model_validate({"name": "x", "suites": ["rl"]}).rl
    assert (unset.advisor_gate_heavy, unset.heavy_demand) == (None, None)  # the preset's
