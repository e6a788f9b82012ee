"""Pull a job's outputs into ``validation_output/results/<owner>_<slug>/``, verified.

A pull never destroys and never escapes:

- the destination must be absent, an empty folder, or an earlier results folder of the same job
  (recognised by the marker ``.arz-results.json`` that a pull writes); anything else is refused
  before a byte is written (:func:`check_destination`);
- files are downloaded into a hidden staging folder next to the destination, under a byte cap
  (``results.max_bytes``), without following links (:mod:`orchestrator.output_guard`);
- the summary must name this job, its commit and its suites (:func:`check_summary`), and every file
  is checked against its manifest: safe relative path, present, same size, same sha256, nothing
  extra (:func:`verify_manifest`); only the top-level ``session_summary.json`` is special;
- then the earlier folder (if any) is moved aside, the staging folder renamed into place, and the
  earlier one deleted. Any failure removes the staging folder (and parent folders the pull
  created), so there is never a half results folder and an earlier pull stays intact.

Layout (DESIGN §7)::

    <owner>_<slug>/session_summary.json  <slug>.log  report.html
    <owner>_<slug>/<suite>/{figures/*.png, data/metrics/*.csv, data/models/*.zip, latex/*.tex}
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kernel_payload.schema import SUMMARY_FILE, SessionSummary, ValidationError
from orchestrator.backends.base import ExecutionBackend, KernelRef
from orchestrator.errors import (
    DestinationRefused,
    ManifestMismatch,
    OutputRefused,
    PullError,
    SummaryMismatch,
)
from orchestrator.output_guard import check_relative_path

RESULTS_ROOT = Path("validation_output") / "results"
MARKER_FILE = ".arz-results.json"
"""Written into every results folder a pull places: ``{"job_id", "commit_sha", "pulled_at"}``."""


@dataclass(frozen=True)
class ExpectedJob:
    """What the registry recorded about a job, which its summary must repeat.

    Attributes:
        job_id: the job id (= kernel slug).
        commit_sha: the pinned commit.
        suites: the suites the job asked for, in order.
        max_bytes: cap on the bytes the pull may download or copy.
        protected: folders a pull must never replace (the repository root, the current folder).
    """

    job_id: str
    commit_sha: str
    suites: list[str]
    max_bytes: int
    protected: list[Path] = field(default_factory=list)


def results_dir(repo_root: Path, ref: KernelRef) -> Path:
    """Where the results of ``ref`` go: ``<repo>/validation_output/results/<owner>_<slug>``."""
    return repo_root / RESULTS_ROOT / f"{ref.owner}_{ref.slug}"


def pull_results(
    backend: ExecutionBackend, ref: KernelRef, destination: Path, expected: ExpectedJob
) -> tuple[Path, SessionSummary]:
    """Download, verify and place the outputs of ``ref`` at ``destination``.

    Args:
        backend: the backend that ran the kernel.
        ref: the pinned kernel run.
        destination: the final folder: absent, empty, or an earlier pull of the same job.
        expected: what the registry knows about the job (and the byte cap).

    Returns:
        ``(destination, summary)``.

    Raises:
        DestinationRefused: ``destination`` is something else (nothing is touched).
        PullError: no readable summary; it names another job/commit/suites
            (:class:`SummaryMismatch`); an unsafe output (:class:`OutputRefused`); a file is
            missing, altered or unexpected (:class:`ManifestMismatch`, ``.path`` names it).
        BackendError: the download itself failed.
    """
    destination = Path(os.path.abspath(destination))
    check_destination(destination, expected)
    created = _missing_parents(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.staging-", dir=destination.parent))
    try:
        backend.download(ref, staging, max_bytes=expected.max_bytes)
        log = staging / f"{ref.slug}.log"
        if not log.exists():
            log.write_text("".join(line + "\n" for line in backend.logs(ref, follow=False)))
        summary = read_summary(staging)
        check_summary(summary, expected)
        if summary.finished_at is None:
            raise PullError(
                "session_summary.json is unfinished: the kernel stopped before closing it, so the "
                "outputs cannot be verified.",
                fix="see `arz logs ID` for why it stopped, then submit the job again",
            )
        verify_manifest(staging, summary, allowed={SUMMARY_FILE, log.name})
        _write_marker(staging, expected)
        check_destination(destination, expected)  # still ours right before the swap
        _move_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise
    return destination, summary


def check_destination(destination: Path, expected: ExpectedJob) -> None:
    """Refuse a destination that a pull must not replace; touch nothing.

    Allowed: a path that does not exist, an empty folder, or a folder holding the marker of an
    earlier pull of the same job. Refused: a link, a file, a non-empty folder without that marker
    (another job's results, a repository, a home folder), and any folder that contains the
    repository or the current folder.

    Raises:
        DestinationRefused: with the reason and what to do instead.
    """
    fix = "pick an absent or empty folder (or leave out --dest for the default)"
    resolved = Path(os.path.realpath(destination))
    for guarded in [Path.home(), Path("/"), *expected.protected]:
        guarded = Path(os.path.realpath(guarded))
        if resolved == guarded or resolved in guarded.parents:
            raise DestinationRefused(f"refusing to pull into {destination}: it is or contains "
                                     f"{guarded}; nothing was touched.", fix=fix)  # fmt: skip
    if os.path.islink(destination):
        raise DestinationRefused(f"refusing to pull into {destination}: it is a symbolic link; "
                                 "nothing was touched.", fix=fix)  # fmt: skip
    if not os.path.lexists(destination):
        return
    if not destination.is_dir():
        raise DestinationRefused(f"refusing to pull into {destination}: it is a file, not a "
                                 "folder; nothing was touched.", fix=fix)  # fmt: skip
    entries = os.listdir(destination)
    if not entries:
        return
    owner = _marker_job(destination)
    if owner == expected.job_id:
        return
    why = (f"it holds the results of another job ({owner})" if owner
           else "it is not empty and is not an earlier `arz pull` of this job")  # fmt: skip
    raise DestinationRefused(f"refusing to pull into {destination}: {why}; nothing was touched.",
                             fix=fix)  # fmt: skip


def check_summary(summary: SessionSummary, expected: ExpectedJob) -> None:
    """The summary must repeat the registry's job id, commit and suite list.

    Raises:
        SummaryMismatch: naming the first field that differs.
    """
    found = [suite.name for suite in summary.suites]
    for name, have, want in (("job_id", summary.job_id, expected.job_id),
                             ("commit_sha", summary.commit_sha, expected.commit_sha),
                             ("suites", found, list(expected.suites))):  # fmt: skip
        if have != want:
            raise SummaryMismatch(name, have, want)


def read_summary(folder: Path) -> SessionSummary:
    """Load the summary from downloaded outputs, with a clear error when it is missing or broken."""
    path = folder / SUMMARY_FILE
    if not os.path.lexists(path):
        raise PullError(
            "the kernel left no session_summary.json, so its outputs cannot be verified.",
            fix="read the log with `arz logs ID` to see why the kernel stopped early",
        )
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise OutputRefused("session_summary.json is not a regular file; nothing was kept.",
                            fix="the output was tampered with: do not use it")  # fmt: skip
    try:
        return SessionSummary.read(folder)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise PullError(f"session_summary.json is not a valid summary ({first}).",
                        fix="read the log with `arz logs ID`") from exc  # fmt: skip


def verify_manifest(root: Path, summary: SessionSummary, allowed: set[str]) -> None:
    """Check every file under ``root`` against ``summary.artifacts``.

    Args:
        root: folder holding the downloaded outputs.
        summary: its summary (the manifest).
        allowed: top-level files that may exist without a manifest entry (the summary, the log).

    Raises:
        OutputRefused: a manifest path is unsafe (absolute, ``..``, backslash, empty), or
            something under ``root`` is not a regular file or folder.
        ManifestMismatch: the first file that is missing, differs, or is not in the manifest.
    """
    for entry in summary.artifacts:
        check_relative_path(entry.path)
        if entry.path in allowed:
            raise ManifestMismatch(entry.path, "is reserved and cannot be a listed artifact")
    for entry in summary.artifacts:
        problem = entry.problem(root)
        if problem:
            raise ManifestMismatch(entry.path, problem)
    listed = {entry.path for entry in summary.artifacts} | allowed
    for relative in _files_under(root):
        if relative not in listed:
            raise ManifestMismatch(relative, "not in the manifest (unexpected file)")


def _files_under(root: Path, prefix: str = "") -> list[str]:
    """Relative paths of the regular files under ``root``, without following links."""
    found = []
    with os.scandir(root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                found += _files_under(Path(entry.path), relative + "/")
            elif entry.is_file(follow_symlinks=False):
                found.append(relative)
            else:
                raise OutputRefused(f"the downloaded outputs hold a link or special file at "
                                    f"{relative}; nothing was kept.",
                                    fix="the output was tampered with: do not use it")  # fmt: skip
    return found


def _marker_job(folder: Path) -> str | None:
    """The job id in ``folder``'s marker, or None when there is no readable marker.

    A folder pulled before markers existed is recognised by its top-level summary's ``job_id``
    (job ids carry a random suffix, so no foreign folder matches by accident).
    """
    for name in (MARKER_FILE, SUMMARY_FILE):
        path = folder / name
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > 1 << 24:
                continue
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        job = data.get("job_id") if isinstance(data, dict) else None
        if isinstance(job, str) and job:
            return job
    return None


def _write_marker(folder: Path, expected: ExpectedJob) -> None:
    data = {"job_id": expected.job_id, "commit_sha": expected.commit_sha,
            "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # fmt: skip
    (folder / MARKER_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _missing_parents(destination: Path) -> list[Path]:
    """The ancestors of ``destination`` that do not exist yet, deepest first."""
    missing = []
    parent = destination.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def _move_into_place(staging: Path, destination: Path) -> None:
    """Rename ``staging`` to ``destination``; an earlier pull is moved aside, then deleted."""
    if not os.path.lexists(destination):
        os.rename(staging, destination)
        return
    old = destination.with_name(f".{destination.name}.old-{secrets.token_hex(3)}")
    os.rename(destination, old)
    try:
        os.rename(staging, destination)
    except OSError:
        os.rename(old, destination)
        raise
    shutil.rmtree(old, ignore_errors=True)
