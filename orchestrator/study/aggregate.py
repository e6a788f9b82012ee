"""A sweep's aggregated results: the one call the sweep scheduler makes (:func:`aggregate_sweep`).

The statistics, tables, figures and report live in the sibling modules (:mod:`.members`,
:mod:`.tables`, :mod:`.figures`, :mod:`.report`); this module only puts them together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MemberResult:
    """One member of a sweep as the scheduler knows it at aggregation time."""

    member_id: str                 # stable, e.g. "m01" (order of the expanded matrix, include appended)
    matrix: dict[str, Any]         # dotted job key -> value for this member
    job_id: str | None             # registry job id, None if never pushed
    status: str                    # lifecycle word (JobStatus values, e.g. "complete", "error", "cancelled")
    result: str                    # the member's verdict: succeeded|failed|partial|unknown|"" (not run)
    results_dir: Path | None       # the member's verified results folder, None if not pulled
    message: str = ""              # failure reason to show in the report


def aggregate_sweep(name: str, sweep_id: str, members: list[MemberResult], out_dir: Path) -> dict:
    """Write the sweep's aggregated results into out_dir and return the sweep_summary dict.

    out_dir = validation_output/sweeps/<owner>_<sweep-slug>/ ; it writes (atomically: temp then
    rename of files) sweep_summary.json, metrics.csv (every metric per member), cells.csv (per
    matrix cell excluding the seed key: mean ± 95 % CI across seeds), paired.csv (paired
    differences where members share evaluation draws), figures/*.png, latex/*.tex, report.html
    linking each member's report.html (relative links). Members' results folders are NOT copied;
    the scheduler pulls each member into out_dir/members/<member_id>/ and passes that folder.

    sweep_summary.json: {"sweep_id", "name", "status": "succeeded"|"partial"|"failed" (succeeded
    only if every member's result == "succeeded"; failed if none did; else partial), "members":
    [{member_id, matrix, job_id, status, result, results_dir (relative to out_dir), message}],
    "generated_at"}.

    A member whose folder is missing or unreadable is listed with the reason and contributes no
    numbers; a metric a member lacks is left blank for it (cells.csv names the members missing).
    Aggregating again (a resumed sweep) rewrites every file; a figures/*.png no longer drawn is
    removed.
    """
    from orchestrator.errors import BadInput
    from orchestrator.study import figures, outputs, report, tables
    from orchestrator.study.members import read_member

    out_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    loaded = []
    for m in members:
        data = None
        if m.results_dir is not None:
            try:
                data = read_member(Path(m.results_dir))
                notes += [f"{m.member_id}: {n}" for n in data.notes]
            except BadInput as exc:
                notes.append(f"{m.member_id}: results not readable ({exc.message})")
        loaded.append(tables.Member(m.member_id, dict(m.matrix), data))
    summary = _summary(name, sweep_id, members, out_dir)
    matrix_keys = list(dict.fromkeys(k for m in members for k in m.matrix))
    cells, keys = tables.cells_of(loaded), tables.metric_keys(loaded)
    key_columns = ["suite", "metric", "controller", "class"]
    outputs.write_csv(out_dir / "metrics.csv", tables.metric_rows(loaded, matrix_keys),
                      ["member_id", *matrix_keys, *key_columns, "value", "n_draws"])
    cell_keys = [k for k in matrix_keys if k != tables.SEED_KEY]
    outputs.write_csv(out_dir / "cells.csv", tables.cell_rows(cells, keys, cell_keys),
                      [*cell_keys, *key_columns, "n", "mean", "ci95", "missing"])
    paired = tables.paired_rows(loaded)
    outputs.write_csv(out_dir / "paired.csv", paired,
                      ["member_a", "member_b", "varied", "value_a", "value_b", *key_columns,
                       "n_draws", "mean_diff", "ci95", "p_value", "significant"])  # fmt: skip
    plan = figures.figure_plan(cells, keys)
    if len(plan) > figures.MAX_FIGURES:
        notes.append(f"{len(plan)} figures were possible; the first {figures.MAX_FIGURES} are drawn")
    drawn = [figures.plot_against_key(cells, keys, key, suite, metric,
                                      out_dir / "figures" / figures.figure_name(key, suite, metric))
             for key, suite, metric in plan[: figures.MAX_FIGURES]]  # fmt: skip
    outputs.write_text(out_dir / "latex" / "cells.tex", report.render_latex(name, cells, keys))
    for stale in set((out_dir / "figures").glob("*.png")) - set(drawn):  # from an earlier aggregation
        stale.unlink()
    reports = {m.member_id for m in members
               if m.results_dir is not None and (Path(m.results_dir) / "report.html").is_file()}
    reasons = {m.member_id: m.data.reason for m in loaded if m.data is not None and m.data.reason}
    outputs.write_text(out_dir / "report.html", report.render_html(
        summary, cells, keys, paired, [p.relative_to(out_dir).as_posix() for p in drawn], notes,
        report.MemberLinks(reports, reasons)))
    outputs.write_json(out_dir / "sweep_summary.json", summary)
    return summary


def _summary(name: str, sweep_id: str, members: list[MemberResult], out_dir: Path) -> dict:
    """The sweep_summary dict (the status computed from the members' verdicts)."""
    succeeded = sum(m.result == "succeeded" for m in members)
    status = ("succeeded" if members and succeeded == len(members)
              else "failed" if succeeded == 0 else "partial")  # fmt: skip
    rows = []
    for m in members:
        folder = "" if m.results_dir is None else Path(os.path.relpath(m.results_dir, out_dir)).as_posix()
        row = {"member_id": m.member_id, "matrix": dict(m.matrix), "job_id": m.job_id,
               "status": m.status, "result": m.result, "results_dir": folder, "message": m.message}  # fmt: skip
        rows.append(row)
    return {"sweep_id": sweep_id, "name": name, "status": status, "members": rows,
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
