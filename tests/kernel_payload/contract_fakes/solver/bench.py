"""Contract fake of solver.bench: two fixed rows."""

from dataclasses import dataclass


@dataclass
class BenchReport:
    rows: list

    def to_dict(self):
        return {"rows": self.rows}

    def to_markdown(self):
        return ""


def run_bench(quick=True, progress=None):
    rows = [
        {
            "case": "road200",
            "backend": "numpy",
            "reconstruction": "weno5",
            "cells": 200,
            "batch": 1,
            "threads": 1,
            "us_per_step": 900.0,
            "cell_updates_per_s": 2.2e5,
            "sim_s_per_wall_s": None,
        },
        {
            "case": "road200",
            "backend": "numba-cpu",
            "reconstruction": "weno5",
            "cells": 200,
            "batch": 1,
            "threads": 1,
            "us_per_step": 40.0,
            "cell_updates_per_s": 5.0e6,
            "sim_s_per_wall_s": 120.0,
        },
    ]
    if progress:
        progress("cases", 2, 2)
    return BenchReport(rows)
