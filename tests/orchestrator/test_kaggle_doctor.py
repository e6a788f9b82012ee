"""``arz doctor`` against the fake Kaggle server and a real temporary git repository."""

from __future__ import annotations

import io
import subprocess

import pytest

from orchestrator.doctor import (
    FAIL,
    OK,
    OPTIONAL,
    SKIP,
    WARN,
    doctor_checks,
    redact_url,
    run_doctor,
)
from tests.orchestrator.kaggle_harness import start_harness


@pytest.fixture
def harness(tmp_path, monkeypatch):
    running = start_harness(tmp_path, monkeypatch)
    yield running
    running.fake.stop()


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    """A repository with one commit, pushed to a bare remote."""
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("init", "-q", str(work), cwd=tmp_path)
    (work / "README.md").write_text("hi\n")
    git("add", "README.md", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c", cwd=work)
    git("remote", "add", "origin", str(remote), cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)
    return work


def by_name(checks):
    return {c.name: c for c in checks}


def test_ready_machine(harness, repo):
    checks = by_name(doctor_checks(repo_path=repo, backend=harness.backend()))
    assert checks["kaggle client"].state == OK
    assert checks["credentials"].state == OK and "legacy API key" in checks["credentials"].detail
    assert checks["quota"].state == OK and "30.0 h of 30 h" in checks["quota"].detail
    assert checks["code transport"].state == OK  # the default kaggle.code: auto, a tiny tree
    assert checks["code transport"].detail.startswith("inline: kaggle.code: auto and the archive")
    assert "no remote or push needed" in checks["code transport"].detail
    assert checks["git remote"].state == SKIP and "travels inline" in checks["git remote"].detail
    assert checks["kernel"].state == OK and "NvidiaTeslaT4" in checks["kernel"].detail
    assert all(harness.fake.key not in c.detail + c.fix for c in checks.values())


def git_job(tmp_path, extra=""):
    job = tmp_path / "git_job.yml"
    job.write_text(f"name: demo\nsuites: [verify]\nkaggle: {{code: git{extra}}}\n")
    return job


def test_git_transport_checks_the_remote(harness, repo, tmp_path):
    checks = by_name(doctor_checks(git_job(tmp_path), repo_path=repo, backend=harness.backend()))
    assert checks["code transport"].state == OK and checks["code transport"].detail.startswith("git:")
    assert checks["git remote"].state == WARN and "local path" in checks["git remote"].detail


def test_missing_credentials_and_remote(harness, repo):
    (harness.home / ".kaggle" / "kaggle.json").unlink()
    git("remote", "remove", "origin", cwd=repo)
    checks = by_name(doctor_checks(repo_path=repo, backend=harness.backend()))
    assert checks["credentials"].state == OPTIONAL and "access_token" in checks["credentials"].fix
    assert "not configured" in checks["credentials"].detail
    assert checks["quota"].state == SKIP
    assert checks["git remote"].state == SKIP  # inline: no remote needed
    assert harness.fake.calls == []
    checks = by_name(doctor_checks(git_job(repo.parent), repo_path=repo, backend=harness.backend()))
    assert checks["code transport"].state == FAIL and "has none" in checks["code transport"].detail
    assert "kaggle.code: inline" in checks["code transport"].fix
    assert checks["git remote"].state == FAIL and "git remote add" in checks["git remote"].fix


def test_loose_permissions_and_low_quota(harness, repo):
    (harness.home / ".kaggle" / "kaggle.json").chmod(0o644)
    harness.fake.faults.quota_used_h = 29.9
    checks = by_name(doctor_checks(repo_path=repo, backend=harness.backend()))
    assert checks["credentials"].state == WARN and "chmod 600" in checks["credentials"].fix
    assert checks["quota"].state == WARN and "0.1 h" in checks["quota"].detail


def test_rejected_credentials_are_reported_with_a_fix(harness, repo):
    (harness.home / ".kaggle" / "kaggle.json").write_text('{"username": "tester", "key": "bad"}')
    (harness.home / ".kaggle" / "kaggle.json").chmod(0o600)
    check = by_name(doctor_checks(repo_path=repo, backend=harness.backend()))["quota"]
    assert check.state == FAIL and "HTTP 401" in check.detail and check.fix


def test_unreachable_remote_and_kernel_without_internet(harness, repo, tmp_path):
    git("remote", "set-url", "origin", str(tmp_path / "gone.git"), cwd=repo)
    checks = by_name(doctor_checks(git_job(tmp_path), repo_path=repo, backend=harness.backend()))
    assert checks["git remote"].state == FAIL and "not reachable" in checks["git remote"].detail
    job = tmp_path / "job.yml"
    job.write_text("name: demo\nsuites: [verify]\nkaggle: {code: inline, internet: false}\n")
    checks = by_name(doctor_checks(job, repo_path=repo, backend=harness.backend()))
    assert checks["code transport"].detail.startswith("inline: kaggle.code: inline")
    assert checks["kernel"].state == OK and "a wheelhouse dataset brings" in checks["kernel"].detail
    job.write_text("name: demo\nsuites: [verify]\n"
                   "kaggle: {code: inline, internet: false, wheels: false}\n")  # fmt: skip
    checks = by_name(doctor_checks(job, repo_path=repo, backend=harness.backend()))
    assert checks["kernel"].state == WARN and "pip-install" in checks["kernel"].detail
    assert "kaggle.wheels: true" in checks["kernel"].fix


def test_auto_over_the_inline_limit_without_a_remote_goes_to_the_code_dataset(
    harness, repo, monkeypatch, tmp_path
):
    from orchestrator import code_transport

    monkeypatch.setattr(code_transport, "INLINE_MAX_BYTES", 10)  # the tree is ~200 bytes
    git("remote", "remove", "origin", cwd=repo)
    checks = by_name(doctor_checks(repo_path=repo, backend=harness.backend()))
    check = checks["code transport"]
    assert check.state == OK and check.detail.startswith("dataset: kaggle.code: auto and the")
    assert "over the 0.0 MB inline limit" in check.detail
    assert f"private dataset arz-code-{repo.name}" in check.detail
    assert checks["git remote"].state == SKIP and "as a private dataset" in checks["git remote"].detail
    job = tmp_path / "job.yml"
    job.write_text("name: demo\nsuites: [verify]\nkaggle: {code: dataset, internet: false}\n")
    check = by_name(doctor_checks(job, repo_path=repo, backend=harness.backend()))["code transport"]
    assert check.detail.startswith("dataset: kaggle.code: dataset; uploaded to the private")


def test_run_doctor_prints_a_table_and_exit_code(harness, repo, monkeypatch):
    from rich.console import Console

    monkeypatch.chdir(repo)
    out = io.StringIO()
    assert run_doctor(console=Console(file=out, width=200), backend=harness.backend()) == 0
    assert "ready" in out.getvalue() and harness.fake.key not in out.getvalue()
    (harness.home / ".kaggle" / "kaggle.json").unlink()
    out = io.StringIO()
    assert run_doctor(console=Console(file=out, width=200), backend=harness.backend()) == 0  # Kaggle is optional
    assert "Kaggle: optional, not configured" in out.getvalue()
    job = repo / "kaggle_job.yml"
    job.write_text("name: demo\nsuites: [verify]\nbackend: kaggle\n")
    out = io.StringIO()
    assert run_doctor(job, console=Console(file=out, width=200), backend=harness.backend()) == 1
    assert "this job runs on Kaggle: fix credentials" in out.getvalue()


def test_redact_url_hides_embedded_tokens():
    assert redact_url("https://user:ghp_secret@github.com/a/b.git") == "https://***@github.com/a/b.git"
    assert redact_url("https://github.com/a/b.git") == "https://github.com/a/b.git"
