"""Schema-valid results folders for the study tests, written with the real ``SessionSummary``.

A folder holds what :mod:`orchestrator.study.members` reads: ``session_summary.json`` (a
``verify`` suite with a check count and an ``rl`` suite with ``metric[controller]`` headlines),
``rl/data/metrics/evaluation_draws.csv`` (one value per controller, draw, metric and class) and a
``report.html``. Values are chosen by each test so that means and intervals can be hand-computed.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kernel_payload.schema import ErrorInfo, SessionSummary, SuiteResult, SuiteStatus

START = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def write_results(folder: Path, draws: dict[str, dict[int, float]] | None = None, *,
                  job_id: str = "arz-job", commit: str = "a" * 40, seed: int = 0,
                  failed: bool = False, verify_checks: int | None = 13,
                  report: bool = True) -> Path:  # fmt: skip
    """Write a results folder; return it.

    Args:
        draws: controller base name -> {draw id: delay per vehicle (total, s)}; ``ppo`` is
            labelled ``ppo (seed <seed>)`` as the rl suite does. Throughput is ``1000 - delay``.
        job_id, commit, seed: the summary's identity and the PPO seed label.
        failed: the rl suite failed (an error, no draws written).
        verify_checks: ``checks_passed`` of the verify suite; None leaves the metric out.
        report: write a report.html.
    """
    folder.mkdir(parents=True, exist_ok=True)
    label = {c: f"ppo (seed {seed})" if c == "ppo" else c for c in (draws or {})}
    rl_metrics: dict[str, float] = {"ppo_timesteps": 8192}
    for controller, series in (draws or {}).items():
        rl_metrics[f"delay_per_vehicle_s[{label[controller]}]"] = sum(series.values()) / len(series)
    verify = SuiteResult(name="verify", status=SuiteStatus.SUCCEEDED, started_at=START, duration_s=1.0,
                         metrics={} if verify_checks is None else {"checks_passed": verify_checks,
                                                                   "level": "quick"})  # fmt: skip
    rl = SuiteResult(name="rl", status=SuiteStatus.FAILED if failed else SuiteStatus.SUCCEEDED,
                     started_at=START, duration_s=2.0, metrics={} if failed else rl_metrics,
                     error=ErrorInfo(type="RuntimeError", message="boom", suite="rl") if failed else None)  # fmt: skip
    SessionSummary(job_id=job_id, job_name="study", slug=job_id, commit_sha=commit, started_at=START,
                   finished_at=START + timedelta(seconds=3), suites=[verify, rl],
                   error=rl.error).write(folder)  # fmt: skip
    if draws and not failed:
        path = folder / "rl" / "data" / "metrics" / "evaluation_draws.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["controller", "draw", "metric", "class", "value"])
            for controller, series in draws.items():
                for draw, value in series.items():
                    writer.writerow([label[controller], draw, "delay_per_vehicle_s", "total", value])
                    writer.writerow([label[controller], draw, "throughput_veh", "total", 1000 - value])
    if report:
        (folder / "report.html").write_text(f"<html><body>{job_id}</body></html>\n")
    return folder
