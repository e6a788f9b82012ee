"""A sweep's report.html (one page) and its LaTeX table.

The page shows the sweep's verdict, every member (matrix values, job id, status, verdict, a
relative link to its own report.html, the failure reason), the per-cell table of headline
metrics (mean +- 95 % CI over seeds; ``n/a`` from one seed), the paired differences that are
significant, and the figures. The LaTeX file is a standalone ``article`` with one ``booktabs``
table, as the payload's (kernel_payload/latex.py): ``pdflatex`` compiles it as is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from orchestrator.study.members import MetricKey
from orchestrator.study.stats import Estimate, number_text
from orchestrator.study.tables import Cell, value_text

HEADLINE_METRICS = ("delay_per_vehicle_s", "throughput_veh", "p95_delay_s", "tts_veh_h", "mean_queue_m", "max_queue_m")
"""The ``rl`` metrics (class ``total``) of the headline table, in order, when a sweep has them."""
MAX_COLUMNS = 6
_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
          "font-size:13px}th{background:#f4f4f4}.failed{color:#b00}.partial{color:#b60}"
          ".succeeded{color:#070}img{max-width:48%;margin:4px}")  # fmt: skip


@dataclass(frozen=True)
class MemberLinks:
    """What the members table shows beside the summary: the members whose folder has a
    report.html to link, and each member's own reason for not succeeding (from its summary)."""

    reports: set[str] = field(default_factory=set)
    reasons: dict[str, str] = field(default_factory=dict)


def headline_keys(keys: Sequence[MetricKey]) -> list[tuple[str, str, str]]:
    """The headline table's columns as (suite, metric, class): the rl metrics of
    :data:`HEADLINE_METRICS` present, else the first classless metrics."""
    present = {(k.suite, k.metric, k.klass) for k in keys}
    chosen = [("rl", m, "total") for m in HEADLINE_METRICS if ("rl", m, "total") in present]
    if not chosen:
        chosen = list(dict.fromkeys((k.suite, k.metric, k.klass) for k in keys if not k.klass))
    return chosen[:MAX_COLUMNS]


def headline_rows(cells: Sequence[Cell], keys: Sequence[MetricKey]) -> list[tuple[str, str, list[Estimate]]]:
    """(cell label, controller, one estimate per headline column) for every cell and controller."""
    columns = headline_keys(keys)
    controllers = list(dict.fromkeys(k.controller for k in keys if (k.suite, k.metric, k.klass) in columns))
    rows = []
    for cell in cells:
        for controller in controllers:
            row = [cell.estimate(MetricKey(s, m, controller, c))[0] for s, m, c in columns]
            if any(e.n for e in row):
                rows.append((cell.label(), controller, row))
    return rows


def render_html(summary: dict, cells: Sequence[Cell], keys: Sequence[MetricKey],
                paired: Sequence[dict], figures: Sequence[str], notes: Sequence[str],
                links: MemberLinks | None = None) -> str:  # fmt: skip
    """The one-page report of a sweep (paths in ``summary`` and ``figures`` relative to it)."""
    status = summary["status"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>sweep {escape(summary['name'])}"
             f"</title><style>{_STYLE}</style></head><body>",
             f"<h1>Sweep {escape(summary['name'])}</h1><p>id <code>{escape(summary['sweep_id'])}</code>"
             f" &middot; status <b class='{escape(status)}'>{escape(status)}</b> &middot; "
             f"{len(summary['members'])} members &middot; generated {escape(summary['generated_at'])}</p>",
             "<p>Data: <a href='metrics.csv'>metrics.csv</a> (every metric per member), "
             "<a href='cells.csv'>cells.csv</a> (per cell: mean and 95% CI over seeds), "
             "<a href='paired.csv'>paired.csv</a> (paired differences on shared draws), "
             "<a href='latex/cells.tex'>latex/cells.tex</a>.</p>",
             _members_html(summary["members"], links or MemberLinks()), _cells_html(cells, keys), _paired_html(paired)]  # fmt: skip
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    if figures:
        parts.append("<h2>Figures</h2>" + "".join(
            f"<a href='{escape(f)}'><img src='{escape(f)}' alt='{escape(f)}'></a>" for f in figures))
    return "\n".join(parts) + "\n</body></html>\n"


def _members_html(members: Sequence[dict], links: MemberLinks) -> str:
    keys = list(dict.fromkeys(k for m in members for k in m["matrix"]))
    head = "".join(f"<th>{escape(h)}</th>" for h in ["member", *keys, "job", "status", "result", "report", "message"])
    rows = []
    for m in members:
        link = (f"<a href='{escape(m['results_dir'])}/report.html'>report</a>"
                if m["member_id"] in links.reports else "&mdash;")  # fmt: skip
        cells = [m["member_id"], *(value_text(m["matrix"].get(k, "")) for k in keys),
                 m["job_id"] or "not pushed", m["status"] or "-"]  # fmt: skip
        result = m["result"] or "not run"
        rows.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells)
                    + f"<td class='{escape(result)}'>{escape(result)}</td><td>{link}</td>"
                    f"<td class='failed'>{escape(_why(m, links))}</td></tr>")  # fmt: skip
    return f"<h2>Members</h2><table><tr>{head}</tr>{''.join(rows)}</table>"


def _why(member: dict, links: MemberLinks) -> str:
    """The scheduler's message, and the member's own reason from its summary when it adds one."""
    parts = [member["message"], links.reasons.get(member["member_id"], "")]
    return " — ".join(p for p in dict.fromkeys(parts) if p)


def _cells_html(cells: Sequence[Cell], keys: Sequence[MetricKey]) -> str:
    columns = headline_keys(keys)
    if not columns:
        return "<h2>Cells</h2><p>No member has metrics (nothing was pulled).</p>"
    head = "".join(f"<th>{escape(m + (f' ({c})' if c else ''))}</th>" for _, m, c in columns)
    body = "".join(f"<tr><td>{escape(label)}</td><td>{escape(controller or '-')}</td>"
                   + "".join(f"<td>{escape(e.text())} <small>n={e.n}</small></td>" for e in row) + "</tr>"
                   for label, controller, row in headline_rows(cells, keys))  # fmt: skip
    return ("<h2>Cells (mean ± 95% CI over seeds; n/a from one seed)</h2>"
            f"<table><tr><th>cell</th><th>controller</th>{head}</tr>{body}</table>")


def _paired_html(paired: Sequence[dict]) -> str:
    if not paired:
        return "<h2>Paired differences</h2><p>No two members differing in one key share evaluation draws.</p>"
    shown = [r for r in paired if r["significant"] is True and r["class"] in ("", "total")]
    body = "".join(
        f"<tr><td>{escape(r['member_b'])} − {escape(r['member_a'])}</td><td>{escape(r['varied'])}: "
        f"{escape(r['value_a'])} → {escape(r['value_b'])}</td><td>{escape(r['controller'])}</td>"
        f"<td>{escape(r['metric'])}</td><td>{number_text(r['mean_diff'])} ± {_half(r['ci95'])}</td>"
        f"<td>{r['n_draws']}</td><td>{number_text(r['p_value'])}</td></tr>" for r in shown)
    return (f"<h2>Paired differences</h2><p>{len(paired)} rows in paired.csv; the {len(shown)} "
            "significant at 5% (class total) are listed.</p><table><tr><th>pair</th><th>varied</th>"
            f"<th>controller</th><th>metric</th><th>mean ± 95% CI</th><th>draws</th><th>p</th></tr>{body}</table>")


def _half(value: Any) -> str:
    return "n/a" if value == "" else number_text(float(value))


def render_latex(name: str, cells: Sequence[Cell], keys: Sequence[MetricKey]) -> str:
    """A standalone LaTeX document: cells x headline metrics, ``$m \\pm h$`` (``$m$`` from one seed)."""
    columns = headline_keys(keys)
    header = " & ".join(_tex(h) for h in ["cell", "controller", *(m + (f" ({c})" if c else "") for _, m, c in columns)])
    body = [" & ".join([_tex(label), _tex(controller or "-"), *(_tex_estimate(e) for e in row)]) + r" \\"
            for label, controller, row in headline_rows(cells, keys)]  # fmt: skip
    return "\n".join([
        r"\documentclass[11pt]{article}", r"\usepackage[margin=1.5cm,landscape]{geometry}",
        r"\usepackage{booktabs}", r"\pagestyle{empty}", r"\begin{document}", r"\begin{table}[ht]",
        r"\centering", rf"\caption{{Sweep {_tex(name)}: mean and 95\% CI over seeds per cell "
        r"(a value without $\pm$ comes from one seed).}",
        r"\label{tab:sweep-cells}", rf"\begin{{tabular}}{{ll{'r' * len(columns)}}}", r"\toprule",
        header + r" \\", r"\midrule", *body, r"\bottomrule", r"\end{tabular}", r"\end{table}",
        r"\end{document}",
    ]) + "\n"  # fmt: skip


def _tex_estimate(e: Estimate) -> str:
    if e.n == 0:
        return "--"
    spread = "" if math.isnan(e.ci95) else rf" \pm {_tex_number(e.ci95)}"
    return f"${_tex_number(e.mean)}{spread}$"


def _tex_number(value: float) -> str:
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa}\\times10^{{{int(exponent)}}}"
    return f"{value:,.0f}".replace(",", "{,}") if abs(value) >= 999.5 else f"{value:.3g}"


_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip


def _tex(text: str) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))
