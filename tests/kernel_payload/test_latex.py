"""LaTeX tables: escaped text, readable numbers, a document that compiles on its own."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kernel_payload.latex import escape, format_cell, render_table, write_table


def test_escape_special_characters():
    assert escape("a_b & 50% #1 {x} $y ~ ^ \\") == (
        r"a\_b \& 50\% \#1 \{x\} \$y \textasciitilde{} \textasciicircum{} \textbackslash{}"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5e-4, r"$1.50\times10^{-4}$"), (3.14159, "3.14"), (250000.0, r"$2.50\times10^{5}$"),
     (1234.6, "1{,}235"), (12, "12"), (True, "yes"), (None, "--"), (float("nan"), "--"), ("weno5_sine", r"weno5\_sine")],
)  # fmt: skip
def test_cells(value, text):
    assert format_cell(value) == text


def test_document_structure():
    tex = render_table(
        ["case", "L1 error"], [["shock_1", 1e-3], ["rare", 2e-4]], "Errors & orders", "tab:x"
    )
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert r"\begin{tabular}{lr}" in tex and r"\caption{Errors \& orders}" in tex
    assert tex.count(r" \\") == 3  # header + two rows
    assert r"shock\_1 & $1.00\times10^{-3}$ \\" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_compiles_with_pdflatex(tmp_path):
    path = write_table(tmp_path / "t.tex", ["a_b", "c"], [["x%", 1.5e-7]], "cap_tion", "tab:t")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", path.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and (tmp_path / "t.pdf").is_file(), proc.stdout[-2000:]
