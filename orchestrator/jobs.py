"""The job lifecycle, backend-agnostic: submit, follow, refresh, pull, cancel.

``submit_job`` loads the job file, checks the registry, syncs git (commit, secret check, optional
push), builds the kernel script pinned to the commit, records the job (``submitting``) and only then
pushes it through the chosen backend. ``follow_job`` watches it live and pulls the verified results
when it ends. Two words describe a job: ``status`` is the kernel's lifecycle (the backend's, mapped
to :class:`JobStatus`), ``result`` the job's verdict from its ``session_summary.json``, fetched on
its own as soon as the kernel ends (:func:`record_verdict`), before any pull. Every function
returns data; printing is the CLI's job (apart from the live view, which the caller hands a console).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel_payload.schema import (
    DEFAULT_MAX_RESULT_BYTES,
    JobSpec,
    KernelSpec,
    SessionSummary,
    Stage,
)
from orchestrator.backends import get_backend
from orchestrator.backends.base import (
    ExecutionBackend,
    JobStatus,
    KernelRef,
    PushRequest,
    RemoteStatus,
)
from orchestrator.code_transport import TransportPlan, build_archive, plan_transport
from orchestrator.errors import ArzError, BadInput, NoRemote, PullError
from orchestrator.gitsync import SyncResult, refuse_embedded_credentials, sync_repository
from orchestrator.kernel_builder import build_kernel_script, kernel_requirements, make_slug
from orchestrator.registry import JobRecord, Registry
from orchestrator.results import ExpectedJob, check_summary, pull_results, read_summary, results_dir
from orchestrator.secret_guard import SecretGuard
from orchestrator.urls import strip_credentials
from orchestrator.wheelhouse import wheelhouse_for

UNKNOWN_RESULT = "unknown"


@dataclass
class Submission:
    """A submitted job.

    Attributes:
        record: its registry entry.
        sync: what git sync did (commit, push, untracked files).
        backend: the backend running it.
        timings: seconds spent per :class:`Stage` of the submit (``load``, ``git``, ``build``,
            ``git push``, ``push``).
        plan: how the code reaches a remote kernel and why (None for the local backend).
    """

    record: JobRecord
    sync: SyncResult
    backend: ExecutionBackend
    timings: dict[Stage, float] = field(default_factory=dict)
    plan: TransportPlan | None = None


def submit_job(
    job_file: Path, registry: Registry, backend_name: str | None = None, push: bool | None = None,
    cwd: Path | None = None,
) -> Submission:  # fmt: skip
    """Sync git, build the kernel pinned to the commit, push it and record the job.

    Args:
        job_file: the job YAML.
        registry: where to record the job.
        backend_name: overrides the job's ``backend``.
        push: push the branch (None: only when the code transport needs it, i.e. ``git`` on a
            remote backend; False is refused then).
        cwd: folder inside the repository (default: the current folder).

    Raises:
        JobSpecError: the job file is invalid.
        RegistryError: the registry cannot record the job (checked before git; nothing pushed).
        GitSyncError: commit, secret check (the history, the commit's tree and, for the inline
            transport, every file of the archive) or push failed; NoRemote when the transport
            needs a remote and there is none.
        BackendError: the backend could not start the kernel (the record then reads ``error``).
    """
    from orchestrator.jobspec import load_jobspec

    timings: dict[Stage, float] = {}
    clock = _Stopwatch(timings)
    spec = load_jobspec(job_file, {"backend": backend_name} if backend_name else None)
    registry.check()  # a broken registry stops the submit before git or the backend is touched
    backend = get_backend(spec.backend)
    remote_kernel = bool(getattr(backend, "requires_push", False))  # runs off this machine
    code = spec.kaggle.code if remote_kernel else "local"
    if code == "git" and push is False:
        raise BadInput(f"the {backend.name} backend with kaggle.code: git clones the code from "
                       "your git remote, so it must push.", fix="drop --no-push, or set "
                       "kaggle.code: inline")  # fmt: skip
    if code == "git":  # the kernel clones the remote: it must work without credentials in its URL
        refuse_embedded_credentials(cwd or Path.cwd())
    clock.lap(Stage.LOAD)
    prepared: dict[str, Any] = {}

    def record_before_push(sync: SyncResult) -> None:  # runs before git or the backend publish
        clock.lap(Stage.COMMIT)
        plan = code_plan(code, sync) if remote_kernel else None
        if plan is not None and plan.needs_push and code == "auto":
            if push is False:
                raise BadInput(f"{plan.reason}, so it must push.", fix="drop --no-push")
            refuse_embedded_credentials(sync.repo_root)
        slug = make_slug(spec.name, sync.sha)
        request, kspec = prepare_push(spec, slug, sync, plan)
        clock.lap(Stage.BUILD)
        planned = KernelRef(backend.name, slug, "", None, "")
        record = JobRecord.new(planned, spec.name, sync.sha, sync.repo_root,
                               kspec.model_dump_json(), status=JobStatus.SUBMITTING)  # fmt: skip
        registry.add(record)  # recorded before anything is pushed: no kernel runs unrecorded
        prepared.update(request=request, record=record, plan=plan)

    def must_push(_sync: SyncResult) -> bool:  # decided once the transport is known
        plan = prepared.get("plan")
        return bool(push) or (plan is not None and plan.needs_push)

    try:
        sync = sync_repository(cwd or Path.cwd(), spec.name, push=must_push,
                               before_push=record_before_push)  # fmt: skip
    except BaseException as exc:  # the git push failed after recording: the commit was undone
        if "record" in prepared:
            registry.update(prepared["record"], status=JobStatus.ERROR, result=UNKNOWN_RESULT,
                            message=f"never started, the git push failed: {exc}")  # fmt: skip
        raise
    clock.lap(Stage.GIT_PUSH)
    request, record = prepared["request"], prepared["record"]
    try:
        ref = backend.push(request)
    except BaseException as exc:  # kept, not removed: a push that failed late may have landed
        registry.update(record, status=JobStatus.ERROR, result=UNKNOWN_RESULT,
                        message=f"the kernel could not be started: {exc}")  # fmt: skip
        raise
    clock.lap(Stage.PUSH)
    record = registry.update(record, owner=ref.owner, version=ref.version, workdir=ref.workdir,
                             status=JobStatus.QUEUED)  # fmt: skip
    return Submission(record, sync, backend, timings, prepared["plan"])


def code_plan(code: str, sync: SyncResult) -> TransportPlan:
    """Resolve ``kaggle.code`` for the pinned commit: build (and secret-scan) its archive unless
    the job asks for ``git``. Raises what :func:`plan_transport` and :func:`build_archive` raise."""
    if code == "git":
        return plan_transport(code, None, sync.remote_url)
    with SecretGuard(sync.repo_root) as guard:
        archive = build_archive(sync.repo_root, sync.sha, guard)
    return plan_transport(code, archive, sync.remote_url, root=sync.repo_root)


def prepare_push(job: JobSpec, slug: str, sync: SyncResult,
                 plan: TransportPlan | None) -> tuple[PushRequest, KernelSpec]:  # fmt: skip
    """The push of ``job`` pinned to ``sync.sha``: the request (kernel script, settings, the
    datasets a remote backend attaches) and the kernel spec it embeds. The one mapping from a job
    to a push, for ``arz submit`` and for every member of a sweep.

    Args:
        job: the validated job.
        slug: the kernel's slug (:func:`make_slug`).
        sync: the pinned commit and its repository (``remote_url`` may carry credentials: they
            never reach the script or the spec).
        plan: how the code reaches a remote kernel (:func:`code_plan`); None for a backend that
            runs on this machine (the kernel clones the repository folder).

    Raises:
        NoRemote: the transport clones the remote and the repository has none.
    """
    repo_url = clone_url(sync, remote=plan is not None and plan.needs_push)
    if plan is not None and not plan.needs_push:  # inline/dataset: the summary names the remote
        repo_url = strip_credentials(sync.remote_url or "")
    kspec = KernelSpec(job_id=slug, slug=slug, commit_sha=sync.sha, repo_url=repo_url, job=job)
    request = _push_request(job, slug, "")
    extras = ("gpu",) if plan is not None and request.gpu else ()  # a remote GPU kernel needs numba-cuda
    requirements = kernel_requirements(sync.repo_root, extras)
    wheels = wheelhouse_for(job.kaggle, requirements) if plan is not None else None
    request.script = build_kernel_script(
        kspec, repo_url, requirements, archive=plan.archive if plan is not None else None,
        dataset=plan.dataset if plan is not None else None,
        wheels=wheels.kernel_config() if wheels is not None else None,
    )
    request.extra.update(code_plan=plan, wheelhouse=wheels,  # datasets the backend attaches
                         repo_root=sync.repo_root if plan is not None else None)
    return request, kspec


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
    """Ask the backend for the job's status (unless already terminal) and store it; once the
    kernel has ended, read and store its verdict (``result``) if not known yet."""
    if record.job_status is JobStatus.SUBMITTING:
        return record  # the push has not been confirmed; nothing to ask the backend about yet
    if record.job_status.is_terminal():
        return record if record.result else record_verdict(record, registry, backend)
    status = (backend or get_backend(record.backend)).status(record.ref)
    return store_status(record, registry, status, backend)


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


def store_status(record: JobRecord, registry: Registry, status: RemoteStatus,
                 backend: ExecutionBackend | None = None) -> JobRecord:  # fmt: skip
    """Save a polled status in the registry when it changed; on the kernel's end, its verdict."""
    changed = status.status.value != record.status or status.message != record.message
    if changed and not record.result:  # once the verdict is in, its message stays
        record = registry.update(record, status=status.status, message=status.message)
    if status.status.is_terminal() and not record.result:
        record = record_verdict(record, registry, backend)
    return record


def record_verdict(record: JobRecord, registry: Registry,
                   backend: ExecutionBackend | None = None) -> JobRecord:  # fmt: skip
    """Fetch only the ended job's ``session_summary.json`` and store its verdict as ``result``.

    The summary must belong to the job (id, commit, suites); one that does not, or no summary at
    all, gives ``unknown`` with the reason in ``message``. When the backend cannot be reached the
    record is returned unchanged (the next ``status``/``list`` tries again).
    """
    backend = backend or get_backend(record.backend)
    folder = Path(tempfile.mkdtemp(prefix="arz-verdict-"))
    try:
        if backend.fetch_summary(record.ref, folder) is None:
            return registry.update(record, result=UNKNOWN_RESULT, message=_join(
                record.message, "the kernel left no session_summary.json"))  # fmt: skip
        summary = read_summary(folder, record.id)
        check_summary(summary, expected_job(record))
    except PullError as exc:
        return registry.update(record, result=UNKNOWN_RESULT,
                               message=_join(record.message, exc.message))  # fmt: skip
    except ArzError:
        return record
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return registry.update(record, result=summary.status.value,
                           message=_join(record.message, summary.reason))  # fmt: skip


def _join(first: str, second: str) -> str:
    if not second or second in first:
        return first
    return f"{first}; {second}" if first else second


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
        holder["record"] = store_status(holder["record"], registry, status, backend)

    watch(backend, record.ref, view, console, on_status=on_status)
    return holder["record"], view


def pull_job(
    record: JobRecord, registry: Registry, destination: Path | None = None,
    backend: ExecutionBackend | None = None,
) -> tuple[JobRecord, Path, SessionSummary]:  # fmt: skip
    """Download and verify the job's results; record the summary's status and the folder.

    Raises:
        BadInput: the job is still submitting, queued or running.
        DestinationRefused: ``destination`` is not absent, empty or an earlier pull of this job.
        PullError: no summary, one of another job, an unsafe or oversized output, or a file that
            fails the manifest check (nothing is left behind).
    """
    backend = backend or get_backend(record.backend)
    status = JobStatus.SUBMITTING if record.job_status is JobStatus.SUBMITTING else \
        backend.status(record.ref).status  # fmt: skip
    if not status.is_terminal():
        raise BadInput(f"job {record.id} is still {status.value}; its results are not final.",
                       fix=f"arz watch {record.id} (it pulls when the job ends)")  # fmt: skip
    destination = destination or results_dir(Path(record.repo_root), record.ref)
    expected = expected_job(record, protected=[Path(record.repo_root), Path.cwd()])
    folder, summary = pull_results(backend, record.ref, destination, expected)
    record = registry.update(record, result=summary.status.value, results_dir=str(folder))
    return record, folder, summary


def expected_job(record: JobRecord, protected: list[Path] | None = None) -> ExpectedJob:
    """What the job's summary must repeat, and its results cap, from the registry record.

    Read from the stored JSON directly, so a record stays usable when a suite registry changed.
    """
    job = json.loads(record.spec_json).get("job", {}) if record.spec_json else {}
    cap = (job.get("results") or {}).get("max_bytes") or DEFAULT_MAX_RESULT_BYTES
    return ExpectedJob(record.id, record.commit_sha, list(job.get("suites", [])), int(cap),
                       protected or [])  # fmt: skip


def cancel_job(
    record: JobRecord, registry: Registry, backend: ExecutionBackend | None = None
) -> tuple[JobRecord, bool]:
    """Stop the job's kernel and record the new status.

    Returns:
        ``(record, cancelled)``: ``cancelled`` is False when the kernel had already ended; then
        nothing is changed (the status keeps saying how it ended; Kaggle's kernel is not deleted).

    Raises:
        BadInput: the job is still being submitted (its kernel reference is not known yet).
    """
    backend = backend or get_backend(record.backend)
    if record.job_status is JobStatus.SUBMITTING:
        raise BadInput(f"job {record.id} is still being submitted; it cannot be cancelled yet.",
                       fix=f"wait a moment and run `arz cancel {record.id}` again")  # fmt: skip
    record = refresh(record, registry, backend)
    if record.job_status.is_terminal():
        return record, False
    backend.cancel(record.ref)
    return store_status(record, registry, backend.status(record.ref), backend), True


def job_spec(record: JobRecord) -> JobSpec:
    """The job spec a record was submitted with."""
    return KernelSpec.model_validate_json(record.spec_json).job


def _push_request(spec: JobSpec, slug: str, script: str) -> PushRequest:
    gpu = spec.device == "gpu" or (spec.device == "auto" and spec.kaggle.accelerator is not None)
    extra = {"accelerator": spec.kaggle.accelerator if gpu else None,
             "deadline_s": spec.deadline, "job_name": spec.name}  # fmt: skip
    return PushRequest(slug=slug, script=script, gpu=gpu, internet=spec.kaggle.internet,
                       private=spec.kaggle.private, extra=extra)  # fmt: skip


class _Stopwatch:
    """Records the seconds each stage took (between successive ``lap`` calls) into a dict."""

    def __init__(self, laps: dict[Stage, float]) -> None:
        self.laps, self.last = laps, time.perf_counter()

    def lap(self, stage: Stage) -> None:
        """Record the seconds since the previous lap as the time ``stage`` took."""
        now = time.perf_counter()
        self.laps[stage] = round(now - self.last, 3)
        self.last = now
