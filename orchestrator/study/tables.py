"""The rows of a sweep's tables: every metric per member, per-cell mean +- 95 % CI, paired draws.

A *cell* is the set of members whose matrix values agree on every key except the seed key
(:data:`SEED_KEY`): its spread is the seed-to-seed spread. Paired differences compare two members
that differ in exactly one matrix key, ran the same environment (every :data:`DRAW_KEYS` value
equal) and share evaluation draw ids: the difference is taken draw by draw, for each controller.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.study.members import MemberData, MetricKey
from orchestrator.study.stats import Estimate, mean_ci, paired_test

SEED_KEY = "seeds"
DRAW_KEYS = ("rl.env", "scenario")
"""Matrix keys (and their sub-keys) that decide what a demand-draw id means: two members that
differ in one of them did not see the same demand under the same draw id."""


@dataclass(frozen=True)
class Member:
    """A member with its numbers: id, matrix values, and the data read (None: nothing readable)."""

    member_id: str
    matrix: dict[str, Any]
    data: MemberData | None


@dataclass(frozen=True)
class Cell:
    """Members that differ only in their seeds: ``matrix`` without the seed key, in member order."""

    matrix: dict[str, Any]
    members: list[Member]

    def label(self) -> str:
        """``rl.env=ARZ-Intersection-v0`` (``all`` when the matrix has no other key)."""
        return ", ".join(f"{k}={value_text(v)}" for k, v in self.matrix.items()) or "all"

    def estimate(self, key: MetricKey) -> tuple[Estimate, list[str]]:
        """Mean +- 95 % CI of ``key`` over the cell's members that have it, and the ids of those
        that do not."""
        have = [m for m in self.members if m.data is not None and key in m.data.values]
        missing = [m.member_id for m in self.members if m not in have]
        return mean_ci([m.data.values[key] for m in have]), missing  # type: ignore[union-attr]


def value_text(value: Any) -> str:
    """A matrix value as one short string (lists and mappings as compact JSON)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def cells_of(members: Sequence[Member]) -> list[Cell]:
    """Group members into cells (matrix minus :data:`SEED_KEY`), in first-member order."""
    groups: dict[str, Cell] = {}
    for member in members:
        matrix = {k: v for k, v in member.matrix.items() if k != SEED_KEY}
        key = json.dumps(matrix, sort_keys=True, default=str)
        groups.setdefault(key, Cell(matrix, []))
        groups[key].members.append(member)
    return list(groups.values())


def metric_keys(members: Sequence[Member]) -> list[MetricKey]:
    """Every metric key any member has, sorted (suite, metric, controller, class)."""
    keys = {k for m in members if m.data is not None for k in m.data.values}
    return sorted(keys)


def metric_rows(members: Sequence[Member], matrix_keys: Sequence[str]) -> list[dict]:
    """metrics.csv: one row per member and metric (``n_draws`` when the value is a draws' mean)."""
    rows = []
    for member in members:
        if member.data is None:
            continue
        for key in sorted(member.data.values):
            draws = member.data.draws.get(key)
            rows.append({"member_id": member.member_id,
                         **{k: value_text(member.matrix.get(k, "")) for k in matrix_keys},
                         **_key_columns(key), "value": member.data.values[key],
                         "n_draws": len(draws) if draws else ""})  # fmt: skip
    return rows


def cell_rows(cells: Sequence[Cell], keys: Sequence[MetricKey], matrix_keys: Sequence[str]) -> list[dict]:
    """cells.csv: per cell and metric, n, mean, 95 % half-width ("" when n < 2), the members used
    and those missing the metric."""
    rows = []
    for cell in cells:
        for key in keys:
            estimate, missing = cell.estimate(key)
            if estimate.n == 0:
                continue
            rows.append({**{k: value_text(cell.matrix[k]) if k in cell.matrix else "" for k in matrix_keys},
                         **_key_columns(key), "n": estimate.n, "mean": estimate.mean,
                         "ci95": "" if estimate.n < 2 else estimate.ci95,
                         "missing": " ".join(missing)})  # fmt: skip
    return rows


def paired_rows(members: Sequence[Member]) -> list[dict]:
    """paired.csv: for each pair of members that share draws (see the module doc) and each
    controller, metric and class both evaluated: ``b - a`` draw by draw, mean, 95 % CI, p."""
    rows = []
    for i, a in enumerate(members):
        for b in members[i + 1:]:
            varied = _pair_key(a, b)
            if varied is None:
                continue
            for key in sorted(set(a.data.draws) & set(b.data.draws)):  # type: ignore[union-attr]
                row = paired_row(a.data.draws[key], b.data.draws[key])  # type: ignore[union-attr]
                if row is not None:
                    rows.append({"member_a": a.member_id, "member_b": b.member_id, "varied": varied,
                                 "value_a": value_text(a.matrix.get(varied, "")),
                                 "value_b": value_text(b.matrix.get(varied, "")),
                                 **_key_columns(key), **row})  # fmt: skip
    return rows


def paired_row(a: dict[str, float], b: dict[str, float]) -> dict | None:
    """Mean and 95 % CI of ``b - a`` over the draw ids both have, with the paired t test's p and
    verdict; None when they share no draw."""
    shared = [d for d in a if d in b]
    if not shared:
        return None
    diffs = [b[d] - a[d] for d in shared]
    estimate, test = mean_ci(diffs), paired_test(diffs)
    return {"n_draws": len(shared), "mean_diff": estimate.mean,
            "ci95": "" if estimate.n < 2 else estimate.ci95,
            "p_value": "" if test is None else test.p_value,
            "significant": "" if test is None or test.significant is None else test.significant}  # fmt: skip


def _pair_key(a: Member, b: Member) -> str | None:
    """The one matrix key in which ``a`` and ``b`` differ when they can be paired, else None."""
    if a.data is None or b.data is None or not (a.data.draw_ids & b.data.draw_ids):
        return None
    keys = set(a.matrix) | set(b.matrix)
    differ = [k for k in sorted(keys) if a.matrix.get(k) != b.matrix.get(k)]
    if len(differ) != 1 or any(differ[0] == p or differ[0].startswith(p) for p in DRAW_KEYS):
        return None
    return differ[0]


def _key_columns(key: MetricKey) -> dict[str, str]:
    return {"suite": key.suite, "metric": key.metric, "controller": key.controller, "class": key.klass}
