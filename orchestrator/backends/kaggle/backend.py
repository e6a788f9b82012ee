"""The Kaggle backend: runs the generated bootstrap as a private script kernel on Kaggle.

Lifecycle (docs/orchestration.md): ``push`` checks the weekly GPU quota, publishes the job's code
dataset if it has one (:mod:`.datasets`), saves a private script kernel under a fresh slug and
pins the version Kaggle returns (``versionLabel: v<N>`` on every later call). ``status`` maps
Kaggle's words in one function (:func:`.state.map_kaggle_status`), distrusts a terminal answer
about a run never seen alive, and enforces the job's deadline. ``logs`` follows the SSE stream,
skipping replays; ``download`` verifies the manifest; ``cancel`` (Kaggle has none) saves, deletes.

``kaggle`` is imported lazily, in :mod:`.connection` only; the API calls go through its client
(``requests``), our own downloads, uploads and log stream through ``httpx``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from orchestrator.backends.base import JobStatus, KernelRef, PushRequest, RemoteStatus
from orchestrator.backends.kaggle.connection import KaggleConnection
from orchestrator.backends.kaggle.datasets import CodeDatasets, DatasetPolicy
from orchestrator.backends.kaggle.errors import (
    KaggleConcurrencyCap,
    KaggleError,
    KagglePushError,
    push_refusal,
    translate,
    translated,
)
from orchestrator.backends.kaggle.http import HTTP_ERRORS, HttpPolicy, http_status, retrying
from orchestrator.backends.kaggle.kcache import STATE_KEY, KernelCacheDataset, with_cache_export
from orchestrator.backends.kaggle.logformat import version_label
from orchestrator.backends.kaggle.logs import LogFollower, salvage_live_log
from orchestrator.backends.kaggle.outputs import OutputFetcher, salvaged_summary
from orchestrator.backends.kaggle.state import (
    GpuQuota,
    KernelState,
    check_push_quota,
    kaggle_status_name,
    map_kaggle_status,
)
from orchestrator.errors import OutputRefused
from orchestrator.output_guard import ByteBudget, copy_tree_safely

log = logging.getLogger(__name__)
GPU_SHAPE = "NvidiaTeslaT4"
KAGGLE_MAX_SESSION_S = 12 * 3600
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{4,49}$")


@dataclass(frozen=True)
class KaggleConfig:
    """Settings of the Kaggle backend (times in seconds).

    Attributes:
        policy: timeouts and retries of every HTTP call.
        state_root: where per-kernel state and salvaged outputs live (default: the user data dir).
        stale_grace_s: a terminal status for a run never seen alive is trusted only this long
            after the push (real kernels take minutes to start).
        default_deadline_s: deadline when the job sets none (Kaggle stops sessions at 12 h).
        deadline_margin_s: Kaggle's session timeout is the deadline plus this margin (a backstop).
        min_gpu_quota_h: refuse a GPU push with less weekly quota left than this, in hours.
        gpu_slot_wait_s: how long a push waits for a GPU slot when 2 sessions run (0: refuse);
            ``PushRequest.extra["gpu_slot_wait_s"]`` overrides it per job.
        gpu_slot_poll_s: pause between pushes while waiting for a slot.
        download_attempts: downloads of a file that fails the manifest, in all.
        datasets: how long to wait for a code-dataset version (the ``dataset`` transport).
    """

    policy: HttpPolicy = field(default_factory=HttpPolicy)
    state_root: Path | None = None
    stale_grace_s: float = 60.0
    default_deadline_s: float = 11.5 * 3600
    deadline_margin_s: float = 600.0
    min_gpu_quota_h: float = 0.5
    gpu_slot_wait_s: float = 0.0
    gpu_slot_poll_s: float = 60.0
    download_attempts: int = 3
    datasets: DatasetPolicy = field(default_factory=DatasetPolicy)


class KaggleBackend:
    """:class:`~orchestrator.backends.base.ExecutionBackend` for Kaggle kernels.

    Args:
        config: backend settings; defaults suit real Kaggle.
        clock: Unix time in s (injected in tests).
        sleep: pause function (injected in tests).
    """

    name = "kaggle"
    requires_push = True  # runs off this machine: the code travels as kaggle.code says (jobs.py)

    def __init__(self, config: KaggleConfig | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.config = config or KaggleConfig()
        self.connection = KaggleConnection(self.config.policy)
        self.outputs = OutputFetcher(self.connection, self.config.download_attempts)
        self.datasets = CodeDatasets(self.connection, self.config.policy, self.config.datasets, sleep)
        self.kernel_cache = KernelCacheDataset(self.datasets)  # compiled kernels between jobs
        self._clock, self._sleep = clock, sleep
        self._lock = threading.RLock()  # the monitor polls status while a thread follows logs

    # ---- push ----------------------------------------------------------------------------
    @translated("start the kernel")
    def push(self, request: PushRequest) -> KernelRef:
        """Check quota, save the kernel once, and pin the version Kaggle returns.

        Args:
            request: slug, script and settings; ``extra`` may hold ``deadline_s`` (default 11.5 h),
                ``gpu_slot_wait_s``, ``code_plan`` and ``wheelhouse`` (datasets it attaches) and
                ``repo_root`` (names the kernel-cache dataset, :mod:`.kcache`; None: no cache).

        Raises:
            KaggleQuotaExhausted, KaggleConcurrencyCap, KagglePushError, KaggleCredentialsError.
        """
        if not _SLUG.match(request.slug):
            raise KagglePushError(f"kernel slug {request.slug!r} is not valid on Kaggle.",
                                  fix="use 5-50 lowercase letters, digits and hyphens")
        owner = self.connection.owner
        deadline_s = float(request.extra.get("deadline_s") or self.config.default_deadline_s)
        if request.gpu:
            check_push_quota(self.quota(), self.config.min_gpu_quota_h, deadline_s)
        wait_s = float(request.extra.get("gpu_slot_wait_s", self.config.gpu_slot_wait_s))
        cache = self.kernel_cache.slug_for(request.extra)  # None: no kernel-cache dataset
        save = self._save_request(owner, request, deadline_s, export_cache=cache is not None)
        save.dataset_data_sources = self.datasets.attach(request.extra)  # uploads what is new
        save.dataset_data_sources += self.kernel_cache.sources(cache)
        version = self._push_waiting_for_slot(save, wait_s)
        ref = KernelRef("kaggle", request.slug, owner, version, str(self._workdir(owner, request.slug)))
        now = self._clock()
        KernelState(owner, request.slug, version, now, now + deadline_s, request.gpu,
                    extra={STATE_KEY: cache} if cache else {}).save(Path(ref.workdir))  # fmt: skip
        log.info("pushed %s/%s version %s", owner, request.slug, version)
        return ref

    def _save_request(self, owner: str, request: PushRequest, deadline_s: float,
                      export_cache: bool = False) -> Any:  # fmt: skip
        save = self.connection.kernel_types().ApiSaveKernelRequest()
        save.slug, save.new_title = f"{owner}/{request.slug}", request.slug
        save.text = with_cache_export(request.script) if export_cache else request.script
        save.language, save.kernel_type = "python", "script"
        save.is_private, save.enable_internet = request.private, request.internet
        save.enable_gpu, save.machine_shape = request.gpu, GPU_SHAPE if request.gpu else None
        timeout = min(KAGGLE_MAX_SESSION_S, deadline_s + self.config.deadline_margin_s)
        save.session_timeout_seconds = int(timeout)
        return save

    def _push_waiting_for_slot(self, save: Any, wait_s: float) -> int:
        give_up_at = self._clock() + wait_s
        while True:
            try:
                return self._push_once(save)
            except KaggleConcurrencyCap:
                if self._clock() >= give_up_at:
                    raise
                log.info("2 GPU sessions are running; trying again in %.0f s",
                         self.config.gpu_slot_poll_s)
                self._sleep(min(self.config.gpu_slot_poll_s, max(0.0, give_up_at - self._clock())))

    def _push_once(self, save: Any) -> int:
        """SaveKernel under retries; before any re-push, GetKernel checks if it landed after all."""
        owner, slug = save.slug.split("/", 1)
        tried = False

        def attempt() -> int:
            nonlocal tried
            if tried:
                landed = self._current_version(owner, slug)
                if landed is not None:
                    log.warning("the push had landed after all (version %s); not re-pushing", landed)
                    return landed
            tried = True
            return self._save(save)

        return retrying(attempt, self.config.policy)

    def _save(self, save: Any) -> int:
        try:
            with self.connection.client() as kaggle:
                answer = kaggle.kernels.kernels_api_client.save_kernel(save)
        except requests.HTTPError as err:
            if http_status(err) == 200:  # an error body under HTTP 200
                raise push_refusal(str(err)) from err
            raise
        if answer.error:
            raise push_refusal(answer.error)
        if not answer.version_number:
            raise KagglePushError("Kaggle accepted the push but returned no version number.",
                                  fix="look at the kernel on kaggle.com; retry `arz submit`")
        return int(answer.version_number)

    def _current_version(self, owner: str, slug: str) -> int | None:
        """The kernel's current version number (GetKernel), None when it does not exist."""
        request = self.connection.kernel_types().ApiGetKernelRequest()
        request.user_name, request.kernel_slug = owner, slug
        try:
            with self.connection.client() as kaggle:
                answer = kaggle.kernels.kernels_api_client.get_kernel(request)
        except requests.HTTPError as err:
            if http_status(err) == 404:
                return None
            raise
        number = answer.metadata.current_version_number if answer.metadata else None
        return int(number) if number else None

    # ---- quota ---------------------------------------------------------------------------
    @translated("report the GPU quota")
    def quota(self) -> GpuQuota | None:
        """The weekly GPU quota, or None when Kaggle does not report one."""
        types = self.connection.kernel_types()

        def fetch() -> Any:
            with self.connection.client() as kaggle:
                return kaggle.kernels.kernels_api_client.get_accelerator_quota_statistics(
                    types.ApiGetAcceleratorQuotaStatisticsRequest())

        return GpuQuota.from_answer(retrying(fetch, self.config.policy))

    # ---- status --------------------------------------------------------------------------
    @translated("report the kernel status")
    def status(self, ref: KernelRef) -> RemoteStatus:
        """Status of the pinned run; enforces the deadline (fetch outputs, then delete)."""
        with self._lock:
            return self._status(ref)

    def _status(self, ref: KernelRef) -> RemoteStatus:
        state = self._state(ref)
        final = state.final_status()
        if final is not None:
            return final
        raw, message = self._remote_status(ref)
        if raw is None:
            return state.finish(JobStatus.CANCELLED, "deleted",
                                f"kernel {ref.owner}/{ref.slug} no longer exists on Kaggle "
                                "(deleted outside arz)")
        mapped = map_kaggle_status(raw)
        name = kaggle_status_name(raw)
        if mapped in (JobStatus.QUEUED, JobStatus.RUNNING) and not state.seen_active:
            state.seen_active = True
            state.save(self._folder(ref))
        if mapped.is_terminal() and not self._trusted(state):
            return RemoteStatus(JobStatus.QUEUED, f"{name} (not yet about v{ref.version})",
                                "waiting for Kaggle to register the new run")
        if not mapped.is_terminal() and state.deadline_at and self._clock() > state.deadline_at:
            return self._expire(ref, state)
        return RemoteStatus(mapped, name, message or "")

    def _trusted(self, state: KernelState) -> bool:
        return state.seen_active or self._clock() - state.pushed_at >= self.config.stale_grace_s

    def _remote_status(self, ref: KernelRef) -> tuple[Any, str | None]:
        """(raw status, failure message); (None, None) when the kernel no longer exists."""
        request = self.connection.kernel_types().ApiGetKernelSessionStatusRequest()
        request.user_name, request.kernel_slug = ref.owner, ref.slug
        request.version_label = version_label(ref)

        def fetch() -> Any:
            with self.connection.client() as kaggle:
                return kaggle.kernels.kernels_api_client.get_kernel_session_status(request)

        try:
            answer = retrying(fetch, self.config.policy)
        except requests.HTTPError as err:
            if http_status(err) == 404:
                return None, None
            raise
        return answer.status, answer.failure_message

    def _expire(self, ref: KernelRef, state: KernelState) -> RemoteStatus:
        hours = (state.deadline_at - state.pushed_at) / 3600
        salvage = self._salvage_and_delete(ref, state)
        status = state.finish(JobStatus.ERROR, "deadline",
                              f"deadline of {hours:.2f} h exceeded: outputs so far saved in "
                              f"{salvage}; the kernel was deleted")
        state.save(self._folder(ref))
        return status

    # ---- logs ----------------------------------------------------------------------------
    def logs(self, ref: KernelRef, follow: bool = False) -> Iterator[str]:
        """Log lines from the start, each once; with ``follow``, live until the run ends."""
        state = self._state(ref)
        if state.salvage and state.final:
            path = Path(state.salvage) / f"{ref.slug}.log"
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            yield from text.splitlines()
            return
        follower = LogFollower(self.connection, ref, self.status, self._mark_active, self._sleep,
                               self._clock, state.deadline_at)
        try:
            yield from follower.follow() if follow else follower.snapshot()
        except HTTP_ERRORS as err:
            raise translate(err, "send the kernel log") from err

    def _mark_active(self, ref: KernelRef) -> None:
        with self._lock:
            state = self._state(ref)
            if not state.seen_active:
                state.seen_active = True
                state.save(self._folder(ref))

    # ---- outputs and cancel --------------------------------------------------------------
    @translated("send the kernel outputs")
    def download(self, ref: KernelRef, dest: Path, max_bytes: int | None = None) -> list[Path]:
        """Every output file plus ``<slug>.log`` into ``dest``, checked against the manifest.

        ``max_bytes`` caps the bytes fetched (or copied from a salvage), counted while streaming.
        """
        from kernel_payload.schema import DEFAULT_MAX_RESULT_BYTES

        budget = ByteBudget(max_bytes or DEFAULT_MAX_RESULT_BYTES)
        state = self._state(ref)
        if state.final and state.salvage:
            return copy_tree_safely(Path(state.salvage), dest, budget)
        if state.final:
            raise KaggleError(f"kernel {ref.owner}/{ref.slug} was deleted and no outputs were "
                              "saved before.", fix="nothing to pull; submit the job again")
        files = self.outputs.download(ref, dest, budget=budget)
        self.kernel_cache.keep(state.extra.get(STATE_KEY), dest)  # verified: reuse its kernels
        return files

    @translated("read the kernel's summary")
    def fetch_summary(self, ref: KernelRef, dest: Path) -> Path | None:
        """Only ``session_summary.json`` (small, capped) into ``dest``; None when there is none."""
        state = self._state(ref)
        if state.final:
            return salvaged_summary(state.salvage, dest)
        return self.outputs.fetch_summary(ref, dest)

    @translated("cancel the kernel")
    def cancel(self, ref: KernelRef) -> None:
        """Download whatever outputs exist, then delete the kernel (Kaggle has no cancel)."""
        with self._lock:
            self._cancel(ref)

    def _cancel(self, ref: KernelRef) -> None:
        state = self._state(ref)
        if state.final:
            return
        raw, message = self._remote_status(ref)
        ended = map_kaggle_status(raw) if raw is not None else JobStatus.CANCELLED
        salvage = self._salvage_and_delete(ref, state)
        if ended.is_terminal():  # the run had ended: keep its verdict, just clean up
            state.finish(ended, kaggle_status_name(raw) or "deleted",
                         f"{message or 'run had ended'}; outputs saved in {salvage}; kernel deleted")
        else:
            state.finish(JobStatus.CANCELLED, "deleted",
                         f"cancelled; outputs so far saved in {salvage}; kernel deleted")
        state.save(self._folder(ref))

    def _salvage_and_delete(self, ref: KernelRef, state: KernelState) -> Path:
        folder = self._folder(ref) / "salvage"
        try:
            self.outputs.download(ref, folder, verify=False)
            salvage_live_log(LogFollower(self.connection, ref, self.status, lambda _r: None,
                                         self._sleep), folder / f"{ref.slug}.log")
        except (KaggleError, OutputRefused, *HTTP_ERRORS) as err:
            log.warning("could not fetch all outputs of %s/%s before deleting it: %s",
                        ref.owner, ref.slug, err)
        state.salvage = str(folder)
        self._delete(ref)
        return folder

    def _delete(self, ref: KernelRef) -> None:
        request = self.connection.kernel_types().ApiDeleteKernelRequest()
        request.user_name, request.kernel_slug = ref.owner, ref.slug

        def delete() -> None:
            with self.connection.client() as kaggle:
                kaggle.kernels.kernels_api_client.delete_kernel(request)

        try:
            retrying(delete, self.config.policy)
        except requests.HTTPError as err:
            if http_status(err) != 404:  # already gone is what we wanted
                raise

    @translated("say whether the kernel exists")
    def find(self, slug: str, gpu: bool = False, deadline_s: float | None = None) -> KernelRef | None:
        """The run of ``slug`` under this account if a push of it landed (GetKernel, as a re-push
        asks first), else None; saves the run's local state as :meth:`push` would have when the
        process died before it did (``deadline_s`` None: the configured default)."""
        owner = self.connection.owner
        version = self._current_version(owner, slug)
        if version is None:
            return None
        workdir = self._workdir(owner, slug)
        if not (workdir / "state.json").is_file():  # killed before push() saved it
            now = self._clock()
            deadline = float(deadline_s or self.config.default_deadline_s)
            KernelState(owner, slug, version, now, now + deadline, gpu).save(workdir)
        return KernelRef("kaggle", slug, owner, version, str(workdir))

    # ---- local state ---------------------------------------------------------------------
    def _root(self) -> Path:
        if self.config.state_root is not None:
            return self.config.state_root
        from orchestrator.home import arz_home

        return arz_home() / "kaggle"

    def _workdir(self, owner: str, slug: str) -> Path:
        return self._root() / f"{owner}_{slug}"

    def _folder(self, ref: KernelRef) -> Path:
        return Path(ref.workdir) if ref.workdir else self._workdir(ref.owner, ref.slug)

    def _state(self, ref: KernelRef) -> KernelState:
        return KernelState.for_ref(self._folder(ref), ref)
