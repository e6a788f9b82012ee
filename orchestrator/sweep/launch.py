"""Start a sweep (one commit, the GPU quota checked first) and push its members exactly once.

``start_sweep`` validates every member as a job, checks the Kaggle GPU quota against the hours the
study needs, makes ONE commit for the whole sweep and records the sweep (its members' validated
jobs included) before anything leaves the machine. :class:`MemberLauncher` pushes one member:
it records the member's job (``submitting``, linked to the sweep) BEFORE the push, as
``arz submit`` does, and adopts a member recorded as submitting by a crashed process by asking the
backend for its slug before pushing again, so each member runs exactly once across crashes.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kernel_payload.schema import JobSpec, KernelSpec
from orchestrator.backends import get_backend
from orchestrator.backends.base import ExecutionBackend, JobStatus, KernelRef
from orchestrator.errors import BackendError, BadInput
from orchestrator.gitsync import SyncResult, refuse_embedded_credentials, sync_repository
from orchestrator.jobs import UNKNOWN_RESULT, code_plan, prepare_push
from orchestrator.kernel_builder import make_slug
from orchestrator.registry import JobRecord, Registry, SweepRecord
from orchestrator.sweep.spec import Sweep, load_sweep, slugify

log = logging.getLogger(__name__)
KAGGLE_CAPS = {"gpu": 2, "cpu": 5}
"""Kaggle's concurrent sessions per account."""
LOCAL_DEFAULT_PARALLEL = 2


def is_gpu(job: JobSpec) -> bool:
    """Whether the job asks Kaggle for a GPU (as ``arz submit`` decides it)."""
    return job.device == "gpu" or (job.device == "auto" and job.kaggle.accelerator is not None)


def start_sweep(path: Path, registry: Registry, backend_name: str | None = None,
                cwd: Path | None = None, backend: ExecutionBackend | None = None,
                ) -> MemberLauncher:  # fmt: skip
    """Validate the members, check the quota, commit once and record the sweep.

    Returns:
        the launcher of the recorded sweep (``.record``), holding the code plans already built
        (and secret-scanned) for the commit.

    Raises:
        JobSpecError: the sweep file, the base job or a member is invalid (nothing touched).
        BadInput: the members name different backends, or the study needs more GPU hours than
            the weekly quota has left (both numbers named; nothing committed or pushed).
        RegistryError, GitSyncError: as for ``arz submit`` (nothing pushed).
    """
    sweep = load_sweep(path, backend_name)
    names = sorted({m.job.backend for m in sweep.members})
    if len(names) > 1:
        raise BadInput(f"{path}: the members run on different backends ({', '.join(names)}).",
                       fix="keep backend out of the matrix, or pass --backend")  # fmt: skip
    registry.check()
    backend = backend or get_backend(names[0])
    check_quota(sweep, backend)
    remote = bool(getattr(backend, "requires_push", False))
    codes = {m.job.kaggle.code for m in sweep.members} if remote else set()
    if "git" in codes:
        refuse_embedded_credentials(cwd or Path.cwd())
    owner = backend.connection.owner if backend.name == "kaggle" else "local"  # type: ignore[attr-defined]
    holder: dict[str, Any] = {}

    def record_sweep(sync: SyncResult) -> None:  # the one commit is pinned; nothing pushed yet
        plans = {code: code_plan(code, sync) for code in codes}
        holder["plans"] = plans
        record = SweepRecord(
            id=f"{slugify(sweep.spec.name)[:30]}-{sync.sha[:8]}-{secrets.token_hex(2)}",
            name=sweep.spec.name, backend=backend.name, owner=owner, commit_sha=sync.sha,
            repo_root=str(sync.repo_root), plan_json=plan_json(sweep, sync),
            max_parallel=parallel_limit(sweep, backend.name),
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )  # fmt: skip
        registry.add_sweep(record)
        holder["record"] = record

    def must_push(_sync: SyncResult) -> bool:
        return any(plan.needs_push for plan in holder.get("plans", {}).values())

    try:
        sync_repository(cwd or Path.cwd(), f"sweep {sweep.spec.name}", push=must_push,
                        before_push=record_sweep)  # fmt: skip
    except BaseException:  # the git push failed after recording: the commit was undone
        if "record" in holder:
            registry.update_sweep(holder["record"], status="cancelled")  # it must never start
        raise
    return MemberLauncher(holder["record"], registry, backend, holder["plans"])


def parallel_limit(sweep: Sweep, backend_name: str) -> int:
    """Members running at once: the sweep's ``max_parallel``, else the backend's cap."""
    if sweep.spec.max_parallel:
        return sweep.spec.max_parallel
    if backend_name == "kaggle":
        gpu = any(is_gpu(m.job) for m in sweep.members)
        return KAGGLE_CAPS["gpu"] if gpu else KAGGLE_CAPS["cpu"]
    return LOCAL_DEFAULT_PARALLEL


def gpu_hours_needed(sweep: Sweep, default_deadline_s: float) -> tuple[float, str]:
    """GPU hours the study needs and how they were counted (for the refusal message)."""
    gpu = [m for m in sweep.members if is_gpu(m.job)]
    if sweep.spec.estimate:
        return len(gpu) * sweep.spec.estimate / 3600, f"{len(gpu)} GPU members x the sweep's estimate"
    seconds = sum(m.job.deadline or default_deadline_s for m in gpu)
    return seconds / 3600, f"{len(gpu)} GPU members' deadlines (default {default_deadline_s / 3600:g} h)"


def check_quota(sweep: Sweep, backend: ExecutionBackend) -> None:
    """Refuse a Kaggle study that needs more GPU hours than the weekly quota has left.

    Raises:
        BadInput: naming the hours needed, how they were counted and the hours left.
    """
    if backend.name != "kaggle" or not any(is_gpu(m.job) for m in sweep.members):
        return
    quota = backend.quota()  # type: ignore[attr-defined]
    if quota is None:
        log.warning("Kaggle reported no GPU quota; the sweep starts without the check")
        return
    needed, how = gpu_hours_needed(sweep, backend.config.default_deadline_s)  # type: ignore[attr-defined]
    if needed > quota.left_h:
        when = f" (it resets {quota.refresh_at:%Y-%m-%d %H:%M} UTC)" if quota.refresh_at else ""
        raise BadInput(f"the sweep {sweep.spec.name} needs {needed:.1f} GPU hours ({how}) but only "
                       f"{quota.left_h:.1f} h of weekly GPU quota are left{when}; nothing was "
                       "committed or pushed.",
                       fix="set estimate: (expected time per member) in the sweep file, lower the "
                       "members' deadline, shrink the matrix, or wait for the reset")  # fmt: skip


def plan_json(sweep: Sweep, sync: SyncResult) -> str:
    """The members (validated jobs) and the remote, as stored in the sweep's registry row."""
    members = [{"member_id": m.member_id, "matrix": m.matrix, "job": m.job.model_dump(mode="json")}
               for m in sweep.members]  # fmt: skip
    return json.dumps({"members": members, "remote_url": sync.remote_url or ""})


def planned_members(record: SweepRecord) -> list[dict[str, Any]]:
    """The sweep's members from its registry row: ``[{member_id, matrix, job: JobSpec}]``."""
    data = json.loads(record.plan_json)
    return [{**m, "job": JobSpec.model_validate(m["job"])} for m in data["members"]]


class MemberLauncher:
    """Pushes the members of one sweep (one code archive per transport, built once).

    Args:
        record: the sweep.
        registry: where the members are recorded.
        backend: the sweep's backend.
        plans: code plans already built for the commit (``kaggle.code`` -> plan).
    """

    def __init__(self, record: SweepRecord, registry: Registry, backend: ExecutionBackend,
                 plans: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.record, self.registry, self.backend = record, registry, backend
        remote = json.loads(record.plan_json).get("remote_url") or None
        self.sync = SyncResult(Path(record.repo_root), record.commit_sha, None, False, False, remote)
        self._plans: dict[str, Any] = dict(plans or {})

    def launch(self, member_id: str, job: JobSpec) -> JobRecord:
        """Record the member (``submitting``), then push it; return its record.

        A push refused for Kaggle's GPU cap leaves the record ``submitting`` with a message (the
        scheduler pushes it again when a slot frees); any other refusal marks it ``error``.
        """
        slug = make_slug(job.name, self.record.commit_sha)
        request, spec_json = self._request(job, slug)
        planned = KernelRef(self.backend.name, slug, "", None, "")
        record = replace(JobRecord.new(planned, job.name, self.record.commit_sha,
                                       Path(self.record.repo_root), spec_json,
                                       status=JobStatus.SUBMITTING),
                         sweep_id=self.record.id, member_id=member_id)  # fmt: skip
        self.registry.add(record)  # recorded before anything is pushed
        return self.push(record)

    def push(self, record: JobRecord) -> JobRecord:
        """Push a member recorded as ``submitting`` (its slug, script and settings from the
        record); a cap refusal keeps it ``submitting``."""
        job = KernelSpec.model_validate_json(record.spec_json).job
        request, _ = self._request(job, record.slug)
        try:
            ref = self.backend.push(request)
        except BackendError as exc:
            if type(exc).__name__ == "KaggleConcurrencyCap":
                return self.registry.update(record, message=f"waiting for a GPU slot: {exc.message}")
            return self.registry.update(record, status=JobStatus.ERROR, result=UNKNOWN_RESULT,
                                        message=f"the kernel could not be started: {exc.message}")  # fmt: skip
        return self.registry.update(record, owner=ref.owner, version=ref.version,
                                    workdir=ref.workdir, status=JobStatus.QUEUED, message="")  # fmt: skip

    def adopt(self, record: JobRecord) -> JobRecord | None:
        """A member recorded as ``submitting`` by an earlier process: if its kernel exists on
        the backend, record it as pushed and return the record; None when it never landed."""
        job = KernelSpec.model_validate_json(record.spec_json).job
        ref = self.backend.find(record.slug, gpu=is_gpu(job), deadline_s=job.deadline)
        if ref is None:
            return None
        return self.registry.update(record, owner=ref.owner, version=ref.version,
                                    workdir=ref.workdir, status=JobStatus.QUEUED, message="")  # fmt: skip

    def _request(self, job: JobSpec, slug: str) -> tuple[Any, str]:
        remote = bool(getattr(self.backend, "requires_push", False))
        plan = self._plan(job.kaggle.code) if remote else None
        request, kspec = prepare_push(job, slug, self.sync, plan)
        return request, kspec.model_dump_json()

    def _plan(self, code: str) -> Any:
        if code not in self._plans:
            started = time.perf_counter()
            self._plans[code] = code_plan(code, self.sync)
            log.info("code plan %s built in %.1f s", code, time.perf_counter() - started)
        return self._plans[code]
