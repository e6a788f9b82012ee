"""Fault suite: each Kaggle failure mode, injected by the fake server, ends in a correct state.

Correct means complete verified results, or a clear error with the kernel cleaned up; never a half
results folder and never a success status for a failed kernel.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from kernel_payload.schema import SessionSummary
from orchestrator.backends.base import JobStatus
from orchestrator.backends.kaggle.errors import (
    KaggleConcurrencyCap,
    KagglePushError,
    KaggleQuotaExhausted,
    KaggleTimeoutError,
)
from orchestrator.errors import ManifestMismatch
from tests.fakes.kaggle_server import ApiError
from tests.fakes.kernel_scripts import DEFAULT_FILES, expected_lines, payload_script
from tests.orchestrator.kaggle_harness import FAST_POLICY, start_harness, wait_terminal

CSV = "demo/data/metrics/metrics.csv"


@pytest.fixture
def harness(tmp_path, monkeypatch):
    running = start_harness(tmp_path, monkeypatch)
    yield running
    running.fake.stop()


def run_to_verified(backend, ref, dest):
    """Follow, wait, download: the happy ending every recoverable fault must reach."""
    lines = list(backend.logs(ref, follow=True))
    assert wait_terminal(backend, ref)[-1].status is JobStatus.COMPLETE
    backend.download(ref, dest)
    summary = SessionSummary.read(dest)
    assert all(entry.problem(dest) is None for entry in summary.artifacts)
    return lines


def test_429_honours_retry_after(harness, tmp_path):
    harness.fake.faults.rate_limited_calls = 2
    harness.fake.faults.retry_after = "1"
    started = time.monotonic()
    ref = harness.backend().push(harness.request(payload_script(steps=1)))
    assert time.monotonic() - started >= 2.0  # two 1-second waits, as the server asked
    assert harness.fake.calls[:3] == ["GetAcceleratorQuotaStatistics"] * 3
    run_to_verified(harness.backend(), ref, tmp_path / "out")


def test_5xx_on_push_then_success_pushes_once(harness, tmp_path):
    harness.fake.faults.push_unavailable = 2
    ref = harness.backend().push(harness.request(payload_script(steps=1)))
    assert harness.fake.calls.count("SaveKernel") == 3
    assert harness.fake.calls.count("GetKernel") == 2  # checked before each re-push
    assert len(harness.fake.kernel("tester", ref.slug).sessions) == 1
    run_to_verified(harness.backend(), ref, tmp_path / "out")


def test_ambiguous_push_is_adopted_not_repeated(harness, tmp_path):
    harness.fake.faults.push_lost_reply = 1  # created, but the answer is a 500
    ref = harness.backend().push(harness.request(payload_script(steps=1)))
    assert harness.fake.calls.count("SaveKernel") == 1
    assert ref.version == 1 and len(harness.fake.kernel("tester", ref.slug).sessions) == 1
    run_to_verified(harness.backend(), ref, tmp_path / "out")


def test_push_error_inside_http_200_is_an_error(harness):
    harness.fake.faults.push_error = "Notebook text is invalid"
    with pytest.raises(KagglePushError, match="Notebook text is invalid"):
        harness.backend().push(harness.request(payload_script(steps=1)))
    assert harness.fake.kernels == {}


def test_hung_call_times_out_and_is_retried(harness):
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=1)))
    harness.fake.faults.hang_calls, harness.fake.faults.hang_s = 1, 4.0
    started = time.monotonic()
    assert backend.status(ref).status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETE)
    assert 2.0 <= time.monotonic() - started < 4.0  # the 2 s read timeout fired, then a retry


def test_server_hung_for_good_gives_a_clear_error(harness):
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=1)))
    harness.fake.faults.hang_calls, harness.fake.faults.hang_s = 100, 3.0
    fast = harness.backend(policy=replace(FAST_POLICY, read_timeout_s=0.3, attempts=2))
    started = time.monotonic()
    with pytest.raises(KaggleTimeoutError, match="arz watch"):
        fast.status(ref)
    assert time.monotonic() - started < 2.0


def test_sse_drop_mid_run_loses_and_duplicates_nothing(harness, tmp_path):
    harness.fake.faults.sse_drops, harness.fake.faults.sse_drop_after = 3, 3
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=6, step_s=0.05)))
    lines = run_to_verified(backend, ref, tmp_path / "out")
    assert lines == expected_lines(6)
    assert harness.fake.calls.count("stream") >= 4  # it really reconnected


def test_stale_status_after_push_is_not_taken_for_the_result(harness, tmp_path):
    harness.fake.faults.stale_status_calls = 4  # "COMPLETE" from an earlier run
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=3, step_s=0.1)))
    session = harness.fake.kernel("tester", ref.slug).sessions[0]
    while True:
        status = backend.status(ref)
        if status.status is JobStatus.COMPLETE:
            assert not session.is_active(), "success reported while the run was still going"
            break
        assert not status.status.is_terminal(), status
        time.sleep(0.05)
    assert harness.fake.faults.stale_status_calls == 0  # the stale answers were all served
    backend.download(ref, tmp_path / "out")
    assert SessionSummary.read(tmp_path / "out").status.value == "succeeded"


def test_kernel_error_shows_the_message_and_pulls_the_summary(harness, tmp_path):
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=2, fail=True)))
    lines = list(backend.logs(ref, follow=True))
    final = wait_terminal(backend, ref)[-1]
    assert final.status is JobStatus.ERROR and "exited with code 1" in final.message
    assert "RuntimeError: demo failure" in lines
    backend.download(ref, tmp_path / "out")
    summary = SessionSummary.read(tmp_path / "out")
    assert summary.status.value == "failed" and summary.error.message == "demo failure"


@pytest.mark.parametrize("chatty", [False, True], ids=["silent", "chatty"])
def test_deadline_exceeded_fetches_outputs_then_deletes(harness, tmp_path, chatty):
    backend = harness.backend()
    steps = 600 if chatty else 2  # a chatty kernel keeps the log stream busy past the deadline
    script = payload_script(steps=steps, step_s=0.02, hold_s=30.0, files={CSV: DEFAULT_FILES[CSV]})
    ref = backend.push(harness.request(script, deadline_s=1.0))
    session = harness.fake.kernel("tester", ref.slug).sessions[0]
    started = time.monotonic()
    lines = list(backend.logs(ref, follow=True))  # ends when the backend ends the run
    assert time.monotonic() - started < 6.0  # deadline 1 s + salvage (log replay <= 3 s)
    assert lines[:2] == expected_lines(steps)[:2]
    final = backend.status(ref)
    assert final.status is JobStatus.ERROR and "deadline" in final.message
    with pytest.raises(ApiError):
        harness.fake.kernel("tester", ref.slug)  # deleted on Kaggle...
    assert session.status == "CANCEL_ACKNOWLEDGED"  # ...which stopped the session
    order = [c for c in harness.fake.calls if c in ("ListKernelSessionOutput", "DeleteKernel")]
    assert order.index("ListKernelSessionOutput") < order.index("DeleteKernel")
    backend.download(ref, tmp_path / "out")  # the salvaged files and log, no summary
    assert (tmp_path / "out" / f"{ref.slug}.log").read_text().startswith(expected_lines(steps)[0])
    assert (tmp_path / "out" / CSV).is_file() is not chatty  # written only by the silent one
    assert not (tmp_path / "out" / "session_summary.json").exists()


@pytest.mark.parametrize("fault", ["corrupt", "truncate", "cut"])
def test_damaged_output_is_detected_and_downloaded_again(harness, tmp_path, fault):
    """Corrupt and truncated files fail the manifest and are fetched again; a download cut off
    before its ``Content-Length`` is retried at once."""
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=1)))
    list(backend.logs(ref, follow=True))
    getattr(harness.fake.faults, fault)[CSV] = 1
    run_to_verified(backend, ref, tmp_path / "out")
    assert (tmp_path / "out" / CSV).read_text() == DEFAULT_FILES[CSV]
    assert harness.fake.faults.__dict__[fault][CSV] == 0  # the damaged copy was served


def test_output_damaged_for_good_fails_and_leaves_nothing(harness, tmp_path):
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=1)))
    wait_terminal(backend, ref)
    harness.fake.faults.corrupt[CSV] = 99
    with pytest.raises(ManifestMismatch, match="metrics.csv"):
        backend.download(ref, tmp_path / "out")
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_two_gpu_session_cap_gives_a_clear_message(harness):
    harness.fake.faults.busy_gpu_sessions = 2
    with pytest.raises(KaggleConcurrencyCap, match="at most 2 GPU sessions") as caught:
        harness.backend().push(harness.request(payload_script(steps=1)))
    assert "arz cancel" in str(caught.value) and harness.fake.kernels == {}


def test_push_waits_for_a_gpu_slot_when_asked(harness, tmp_path):
    harness.fake.faults.busy_gpu_sessions = 2
    threading.Timer(0.5, lambda: setattr(harness.fake.faults, "busy_gpu_sessions", 1)).start()
    backend = harness.backend(gpu_slot_poll_s=0.2)
    ref = backend.push(harness.request(payload_script(steps=1), gpu_slot_wait_s=10.0))
    assert harness.fake.calls.count("SaveKernel") >= 2
    run_to_verified(backend, ref, tmp_path / "out")


def test_quota_exhausted_refuses_before_pushing(harness):
    harness.fake.faults.quota_used_h = 30.0
    with pytest.raises(KaggleQuotaExhausted, match=r"0\.0 h of weekly GPU quota left"):
        harness.backend().push(harness.request(payload_script(steps=1)))
    assert "SaveKernel" not in harness.fake.calls


def test_cancel_downloads_what_exists_then_deletes(harness, tmp_path):
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=1, hold_s=30.0)))
    deadline = time.monotonic() + 10
    session = harness.fake.kernel("tester", ref.slug).sessions[0]
    while not (session.working / CSV).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    backend.cancel(ref)
    assert backend.status(ref).status is JobStatus.CANCELLED
    assert session.status == "CANCEL_ACKNOWLEDGED" and harness.fake.kernels == {}
    backend.download(ref, tmp_path / "out")
    assert (tmp_path / "out" / CSV).is_file()
