"""The SQLite job registry survives restarts and resolves ids."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from orchestrator.backends.base import JobStatus, KernelRef
from orchestrator.errors import UnknownJob
from orchestrator.registry import JobRecord, Registry


def record(slug: str, version: int | None = None) -> JobRecord:
    ref = KernelRef("kaggle", slug, "alice", version, "")
    return JobRecord.new(ref, "quickstart", "f" * 40, Path("/repo"), '{"spec": 1}')


def test_a_job_survives_a_restart(arz_home):
    Registry().add(record("arz-quickstart-aaaa1111-0001", version=3))
    again = Registry()  # a new process would build exactly this
    loaded = again.get("arz-quickstart-aaaa1111-0001")
    assert (loaded.name, loaded.commit_sha, loaded.spec_json) == (
        "quickstart",
        "f" * 40,
        '{"spec": 1}',
    )
    assert loaded.status == "queued" and loaded.result == ""
    assert loaded.ref == KernelRef("kaggle", "arz-quickstart-aaaa1111-0001", "alice", 3, "")
    assert (arz_home / "registry.sqlite").is_file()


def test_enum_members_are_stored_as_the_words_registries_hold(arz_home):
    registry = Registry()
    job = record("arz-e-00000000-0001")
    registry.add(job)
    updated = registry.update(job, status=JobStatus.ERROR, message="m")
    assert type(updated.status) is str and updated.status == "error"
    with sqlite3.connect(arz_home / "registry.sqlite") as db:
        raw = db.execute("SELECT status FROM jobs WHERE id = ?", [job.id]).fetchone()[0]
    assert raw == "error"  # not "JobStatus.ERROR": an older arz reads the same word
    assert Registry().get(job.id).job_status is JobStatus.ERROR


def test_update_persists(arz_home):
    registry = Registry()
    job = record("arz-a-00000000-0001")
    registry.add(job)
    updated = registry.update(job, status="succeeded", result="partial", results_dir="/r")
    assert updated.status == "succeeded"
    stored = Registry().get(job.id)
    assert (stored.status, stored.result, stored.results_dir, stored.version) == (
        "succeeded",
        "partial",
        "/r",
        None,
    )


def test_prefix_lookup_and_errors(arz_home):
    registry = Registry()
    registry.add(record("arz-alpha-00000000-0001"))
    registry.add(record("arz-alpha-00000000-0002"))
    registry.add(record("arz-beta-00000000-0003"))
    assert registry.get("arz-beta").id == "arz-beta-00000000-0003"
    with pytest.raises(UnknownJob, match="matches several jobs"):
        registry.get("arz-alpha")
    with pytest.raises(UnknownJob, match="no job 'nope'"):
        registry.get("nope")
    with pytest.raises(UnknownJob):
        registry.get("arz_")  # LIKE wildcards are taken literally


def test_latest_and_list_order(arz_home):
    registry = Registry()
    with pytest.raises(UnknownJob, match="no job has been submitted"):
        registry.latest()
    for n in range(3):
        registry.add(record(f"arz-job-00000000-000{n}"))
    assert registry.latest().id == "arz-job-00000000-0002"
    assert [r.id for r in registry.list(limit=2)] == [
        "arz-job-00000000-0002",
        "arz-job-00000000-0001",
    ]
