"""End to end through the real ``kaggle`` 2.2.5 client against the fake Kaggle server.

Submit -> the pushed script really runs -> live logs -> status -> verified outputs, in process
and from a subprocess that reaches the fake through ``HTTP_PROXY`` (DESIGN §9).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict

import pytest

from kernel_payload.schema import SessionSummary
from orchestrator.backends.base import ExecutionBackend, JobStatus, KernelRef
from orchestrator.backends.kaggle.backend import GPU_SHAPE, KaggleBackend
from orchestrator.backends.kaggle.errors import KaggleCredentialsError
from tests.fakes.kernel_scripts import expected_lines, payload_script
from tests.orchestrator.kaggle_harness import start_harness, wait_terminal

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture
def harness(tmp_path, monkeypatch):
    running = start_harness(tmp_path, monkeypatch)
    yield running
    running.fake.stop()


def assert_verified(dest, names):
    summary = SessionSummary.read(dest)
    assert summary.status.value == "succeeded"
    for entry in summary.artifacts:
        assert entry.problem(dest) is None, entry.path
    assert {e.path for e in summary.artifacts} == set(names)


def test_gpu_job_runs_end_to_end(harness, tmp_path):
    backend = harness.backend()
    assert isinstance(backend, ExecutionBackend)
    request = harness.request(payload_script(steps=4))
    ref = backend.push(request)
    assert (ref.backend, ref.owner, ref.version) == ("kaggle", "tester", 1)

    lines = list(backend.logs(ref, follow=True))
    assert lines == expected_lines(4)
    assert backend.status(ref).status is JobStatus.COMPLETE

    paths = backend.download(ref, tmp_path / "staging")
    names = {p.relative_to(tmp_path / "staging").as_posix() for p in paths}
    assert f"{ref.slug}.log" in names and "session_summary.json" in names
    assert "__results__.html" not in names  # Kaggle's own file is not a result
    assert_verified(tmp_path / "staging", names - {f"{ref.slug}.log", "session_summary.json"})
    log_text = (tmp_path / "staging" / f"{ref.slug}.log").read_text()
    assert log_text.splitlines() == expected_lines(4)

    pushed = harness.fake.pushes[0]
    assert pushed["slug"] == f"tester/{request.slug}" and pushed["newTitle"] == request.slug
    assert pushed["isPrivate"] is True and pushed["enableInternet"] is True
    assert pushed["machineShape"] == GPU_SHAPE and pushed["kernelType"] == "script"
    assert harness.fake.calls.count("GetAcceleratorQuotaStatistics") == 1  # quota checked


def test_cpu_job_sets_no_machine_shape_and_every_call_is_pinned(harness):
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=1), gpu=False))
    assert succeeded_after(backend, ref)
    pushed = harness.fake.pushes[0]
    assert "machineShape" not in pushed and pushed.get("enableGpu") in (None, False)
    assert "GetAcceleratorQuotaStatistics" not in harness.fake.calls  # no quota for CPU


def succeeded_after(backend, ref):
    return wait_terminal(backend, ref)[-1].status is JobStatus.COMPLETE


def test_access_token_credentials_work(harness):
    harness.use_token()
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=1), gpu=False))
    assert ref.owner == "tester"
    assert "IntrospectToken" in harness.fake.calls
    # our own request (the httpx log stream) carries the token as the client would (the fake
    # answers 401 to a stream without it)
    assert list(backend.logs(ref, follow=True)) == expected_lines(1)


def test_missing_credentials_is_a_clear_error(harness):
    (harness.home / ".kaggle" / "kaggle.json").unlink()
    with pytest.raises(KaggleCredentialsError) as caught:
        harness.backend().push(harness.request("print(1)"))
    text = str(caught.value)
    assert "no Kaggle credentials found" in text and "access_token" in text
    assert "--backend local" in text and caught.value.exit_code == 2
    assert harness.fake.calls == []  # nothing was sent


_CHILD = r"""
import json, sys
from pathlib import Path
from dataclasses import asdict
from orchestrator.backends.kaggle.backend import KaggleBackend, KaggleConfig
from orchestrator.backends.base import PushRequest
from tests.orchestrator.kaggle_harness import FAST_POLICY
script, state_root, ref_file = Path(sys.argv[1]).read_text(), Path(sys.argv[2]), Path(sys.argv[3])
backend = KaggleBackend(KaggleConfig(policy=FAST_POLICY, state_root=state_root))
ref = backend.push(PushRequest(slug=sys.argv[4], script=script, gpu=True))
ref_file.write_text(json.dumps(asdict(ref)))
for line in backend.logs(ref, follow=True):
    print(line, flush=True)
"""


def test_subprocess_via_http_proxy_killed_mid_watch_then_reattached(harness, tmp_path):
    script = tmp_path / "kernel.py"
    script.write_text(payload_script(steps=8, step_s=0.15))
    ref_file, slug = tmp_path / "ref.json", harness.slug("proxy")
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(script), str(harness.config.state_root), str(ref_file),
         slug], cwd=REPO, env=harness.subprocess_env(), stdout=subprocess.PIPE, text=True)
    try:
        first = child.stdout.readline().strip()  # the orchestrator is watching live...
        assert first == expected_lines(8)[0]
    finally:
        child.kill()  # ...and dies mid-watch
        child.wait(timeout=10)
    session = harness.fake.kernel("tester", slug).sessions[0]
    assert session.is_active(), "the kernel must outlive the orchestrator"

    ref = KernelRef(**json.loads(ref_file.read_text()))  # what the registry kept
    backend = KaggleBackend(harness.config)  # a new process reattaches
    assert list(backend.logs(ref, follow=True)) == expected_lines(8)
    assert backend.status(ref).status is JobStatus.COMPLETE
    paths = backend.download(ref, tmp_path / "staging")
    assert (tmp_path / "staging" / "session_summary.json") in paths
    assert harness.fake.calls.count("SaveKernel") == 1
    assert asdict(ref)["version"] == 1


def test_logs_without_follow_return_what_exists(harness):
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=3)))
    wait_terminal(backend, ref)
    assert list(backend.logs(ref)) == expected_lines(3)


def test_logs_without_follow_while_running_come_from_the_live_replay(harness):
    backend = harness.backend()
    ref = backend.push(harness.request(payload_script(steps=2, hold_s=30.0)))
    session = harness.fake.kernel("tester", ref.slug).sessions[0]
    deadline = time.monotonic() + 10
    while len(session.events) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.is_active()  # Kaggle has no persisted log yet
    assert list(backend.logs(ref)) == expected_lines(2)[:4]
    backend.cancel(ref)


def test_import_of_backend_module_does_not_import_kaggle():
    code = ("import sys; import orchestrator.backends.kaggle.backend; "
            "assert 'kaggle' not in sys.modules and 'kagglesdk' not in sys.modules")
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
    assert time.monotonic() - started < 10
