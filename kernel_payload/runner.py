"""Run a job's suites in order and always leave a ``session_summary.json``.

The summary is rewritten after every step (so even a hard kill leaves an honest, unfinished one that
:func:`salvage` can close), and finalised on success, on a suite crash, on a job-level error and on
SIGTERM/SIGINT. Its status is computed from what happened (see :class:`SessionSummary`).
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kernel_payload import background, cache_archive, precompile, prewarm, startup
from kernel_payload.device import detect_device, package_versions
from kernel_payload.errors import Interrupted, SuiteSkipped
from kernel_payload.events import ProgressCallback, emit, job_plan, stage_reporter
from kernel_payload.manifest import build_manifest, output_files
from kernel_payload.schema import (
    DeviceInfo,
    ErrorInfo,
    KernelSpec,
    ProgressEvent,
    SessionSummary,
    Stage,
    SuiteResult,
    SuiteStatus,
)
from kernel_payload.suites import SuiteContext, resolve_suite

logger = logging.getLogger(__name__)

TRACEBACK_LINES = 40
RUNS_ALONE = frozenset({"bench"})
"""Suites that time things: no background work of an earlier suite runs beside them."""
_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_job(spec: KernelSpec, out_dir: Path) -> SessionSummary:
    """Run every suite of ``spec`` into ``out_dir`` and write the session summary.

    A crashing suite is recorded as ``failed`` (with its traceback tail) and the next suite still
    runs; files written by suites that finished are kept.

    Args:
        spec: the job and its identity (job id, slug, commit).
        out_dir: output folder; suites write ``out_dir/<suite>/...``.

    Returns:
        The final summary (also written to ``out_dir/session_summary.json``).

    Raises:
        Interrupted: after the summary was finalised, when SIGTERM or SIGINT stopped the run.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    startup.times().suites_at = time.time()
    summary = SessionSummary(
        job_id=spec.job_id, job_name=spec.job.name, slug=spec.slug, commit_sha=spec.commit_sha,
        repo_url=spec.repo_url, started_at=_now(), job_description=spec.job.description,
        suites=[SuiteResult(name=name) for name in spec.job.suites],
    )  # fmt: skip
    suites = ", ".join(spec.job.suites)
    emit(
        ProgressEvent(stage=Stage.JOB, done=0, total=len(spec.job.suites), message=f"suites: {suites}",
                      unit="suites", plan=job_plan(spec.job))  # the weights of the job-level ETA
    )
    try:
        with _signals_raise_interrupted():
            _run_suites(spec, summary, out_dir)
    except Interrupted as exc:
        background.stop()  # finalize records that they did not finish
        _record_interruption(summary, exc)
        raise
    except Exception as exc:  # a job-level crash: record it, never lose the summary
        logger.exception("job-level error")
        summary.error = summary.error or error_info(exc)
    finally:
        precompile.stop()  # a job that ended before its rl suite waited for the worker
        finalize(summary, out_dir)
    return summary


def salvage(spec: KernelSpec, out_dir: Path, reason: str) -> SessionSummary:
    """Close the summary of a payload that died without finishing (e.g. SIGKILL, out of memory).

    Loads the last summary the payload wrote (or starts one), marks the suite that was running as
    interrupted and the rest as not run, records ``reason`` as the error and finalises it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        summary = SessionSummary.read(out_dir)
    except (OSError, ValidationError, ValueError):
        summary = SessionSummary(
            job_id=spec.job_id, job_name=spec.job.name, slug=spec.slug,
            commit_sha=spec.commit_sha, repo_url=spec.repo_url, started_at=_now(),
            suites=[SuiteResult(name=name) for name in spec.job.suites],
        )  # fmt: skip
    if summary.finished_at is not None:
        return summary
    summary.error = summary.error or ErrorInfo(type="PayloadDied", message=reason)
    for result in summary.suites:
        if result.status == SuiteStatus.RUNNING:
            result.reason = result.reason or reason
    finalize(summary, out_dir)
    return summary


def finalize(summary: SessionSummary, out_dir: Path) -> None:
    """Close open suites, write ``report.html``, the manifest and the summary (signals ignored)."""
    with _signals_ignored():
        _finish_background(summary, out_dir)
        for result in summary.suites:
            if result.status == SuiteStatus.RUNNING:
                result.status = SuiteStatus.INTERRUPTED
            elif result.status == SuiteStatus.PENDING:
                result.status = SuiteStatus.NOT_RUN
        summary.finished_at = _now()
        if startup.times().suites_at is not None:  # this process ran the suites (not a salvage)
            summary.startup = startup.times().as_dict()
        try:
            from kernel_payload.report import write_report

            write_report(summary, out_dir)
        except Exception as exc:  # the report is an artifact: failing to write it fails the job
            logger.exception("could not write report.html")
            summary.error = summary.error or error_info(exc)
        if startup.times().suites_at is not None:
            _export_kernel_cache(out_dir)  # before the manifest: the pull verifies it too
        summary.artifacts = build_manifest(out_dir)
        summary.write(out_dir)
        emit(
            ProgressEvent(
                stage=Stage.JOB, done=len(summary.suites), total=len(summary.suites),
                status=summary.status.value, message=summary.reason or "all suites succeeded",
            )
        )  # fmt: skip


def _export_kernel_cache(out_dir: Path) -> None:
    """The compiled kernels as one archive in the output, when the bootstrap asks for it
    (:mod:`kernel_payload.cache_archive`); never fails the job."""
    if not os.environ.get(cache_archive.EXPORT_ENV):
        return
    try:
        from kernel_payload.kernel_cache import ProjectCacheLocator
    except ImportError:  # no numba here: nothing was compiled
        return
    clock = startup.times()  # the rl kernels may have been compiled by kernel_payload.precompile
    compiled = clock.compiled + int(clock.precompile.get("precompile_kernels", 0))
    line = cache_archive.export_from_env(ProjectCacheLocator.folder, compiled, out_dir)
    if line:
        print(line, flush=True)


def error_info(exc: BaseException, suite: str | None = None) -> ErrorInfo:
    """Describe ``exc`` with the last :data:`TRACEBACK_LINES` lines of its traceback."""
    lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).splitlines()
    tail = "\n".join(lines[-TRACEBACK_LINES:])[-6000:]
    message = str(exc) or repr(exc)
    return ErrorInfo(type=type(exc).__name__, message=message, traceback_tail=tail, suite=suite)


def _run_suites(spec: KernelSpec, summary: SessionSummary, out_dir: Path) -> None:
    summary.device = detect_device(spec.job.device)
    summary.packages = package_versions()
    summary.write(out_dir)
    precompile.start(spec.job)  # the rl suite's kernels compile on another core meanwhile
    prewarm.start(spec.job.suites)  # later suites' imports overlap the earlier suites' work
    names = [result.name for result in summary.suites]
    for index, result in enumerate(summary.suites):
        if result.name in RUNS_ALONE:
            _finish_background(summary, out_dir)
        overlap = index + 1 < len(names) and names[index + 1] not in RUNS_ALONE
        _run_suite(result, spec, summary.device, out_dir, summary, overlap)
        summary.startup = startup.times().as_dict()
        summary.write(out_dir)
        emit(ProgressEvent(stage=Stage.JOB, done=index + 1, total=len(summary.suites)))
    _finish_background(summary, out_dir)


def _releasing_background(progress: ProgressCallback) -> ProgressCallback:
    """``progress`` that launches the queued background work at a suite's first count (so that
    work waits for the suite's start-up; see :mod:`kernel_payload.background`)."""

    def forward(stage: str, done: int, total: int) -> None:
        if done and background.pending():
            background.release()
        progress(stage, done, total)

    return forward


def _finish_background(summary: SessionSummary, out_dir: Path) -> None:
    """Wait for the suites' background workers (:mod:`kernel_payload.background`), list their files
    under their suite and fail a suite whose worker failed (a stopped one is only noted)."""
    for outcome in background.finish():
        result = next(r for r in summary.suites if r.name == outcome.suite)
        result.artifacts = [p.relative_to(out_dir).as_posix() for p in output_files(out_dir, outcome.suite)]
        last = outcome.output.splitlines()[-1] if outcome.output else ""
        if outcome.ok:
            logger.info("%s: %s made in the background: %s", outcome.suite, outcome.what, last)
            continue
        if outcome.returncode < 0 and summary.error is not None and summary.error.type == "Interrupted":
            result.reason = result.reason or f"{outcome.what} not finished: the job was interrupted"
            continue
        error = ErrorInfo(type="BackgroundWorkFailed", suite=outcome.suite, traceback_tail=outcome.output,
                          message=f"{outcome.what} of suite {outcome.suite} failed (exit {outcome.returncode}): {last}")
        logger.error("%s", error.message)
        result.status, result.error = SuiteStatus.FAILED, result.error or error
        result.reason = result.reason or error.message[:300]
        summary.error = summary.error or error
        emit(ProgressEvent(stage=outcome.suite, status=result.status.value, message=result.reason))
    summary.write(out_dir)


def _run_suite(
    result: SuiteResult,
    spec: KernelSpec,
    device: DeviceInfo,
    out_dir: Path,
    summary: SessionSummary,
    overlap: bool = False,
) -> None:
    name = result.name
    progress = _releasing_background(stage_reporter(name))
    ctx = SuiteContext(name, out_dir / name, spec.job, device, progress, background=overlap)
    ctx.root.mkdir(parents=True, exist_ok=True)
    result.status, result.started_at = SuiteStatus.RUNNING, _now()
    summary.write(out_dir)
    emit(ProgressEvent(stage=name, message="started"))
    start = time.perf_counter()
    try:
        resolve_suite(name)(ctx)
        result.status = SuiteStatus.SUCCEEDED
    except SuiteSkipped as exc:
        result.status, result.reason = SuiteStatus.SKIPPED, str(exc)
    except Exception as exc:
        logger.exception("suite %s failed", name)
        result.status, result.error = SuiteStatus.FAILED, error_info(exc, suite=name)
        result.reason = f"{type(exc).__name__}: {exc}"[:300]
        summary.error = summary.error or result.error
    finally:
        result.duration_s = round(time.perf_counter() - start, 3)
        result.metrics = _scalar_metrics(ctx.metrics)
        result.artifacts = [p.relative_to(out_dir).as_posix() for p in output_files(out_dir, name)]
    emit(
        ProgressEvent(
            stage=name, status=result.status.value, message=result.reason,
            metrics={k: v for k, v in result.metrics.items() if not isinstance(v, list)},
        )
    )  # fmt: skip


def _record_interruption(summary: SessionSummary, exc: Interrupted) -> None:
    running = next((s for s in summary.suites if s.status == SuiteStatus.RUNNING), None)
    where = f"while running suite '{running.name}'" if running else "between suites"
    message = (
        f"payload received {exc.signal_name} {where}; the run was stopped before it finished "
        "(files of suites that had finished are kept)"
    )
    if running is not None:
        running.reason = f"stopped by {exc.signal_name}"
    summary.error = summary.error or ErrorInfo(
        type="Interrupted", message=message, suite=running.name if running else None,
        traceback_tail=error_info(exc).traceback_tail,
    )  # fmt: skip


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Keep JSON-friendly values: numbers (numpy scalars become float), text, bools, None."""
    clean: dict[str, Any] = {}
    for key, value in metrics.items():
        if value is None or isinstance(value, (bool, str, int, float)):
            clean[str(key)] = value
        elif isinstance(value, numbers.Integral):
            clean[str(key)] = int(value)
        elif isinstance(value, numbers.Real):
            clean[str(key)] = float(value)
        else:
            clean[str(key)] = str(value)
    return clean


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _signals_raise_interrupted() -> Iterator[None]:
    """Turn SIGTERM/SIGINT into :class:`Interrupted` (main thread only)."""
    if not _in_main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name, signum)

    previous = {sig: signal.signal(sig, handler) for sig in _HANDLED_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore SIGTERM/SIGINT while the summary is written, so a second signal cannot lose it."""
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _HANDLED_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        sys.stdout.flush()
