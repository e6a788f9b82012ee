"""The RL part of ``report.html``: the smoke caveat and the pivot tables of the evaluation.

Reads ``rl/data/metrics/evaluation_draws.csv`` (one row per controller, demand draw, metric and
class) and renders, with :mod:`kernel_payload.rl_tables`, a table of controllers x metrics (mean ±
95 % CI) and one of each controller's paired difference from PPO on the same draws, plus the
warning when PPO was trained for fewer than :data:`~kernel_payload.rl_tables.SMOKE_TIMESTEPS`.
"""

from __future__ import annotations

import html
from pathlib import Path

from kernel_payload import rl_tables
from kernel_payload.schema import SuiteResult
from kernel_payload.tables import read_csv

DRAWS_CSV = "data/metrics/evaluation_draws.csv"
SERVICE_CSV = "data/metrics/service.csv"
STYLE = """
.caveat{border:2px solid #bf8700;background:#fff8c5;padding:.6rem .9rem;border-radius:6px;
font-weight:600;margin:.8rem 0}
.note{font-size:.85em;color:#57606a;max-width:1000px}td.ceiling{background:#fff1e5}
"""


def draws_frame(path: Path) -> list[dict]:
    """The per-draw CSV as dicts (``value`` as float); empty when the file is absent."""
    if not path.is_file():
        return []
    header, rows = read_csv(path)
    frame = [dict(zip(header, row, strict=False)) for row in rows]
    return [r for r in frame if _is_number(r.get("value"))]


def rl_section(suite: SuiteResult, out_dir: Path) -> str:
    """The caveat and the pivot tables for an ``rl`` suite (empty when it wrote no draws)."""
    parts = []
    caveat = rl_tables.smoke_caveat(_int(suite.metrics.get("ppo_timesteps")))
    if caveat:
        parts.append(f'<p class="caveat">⚠ {_e(caveat)}</p>')
    draws = [dict(r, value=float(r["value"])) for r in draws_frame(out_dir / suite.name / DRAWS_CSV)]
    if not draws:
        return "\n".join(parts)
    table = rl_tables.pivot(draws)
    counts = sorted({c.n for row in table.values() for c in row.values()}) or [0]
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    parts.append(f"<h3>Controllers (mean ± 95 % CI over {n} demand draws)</h3>")
    parts.append(_table(table, "controller"))
    for note in (rl_tables.draws_note(table), rl_tables.ceiling_note(table), rl_tables.starvation_note(table)):
        if note:
            parts.append(f'<p class="note">{_e(note)}</p>')
    relative = rl_tables.relative_vs_baselines(draws)
    if relative:
        parts.append("<h3>Delay per vehicle relative to each classical controller (paired, %)</h3>")
        parts.append(_relative_table(relative))
    service = _service_table(out_dir / suite.name / SERVICE_CSV)
    if service:
        parts.append(service)
    for reference in rl_tables.references(draws):
        diff = rl_tables.paired_differences(draws, reference)
        parts.append(f"<h3>Paired difference: controller − {_e(reference)} (same draws)</h3>")
        parts.append(_table(diff, "controller"))
        parts.append(
            f'<p class="note">Each cell: mean ± 95 % CI of (controller − {_e(reference)}) over the '
            "demand draws both ran. A positive delay, time spent or queue difference means the "
            f"controller did worse than {_e(reference)}; an interval containing 0 is no evidence "
            "either way.</p>"
        )
    return "\n".join(parts)


def _table(table: dict[str, dict[str, rl_tables.Cell]], corner: str) -> str:
    headers = [h for _, _, h in rl_tables.METRICS if any(h in row for row in table.values())]
    head = "".join(f"<th>{_e(h)}</th>" for h in [corner, *headers])
    body = []
    for name, row in table.items():
        cells = [f"<th>{_e(name)}</th>"]
        for h in headers:
            cell = row.get(h)
            if cell is None:
                cells.append("<td>-</td>")
            else:
                css = "num ceiling" if cell.full or cell.starved else "num"
                cells.append(f'<td class="{css}">{_e(cell.text())}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _relative_table(relative: dict[str, dict[str, rl_tables.Cell]]) -> str:
    """PPO controllers x classical controllers, each cell ``mean % [95 % CI]`` of d / d_base - 1."""
    baselines = list(next(iter(relative.values())))
    head = "".join(f"<th>{_e(h)}</th>" for h in ["controller", *(f"vs {b}" for b in baselines)])
    body = "".join("<tr><th>" + _e(c) + "</th>" + "".join(
        f'<td class="num">{_e(rl_tables.percent(row[b]))}</td>' for b in baselines) + "</tr>"
        for c, row in relative.items())
    return (f"<table><tr>{head}</tr>{body}</table>"
            '<p class="note">Per draw d / d_baseline − 1 (delay per vehicle, all vehicles), mean and 95 % '
            "CI over the draws both ran: an interval entirely below 0 means less delay than that "
            "baseline with confidence.</p>")


def _service_table(path: Path) -> str:
    """The per-approach table of ``service.csv`` (empty when the file is absent)."""
    if not path.is_file():
        return ""
    header, rows = read_csv(path)
    body = rl_tables.approach_rows(dict(zip(header, r, strict=False)) for r in rows)
    head = "".join(f"<th>{_e(h)}</th>" for h in rl_tables.APPROACH_HEADERS)
    lines = []
    for row in body:
        flag = ' class="num ceiling"' if row[4] and not str(row[4]).startswith("0/") else ' class="num"'
        cells = [f"<th>{_e(row[0])}</th>", f"<td>{_e(row[1])}</td>",
                 *(f'<td class="num">{_e(rl_tables.fmt(v))}</td>' for v in row[2:4]),
                 f"<td{flag}>{_e(row[4] or '-')}</td>", f'<td class="num">{_e(rl_tables.fmt(row[5]))}</td>']
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return ("<h3>Service per approach (means over the demand draws)</h3>"
            f"<table><tr>{head}</tr>{''.join(lines)}</table>"
            '<p class="note">p95 delay: 95th-percentile vehicle delay from the cumulative counts at the '
            "approach (FIFO per class; vehicles still waiting at the end count with their delay so far). "
            "Starved draws: the longest red wait passed the larger of twice the signal's longest Webster "
            "red and one max-green cycle (every other phase at max green, docs/environment.md).</p>")


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
