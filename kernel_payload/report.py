"""``report.html``: one self-contained page (figures embedded as base64 PNG, metric tables inline)."""

from __future__ import annotations

import base64
import html
import struct
from pathlib import Path

from kernel_payload.manifest import output_files
from kernel_payload.report_rl import DRAWS_CSV, rl_section
from kernel_payload.report_rl import STYLE as RL_STYLE
from kernel_payload.schema import SessionSummary, SuiteResult
from kernel_payload.tables import read_csv, to_float

REPORT_FILE = "report.html"
CSV_ROWS = 40
_PIVOTED = ("evaluation.csv", "evaluation_draws.csv")  # shown as pivot tables, listed as files
WIDE_RATIO = 1.9  # a figure wider than this (width / height) gets a row of its own

_COLOURS = {
    "succeeded": "#1a7f37", "failed": "#cf222e", "partial": "#bf8700", "skipped": "#6e7781",
    "interrupted": "#cf222e", "not_run": "#6e7781", "pending": "#6e7781", "running": "#0969da",
}  # fmt: skip

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2328;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.2rem}
.badge{display:inline-block;color:#fff;border-radius:1em;padding:.1em .7em;font-size:.85em;
font-weight:600;vertical-align:middle}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88em}
td,th{border:1px solid #d0d7de;padding:.25em .6em;text-align:left}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:1rem}.figs figure{margin:0;flex:1 1 480px}
.figs img{max-width:100%;border:1px solid #d0d7de}.figs figure.wide{flex-basis:100%}figcaption{font-size:.8em;color:#57606a}
pre{background:#f6f8fa;padding:.8rem;overflow-x:auto;font-size:.8em}
.scroll{overflow-x:auto;max-width:100%}
.reason{color:#57606a}.files{font-size:.85em;color:#57606a}.description{font-size:1.05em;color:#1f2328}
"""


def write_report(summary: SessionSummary, out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` for ``summary`` and return its path."""
    path = out_dir / REPORT_FILE
    path.write_text(render_report(summary, out_dir), encoding="utf-8")
    return path


def render_report(summary: SessionSummary, out_dir: Path) -> str:
    """The report page as HTML text; figures and CSV tables are read from ``out_dir``."""
    status = summary.status.value
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(summary.job_name)}: {status}</title><style>{_STYLE}{RL_STYLE}</style></head><body>",
        f"<h1>{_e(summary.job_name)} {_badge(status)}</h1>",
    ]
    description = getattr(summary, "job_description", "")
    if description:
        parts.append(f'<p class="description">{_e(description)}</p>')
    if summary.reason:
        parts.append(f'<p class="reason">{_e(summary.reason)}</p>')
    parts.append(_overview(summary))
    if summary.error is not None and summary.error.suite is None:
        parts.append(
            _error_block(summary.error.type, summary.error.message, summary.error.traceback_tail)
        )
    for suite in summary.suites:
        parts.append(_suite_section(suite, out_dir))
    parts.append("<h2>Packages</h2>")
    parts.append(_kv_table(summary.packages.items()))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _overview(summary: SessionSummary) -> str:
    device = summary.device
    rows = [
        ("job id", summary.job_id),
        ("kernel slug", summary.slug or "-"),
        ("commit", summary.commit_sha or "-"),
        ("started (UTC)", summary.started_at.strftime("%Y-%m-%d %H:%M:%S")),
        ("duration", f"{summary.duration_s:.1f} s" if summary.duration_s is not None else "-"),
        ("device", f"{device.kind}: {device.name}" if device else "-"),
        ("CPU", f"{device.cpu} ({device.cpu_count} logical)" if device else "-"),
        ("python / platform", f"{device.python} / {device.platform}" if device else "-"),
    ]
    if device and device.note:
        rows.append(("device note", device.note))
    if summary.startup:
        rows.append(("start-up", startup_line(summary.startup)))
    return _kv_table(rows)


_STARTUP_PARTS = (("clone_s", "clone"), ("install_s", "pip"), ("imports_s", "interpreter + imports"),
                  ("compile_s", "numba compile"), ("first_count_s", "first count at"),
                  ("first_ppo_s", "first PPO count at"))  # fmt: skip


def startup_line(startup: dict) -> str:
    """``clone 1.2 s · pip 0.0 s · … · numba compile 0.4 s (2 kernels, cache warm) · …``."""
    parts = []
    for key, label in _STARTUP_PARTS:
        if isinstance(startup.get(key), (int, float)):
            text = f"{label} {startup[key]:.1f} s"
            if key == "compile_s":
                text += f" ({startup.get('kernels_compiled', 0)} kernels, cache {startup.get('kernel_cache') or 'off'})"
            parts.append(text)
        if key == "compile_s" and isinstance(startup.get("precompile_s"), (int, float)):
            local = startup.get("precompile_local_s")
            parts.append(f"rl kernels ({startup.get('precompile_parts', 'all')}) compiled alongside "
                         f"{startup['precompile_s']:.1f} s ({startup.get('precompile_kernels', '?')} kernels, "
                         f"{startup.get('precompile')}"
                         + (f"; the rest after the suites before rl, {local:.1f} s" if local else "")
                         + f"; rl waited {startup.get('precompile_wait_s', 0.0):.1f} s)")  # fmt: skip
    return " · ".join(parts) + " (times after the kernel started)" * ("first_count_s" in startup)


def _suite_section(suite: SuiteResult, out_dir: Path) -> str:
    duration = f" &middot; {suite.duration_s:.1f} s" if suite.duration_s is not None else ""
    parts = [
        f'<h2 id="{_e(suite.name)}">{_e(suite.name)} {_badge(suite.status.value)}{duration}</h2>'
    ]
    if suite.reason:
        parts.append(f'<p class="reason">{_e(suite.reason)}</p>')
    if suite.metrics:
        parts.append(_kv_table(suite.metrics.items()))
    if suite.error is not None:
        parts.append(
            _error_block(suite.error.type, suite.error.message, suite.error.traceback_tail)
        )
    pivots = rl_section(suite, out_dir)
    if pivots:
        parts.append(pivots)
    figures = [p for p in output_files(out_dir, f"{suite.name}/figures") if p.suffix == ".png"]
    if figures:
        parts.append('<div class="figs">')
        parts.extend(_figure(p) for p in figures)
        parts.append("</div>")
    pivoted = (out_dir / suite.name / DRAWS_CSV).is_file()  # the pivots replace the long tables
    shown = [
        p for p in output_files(out_dir, f"{suite.name}/data/metrics")
        if p.suffix == ".csv" and not (pivoted and p.name in _PIVOTED)
    ]  # fmt: skip
    parts.extend(_csv_table(p) for p in shown)
    others = [
        p.relative_to(out_dir).as_posix()
        for p in output_files(out_dir, suite.name)
        if p.suffix != ".png" and p not in shown
    ]
    if others:
        parts.append('<p class="files">other files: ' + ", ".join(_e(o) for o in others) + "</p>")
    return "\n".join(parts)


def _figure(path: Path) -> str:
    """An embedded PNG; a wide one (e.g. a panel per approach) takes the page's whole width."""
    raw = path.read_bytes()
    data = base64.b64encode(raw).decode("ascii")
    width, height = struct.unpack(">II", raw[16:24]) if raw[12:16] == b"IHDR" else (1, 1)
    wide = ' class="wide"' if width > WIDE_RATIO * max(height, 1) else ""
    return (
        f'<figure{wide}><img alt="{_e(path.stem)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(path.name)}</figcaption></figure>"
    )


def _csv_table(path: Path) -> str:
    """A CSV as a table; a long one folded, with its first :data:`CSV_ROWS` rows and its length."""
    header, rows = read_csv(path)
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows[:CSV_ROWS])
    table = f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'  # wide CSVs scroll
    if len(rows) <= CSV_ROWS:
        return f"<h3>{_e(path.name)}</h3>{table}"
    return (f"<details><summary><strong>{_e(path.name)}</strong>: {len(rows)} rows, the first "
            f"{CSV_ROWS} shown (the CSV file has them all)</summary>{table}</details>")  # fmt: skip


def _cell(text: str) -> str:
    value = to_float(text)
    if value is None:
        return f"<td>{_e(text)}</td>"
    shown = text if value.is_integer() and "e" not in text.lower() else f"{value:.4g}"
    return f'<td class="num">{_e(shown)}</td>'


def _kv_table(items: object) -> str:
    rows = "".join(
        f"<tr><th>{_e(k)}</th>{_cell(str(v)) if v is not None else '<td>-</td>'}</tr>"
        for k, v in items  # type: ignore[attr-defined]
    )
    return f"<table>{rows}</table>"


def _error_block(kind: str, message: str, tail: str) -> str:
    return f"<p><strong>{_e(kind)}</strong>: {_e(message)}</p>" + (
        f"<pre>{_e(tail)}</pre>" if tail else ""
    )


def _badge(status: str) -> str:
    colour = _COLOURS.get(status, "#6e7781")
    return f'<span class="badge" style="background:{colour}">{_e(status)}</span>'


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
