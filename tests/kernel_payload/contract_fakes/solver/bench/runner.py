"""Contract fake of solver.bench.runner: two fixed rows."""

from dataclasses import dataclass, field


@dataclass
class BenchReport:
    rows: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def to_dict(self):
        return {"rows": self.rows, "summary": self.summary}

    def to_markdown(self):
        return ""


def run_bench(quick=True, progress=None, sumo=True, smoke=False):
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
            "batch_sim_s_per_wall_s": None,
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
            "batch_sim_s_per_wall_s": 120.0,
        },
    ]
    if progress:
        progress("cases", 2, 2)
    return BenchReport(rows, {"cores": 1, "load_average_1min_before": 0.5,
                              "intersection_4arm_sim_s_per_wall_s_one_core": 6000.0,
                              "sumo_rl_omitted": "sumo-rl not installed: pip install '.[bench]'"})
