"""Studies: what ``arz sweep`` and ``arz compare`` compute from verified results folders.

- :mod:`~orchestrator.study.stats` -- mean and 95 % Student-t interval, Welch and paired t tests;
- :mod:`~orchestrator.study.members` -- one results folder read as metric rows and per-draw values;
- :mod:`~orchestrator.study.tables` -- per-member, per-cell and paired rows of a sweep;
- :mod:`~orchestrator.study.figures`, :mod:`~orchestrator.study.report` -- PNGs, LaTeX, report.html;
- :mod:`~orchestrator.study.outputs` -- atomic writes (temp file, then rename);
- :mod:`~orchestrator.study.aggregate` -- ``aggregate_sweep``, the call the sweep scheduler makes;
- :mod:`~orchestrator.study.compare` -- ``arz compare A B`` (:mod:`~orchestrator.study.compare_view`
  prints it).

Nothing here imports the solver, rl, numba or torch; scipy and matplotlib load inside functions.
"""
