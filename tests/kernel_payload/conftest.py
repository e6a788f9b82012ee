"""Fixtures for the payload tests: run ``python -m kernel_payload`` as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kernel_payload.fake_suites import SUITES_ENV

REPO = Path(__file__).resolve().parents[2]
CONTRACT_FAKES = Path(__file__).resolve().parent / "contract_fakes"


def payload_env(*, fakes: bool = False, **extra: str) -> dict[str, str]:
    """Environment for a payload subprocess: the test suites registered, the repo importable,
    optionally the contract fakes of solver/rl first on the path."""
    paths = [str(CONTRACT_FAKES)] if fakes else []
    paths.append(str(REPO))
    env = {**os.environ, "ARZ_TEST_SUITES": SUITES_ENV, "PYTHONPATH": os.pathsep.join(paths),
           "MPLBACKEND": "Agg", **extra}  # fmt: skip
    return env


def write_spec(folder: Path, **job: object) -> Path:
    """Write a KernelSpec JSON for ``job`` into ``folder``; return its path."""
    spec = {"job_id": f"{job['name']}-test", "slug": f"arz-{job['name']}", "commit_sha": "0" * 40,
            "job": job}  # fmt: skip
    path = folder / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def run_payload_at(
    folder: Path, job: dict, fakes: bool = False, **env: str
) -> tuple[subprocess.CompletedProcess, Path]:
    """Run the payload on ``job`` from ``folder`` (so the repo's own packages come from PYTHONPATH,
    after the contract fakes when ``fakes``); return the process and the output folder."""
    out = folder / "out"
    spec = write_spec(folder, **job)
    proc = subprocess.run(
        [sys.executable, "-m", "kernel_payload", "--spec", str(spec), "--out", str(out)],
        cwd=folder, env=payload_env(fakes=fakes, **env), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    return proc, out


@pytest.fixture
def run_payload(tmp_path: Path):
    """``run_payload(job, fakes=False, **env) -> (CompletedProcess, out_dir)`` in ``tmp_path``."""

    def run(job: dict, fakes: bool = False, **env: str) -> tuple[subprocess.CompletedProcess, Path]:
        return run_payload_at(tmp_path, job, fakes, **env)

    return run
