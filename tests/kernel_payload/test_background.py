"""Work a suite leaves to a worker process while the next suite runs (kernel_payload.background)."""

from __future__ import annotations

import time

from kernel_payload import background
from kernel_payload.schema import RunStatus, SessionSummary, SuiteStatus
from tests.kernel_payload.test_runner import assert_manifest_matches

MADE = "verify: figures made in the background"


def test_verify_figures_come_from_a_worker_that_ends_before_bench_starts(run_payload):
    proc, out = run_payload({"name": "bg", "suites": ["verify", "tiny", "bench"], "device": "cpu"}, fakes=True)
    summary = SessionSummary.read(out)
    assert proc.returncode == 0 and summary.status == RunStatus.SUCCEEDED, proc.stderr[-2000:]
    assert f"{MADE}: 2 figures drawn in" in proc.stderr
    verify = summary.suite("verify")
    assert {"verify/figures/convergence.png", "verify/figures/profile_shock_contact.png"} <= set(verify.artifacts)
    figures = sorted((out / "verify/figures").iterdir())
    assert [p.name for p in figures] == ["convergence.png", "profile_shock_contact.png"]  # no partial file
    bench_started = summary.suite("bench").started_at.timestamp()
    assert all(p.stat().st_mtime <= bench_started for p in figures)  # bench ran alone
    assert_manifest_matches(out, summary)


def test_verify_as_the_last_suite_draws_its_figures_itself(run_payload):
    proc, out = run_payload({"name": "alone", "suites": ["tiny", "verify"], "device": "cpu"}, fakes=True)
    summary = SessionSummary.read(out)
    assert proc.returncode == 0 and summary.status == RunStatus.SUCCEEDED, proc.stderr[-2000:]
    assert MADE not in proc.stderr
    assert "verify/figures/convergence.png" in summary.suite("verify").artifacts
    assert_manifest_matches(out, summary)


def test_a_failing_figure_worker_fails_verify_with_its_output(run_payload):
    proc, out = run_payload({"name": "badfig", "suites": ["verify", "tiny"], "device": "cpu"}, fakes=True,
                            FAKE_VERIFY_BAD_SAMPLE="1")  # fmt: skip
    summary = SessionSummary.read(out)
    verify, tiny = summary.suite("verify"), summary.suite("tiny")
    assert proc.returncode == 1 and summary.status != RunStatus.SUCCEEDED
    assert verify.status == SuiteStatus.FAILED and tiny.status == SuiteStatus.SUCCEEDED
    assert verify.error.type == "BackgroundWorkFailed"
    assert "figures of suite verify failed (exit 1): ValueError" in verify.reason
    assert "x and y must have same first dimension" in verify.error.traceback_tail
    assert not list((out / "verify/figures").glob(".*"))  # no hidden partial file left behind
    assert_manifest_matches(out, summary)


def test_stop_terminates_a_worker_and_removes_its_partial_file(tmp_path):
    worker = background.submit("verify", "figures", "tests.kernel_payload.sleepy_worker", [str(tmp_path)], tmp_path)
    assert worker.process is None and background.release() == 1  # queued until released
    partial = background.partial_name(tmp_path / "figure.png")
    deadline = time.monotonic() + 60

    def said() -> bool:  # the worker prints after writing the file: wait for both, or a loaded
        return "partial file written" in worker.output.read_text()  # machine stops it in between

    while not (partial.exists() and said()) and worker.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert partial.exists() and said(), worker.output.read_text()
    background.stop()
    (outcome,) = background.finish()
    assert outcome.returncode < 0 and not outcome.ok
    assert "partial file written" in outcome.output
    assert not partial.exists() and background.pending() == []


def test_stop_reports_a_queued_worker_as_never_run(tmp_path):
    background.submit("verify", "figures", "tests.kernel_payload.sleepy_worker", [str(tmp_path)], tmp_path)
    background.stop()
    (outcome,) = background.finish()
    assert outcome.returncode < 0 and outcome.output == ""
    assert not list(tmp_path.iterdir())  # it never started
