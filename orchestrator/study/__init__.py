"""Studies: what ``arz sweep`` computes from its members' verified results folders.

In this branch only :mod:`~orchestrator.study.aggregate` (``aggregate_sweep``, the call the sweep
scheduler makes) exists, in a minimal form; the full aggregation and ``arz compare`` arrive with
the compare14 branch, whose package docstring replaces this one.
"""
