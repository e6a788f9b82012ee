"""A broken registry or home folder: one line with the fix, exit 2, and nothing pushed or started."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from orchestrator import registry as registry_module
from orchestrator.cli import app
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.conftest import REPO, git
from tests.orchestrator.kaggle_harness import start_harness

runner = CliRunner()
GARBAGE = b"this is not a database\x00\xff" * 64


def assert_one_line(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args", [["list"], ["status"], ["status", "arz-x"], ["watch", "arz-x"],
                                  ["pull", "arz-x"], ["cancel", "arz-x"], ["logs", "arz-x"]])  # fmt: skip
def test_a_corrupt_registry_is_one_line_with_the_fix(arz_home, args):
    arz_home.mkdir(parents=True)
    (arz_home / "registry.sqlite").write_bytes(GARBAGE)
    result = runner.invoke(app, args)
    assert_one_line(result, "not a readable SQLite database", "mv ", "registry.sqlite.broken")
    assert (arz_home / "registry.sqlite").read_bytes() == GARBAGE  # left for the user to inspect


def test_a_corrupt_registry_stops_a_local_submit_before_git_or_the_kernel(project, arz_home):
    (arz_home / "registry.sqlite").parent.mkdir(parents=True, exist_ok=True)
    (arz_home / "registry.sqlite").write_bytes(GARBAGE)
    (project / "jobs" / "tiny.yml").write_text("name: tiny\nsuites: [tiny]\ndevice: cpu\n")
    head = git(project, "rev-parse", "HEAD")
    result = runner.invoke(app, ["submit", "jobs/tiny.yml"])
    assert_one_line(result, "not a readable SQLite database")
    assert git(project, "rev-parse", "HEAD") == head  # nothing committed
    assert not (arz_home / "local").exists()  # no kernel folder, so no kernel process


def test_a_locked_registry_is_one_line(arz_home, monkeypatch):
    monkeypatch.setattr(registry_module, "LOCK_TIMEOUT_S", 0.2)
    runner.invoke(app, ["list"])  # creates the database
    holder = sqlite3.connect(arz_home / "registry.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = runner.invoke(app, ["list"])
    finally:
        holder.rollback()
        holder.close()
    assert_one_line(result, "is locked by another arz command")


def test_a_missing_home_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("ARZ_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "nowhere"))
    assert_one_line(runner.invoke(app, ["list"]), "HOME", "set HOME", "ARZ_HOME")
    assert not (tmp_path / "nowhere").exists()


def test_an_unusable_arz_home_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ARZ_HOME", str(blocker / "arz"))
    assert_one_line(runner.invoke(app, ["list"]), "cannot write its state folder", "ARZ_HOME")


def test_a_corrupt_registry_pushes_nothing_to_kaggle(tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)
    harness = start_harness(tmp_path, monkeypatch)
    try:
        remote, work = tmp_path / "remote.git", tmp_path / "work"
        subprocess.run(["git", "clone", "-q", "--bare", str(REPO), str(remote)], check=True)
        subprocess.run(["git", "clone", "-q", str(remote), str(work)], check=True)
        refs = git(remote, "for-each-ref")
        home = tmp_path / "arz_home"
        home.mkdir()
        (home / "registry.sqlite").write_bytes(GARBAGE)
        job = tmp_path / "tiny.yml"
        job.write_text("name: tiny-kaggle\nsuites: [tiny]\nkaggle: {accelerator: null}\n")
        env = harness.subprocess_env()
        env.update(ARZ_HOME=str(home), ARZ_TEST_SUITES=SUITES_ENV, PYTHONPATH=str(REPO))
        done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "submit", str(job),
                               "--backend", "kaggle"], cwd=work, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and "not a readable SQLite database" in done.stderr
        assert harness.fake.pushes == [] and "SaveKernel" not in harness.fake.calls
        assert harness.fake.kernels == {}  # no kernel runs anywhere
        assert git(remote, "for-each-ref") == refs  # and nothing reached the git remote
    finally:
        harness.fake.stop()
