"""Benchmark rows: the contract keys, consistent figures, and the headline summary."""

from __future__ import annotations

import pytest

from solver.bench.runner import (
    COLUMN_UNITS,
    INTERVAL,
    BenchReport,
    compare_with_sumo_rl,
    measure_corridor_network,
    measure_corridor_road,
    measure_intersection,
    measure_road,
    summarize,
)

KEYS = set(COLUMN_UNITS)


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
    assert two["batch_sim_s_per_wall_s"] == pytest.approx(4 * two["sim_s_per_wall_s"])
    table = BenchReport([one], summary).to_markdown()
    assert "| road | numba-cpu | weno5 | 200 | 1 | 1 |" in table
    assert "sim_s_per_wall_s (simulated s per wall s, per copy)" in table


def test_seed_corridor_rows_cover_one_interval():
    road = measure_corridor_road(repeats=1)
    net = measure_corridor_network(intervals=2)
    assert road["sim_s_per_wall_s"] > 0 and net["sim_s_per_wall_s"] > 0
    assert road["cells"] == 200 and net["cells"] >= 208
    summary = summarize([measure_road(200, "weno5", 1, 1, 1, 0.002), road, net], cores=1)
    assert summary["seed_corridor_road_ms_per_60s"] == pytest.approx(1e3 * INTERVAL / road["sim_s_per_wall_s"])


def test_intersection_rows_and_the_sumo_rl_comparison():
    one = measure_intersection(batch=1, threads=1, episodes=2, seconds=20.0)
    two = measure_intersection(batch=2, threads=2, episodes=2, seconds=20.0)
    for row in (one, two):
        assert KEYS <= set(row) and row["cells"] == 160 and row["sim_s_per_wall_s"] > 0
        assert row["episode_s"] == 20.0 and row["mean_vehicles"] > 0
        per_step = row["cells"] * row["batch"] / (row["us_per_step"] * 1e-6)
        assert row["cell_updates_per_s"] == pytest.approx(per_step, rel=1e-9)
    assert two["batch_sim_s_per_wall_s"] == pytest.approx(2 * two["sim_s_per_wall_s"])
    summary = summarize([measure_road(200, "weno5", 1, 1, 1, 0.002), one, two], cores=2)
    assert summary["intersection_4arm_sim_s_per_wall_s_one_core"] == one["sim_s_per_wall_s"]
    assert summary["intersection_4arm_sim_s_per_wall_s_batch_all_cores"] == two["batch_sim_s_per_wall_s"]
    missing = compare_with_sumo_rl([one, two], {"omitted": "sumo-rl not installed: pip install '.[bench]'"})
    assert missing == {"sumo_rl_omitted": "sumo-rl not installed: pip install '.[bench]'"}
    sumo = {"sim_s_per_wall_s": 4000.0, "mean_vehicles": 30.0, "episodes": 5, "episode_s": 3600.0}
    ratios = compare_with_sumo_rl([one, two], sumo)
    assert ratios["intersection_4arm_vs_sumo_rl_batch_all_cores"] == pytest.approx(two["batch_sim_s_per_wall_s"] / 4000.0)
    assert ratios["sumo_rl_mean_vehicles"] == 30.0 and "sumo_rl_omitted" not in ratios


def test_sumo_rl_is_omitted_with_the_reason_when_absent(monkeypatch, tmp_path):
    from solver.bench import sumo as bench_sumo

    monkeypatch.setenv(bench_sumo.SUMO_ENV, str(tmp_path / "no-python"))
    assert bench_sumo.measure_sumo_rl(1, 10.0) == {"omitted": bench_sumo.NOT_INSTALLED}
    assert "pip install '.[bench]'" in bench_sumo.NOT_INSTALLED
