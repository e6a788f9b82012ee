"""Pulls never destroy and never escape (local backend, real runs, real files).

Every refusal is checked the same way: one line naming the problem, the staging folder gone,
nothing new next to the destination, an earlier pull byte-for-byte intact, and nothing written
outside (the folder holding the target of every link is hashed before and after).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kernel_payload.schema import DEFAULT_MAX_RESULT_BYTES, JobSpec
from orchestrator.errors import (
    DestinationRefused,
    ManifestMismatch,
    OutputRefused,
    PullError,
    SummaryMismatch,
)
from orchestrator.results import MARKER_FILE, pull_results
from tests.orchestrator.pull_fixtures import (
    GOOD_FILES,
    entry,
    expected,
    finished_local_run,
    tree_state,
    write_outputs,
)


@pytest.fixture
def run(tmp_path):
    """A finished local run with good outputs, pulled once into ``tmp_path/results/job``."""
    backend, ref = finished_local_run(tmp_path / "home")
    output = Path(ref.workdir) / "output"
    write_outputs(output, ref.slug)
    dest = tmp_path / "results" / "job"
    pull_results(backend, ref, dest, expected(ref))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not copy me")
    return backend, ref, output, dest, outside


def clear(output: Path) -> None:
    for path in sorted(output.rglob("*"), key=lambda p: -len(p.parts)):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            path.rmdir()


def assert_refused(backend, ref, dest, outside, error, match, **kwargs):
    """The pull fails with ``error`` (one line), and nothing around ``dest`` or ``outside`` moved."""
    before = tree_state(dest.parent), tree_state(outside)
    with pytest.raises(error, match=match) as info:
        pull_results(backend, ref, dest, expected(ref, **kwargs))
    assert "\n" not in str(info.value)
    assert (tree_state(dest.parent), tree_state(outside)) == before  # staging gone, old intact
    return info.value


def test_a_good_pull_is_marked_and_a_second_pull_replaces_it(run):
    backend, ref, _, dest, _ = run
    assert (dest / MARKER_FILE).is_file() and (dest / "report.html").read_bytes() == GOOD_FILES["report.html"]
    (dest / "stale.txt").write_text("from before")
    pull_results(backend, ref, dest, expected(ref))
    assert not (dest / "stale.txt").exists() and sorted(os.listdir(dest.parent)) == ["job"]


@pytest.mark.parametrize("kind", ["linked_dir", "link_outside_file", "loop", "fifo", "device"])
def test_links_and_special_files_are_refused_without_being_followed(run, kind):
    backend, ref, output, dest, outside = run
    if kind == "linked_dir":
        os.symlink(outside, output / "demo" / "data" / "more")
    elif kind == "link_outside_file":
        os.symlink(outside / "secret.txt", output / "demo" / "secret.txt")
    elif kind == "loop":
        os.symlink("..", output / "demo" / "loop")
    elif kind == "fifo":
        os.mkfifo(output / "demo" / "pipe")  # opening it would block: it must never be opened
    else:
        try:  # a character device like /dev/zero (endless bytes if it were read)
            os.mknod(output / "demo" / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
        except PermissionError:
            pytest.skip("creating a device file needs privileges")
    error = assert_refused(backend, ref, dest, outside, OutputRefused, "not followed")
    assert "demo/" in str(error)


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "demo\\..\\x", "", "demo/./m.csv",
                                 "demo//m.csv"])  # fmt: skip
def test_unsafe_manifest_paths_are_refused(run, bad):
    backend, ref, output, dest, outside = run
    (outside / "escape.txt").write_text("x")
    write_outputs(output, ref.slug, extra=[entry(bad, b"x")])
    assert_refused(backend, ref, dest, outside, OutputRefused, "unsafe path")


def test_a_4_gib_sparse_file_is_refused_by_the_cap_without_being_copied(run):
    backend, ref, output, dest, outside = run
    big = output / "demo" / "huge.bin"
    with open(big, "wb") as handle:
        handle.truncate(4 * 2**30)  # 4 GiB apparent size, no blocks on disk
    free_before = os.statvfs(dest.parent).f_bavail * os.statvfs(dest.parent).f_frsize
    assert_refused(backend, ref, dest, outside, OutputRefused, "results size cap",
                   max_bytes=2**20)  # fmt: skip
    free_after = os.statvfs(dest.parent).f_bavail * os.statvfs(dest.parent).f_frsize
    assert free_before - free_after < 64 * 2**20  # nothing near 4 GB was written


def test_the_cap_counts_bytes_while_copying(run):
    backend, ref, output, dest, outside = run
    files = {f"demo/part{i}.bin": bytes(300_000) for i in range(4)}  # each under, together over
    write_outputs(output, ref.slug, files={**GOOD_FILES, **files})
    assert_refused(backend, ref, dest, outside, OutputRefused, "results size cap", max_bytes=10**6)


def test_the_default_cap_is_5_gib_and_results_max_bytes_sets_it():
    assert DEFAULT_MAX_RESULT_BYTES == 5 * 2**30
    assert JobSpec(name="j", suites=["verify"]).results.max_bytes == 5 * 2**30
    assert JobSpec(name="j", suites=["verify"], results={"max_bytes": "200 MB"}).results.max_bytes == 200 * 10**6
    assert JobSpec(name="j", suites=["verify"], results={"max_bytes": "1 GiB"}).results.max_bytes == 2**30
    with pytest.raises(ValueError, match="not a size"):
        JobSpec(name="j", suites=["verify"], results={"max_bytes": "lots"})


@pytest.mark.parametrize(("field", "change"), [
    ("job_id", {"job_id": "arz-other-00000000-0000"}),
    ("commit_sha", {"commit": "d" * 40}),
    ("suites", {"suites": ["demo", "extra"]}),
])  # fmt: skip
def test_a_summary_of_another_job_commit_or_suite_list_is_refused(run, field, change):
    backend, ref, output, dest, outside = run
    job_id = change.pop("job_id", ref.slug)
    write_outputs(output, job_id, **change)
    error = assert_refused(backend, ref, dest, outside, SummaryMismatch, field)
    assert error.field == field


def test_only_the_top_level_summary_is_special(run):
    backend, ref, output, dest, _ = run
    files = {**GOOD_FILES, "demo/session_summary.json": b'{"a suite": "file"}'}
    write_outputs(output, ref.slug, files=files)
    pull_results(backend, ref, dest, expected(ref))
    assert (dest / "demo" / "session_summary.json").read_bytes() == b'{"a suite": "file"}'


def test_unlisted_files_still_fail_and_leave_the_old_pull(run):
    backend, ref, output, dest, outside = run
    (output / "demo" / "extra.txt").write_text("unlisted")
    assert_refused(backend, ref, dest, outside, ManifestMismatch, "demo/extra.txt")


# --------------------------------------------------------------------------- the destination
@pytest.mark.parametrize("kind", ["foreign", "file", "other_job", "link", "home", "protected"])
def test_a_destination_that_is_not_ours_is_refused_and_untouched(run, tmp_path, kind, monkeypatch):
    backend, ref, _, _, _ = run
    dest = tmp_path / "target"
    protected = []
    if kind == "foreign":
        (dest / "sub").mkdir(parents=True)
        (dest / "sub" / "thesis.tex").write_text("years of work")
    elif kind == "file":
        dest.write_text("a file")
    elif kind == "other_job":
        dest.mkdir()
        (dest / MARKER_FILE).write_text('{"job_id": "arz-other-00000000-0000"}')
    elif kind == "link":
        os.symlink(tmp_path / "outside", dest)
    elif kind == "home":
        dest.mkdir()
        monkeypatch.setenv("HOME", str(dest))  # even an empty home folder is never a target
    else:
        (dest / "repo").mkdir(parents=True)  # a folder that contains the repository
        protected = [dest / "repo"]
    before = tree_state(tmp_path)
    with pytest.raises(DestinationRefused, match="nothing was touched") as info:
        pull_results(backend, ref, dest, expected(ref, protected=protected))
    assert info.value.exit_code == 2 and "\n" not in str(info.value)
    assert tree_state(tmp_path) == before


def test_a_pull_from_before_markers_is_recognised_by_its_summary(run):
    backend, ref, _, dest, _ = run
    (dest / MARKER_FILE).unlink()  # as an older arz left it: the summary names the job
    pull_results(backend, ref, dest, expected(ref))
    assert (dest / MARKER_FILE).is_file()


def test_the_cap_is_charged_while_streaming_not_from_the_announced_size(tmp_path):
    from orchestrator.output_guard import ByteBudget, copy_file_safely

    source = Path("/proc/self/maps")  # a regular file that announces 0 bytes and holds more
    if not source.exists():
        pytest.skip("needs /proc")
    with pytest.raises(OutputRefused, match="results size cap"):
        copy_file_safely(source, tmp_path / "copy", "maps", ByteBudget(64))


def test_an_empty_or_absent_destination_is_fine(run, tmp_path):
    backend, ref, _, _, _ = run
    (tmp_path / "empty").mkdir()
    pull_results(backend, ref, tmp_path / "empty", expected(ref))
    pull_results(backend, ref, tmp_path / "new" / "deeper", expected(ref))
    assert (tmp_path / "empty" / MARKER_FILE).is_file()
    assert (tmp_path / "new" / "deeper" / MARKER_FILE).is_file()


def test_a_refused_pull_removes_the_parent_folders_it_created(run, tmp_path):
    backend, ref, output, _, _ = run
    (output / "demo" / "extra.txt").write_text("unlisted")
    with pytest.raises(PullError):
        pull_results(backend, ref, tmp_path / "fresh" / "a" / "b", expected(ref))
    assert not (tmp_path / "fresh").exists()


# ------------------------------------------------------------------ through the CLI, real repo
def test_arz_pull_dest_onto_the_repository_or_a_foreign_folder_is_refused(project, tmp_path):
    from typer.testing import CliRunner

    from orchestrator.cli import app
    from orchestrator.registry import Registry

    cli = CliRunner()
    done = cli.invoke(app, ["submit", "jobs/tiny.yml"])
    assert done.exit_code == 0, done.output
    job_id = Registry().latest().id
    foreign = tmp_path / "mine"
    (foreign / "notes").mkdir(parents=True)
    (foreign / "notes" / "todo.txt").write_text("keep me")
    for dest in (str(project), ".", str(foreign), str(project / "jobs")):
        before = tree_state(tmp_path)  # the repository (.git included) and everything around it
        result = cli.invoke(app, ["pull", job_id, "--dest", dest])
        assert result.exit_code == 2, result.output
        assert "refusing to pull into" in result.output and "nothing was touched" in result.output
        assert tree_state(tmp_path) == before
    again = cli.invoke(app, ["pull", job_id])  # the default folder holds this job's marker
    assert again.exit_code == 0, again.output
