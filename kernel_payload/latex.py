"""Results tables as LaTeX documents that compile on their own (``pdflatex table.tex``).

Each file is a complete ``article`` document with one ``booktabs`` table, so it can be compiled as
is or its ``table`` environment pasted into a paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "≥": r"$\geq$", "≤": r"$\leq$", "±": r"$\pm$", "—": "---", "–": "--", "…": r"\ldots{}",
}  # fmt: skip


class Raw(str):
    """A cell that is LaTeX already (e.g. ``$1.2 \\pm 0.3$``): written as is, not escaped."""


def mean_ci(cell: Any) -> str:
    """``$m \\pm h$`` for an object with ``mean``, ``ci95`` and ``full`` (a queue at its ceiling gets
    ``\\geq``; without a half-width, from a single draw, the mean alone)."""
    mark = r"\geq " if getattr(cell, "full", 0) else ""
    spread = "" if math.isnan(cell.ci95) else rf" \pm {_plain_number(cell.ci95)}"
    return f"${mark}{_plain_number(cell.mean)}{spread}$"


def _plain_number(value: float) -> str:
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa}\\times10^{{{int(exponent)}}}"
    if abs(value) >= 999.5:  # .3g would print 1.4e+03
        return f"{value:,.0f}".replace(",", "{,}")
    return f"{value:.3g}"


def escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def format_cell(value: Any) -> str:
    """Format one cell: numbers to 3 significant digits (``$a\\times10^{b}$`` when tiny or huge),
    booleans as yes/no, None and NaN as ``--``, anything else as escaped text."""
    if value is None:
        return "--"
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:d}"
    if isinstance(value, float):
        if math.isnan(value):
            return "--"
        if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
            mantissa, exponent = f"{value:.2e}".split("e")
            return f"${mantissa}\\times10^{{{int(exponent)}}}$"
        if abs(value) >= 999.5:  # .3g would print 1.23e+03
            return f"{value:,.0f}".replace(",", "{,}")
        return f"{value:.3g}"
    return escape(value)


def render_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], caption: str, label: str
) -> str:
    """A standalone LaTeX document holding one table.

    Args:
        columns: column headers (plain text, escaped here).
        rows: one sequence of cell values per row, as long as ``columns``.
        caption: table caption (plain text).
        label: ``\\label`` key, e.g. ``tab:verify-checks``.

    Returns:
        The document source.
    """
    align = "l" + "r" * (len(columns) - 1)
    body = [" & ".join(format_cell(cell) for cell in row) + r" \\" for row in rows]
    lines = [
        r"\documentclass[11pt]{article}",
        r"\usepackage[margin=1.5cm,landscape]{geometry}",
        r"\usepackage{booktabs}",
        r"\pagestyle{empty}",
        r"\begin{document}",
        r"\begin{table}[ht]",
        r"\centering",
        rf"\caption{{{escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(escape(c) for c in columns) + r" \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
        r"\end{document}",
    ]
    return "\n".join(lines) + "\n"


def write_table(
    path: Path,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    caption: str,
    label: str,
) -> Path:
    """Write :func:`render_table` to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_table(columns, rows, caption, label))
    return path
