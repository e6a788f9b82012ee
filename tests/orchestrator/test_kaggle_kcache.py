"""Compiled kernels carried between Kaggle jobs through a private dataset (issue 13 item 3),
against the fake Kaggle server and the real ``kaggle`` client: job 1 compiles cold and its cache
archive becomes the dataset ``arz-kcache-<repo>``; job 2 attaches it and starts warm (nothing
compiled); job 3 with the same key uploads nothing. Each job gets its own empty kernel-cache
folder, as a Kaggle kernel does, so only the dataset can make a job warm."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator import jobs
from orchestrator.backends.base import JobStatus
from orchestrator.backends.kaggle.kcache import cache_dataset_slug, with_cache_export
from orchestrator.registry import Registry
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.conftest import git, make_project
from tests.orchestrator.kaggle_harness import register_fast_backend, start_harness

pytest.importorskip("numba")

PROBE = '''"""One cached kernel (a test fixture of the kernel-cache dataset)."""
import numba


@numba.njit(cache=True)
def twice(x):
    return 2.0 * x
'''
SUITE = '''"""A suite that calls the cached probe kernel."""


def kc(ctx):
    from solver.kernels.probe import twice

    ctx.metrics.update(twice=twice(21.0))
'''


@pytest.fixture
def harness(tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SUITES", f"{SUITES_ENV};kc=tests.kernel_payload.kc_suite:kc")
    monkeypatch.setenv("ARZ_HOME", str(tmp_path / "arz_home"))
    monkeypatch.delenv("ARZ_OUTPUT_DIR", raising=False)
    running = start_harness(tmp_path, monkeypatch)
    register_fast_backend(monkeypatch, running)
    yield running
    running.fake.stop()


def kernel_project(path: Path) -> Path:
    """The test project plus a one-kernel ``solver`` (what the kernel key and locator read)."""
    project = make_project(path)
    kernels = project / "solver" / "kernels"
    kernels.mkdir(parents=True)
    (project / "solver" / "__init__.py").write_text("")
    (kernels / "__init__.py").write_text("")
    (kernels / "probe.py").write_text(PROBE)
    (kernels / "sources.py").write_text('DEPENDENCIES = {"solver/kernels/probe.py": []}\n')
    (project / "tests" / "kernel_payload" / "kc_suite.py").write_text(SUITE)
    (project / "kc.yml").write_text(
        "name: kc\nsuites: [kc]\nkaggle: {code: inline, accelerator: null}\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "probe kernel")
    return project


def run_job(project: Path, tmp_path: Path, monkeypatch, n: int):
    """Submit kc.yml with a fresh kernel-cache folder; follow, pull; return (summary, folder)."""
    monkeypatch.setenv("ARZ_KERNEL_CACHE_DIR", str(tmp_path / f"kernel-cache-{n}"))
    registry = Registry()
    sub = jobs.submit_job(project / "kc.yml", registry, backend_name="kaggle", cwd=project)
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    record, _ = jobs.follow_job(sub.record, registry, console, sub.backend)
    assert record.status == JobStatus.COMPLETE.value
    record, folder, summary = jobs.pull_job(record, registry, backend=sub.backend)
    assert summary.status.value == "succeeded", summary.error
    assert all(entry.problem(folder) is None for entry in summary.artifacts)
    return summary, folder


def test_compiled_kernels_travel_through_one_dataset_uploaded_once_per_key(
        harness, tmp_path, monkeypatch):  # fmt: skip
    project = kernel_project(tmp_path / "project")
    slug = cache_dataset_slug(project)
    datasets, pushes = harness.fake.datasets, harness.fake.pushes
    assert slug == "arz-kcache-project"

    first, folder = run_job(project, tmp_path, monkeypatch, 1)
    assert first.startup["kernel_cache"] == "cold" and first.startup["kernels_compiled"] >= 1
    (archive,) = (folder / "kernel_cache").glob("arz-kcache-*.tar")
    assert not pushes[0].get("datasetDataSources")  # nothing to attach yet
    (version,) = datasets.versions("tester", slug)
    assert (
        list(version.files) == [archive.name]
        and version.files[archive.name] == archive.read_bytes()
    )
    assert datasets.datasets[("tester", slug)].private and datasets.uploads == 1

    second, _ = run_job(project, tmp_path, monkeypatch, 2)
    assert pushes[1]["datasetDataSources"] == [f"tester/{slug}"]
    assert (
        second.startup["kernel_cache"] == "warm" and second.startup.get("kernels_compiled", 0) == 0
    )
    assert second.suites[0].metrics["twice"] == 42.0

    third, folder3 = run_job(project, tmp_path, monkeypatch, 3)
    assert third.startup["kernel_cache"] == "warm"
    assert not (folder3 / "kernel_cache").exists()  # nothing compiled: no archive written
    assert datasets.uploads == 1 and len(datasets.versions("tester", slug)) == 1


def test_the_backend_asks_the_bootstrap_to_export_its_cache():
    from orchestrator.kernel_builder import CONFIG_LINE

    script = 'x = 1\nCONFIG_JSON = "{\\"commit_sha\\": \\"abc\\"}"\nprint(x)\n'
    out = with_cache_export(script)
    (line,) = CONFIG_LINE.findall(out)
    assert '\\"export_kernel_cache\\": true' in line and '\\"commit_sha\\": \\"abc\\"' in line
    assert out.startswith("x = 1\n") and out.endswith("print(x)\n")
    with pytest.raises(ValueError, match="CONFIG_JSON"):
        with_cache_export("print('not a bootstrap')")


def test_a_cache_upload_that_fails_is_a_warning_and_the_next_job_starts_cold(
    harness, tmp_path, monkeypatch, caplog
):
    project = kernel_project(tmp_path / "project")
    slug = cache_dataset_slug(project)
    harness.fake.datasets.faults.upload_drops = 99  # every upload of the archive is dropped
    with caplog.at_level("WARNING", logger="orchestrator.backends.kaggle.kcache"):
        first, folder = run_job(project, tmp_path, monkeypatch, 1)  # pulled and verified
    assert first.status.value == "succeeded" and list((folder / "kernel_cache").glob("*.tar"))
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"was not uploaded to dataset {slug}" in warning and "compiles cold" in warning
    assert ("tester", slug) not in harness.fake.datasets.datasets

    harness.fake.datasets.faults.upload_drops = 0
    second, _ = run_job(project, tmp_path, monkeypatch, 2)
    assert not harness.fake.pushes[1].get("datasetDataSources")  # no dataset: none attached
    assert second.startup["kernel_cache"] == "cold" and second.startup["kernels_compiled"] >= 1
    assert len(harness.fake.datasets.versions("tester", slug)) == 1  # its own archive, this time


def test_a_cache_version_still_processing_is_not_attached_and_the_push_does_not_wait(
    harness, caplog
):
    backend, slug = harness.backend(), "arz-kcache-project"
    assert backend.kernel_cache.sources(slug) == []  # no dataset yet: nothing to attach
    backend.datasets.publish(slug, "arz-kcache-0123456789abcdef.tar", lambda: b"tar", "notes")
    (version,) = harness.fake.datasets.versions("tester", slug)
    version.ready_at += 30.0  # a new version Kaggle is still processing
    calls = len(harness.fake.calls)
    with caplog.at_level("WARNING", logger="orchestrator.backends.kaggle.kcache"):
        assert backend.kernel_cache.sources(slug) == []
    assert len(harness.fake.calls) - calls <= 2  # one look, no polling
    assert f"kernel cache dataset {slug} not attached" in caplog.text and "cold" in caplog.text
    version.ready_at -= 30.0
    assert backend.kernel_cache.sources(slug) == [f"tester/{slug}"]
