"""Metrics tables as CSV files: written by the suites, read back by the report."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = ()) -> Path:
    """Write ``rows`` (dicts) to ``path``; columns default to the keys in first-seen order.

    None becomes an empty cell.
    """
    if not columns:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return path


def read_csv(path: Path, limit: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and up to ``limit`` rows of a CSV file, as text."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = []
        for row in reader:
            if limit is not None and len(rows) >= limit:
                break
            rows.append(row)
    return header, rows


def to_float(text: str) -> float | None:
    """A CSV cell as a float, or None when empty or not a number."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
