"""Aggregation of a sweep's members into one study folder (the interface shared with ``arz sweep``).

This is the scheduler branch's minimal, honest version: it writes ``sweep_summary.json`` (computed
status and the member list) and nothing else. The full aggregation (metrics.csv, cells.csv with
mean +/- 95 % CI across seeds, paired.csv, figures, LaTeX, report.html) lives in compare14's
version of this file, which replaces this one at merge.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SUMMARY_FILE = "sweep_summary.json"


@dataclass(frozen=True)
class MemberResult:
    """One member of a sweep as the scheduler knows it at aggregation time."""

    member_id: str
    matrix: dict[str, Any]
    job_id: str | None
    status: str
    result: str
    results_dir: Path | None
    message: str = ""


def aggregate_sweep(name: str, sweep_id: str, members: list[MemberResult], out_dir: Path) -> dict:
    """Write the sweep's aggregated results into out_dir and return the sweep_summary dict.

    This minimal version writes only ``sweep_summary.json`` (atomically: a temporary file, then a
    rename): ``{"sweep_id", "name", "status", "members": [{member_id, matrix, job_id, status,
    result, results_dir (relative to out_dir), message}], "generated_at"}``. ``status`` is
    ``succeeded`` only if every member's result is ``succeeded``, ``failed`` if none is, else
    ``partial``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    good = sum(m.result == "succeeded" for m in members)
    status = "succeeded" if members and good == len(members) else ("failed" if good == 0 else "partial")
    summary = {
        "sweep_id": sweep_id, "name": name, "status": status,
        "members": [_member_dict(m, out_dir) for m in members],
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    temporary = out_dir / f".{SUMMARY_FILE}.tmp"
    temporary.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(temporary, out_dir / SUMMARY_FILE)
    return summary


def _member_dict(member: MemberResult, out_dir: Path) -> dict:
    folder = None
    if member.results_dir is not None:
        try:
            folder = Path(member.results_dir).resolve().relative_to(out_dir.resolve()).as_posix()
        except ValueError:
            folder = str(member.results_dir)
    return {"member_id": member.member_id, "matrix": member.matrix, "job_id": member.job_id,
            "status": member.status, "result": member.result, "results_dir": folder,
            "message": member.message}  # fmt: skip
