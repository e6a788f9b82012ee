"""Pull a job's outputs into ``validation_output/results/<owner>_<slug>/``, verified.

Files are downloaded into a hidden staging folder next to the destination, every file is checked
against the manifest in ``session_summary.json`` (present, same size, same sha256, nothing extra),
and only then is the staging folder renamed into place in one step. Any failure removes the staging
folder, so there is never a half results folder; the error names the failing file.

Layout (docs/jobs.md)::

    <owner>_<slug>/session_summary.json  <slug>.log  report.html
    <owner>_<slug>/<suite>/{figures/*.png, data/metrics/*.csv, data/models/*.zip, latex/*.tex}
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

from kernel_payload.schema import SUMMARY_FILE, SessionSummary, ValidationError
from orchestrator.backends.base import ExecutionBackend, KernelRef
from orchestrator.errors import ManifestMismatch, PullError

RESULTS_ROOT = Path("validation_output") / "results"


def results_dir(repo_root: Path, ref: KernelRef) -> Path:
    """Where the results of ``ref`` go: ``<repo>/validation_output/results/<owner>_<slug>``."""
    return repo_root / RESULTS_ROOT / f"{ref.owner}_{ref.slug}"


def pull_results(
    backend: ExecutionBackend, ref: KernelRef, destination: Path
) -> tuple[Path, SessionSummary]:
    """Download, verify and atomically place the outputs of ``ref`` at ``destination``.

    Args:
        backend: the backend that ran the kernel.
        ref: the pinned kernel run.
        destination: the final folder (replaced if it exists; its parent is created).

    Returns:
        ``(destination, summary)``.

    Raises:
        PullError: no readable ``session_summary.json`` among the outputs.
        ManifestMismatch: a file is missing, altered or unexpected (``.path`` names it).
        BackendError: the download itself failed.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{ref.slug}-", dir=destination.parent))
    try:
        backend.download(ref, staging)
        log = staging / f"{ref.slug}.log"
        if not log.exists():
            log.write_text("".join(line + "\n" for line in backend.logs(ref, follow=False)))
        summary = read_summary(staging, ref.slug)
        if summary.finished_at is None:
            raise PullError(
                "session_summary.json is unfinished: the kernel stopped before closing it, so the "
                "outputs cannot be verified.",
                fix=f"see `arz logs {ref.slug}` for why it stopped, then submit the job again",
            )
        verify_manifest(staging, summary, allowed={SUMMARY_FILE, log.name})
        _move_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination, summary


def read_summary(folder: Path, job_id: str = "ID") -> SessionSummary:
    """Load the summary from downloaded outputs, with a clear error (naming ``job_id`` in the fix)
    when it is missing or broken."""
    if not (folder / SUMMARY_FILE).is_file():
        raise PullError(
            "the kernel left no session_summary.json, so its outputs cannot be verified.",
            fix=f"read the log with `arz logs {job_id}` to see why the kernel stopped early",
        )
    try:
        return SessionSummary.read(folder)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise PullError(f"session_summary.json is not a valid summary ({first}).",
                        fix=f"read the log with `arz logs {job_id}`") from exc  # fmt: skip


def verify_manifest(root: Path, summary: SessionSummary, allowed: set[str]) -> None:
    """Check every file under ``root`` against ``summary.artifacts``.

    Args:
        root: folder holding the downloaded outputs.
        summary: its summary (the manifest).
        allowed: files that may exist without a manifest entry (the summary, the log).

    Raises:
        ManifestMismatch: the first file that is missing, differs, or is not in the manifest.
    """
    for entry in summary.artifacts:
        problem = entry.problem(root)
        if problem:
            raise ManifestMismatch(entry.path, problem, summary.job_id)
    listed = {entry.path for entry in summary.artifacts} | allowed
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative not in listed:
            raise ManifestMismatch(relative, "not in the manifest (unexpected file)", summary.job_id)


def _move_into_place(staging: Path, destination: Path) -> None:
    """Rename ``staging`` to ``destination``; an existing destination is swapped out first."""
    if not destination.exists():
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
