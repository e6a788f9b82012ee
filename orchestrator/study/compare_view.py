"""The terminal view of ``arz compare``: one rich table, B - A, and the test's verdict."""

from __future__ import annotations

import math
from typing import Any

from orchestrator.study.compare import Comparison, Row
from orchestrator.study.stats import number_text


def render_comparison(result: Comparison, console: Any) -> None:
    """Print the sides (kind, commits), the metrics table and the notes on ``console``."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    for name, side in (("A", result.a), ("B", result.b)):
        commits = ", ".join(c[:10] for c in side.commits) or "?"
        console.print(f"{name}: {escape(side.ref)} ({side.kind}, {len(side.members)} member"
                      f"{'s' if len(side.members) != 1 else ''}, commit {commits})")  # fmt: skip
    several = len({r.cell for r in result.rows}) > 1
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in (["cell"] if several else []) + ["metric", "A", "B", "B - A", "test", "p", "significant"]:
        table.add_column(header, no_wrap=header != "metric")
    for row in result.rows:
        table.add_row(*([escape(row.cell)] if several else []), escape(row.key.label()),
                      row.a.text(), row.b.text(), _diff(row), *_test_cells(row))  # fmt: skip
    console.print(table)
    significant = sum(1 for r in result.rows if r.test is not None and r.test.significant)
    tested = sum(1 for r in result.rows if r.test is not None)
    console.print(f"{len(result.rows)} metrics, {tested} tested, {significant} significant at 5 % "
                  "(paired t on shared draws, else Welch t; ± is the 95 % CI, n/a from one value)")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


def _diff(row: Row) -> str:
    if math.isnan(row.diff):
        return "n/a"
    sign = "+" if row.diff > 0 else ""
    return f"{sign}{number_text(row.diff)}"


def _test_cells(row: Row) -> list[str]:
    """(test, p, significant) cells: the test kind and its note, p, ``yes``/``no``/``n/a``."""
    if row.test is None:
        return [row.note, "n/a", "n/a"]
    verdict = {True: "[bold]yes[/]", False: "no", None: "n/a (no spread)"}[row.test.significant]
    return [row.note, number_text(row.test.p_value), verdict]
