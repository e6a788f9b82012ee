"""The job lifecycle, backend-agnostic: submit, follow, refresh, pull, cancel.

``submit_job`` loads the job file, syncs git (commit, secret check, optional push), builds the
kernel script pinned to the commit, pushes it through the chosen backend and records the job in the
registry. ``follow_job`` watches it live and pulls the verified results when it ends. Every function
returns data; printing is the CLI's job (apart from the live view, which the caller hands a console).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel_payload.schema import JobSpec, KernelSpec, SessionSummary
from orchestrator.backends import get_backend
from orchestrator.backends.base import ExecutionBackend, JobStatus, PushRequest, RemoteStatus
from orchestrator.errors import BadInput, NoRemote
from orchestrator.gitsync import SyncResult, refuse_embedded_credentials, sync_repository
from orchestrator.kernel_builder import build_kernel_script, kernel_requirements, make_slug
from orchestrator.registry import JobRecord, Registry
from orchestrator.results import pull_results, results_dir
from orchestrator.urls import strip_credentials


@dataclass
class Submission:
    """A submitted job.

    Attributes:
        record: its registry entry.
        sync: what git sync did (commit, push, untracked files).
        backend: the backend running it.
        timings: seconds spent per step (``load``, ``git``, ``build``, ``push``).
    """

    record: JobRecord
    sync: SyncResult
    backend: ExecutionBackend
    timings: dict[str, float] = field(default_factory=dict)


def submit_job(
    job_file: Path, registry: Registry, backend_name: str | None = None, push: bool | None = None,
    cwd: Path | None = None,
) -> Submission:  # fmt: skip
    """Sync git, build the kernel pinned to the commit, push it and record the job.

    Args:
        job_file: the job YAML.
        registry: where to record the job.
        backend_name: overrides the job's ``backend``.
        push: push the branch (None: only when the backend needs it; False is refused then).
        cwd: folder inside the repository (default: the current folder).

    Raises:
        JobSpecError: the job file is invalid.
        GitSyncError: commit, secret check or push failed.
        BackendError: the backend could not start the kernel.
    """
    from orchestrator.jobspec import load_jobspec

    timings: dict[str, float] = {}
    clock = _Stopwatch(timings)
    spec = load_jobspec(job_file, {"backend": backend_name} if backend_name else None)
    backend = get_backend(spec.backend)
    must_push = bool(getattr(backend, "requires_push", False))
    if must_push and push is False:
        raise BadInput(f"the {backend.name} backend clones the code from your git remote, so "
                       "it must push.", fix="drop --no-push")  # fmt: skip
    if must_push:  # the kernel clones the remote: it must work without credentials in its URL
        refuse_embedded_credentials(cwd or Path.cwd())
    clock.lap("load")
    sync = sync_repository(cwd or Path.cwd(), spec.name, push=must_push or bool(push))
    clock.lap("git")
    slug = make_slug(spec.name, sync.sha)
    repo_url = clone_url(sync, remote=must_push)
    kspec = KernelSpec(job_id=slug, slug=slug, commit_sha=sync.sha, repo_url=repo_url, job=spec)
    request = _push_request(spec, slug, "")
    extras = ("gpu",) if must_push and request.gpu else ()  # a remote GPU kernel needs numba-cuda
    request.script = build_kernel_script(
        kspec, repo_url, kernel_requirements(sync.repo_root, extras)
    )
    clock.lap("build")
    ref = backend.push(request)
    clock.lap("push")
    record = JobRecord.new(ref, spec.name, sync.sha, sync.repo_root, kspec.model_dump_json())
    registry.add(record)
    return Submission(record, sync, backend, timings)


def clone_url(sync: SyncResult, remote: bool) -> str:
    """Where the kernel clones from: the remote (https form, never with credentials) or the local
    repository folder."""
    if not remote:
        return str(sync.repo_root)
    if not sync.remote_url:
        raise NoRemote("the kernel clones from your git remote, but the repository has none.",
                       fix="git remote add origin <https URL> and push")  # fmt: skip
    match = re.match(r"^(?:ssh://)?git@([^:/]+)[:/](.+)$", sync.remote_url)
    url = f"https://{match.group(1)}/{match.group(2)}" if match else sync.remote_url
    return strip_credentials(url)


def refresh(
    record: JobRecord, registry: Registry, backend: ExecutionBackend | None = None
) -> JobRecord:
    """Ask the backend for the job's status (unless already terminal) and store it."""
    if record.job_status.is_terminal():
        return record
    status = (backend or get_backend(record.backend)).status(record.ref)
    return store_status(record, registry, status)


def refresh_quietly(records: list[JobRecord], registry: Registry) -> list[JobRecord]:
    """Refresh every unfinished job, keeping the stored status when a backend cannot answer."""
    from orchestrator.errors import ArzError

    fresh = []
    for record in records:
        try:
            fresh.append(refresh(record, registry))
        except ArzError:
            fresh.append(record)
    return fresh


def store_status(record: JobRecord, registry: Registry, status: RemoteStatus) -> JobRecord:
    """Save a polled status in the registry when it changed."""
    if status.status.value == record.status and status.message == record.message:
        return record
    return registry.update(record, status=status.status.value, message=status.message)


def follow_job(
    record: JobRecord, registry: Registry, console: Any, backend: ExecutionBackend | None = None
) -> tuple[JobRecord, Any]:
    """Watch the job live until it ends; return the updated record and the view.

    Raises:
        KeyboardInterrupt: Ctrl-C; the job keeps running (reattach with ``arz watch ID``).
    """
    from orchestrator.monitor import JobView, parse_time, watch

    backend = backend or get_backend(record.backend)
    view = JobView(record.id, record.backend, parse_time(record.submitted_at))
    holder = {"record": record}

    def on_status(status: RemoteStatus) -> None:
        holder["record"] = store_status(holder["record"], registry, status)

    watch(backend, record.ref, view, console, on_status=on_status)
    return holder["record"], view


def pull_job(
    record: JobRecord, registry: Registry, destination: Path | None = None,
    backend: ExecutionBackend | None = None,
) -> tuple[JobRecord, Path, SessionSummary]:  # fmt: skip
    """Download and verify the job's results; record the summary's status and the folder.

    Raises:
        BadInput: the job is still queued or running.
        PullError: no summary, or a file fails the manifest check (nothing is left behind).
    """
    backend = backend or get_backend(record.backend)
    status = backend.status(record.ref).status
    if status in (JobStatus.QUEUED, JobStatus.RUNNING):
        raise BadInput(f"job {record.id} is still {status.value}; its results are not final.",
                       fix=f"arz watch {record.id} (it pulls when the job ends)")  # fmt: skip
    destination = destination or results_dir(Path(record.repo_root), record.ref)
    folder, summary = pull_results(backend, record.ref, destination)
    record = registry.update(record, result=summary.status.value, results_dir=str(folder))
    return record, folder, summary


def cancel_job(
    record: JobRecord, registry: Registry, backend: ExecutionBackend | None = None
) -> JobRecord:
    """Stop the job's kernel and record the new status."""
    backend = backend or get_backend(record.backend)
    backend.cancel(record.ref)
    return store_status(record, registry, backend.status(record.ref))


def job_spec(record: JobRecord) -> JobSpec:
    """The job spec a record was submitted with."""
    return KernelSpec.model_validate_json(record.spec_json).job


def _push_request(spec: JobSpec, slug: str, script: str) -> PushRequest:
    gpu = spec.device == "gpu" or (spec.device == "auto" and spec.kaggle.accelerator is not None)
    extra = {"accelerator": spec.kaggle.accelerator if gpu else None,
             "deadline_s": spec.kaggle.deadline, "job_name": spec.name}  # fmt: skip
    return PushRequest(slug=slug, script=script, gpu=gpu, internet=spec.kaggle.internet,
                       private=spec.kaggle.private, extra=extra)  # fmt: skip


class _Stopwatch:
    """Records the seconds between successive ``lap`` calls into a dict."""

    def __init__(self, laps: dict[str, float]) -> None:
        self.laps, self.last = laps, time.perf_counter()

    def lap(self, name: str) -> None:
        """Record the seconds since the previous lap under ``name``."""
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now
