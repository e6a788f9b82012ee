"""Helpers for the pull-safety tests: crafted kernel outputs and a byte-exact view of a folder tree."""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from orchestrator.backends.base import KernelRef, PushRequest
from orchestrator.backends.local import LocalBackend
from orchestrator.results import ExpectedJob

COMMIT = "c" * 40
SUITES = ["demo"]
GOOD_FILES = {"report.html": b"<html>ok</html>", "demo/data/metrics/m.csv": b"a,b\n1,2\n"}


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (links not followed): kind, size/target and sha256 of files."""
    state: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            info = path.lstat()
            if path.is_symlink():
                state[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                state[rel] = ("dir",)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest() if info.st_size < 1 << 24 else ""
                state[rel] = ("file", info.st_size, digest)
    return state


def summary_json(job_id: str, artifacts: list[dict], commit: str = COMMIT,
                 suites: list[str] | None = None) -> str:
    """A finished, succeeded ``session_summary.json`` with this manifest."""
    now = datetime.now(timezone.utc).isoformat()
    return json.dumps({
        "job_id": job_id, "job_name": "demo", "slug": job_id, "commit_sha": commit,
        "started_at": now, "finished_at": now,
        "suites": [{"name": s, "status": "succeeded"} for s in (suites or SUITES)],
        "artifacts": artifacts,
    })  # fmt: skip


def entry(path: str, data: bytes) -> dict:
    """A manifest entry for ``data`` at ``path``."""
    return {"path": path, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_outputs(output: Path, job_id: str, files: dict[str, bytes] | None = None,
                  extra: list[dict] | None = None, **summary) -> None:
    """Write result files and a matching summary (plus ``extra`` manifest entries) into ``output``."""
    files = GOOD_FILES if files is None else files
    for rel, data in files.items():
        (output / rel).parent.mkdir(parents=True, exist_ok=True)
        (output / rel).write_bytes(data)
    manifest = [entry(rel, data) for rel, data in files.items()] + (extra or [])
    (output / "session_summary.json").write_text(summary_json(job_id, manifest, **summary))


def finished_local_run(home: Path, slug: str = "arz-demo-cccccccc-0001") -> tuple[LocalBackend, KernelRef]:
    """A real local run of an empty kernel (supervisor and all), waited for until it ended."""
    backend = LocalBackend(home)
    ref = backend.push(PushRequest(slug=slug, script="print('kernel ran')\n"))
    deadline = time.monotonic() + 60
    while not backend.status(ref).status.is_terminal():
        assert time.monotonic() < deadline, "the empty kernel did not end"
        time.sleep(0.05)
    return backend, ref


def expected(ref: KernelRef, max_bytes: int = 10 * 2**20, protected: list[Path] | None = None) -> ExpectedJob:
    """What the registry would expect of ``ref``'s summary."""
    return ExpectedJob(ref.slug, COMMIT, list(SUITES), max_bytes, protected or [])
