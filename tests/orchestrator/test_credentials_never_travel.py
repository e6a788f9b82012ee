"""Credentials embedded in a remote URL never reach a kernel, a log, the registry or a summary.

The remote is ``https://me:<TOKEN>@git.example.invalid/lab.git``; git's ``insteadOf`` maps it to a
local bare repository, so pushes really happen while the configured URL carries the token. After
each run every file arz wrote (``ARZ_HOME`` with the registry and the local kernel folder, the
results folder) and everything it printed is searched for the token.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_payload.schema import JobSpec, KernelSpec
from orchestrator.gitsync import SyncResult, sync_repository
from orchestrator.jobs import clone_url
from orchestrator.kernel_builder import build_kernel_script
from orchestrator.urls import (
    has_credentials,
    redact_text,
    redact_url,
    remote_credentials_check,
    strip_credentials,
)
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.conftest import git, make_project
from tests.orchestrator.kaggle_harness import start_harness
from tests.orchestrator.secret_cases import rand

REPO = Path(__file__).resolve().parents[2]
ARZ = [sys.executable, "-m", "orchestrator.cli"]


@pytest.fixture
def token() -> str:
    return "tok" + rand(24)


@pytest.fixture
def credentialed(tmp_path: Path, token: str) -> tuple[Path, Path, str]:
    """A project whose ``origin`` URL embeds ``token``, really pushing to a local bare repo."""
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    project = make_project(tmp_path / "project")
    url = f"https://me:{token}@git.example.invalid/lab.git"
    git(project, "remote", "add", "origin", url)
    git(project, "config", f"url.{bare}.insteadOf", url)
    git(project, "push", "-q", "-u", "origin", "main")
    return project, bare, url


def files_containing(root: Path, needle: str) -> list[str]:
    """Every file under ``root`` (any depth, binary too) whose bytes contain ``needle``."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and ".git" not in path.parts and needle.encode() in path.read_bytes():
            hits.append(str(path))
    return hits


# ----------------------------------------------------------------------------- the URL functions
@pytest.mark.parametrize(
    ("url", "stripped", "shown"),
    [
        ("https://me:SECRET@host/r.git", "https://host/r.git", "https://***@host/r.git"),
        ("https://SECRET@github.com/a/b", "https://github.com/a/b", "https://***@github.com/a/b"),
        ("http://u:p%40ss@h:8080/x", "http://h:8080/x", "http://***@h:8080/x"),
        ("https://h/r.git?access_token=SECRET&x=1", "https://h/r.git?access_token=&x=1",
         "https://h/r.git?access_token=***&x=1"),
        ("ssh://git@github.com/a/b.git", "ssh://git@github.com/a/b.git",
         "ssh://git@github.com/a/b.git"),
        ("ssh://me:SECRET@host/r.git", "ssh://host/r.git", "ssh://***@host/r.git"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git", "/srv/git/repo.git"),
        ("https://github.com/a/b.git", "https://github.com/a/b.git", "https://github.com/a/b.git"),
    ],
)  # fmt: skip
def test_strip_and_redact(url, stripped, shown):
    assert strip_credentials(url) == stripped and redact_url(url) == shown
    assert has_credentials(url) is ("SECRET" in url or "p%40ss" in url)


def test_redact_text_hides_every_url_in_a_message():
    message = "fatal: unable to access 'https://me:SECRET@host/r.git/': 403 (also http://a:b@c/)"
    assert redact_text(message) == (
        "fatal: unable to access 'https://***@host/r.git/': 403 (also http://***@c/)"
    )


def test_the_credentials_check_names_the_fix():
    ok, message, fix = remote_credentials_check("https://me:SECRET@host/r.git")
    assert not ok and "SECRET" not in message and "https://***@host/r.git" in message
    assert "credential helper" in fix and "git remote set-url" in fix
    assert remote_credentials_check("https://host/r.git")[0]
    assert remote_credentials_check(None)[0]


# ------------------------------------------------------------------ what a Kaggle kernel receives
def test_the_kernel_script_and_its_config_never_hold_the_token(token):
    sync = SyncResult(Path("/x"), "a" * 40, "main", True, True,
                      f"https://me:{token}@github.com/me/lab.git")  # fmt: skip
    url = clone_url(sync, remote=True)
    assert url == "https://github.com/me/lab.git"
    spec = KernelSpec(job_id="j", slug="j", commit_sha="a" * 40, repo_url=url,
                      job=JobSpec(name="t", suites=["verify"]))  # fmt: skip
    script = build_kernel_script(spec, url, ["numpy"])
    assert token not in script and token not in spec.model_dump_json()


def test_sync_result_url_has_no_credentials(credentialed, token):
    project, _bare, _url = credentialed
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n")
    result = sync_repository(project, "job", push=True)
    assert result.pushed and result.remote_url == "https://git.example.invalid/lab.git"


def test_a_failed_push_error_never_shows_the_token(credentialed, token, tmp_path):
    project, bare, url = credentialed
    git(project, "config", "--unset", f"url.{bare}.insteadOf")  # now the host is unreachable
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n")
    with pytest.raises(Exception) as info:
        sync_repository(project, "job", push=True)
    assert token not in str(info.value) and info.value.exit_code == 2


# ---------------------------------------------------------------------------- end to end
def run_arz(args: list[str], project: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*ARZ, *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_kaggle_submit_refuses_a_credentialed_remote(credentialed, token, tmp_path, monkeypatch):
    project, bare, _url = credentialed
    harness = start_harness(tmp_path, monkeypatch)
    try:
        env = harness.subprocess_env()
        env.update(ARZ_HOME=str(tmp_path / "arz_home"), ARZ_TEST_SUITES=SUITES_ENV,
                   PYTHONPATH=str(REPO), COLUMNS="200")  # fmt: skip
        head = git(project, "rev-parse", "HEAD")
        refs = git(bare, "for-each-ref")
        job = tmp_path / "tiny_git.yml"  # the git transport: the kernel would clone that URL
        job.write_text("name: tiny\nsuites: [tiny]\nkaggle: {code: git, accelerator: null}\n")
        done = run_arz(["submit", str(job), "--backend", "kaggle"], project, env)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "embeds credentials" in done.stderr and "credential helper" in done.stderr
        assert "https://***@git.example.invalid/lab.git" in done.stderr
        assert token not in done.stdout + done.stderr and "Traceback" not in done.stderr
        assert harness.fake.pushes == []
        assert git(project, "rev-parse", "HEAD") == head and git(bare, "for-each-ref") == refs
        assert files_containing(tmp_path / "arz_home", token) == []
    finally:
        harness.fake.stop()


def test_an_inline_kaggle_job_never_carries_the_credentialed_remote(
    credentialed, token, tmp_path, monkeypatch
):
    project, bare, _url = credentialed
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)  # the kernel the fake runs inherits it
    harness = start_harness(tmp_path, monkeypatch)
    try:
        env = harness.subprocess_env()
        env.update(ARZ_HOME=str(tmp_path / "arz_home"), ARZ_TEST_SUITES=SUITES_ENV,
                   PYTHONPATH=str(REPO), COLUMNS="200")  # fmt: skip
        refs = git(bare, "for-each-ref")
        job = tmp_path / "tiny_inline.yml"
        job.write_text("name: tiny\nsuites: [tiny]\nkaggle: {code: inline, accelerator: null}\n")
        done = run_arz(["submit", str(job), "--backend", "kaggle"], project, env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "code: inline" in done.stdout and token not in done.stdout + done.stderr
        (pushed,) = harness.fake.pushes
        assert "CODE_ARCHIVE = " in pushed["text"] and token not in pushed["text"]
        assert git(bare, "for-each-ref") == refs  # nothing pushed
        assert files_containing(tmp_path / "server", token) == []
        assert files_containing(tmp_path / "arz_home", token) == []
    finally:
        harness.fake.stop()


def test_a_local_job_pushed_to_a_credentialed_remote_writes_the_token_nowhere(
    credentialed, token, tmp_path
):
    project, bare, _url = credentialed
    home = tmp_path / "arz_home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE")}
    env.update(ARZ_HOME=str(home), ARZ_TEST_SUITES=SUITES_ENV, PYTHONPATH=str(REPO),
               COLUMNS="200")  # fmt: skip
    env.pop("ARZ_OUTPUT_DIR", None)
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n")
    done = run_arz(["submit", "jobs/tiny.yml", "--backend", "local", "--push"], project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(bare, "rev-parse", "main") == git(project, "rev-parse", "HEAD")  # really pushed
    listed = run_arz(["list", "--json"], project, env)
    logs = run_arz(["logs"], project, env)
    printed = done.stdout + done.stderr + listed.stdout + logs.stdout
    assert "arz bootstrap" in logs.stdout and token not in printed
    assert list((home / "local").rglob("kernel.py")), "the kernel script was written"
    assert (project / "validation_output").is_dir()
    assert files_containing(home, token) == []  # registry, kernel script, log, run folder
    assert files_containing(project / "validation_output", token) == []  # summary, log, report


def test_doctor_reports_a_credentialed_remote_without_showing_it(credentialed, token):
    from orchestrator.doctor import FAIL, DoctorContext, check_git_remote

    project, bare, url = credentialed
    git(project, "config", "--unset", f"url.{bare}.insteadOf")  # `git remote get-url` applies it
    check = check_git_remote(DoctorContext(repo_path=project))
    assert check.state == FAIL and "embeds credentials" in check.detail
    assert token not in check.detail + check.fix and "credential helper" in check.fix
