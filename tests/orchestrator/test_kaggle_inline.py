"""Kaggle jobs from a repository with no remote at all (issue 13): ``kaggle.code: inline`` with
``internet: false``, through the real ``arz`` CLI, the real ``kaggle`` client and the fake Kaggle
server -- and the fake's own promise that a kernel pushed without internet cannot reach the
network (git and pip fail there), so a job that succeeds offline fetched nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kernel_payload.schema import SessionSummary
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.conftest import git, make_project
from tests.orchestrator.kaggle_harness import start_harness, wait_terminal

REPO = Path(__file__).resolve().parents[2]
ARZ = [sys.executable, "-m", "orchestrator.cli"]
AWS_LIKE = "AKIA" + "QWERTYUIOPASDFGH"


@pytest.fixture
def harness(tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)  # the kernel the fake runs inherits it
    monkeypatch.delenv("ARZ_OUTPUT_DIR", raising=False)
    running = start_harness(tmp_path, monkeypatch)
    yield running
    running.fake.stop()


def run_arz(args, project, harness, tmp_path):
    env = harness.subprocess_env()
    env.update(ARZ_HOME=str(tmp_path / "arz_home"), ARZ_TEST_SUITES=SUITES_ENV,
               PYTHONPATH=str(REPO), COLUMNS="200")  # fmt: skip
    env.pop("ARZ_OUTPUT_DIR", None)
    return subprocess.run([*ARZ, *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def offline_job(tmp_path: Path) -> Path:
    job = tmp_path / "offline.yml"
    job.write_text("name: offline\nsuites: [tiny]\n"
                   "kaggle: {code: inline, internet: false, accelerator: null, wheels: false}\n")  # fmt: skip
    return job


def test_a_repository_without_remote_runs_inline_and_offline(harness, tmp_path):
    project = make_project(tmp_path / "project")
    assert git(project, "remote").strip() == ""  # no remote at all
    (project / "jobs" / "tiny.yml").write_text("name: tiny\nsuites: [tiny]\n# edited\n")

    done = run_arz(["submit", str(offline_job(tmp_path)), "--backend", "kaggle"], project, harness,
                   tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    head = git(project, "rev-parse", "HEAD").strip()  # the submit committed the tracked edit
    assert "(new commit)" in done.stdout and ", pushed" not in done.stdout
    assert "code: inline (kaggle.code: inline; no remote or push needed)" in done.stdout

    (results,) = (project / "validation_output" / "results").iterdir()
    summary = SessionSummary.read(results)
    assert summary.status.value == "succeeded" and summary.commit_sha == head
    assert all(entry.problem(results) is None for entry in summary.artifacts)

    (pushed,) = harness.fake.pushes
    assert not pushed.get("enableInternet")
    (kernel,) = harness.fake.kernels.values()
    session = kernel.sessions[0]
    assert session.options.internet is False  # the kernel ran with the offline environment
    log = "".join(event["data"] for event in session.events)
    assert f"unpacked the inline code of {head[:12]}" in log
    assert "+ git" not in log and "pip install" not in log  # nothing cloned, nothing installed
    assert git(project, "remote").strip() == "" and git(project, "for-each-ref", "refs/remotes") == ""


def test_a_secret_only_in_the_archive_stops_the_submit(harness, tmp_path):
    """``export-subst`` puts the branch name in the archive; the guard reads the archive."""
    project = make_project(tmp_path / "project")
    (project / "VERSION").write_text("built from $Format:%D$\n")
    (project / ".gitattributes").write_text("VERSION export-subst\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "version")
    git(project, "checkout", "-qb", AWS_LIKE)
    head = git(project, "rev-parse", "HEAD")

    done = run_arz(["submit", str(offline_job(tmp_path)), "--backend", "kaggle"], project, harness,
                   tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "VERSION" in done.stderr and "AWS" in done.stderr and "Traceback" not in done.stderr
    assert harness.fake.pushes == [] and git(project, "rev-parse", "HEAD") == head


def test_no_push_is_refused_only_when_the_kernel_would_clone(harness, tmp_path):
    project = make_project(tmp_path / "project")
    job = tmp_path / "git.yml"
    job.write_text("name: cloned\nsuites: [tiny]\nkaggle: {code: git, accelerator: null}\n")
    done = run_arz(["submit", str(job), "--backend", "kaggle", "--no-push"], project, harness,
                   tmp_path)  # fmt: skip
    assert done.returncode == 2 and "kaggle.code: git clones the code" in done.stderr
    assert "drop --no-push" in done.stderr and harness.fake.calls == []
    done = run_arz(["submit", str(offline_job(tmp_path)), "--backend", "kaggle", "--no-push",
                    "--detach"], project, harness, tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "code: inline" in done.stdout and len(harness.fake.pushes) == 1


_PROBE = r"""
import subprocess, sys, urllib.error, urllib.request
BARE, URL = sys.argv[1], sys.argv[2]
def ok(cmd):
    return subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
print("git", "ok" if ok(["git", "clone", "-q", BARE, "clone"]) else "failed")
ok([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", "w", "--index-url",
    URL + "/simple/", "arz-probe"])  # the server below sees the request, or not
try:
    urllib.request.urlopen(URL + "/direct", timeout=5)
except urllib.error.HTTPError:
    pass  # an answer, even 404: the server was reached
except OSError:
    print("http failed")
"""


@pytest.fixture
def recorder():
    """A local HTTP server standing for the internet: it records every path asked of it."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server spelling
            seen.append(self.path)
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("internet", [False, True])
def test_a_kernel_without_internet_cannot_reach_the_network(harness, tmp_path, recorder, internet):
    url, seen = recorder
    project = make_project(tmp_path / "project")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(project), str(bare)], check=True)
    script = _PROBE.replace("sys.argv[1], sys.argv[2]", f"{str(bare)!r}, {url!r}")
    backend = harness.backend()
    request = harness.request(script, gpu=False)
    request.internet = internet
    ref = backend.push(request)
    wait_terminal(backend, ref)
    lines = list(backend.logs(ref))
    if internet:  # the control: the same probes do reach git, the index and the server
        assert lines == ["git ok"]
        assert "/simple/arz-probe/" in seen and "/direct" in seen
    else:
        assert lines == ["git failed", "http failed"] and seen == []
