"""Fixtures for the orchestrator tests: isolated ``ARZ_HOME`` and real temporary git repositories."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.kernel_payload.fake_suites import SUITES_ENV

REPO = Path(__file__).resolve().parents[2]
TINY_JOB = "name: tiny\nsuites: [tiny]\n"


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout (raises on failure)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def init_repo(path: Path) -> Path:
    """``git init`` on branch main with a local identity."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.org")
    git(path, "config", "commit.gpgsign", "false")
    return path


def make_project(path: Path) -> Path:
    """A committed copy of what a kernel needs: kernel_payload, the test suites, pyproject, jobs."""
    init_repo(path)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "kernel_payload", path / "kernel_payload", ignore=ignore)
    (path / "tests" / "kernel_payload").mkdir(parents=True)
    for name in ("tests/__init__.py", "tests/kernel_payload/__init__.py",
                 "tests/kernel_payload/fake_suites.py", "pyproject.toml"):  # fmt: skip
        shutil.copy2(REPO / name, path / name)
    (path / "jobs").mkdir()
    (path / "jobs" / "tiny.yml").write_text(TINY_JOB)
    (path / "jobs" / "two.yml").write_text("name: two\nsuites: [tiny, slow]\n")
    (path / "jobs" / "crashy.yml").write_text("name: crashy\nsuites: [tiny, crash]\n")
    (path / ".gitignore").write_text("validation_output/\n__pycache__/\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "project")
    return path


@pytest.fixture
def arz_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``ARZ_HOME`` (registry and local runs) and temporary folder.

    Local runs keep their clone in ``<tempdir>/arz-job-<slug>``; with the machine's ``/tmp`` two
    test sessions at once (a CI clone beside a working copy) would share those folders by slug.
    """
    home = tmp_path / "arz-home"
    monkeypatch.setenv("ARZ_HOME", str(home))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return home


@pytest.fixture
def project(tmp_path: Path, arz_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed project repository as the current folder, with the test suites registered."""
    repo = make_project(tmp_path / "project")
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "0.5")
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def bare_remote(tmp_path: Path) -> Path:
    """An empty bare repository to push to."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    return remote
