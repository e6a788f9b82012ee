"""``arz compare A B``: two jobs, sweeps or results folders, metric by metric.

Each side resolves (:func:`resolve_side`) to members -- one for a job or a results folder, the
sweep's members for a sweep -- grouped into cells as in a sweep (:func:`tables.cells_of`). Cells
are matched by their matrix values (a lone cell on each side is matched as is). Per metric:

- a cell of one member per side shows each value's draws (mean +- 95 % CI over evaluation
  draws); when both sides share draw ids the difference is tested draw by draw (paired t),
  otherwise with Welch's t over the draws;
- a cell of several members (seeds) per side shows mean +- 95 % CI over the members; when both
  sides ran the same seeds and each seed's two members share draws, the test is paired over the
  seeds (each seed's difference averaged over its shared draws), otherwise Welch's t over the
  members' values;
- a headline number with one value per side has no test (``n/a``); nothing is invented for a
  metric one side lacks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.errors import BadInput
from orchestrator.study.members import MetricKey, read_member
from orchestrator.study.stats import Estimate, Test, mean_ci, paired_test, welch_test
from orchestrator.study.tables import SEED_KEY, Cell, Member, cells_of, value_text

SWEEPS_ROOT = Path("validation_output") / "sweeps"


@dataclass(frozen=True)
class Side:
    """One side of a comparison: what the user typed, its kind (``job|sweep|folder``), the members,
    the commits they ran and the RL environment when known (pairs draws only when equal)."""

    ref: str
    kind: str
    members: list[Member]
    commits: list[str]
    env: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """One metric of one matched cell: both estimates, ``b - a``, the test and a note."""

    cell: str
    key: MetricKey
    a: Estimate
    b: Estimate
    test: Test | None
    note: str

    @property
    def diff(self) -> float:
        """``b.mean - a.mean`` (NaN when a side lacks the metric)."""
        return self.b.mean - self.a.mean if self.a.n and self.b.n else math.nan


@dataclass
class Comparison:
    """The rows of ``arz compare`` and what could not be compared."""

    a: Side
    b: Side
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The ``--json`` shape: sides, rows (NaN as null) and notes."""
        return {"a": _side_json(self.a), "b": _side_json(self.b),
                "rows": [_row_json(r) for r in self.rows], "notes": list(self.notes)}  # fmt: skip


def resolve_side(text: str, root: Path) -> Side:
    """A side from a results folder, a sweep folder, a sweep id (under ``root/validation_output/
    sweeps``) or a registry job id (its pulled results), tried in that order.

    Raises:
        BadInput: none of these matches, or the job has no pulled results.
    """
    path = Path(text)
    if path.is_dir() and (path / "sweep_summary.json").is_file():
        return _sweep_side(text, path)
    if path.is_dir():
        data = read_member(path)
        return Side(text, "folder", [Member("a", {}, data)], [data.commit_sha])
    for summary in sorted((root / SWEEPS_ROOT).glob("*/sweep_summary.json")):
        if text in (summary.parent.name, _sweep_id(summary)):
            return _sweep_side(text, summary.parent)
    return _job_side(text)


def _sweep_side(text: str, folder: Path) -> Side:
    """The members of an aggregated sweep folder; a member whose results cannot be read is kept
    without numbers, and a note says why."""
    try:
        summary = json.loads((folder / "sweep_summary.json").read_text())
        listed = [(m["member_id"], dict(m.get("matrix") or {}), m.get("results_dir") or "")
                  for m in summary["members"]]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{folder / 'sweep_summary.json'} is not a sweep summary ({exc})",
                       fix="aggregate the sweep again (arz sweep pull ID)") from exc  # fmt: skip
    members, notes = [], []
    for member_id, matrix, results in listed:
        data = None
        try:
            data = read_member(folder / results) if results else None
        except BadInput as exc:
            notes.append(f"{text} {member_id}: {exc.message}")
        members.append(Member(member_id, matrix, data))
    commits = sorted({m.data.commit_sha for m in members if m.data is not None})
    return Side(text, "sweep", members, commits, notes=notes)


def _sweep_id(path: Path) -> str:
    try:
        return str(json.loads(path.read_text()).get("sweep_id", ""))
    except (OSError, ValueError):
        return ""


def _job_side(text: str) -> Side:
    from orchestrator.errors import UnknownJob
    from orchestrator.registry import Registry

    try:
        record = Registry().get(text)
    except UnknownJob as exc:
        raise BadInput(f"'{text}' is not a results folder, a sweep folder, a sweep id under "
                       f"{SWEEPS_ROOT}/ nor a job id in the registry ({exc.message})",
                       fix="give a job id from `arz list`, a sweep id, or a folder such as "
                           "validation_output/results/<owner>_<slug>") from exc  # fmt: skip
    if not record.results_dir or not Path(record.results_dir).is_dir():
        raise BadInput(f"job {record.id} has no pulled results (status {record.status})",
                       fix=f"arz pull {record.id}")  # fmt: skip
    data = read_member(Path(record.results_dir))
    return Side(text, "job", [Member(record.id, {}, data)], [data.commit_sha], _env_of(record.spec_json))


def _env_of(spec_json: str) -> str | None:
    try:
        return json.loads(spec_json)["job"]["rl"]["env"]
    except (ValueError, KeyError, TypeError):
        return None


def compare(a: Side, b: Side) -> Comparison:
    """Match the two sides' cells and compare every metric either has (see the module doc)."""
    result = Comparison(a, b, notes=[*a.notes, *b.notes])
    cells_a, cells_b = cells_of(a.members), cells_of(b.members)
    if len(cells_a) == 1 and len(cells_b) == 1:
        pairs = [(cells_a[0], cells_b[0])]
    else:
        by_label = {c.label(): c for c in cells_b}
        pairs = [(c, by_label[c.label()]) for c in cells_a if c.label() in by_label]
        unmatched = [f"A: {c.label()}" for c in cells_a if c.label() not in by_label] + [
            f"B: {c.label()}" for c in cells_b if c.label() not in {x.label() for x in cells_a}]
        if unmatched:
            result.notes.append("cells on one side only (not compared): " + "; ".join(unmatched))
    pair_draws = a.env is None or b.env is None or a.env == b.env
    if not pair_draws:
        result.notes.append(f"A ran {a.env} and B {b.env}: the same draw id is not the same demand, "
                            "so draws are not paired")  # fmt: skip
    for ca, cb in pairs:
        label = ca.label() if ca.label() == cb.label() else f"{ca.label()} | {cb.label()}"
        keys = sorted({k for c in (ca, cb) for m in c.members if m.data for k in m.data.values})
        result.rows += [_row(label, key, ca, cb, pair_draws) for key in keys]
    return result


def _row(label: str, key: MetricKey, ca: Cell, cb: Cell, pair_draws: bool) -> Row:
    """One metric: over draws when each side is one member with draws, else over members."""
    da, db = _lone_draws(ca, key), _lone_draws(cb, key)
    if da is not None and db is not None:
        ea, eb = mean_ci(list(da.values())), mean_ci(list(db.values()))
        shared = [d for d in da if d in db] if pair_draws else []
        if len(shared) >= 2:
            test = paired_test([db[d] - da[d] for d in shared])
            return Row(label, key, ea, eb, test, f"paired on {len(shared)} shared draws")
        return Row(label, key, ea, eb, welch_test(list(da.values()), list(db.values())),
                   "Welch over draws (no shared draws)")  # fmt: skip
    (ea, _), (eb, _) = ca.estimate(key), cb.estimate(key)
    if not ea.n or not eb.n:
        return Row(label, key, ea, eb, None, f"only in {'B' if not ea.n else 'A'}")
    by_seed = _paired_by_seed(ca, cb, key) if pair_draws else None
    if by_seed is not None:
        return Row(label, key, ea, eb, paired_test(by_seed),
                   f"paired on {len(by_seed)} seeds x shared draws")  # fmt: skip
    values = [[m.data.values[key] for m in c.members if m.data and key in m.data.values] for c in (ca, cb)]
    test = welch_test(*values)
    if test is None:
        note = "one value a side: no test" if ea.n == eb.n == 1 else "under 2 values on a side: no test"
        return Row(label, key, ea, eb, None, note)
    return Row(label, key, ea, eb, test, "Welch over seeds")


def _paired_by_seed(ca: Cell, cb: Cell, key: MetricKey) -> list[float] | None:
    """Per seed, the mean over shared draws of ``b - a`` -- when both cells ran the same two or
    more seeds and every seed's two members share draws of ``key``; else None."""
    sides = []
    for cell in (ca, cb):
        draws = {value_text(m.matrix.get(SEED_KEY)): m.data.draws.get(key) for m in cell.members
                 if m.data is not None}  # fmt: skip
        sides.append(draws)
    a, b = sides
    if len(a) < 2 or set(a) != set(b) or len(a) != len(ca.members) or len(b) != len(cb.members):
        return None
    diffs = []
    for seed in a:
        da, db = a[seed], b[seed]
        shared = [d for d in da or {} if d in (db or {})]
        if not shared:
            return None
        diffs.append(sum(db[d] - da[d] for d in shared) / len(shared))  # type: ignore[index]
    return diffs


def _lone_draws(cell: Cell, key: MetricKey) -> dict[str, float] | None:
    members = [m for m in cell.members if m.data is not None]
    if len(members) != 1:
        return None
    return members[0].data.draws.get(key)  # type: ignore[union-attr]


def _side_json(side: Side) -> dict:
    return {"ref": side.ref, "kind": side.kind, "members": len(side.members),
            "commits": side.commits, "env": side.env}  # fmt: skip


def _row_json(row: Row) -> dict:
    def estimate(e: Estimate) -> dict:
        return {"mean": _finite(e.mean), "ci95": _finite(e.ci95), "n": e.n}

    test = None if row.test is None else {"kind": row.test.kind, "p_value": _finite(row.test.p_value),
                                          "significant": row.test.significant}  # fmt: skip
    return {"cell": row.cell, "suite": row.key.suite, "metric": row.key.metric,
            "controller": row.key.controller, "class": row.key.klass, "a": estimate(row.a),
            "b": estimate(row.b), "diff": _finite(row.diff), "test": test, "note": row.note}  # fmt: skip


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value
