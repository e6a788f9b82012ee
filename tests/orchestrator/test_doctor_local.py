"""``arz doctor`` through the real entry point, on a machine without Kaggle credentials.

Each case runs ``arz`` in a subprocess with its own HOME, Kaggle config and ARZ_HOME, from a real
temporary git repository; the doctor must not import the solver, rl, numba or torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.orchestrator.conftest import git, init_repo

HEAVY = ("numba", "torch", "stable_baselines3", "solver", "rl")
RUN_ARZ = ("import atexit, sys; atexit.register(lambda: print('imported:', [m for m in {heavy!r} "
           "if m in sys.modules], file=sys.stderr)); from orchestrator.cli import main; main()")


def arz(cwd: Path, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``arz ARGS`` in ``cwd`` with an isolated home (no Kaggle credentials anywhere)."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("KAGGLE_")}
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True, exist_ok=True)
    base.update(HOME=str(home), KAGGLE_CONFIG_DIR=str(home / ".kaggle"), XDG_CONFIG_HOME=str(home / ".config"),
                ARZ_HOME=str(tmp_path / "arz-home"), COLUMNS="250")  # fmt: skip
    base.update(env)
    return subprocess.run([sys.executable, "-c", RUN_ARZ.format(heavy=HEAVY), *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = init_repo(tmp_path / "work")
    (work / "README.md").write_text("hi\n")
    git(work, "add", "README.md")
    git(work, "commit", "-q", "-m", "first")
    return work


def test_doctor_without_kaggle_credentials_is_ready_for_local(repo, tmp_path):
    proc = arz(repo, tmp_path, "doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for line in ("python", "solver stack", "rl stack", "arz home", "git repo"):
        assert f"│ {line}" in out or f"| {line}" in out or line in out
    assert "numba " in out and "torch " in out and "stable-baselines3 " in out
    assert "optional" in out and "not configured" in out
    assert "ready for --backend local" in out and "Kaggle: optional, not configured" in out
    assert "imported: []" in proc.stderr and "Traceback" not in proc.stderr


def test_doctor_reports_an_unwritable_home_and_a_folder_without_git(repo, tmp_path):
    home_file = tmp_path / "not-a-folder"
    home_file.write_text("x")
    proc = arz(repo, tmp_path, "doctor", ARZ_HOME=str(home_file / "arz"))
    assert proc.returncode == 1 and "not ready: fix arz home" in proc.stdout, proc.stdout
    assert "is a file, not a folder" in proc.stdout and "export ARZ_HOME" in proc.stdout
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = arz(plain, tmp_path, "doctor")
    assert proc.returncode == 1 and "not ready: fix git repo" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("missing.yml", None, "job file missing.yml not found"),
        ("typo.yml", "name: demo\nsuites: [verify]\ndevise: gpu\n", "key 'devise': unknown key (did you mean 'device'?)"),
        ("suite.yml", "name: demo\nsuites: [verfy]\n", "unknown suite 'verfy' (did you mean 'verify'?)"),
    ],
)
def test_doctor_with_a_bad_job_file_exits_2_naming_it(repo, tmp_path, name, text, expected):
    if text is not None:
        (repo / name).write_text(text)
    proc = arz(repo, tmp_path, "doctor", name)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("imported:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
    assert proc.stdout == ""


def test_doctor_for_a_kaggle_job_needs_the_credentials(repo, tmp_path):
    (repo / "job.yml").write_text("name: demo\nsuites: [verify]\nbackend: kaggle\n")
    proc = arz(repo, tmp_path, "doctor", "job.yml")
    assert proc.returncode == 1 and "this job runs on Kaggle: fix credentials" in proc.stdout, proc.stdout
