"""The ``verify`` suite's figures, drawn from its ``verification.json`` (in process or as a worker).

``python -m kernel_payload.suites.verify_figures DATA FIGURES`` draws ``convergence.png`` and one
``profile_<case>.png`` per sample of the report dict in ``DATA`` (what
:meth:`solver.verification.report.VerificationReport.to_dict` writes) into ``FIGURES``. The suite
runs it in a background process while the next suite starts (:mod:`kernel_payload.background`);
run alone, the suite calls :func:`draw` itself on the same dict, so both ways give the same files.
Each figure is written under :func:`kernel_payload.background.partial_name` and renamed into place,
so a worker stopped half-way leaves no truncated PNG.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from functools import partial
from pathlib import Path

from kernel_payload import figures
from kernel_payload.background import partial_name


def draw(report: dict, figures_dir: Path) -> list[Path]:
    """Draw the convergence plot and every profile of ``report`` into ``figures_dir``; return the files.

    Args:
        report: a verification report as a dict (``ladders``: name, cells, l1 with None or NaN for
            a failed run; ``samples``: label, x, numeric, exact per case).
        figures_dir: output folder (created).
    """
    figures_dir.mkdir(parents=True, exist_ok=True)
    plots = {}
    ladders = [(lad["name"], lad["cells"], [_number(e) for e in lad["l1"]]) for lad in report.get("ladders", [])]
    if ladders:
        plots["convergence.png"] = partial(figures.plot_convergence, ladders, title="Observed convergence (L1 error)")
    for key, sample in report.get("samples", {}).items():
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", key).strip("_") or "sample"
        x, numeric, exact = ([_number(v) for v in sample[k]] for k in ("x", "numeric", "exact"))
        plots[f"profile_{name}.png"] = partial(figures.plot_profile, x, numeric, exact, sample["label"])
    written = []
    for file, plot in plots.items():
        path, hidden = figures_dir / file, partial_name(figures_dir / file)
        plot(path=hidden)
        os.replace(hidden, path)
        written.append(path)
    return written


def _number(value) -> float:
    return math.nan if value is None else float(value)


def main(argv: list[str] | None = None) -> int:
    """``DATA FIGURES``: draw the figures of the report in ``DATA`` into ``FIGURES``; exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m kernel_payload.suites.verify_figures DATA.json FIGURES_DIR", file=sys.stderr)
        return 2
    start = time.perf_counter()
    report = json.loads(Path(args[0]).read_text())
    written = draw(report, Path(args[1]))
    print(f"{len(written)} figures drawn in {time.perf_counter() - start:.1f} s (matplotlib included)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
