"""The sweep file: members expanded from the matrix (exclude, include), each validated as a job
before anything is committed; the registry's sweep table and its migration of older databases."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.errors import JobSpecError
from orchestrator.registry import JobRecord, Registry, SweepRecord
from orchestrator.sweep.spec import load_sweep
from orchestrator.sweep.view import group_by_sweep
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.conftest import git

REPO = Path(__file__).resolve().parents[2]


def write_sweep(folder: Path, body: str, job: str = "name: base\nsuites: [tiny]\n") -> Path:
    (folder / "base.yml").write_text(job)
    path = folder / "study.yml"
    path.write_text(body)
    return path


def test_members_are_the_product_minus_exclude_plus_include(tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)
    path = write_sweep(tmp_path, "name: study\njob: base.yml\n"
                       "matrix:\n  seeds: [[0], [1], [2]]\n  rl.env: [ARZ-Intersection-v0, ARZ-Arterial-v0]\n"
                       "exclude:\n  - {seeds: [2], rl.env: ARZ-Arterial-v0}\n"
                       "include:\n  - {seeds: [7], rl.timesteps: 64}\n")  # fmt: skip
    sweep = load_sweep(path, backend="kaggle")
    ids = [m.member_id for m in sweep.members]
    assert ids == ["m01", "m02", "m03", "m04", "m05", "m06"]
    assert sweep.members[0].matrix == {"seeds": [0], "rl.env": "ARZ-Intersection-v0"}
    assert sweep.members[1].job.rl.env == "ARZ-Arterial-v0" and sweep.members[1].job.seeds == [0]
    assert {"seeds": [2], "rl.env": "ARZ-Arterial-v0"} not in [m.matrix for m in sweep.members]
    last = sweep.members[-1]
    assert last.matrix == {"seeds": [7], "rl.timesteps": 64} and last.job.rl.timesteps == 64
    assert all(m.job.backend == "kaggle" and m.job.suites == ["tiny"] for m in sweep.members)
    assert [m.job.name for m in sweep.members[:2]] == ["base-m01", "base-m02"]


@pytest.mark.parametrize(("body", "words"), [
    ("name: s\njob: base.yml\nmatrix: {rl.envv: [a]}\n", ["member m01", "rl.envv", "unknown key"]),
    ("name: s\njob: base.yml\nmatrix: {rl.env: [ARZ-Intersection-v0, Nope-v0]}\n",
     ["member m02", "rl.env", "Nope-v0"]),
    ("name: s\njob: base.yml\nmatrix: {seeds: [[0]]}\nmax_paralel: 2\n", ["max_paralel", "unknown key"]),
    ("name: s\njob: missing.yml\nmatrix: {seeds: [[0]]}\n", ["missing.yml", "not found"]),
    ("name: s\njob: base.yml\nmatrix: {seeds: []}\n", ["matrix", "no values"]),
])  # fmt: skip
def test_a_bad_sweep_names_the_member_and_the_key(tmp_path, monkeypatch, body, words):
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)
    with pytest.raises(JobSpecError) as caught:
        load_sweep(write_sweep(tmp_path, body))
    text = str(caught.value)
    assert all(word in text for word in words), text


def test_a_bad_member_stops_the_cli_before_any_commit(project):
    (project / "jobs" / "tiny.yml").write_text("name: tiny\nsuites: [tiny]\n# edited\n")
    sweep = project / "study.yml"
    sweep.write_text("name: s\njob: jobs/tiny.yml\nmatrix: {suites: [[tiny], [tiny, nope]]}\n")
    head = git(project, "rev-parse", "HEAD")
    done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "sweep", str(sweep)],
                          cwd=project, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "member m02" in done.stderr and "suites" in done.stderr and "nope" in done.stderr
    assert "Traceback" not in done.stderr
    assert git(project, "rev-parse", "HEAD") == head  # nothing committed
    assert "edited" in (project / "jobs" / "tiny.yml").read_text()


def test_an_old_registry_gets_the_sweep_columns_and_table(arz_home):
    arz_home.mkdir(parents=True)
    old_columns = ["id", "name", "backend", "owner", "slug", "version", "workdir", "commit_sha",
                   "repo_root", "spec_json", "submitted_at", "status", "message", "result",
                   "results_dir"]  # fmt: skip
    with sqlite3.connect(arz_home / "registry.sqlite") as db:
        db.execute(f"CREATE TABLE jobs ({', '.join(c + ' TEXT' for c in old_columns)})")
        db.execute("INSERT INTO jobs (id, name, backend, owner, slug, commit_sha, repo_root, "
                   "spec_json, submitted_at, status) VALUES ('arz-old-1', 'old', 'local', 'local', "
                   "'arz-old-1', 'abc', '/r', '{}', '2026-01-01T00:00:00+00:00', 'complete')")
    registry = Registry()
    (old,) = registry.list()
    assert old.id == "arz-old-1" and old.sweep_id == "" and old.member_id == ""
    sweep = SweepRecord("s-1", "s", "local", "local", "abc", "/r", "{}", 2, "2026-01-02T00:00:00+00:00")
    registry.add_sweep(sweep)
    member = JobRecord.new(old.ref, "m", "abc", Path("/r"), "{}")
    member = JobRecord(**{**member.__dict__, "id": "arz-m-2", "slug": "arz-m-2", "sweep_id": "s-1",
                          "member_id": "m01"})  # fmt: skip
    registry.add(member)
    assert registry.get_sweep("s-").max_parallel == 2 and registry.get_sweep().id == "s-1"
    assert [m.id for m in registry.members("s-1")] == ["arz-m-2"]
    groups = group_by_sweep(registry.list())
    assert ("s-1", [registry.get("arz-m-2")]) in groups and ("", [old]) in groups


def test_the_sweep_eta_is_rounds_of_the_mean_member_duration():
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from kernel_payload.schema import JobSpec
    from orchestrator.backends.base import KernelRef
    from orchestrator.sweep.schedule import MemberState
    from orchestrator.sweep.view import sweep_eta

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    job = JobSpec(name="j", suites=["verify"])

    def member(index: int, status: str, took: float | None = None) -> MemberState:
        state = MemberState(f"m0{index}", {"seeds": [index]}, job)
        if status != "pending":
            state.record = JobRecord(**{**JobRecord.new(KernelRef("local", f"s{index}", "local"), "j", "a",
                                                         Path("/r"), "{}").__dict__,
                                        "submitted_at": start.isoformat(), "status": status})  # fmt: skip
            state.ended_at = start.timestamp() + took if took is not None else None
        return state

    runner = SimpleNamespace(record=SimpleNamespace(max_parallel=2), members=[
        member(1, "complete", 10.0), member(2, "error", 20.0), *(member(i, "pending") for i in (3, 4, 5))])
    assert sweep_eta(runner, start.timestamp() + 30) == 2 * 15.0  # 3 waiting, 2 at a time
    runner.members = runner.members[2:]
    assert sweep_eta(runner, start.timestamp()) is None  # nothing measured yet


def test_one_process_at_a_time_runs_a_sweep_loop(arz_home):
    from orchestrator.errors import BadInput
    from orchestrator.sweep.schedule import sweep_lock

    sweep = SweepRecord("s-lock", "s", "local", "local", "abc", "/r", '{"members": []}', 2, "2026-01-02")
    with sweep_lock(sweep):
        with pytest.raises(BadInput, match=f"already being run by another arz process \\(pid {os.getpid()}\\)"):
            with sweep_lock(sweep):
                pass
    with sweep_lock(sweep):  # released when the holder ends (the OS does it on kill -9 too)
        pass
