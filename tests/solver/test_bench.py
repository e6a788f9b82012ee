"""Benchmark rows: the contract keys, consistent figures, and the headline summary."""

from __future__ import annotations

import pytest

from solver.bench import (
    INTERVAL,
    SUMO_RL_REFERENCE_SIM_S_PER_WALL_S,
    BenchReport,
    measure_corridor_network,
    measure_corridor_road,
    measure_intersection,
    measure_road,
    summarize,
)

KEYS = {"case", "backend", "reconstruction", "cells", "batch", "threads", "us_per_step",
        "cell_updates_per_s", "sim_s_per_wall_s"}  # fmt: skip


def test_road_rows_are_consistent():
    one = measure_road(200, "weno5", batch=1, threads=1, repeats=1, target_s=0.005)
    two = measure_road(200, "weno5", batch=4, threads=2, repeats=1, target_s=0.005)
    for row in (one, two):
        assert set(row) == KEYS and row["us_per_step"] > 0
        per_step = row["cells"] * row["batch"] / (row["us_per_step"] * 1e-6)
        assert row["cell_updates_per_s"] == pytest.approx(per_step, rel=1e-9)
    summary = summarize([one, {**one, "reconstruction": "first_order"}, two], cores=2)
    assert summary["weno5_200_us_per_step_one_core"] == one["us_per_step"]
    ratio = two["cell_updates_per_s"] / one["cell_updates_per_s"]
    assert summary["batched_speedup_weno5_200"] == pytest.approx(ratio)
    assert "| road | numba-cpu | weno5 | 200 | 1 | 1 |" in BenchReport([one], summary).to_markdown()


def test_seed_corridor_rows_cover_one_interval():
    road = measure_corridor_road(repeats=1)
    net = measure_corridor_network(intervals=2)
    assert road["sim_s_per_wall_s"] > 0 and net["sim_s_per_wall_s"] > 0
    assert road["cells"] == 200 and net["cells"] >= 208
    summary = summarize([measure_road(200, "weno5", 1, 1, 1, 0.002), road, net], cores=1)
    assert summary["seed_corridor_road_ms_per_60s"] == pytest.approx(1e3 * INTERVAL / road["sim_s_per_wall_s"])


def test_intersection_rows_and_sumo_rl_ratio():
    one = measure_intersection(batch=1, threads=1, repeats=1, intervals=2)
    two = measure_intersection(batch=2, threads=2, repeats=1, intervals=2)
    for row in (one, two):
        assert set(row) == KEYS and row["cells"] == 160 and row["sim_s_per_wall_s"] > 0
        per_step = row["cells"] * row["batch"] / (row["us_per_step"] * 1e-6)
        assert row["cell_updates_per_s"] == pytest.approx(per_step, rel=1e-9)
    summary = summarize([measure_road(200, "weno5", 1, 1, 1, 0.002), one, two], cores=2)
    ref = SUMO_RL_REFERENCE_SIM_S_PER_WALL_S
    assert summary["intersection_4arm_sim_s_per_wall_s_one_core"] == one["sim_s_per_wall_s"]
    assert summary["intersection_4arm_vs_sumo_rl_batch_all_cores"] == pytest.approx(two["sim_s_per_wall_s"] / ref)
