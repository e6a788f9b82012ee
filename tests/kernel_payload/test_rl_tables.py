"""The RL pivot tables against hand calculations, the smoke caveat, and their place in the report."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from kernel_payload import latex, rl_tables
from kernel_payload.report import render_report
from kernel_payload.schema import SessionSummary, SuiteResult
from kernel_payload.tables import write_csv

T2 = 4.302652729911275  # Student t, 97.5 %, 2 degrees of freedom (tables)
PPO, FIXED = "ppo (seed 0)", "fixed-time"


def frame() -> list[dict]:
    """Three paired draws; fixed-time also ran a fourth that PPO did not (it must not be paired)."""
    values = {PPO: {"a": 10.0, "b": 12.0, "c": 14.0}, FIXED: {"a": 15.0, "b": 13.0, "c": 20.0, "d": 99.0}}
    rows = [{"controller": c, "draw": d, "metric": "delay_per_vehicle_s", "class": "total", "value": v}
            for c, per in values.items() for d, v in per.items()]
    queue = {PPO: (120.0, 130.0, 140.0), FIXED: (400.0, 400.0, 250.0)}  # the link is 400 m long
    for c, qs in queue.items():
        for d, q in zip("abc", qs, strict=True):
            rows.append({"controller": c, "draw": d, "metric": "max_queue_m", "class": "total", "value": q})
            rows.append({"controller": c, "draw": d, "metric": "max_queue_full", "class": "total",
                         "value": float(q >= 400.0)})
    return rows


def test_pivot_means_and_intervals_match_a_hand_calculation():
    table = rl_tables.pivot(frame())
    assert list(table) == [PPO, FIXED]
    ppo = table[PPO]["delay / veh (s)"]  # 10, 12, 14: mean 12, sd 2
    assert (ppo.mean, ppo.n) == (12.0, 3) and ppo.ci95 == pytest.approx(T2 * 2 / math.sqrt(3))
    fixed = table[FIXED]["delay / veh (s)"]  # 15, 13, 20, 99: mean 36.75, sd sqrt(((-21.75)^2+...)/3)
    sd = math.sqrt(sum((v - 36.75) ** 2 for v in (15, 13, 20, 99)) / 3)
    assert fixed.mean == 36.75 and fixed.ci95 == pytest.approx(3.182446305284263 * sd / 2)
    assert ppo.text() == "12 ± 4.97"


def test_paired_difference_uses_only_common_draws_and_matches_a_hand_calculation():
    diff = rl_tables.paired_differences(frame(), PPO)
    assert list(diff) == [FIXED]
    cell = diff[FIXED]["delay / veh (s)"]  # 5, 1, 6: mean 4, sd sqrt(7)
    assert (cell.mean, cell.n) == (4.0, 3) and cell.ci95 == pytest.approx(T2 * math.sqrt(7) / math.sqrt(3))


def test_a_queue_that_filled_its_link_is_flagged_as_a_ceiling():
    table = rl_tables.pivot(frame())
    assert table[FIXED]["max queue (m)"].full == 2 and table[PPO]["max queue (m)"].full == 0
    assert table[FIXED]["max queue (m)"].text().startswith("≥ 350 ± ")
    assert "fixed-time (2/3 draws)" in rl_tables.ceiling_note(table)
    assert latex.mean_ci(table[FIXED]["max queue (m)"]).startswith(r"$\geq 350 \pm ")


def test_the_smoke_caveat_appears_below_the_threshold_only():
    assert "8,192 steps only" in rl_tables.smoke_caveat(8192)
    assert rl_tables.smoke_caveat(rl_tables.SMOKE_TIMESTEPS - 1) is not None
    assert rl_tables.smoke_caveat(rl_tables.SMOKE_TIMESTEPS) is None
    assert rl_tables.smoke_caveat(None) is None


def rl_report(tmp_path, timesteps: int) -> str:
    write_csv(tmp_path / "rl" / "data" / "metrics" / "evaluation_draws.csv", frame())
    suite = SuiteResult(name="rl", status="succeeded", metrics={"ppo_timesteps": timesteps})
    summary = SessionSummary(job_id="j", job_name="quickstart", job_description="a short PPO run",
                             started_at=datetime.now(timezone.utc), suites=[suite])  # fmt: skip
    return render_report(summary, tmp_path)


def test_the_report_shows_the_pivots_the_caveat_and_the_description(tmp_path):
    small = rl_report(tmp_path, 8192)
    assert 'class="caveat"' in small and "PPO trained for 8,192 steps only" in small
    assert "Controllers (mean ± 95 % CI over 3–4 demand draws)" in small
    assert "<th>fixed-time</th>" in small and "4 ± 6.57" in small  # the paired difference
    assert 'class="num ceiling"' in small and "≥ L: the queue filled" in small
    assert '<p class="description">a short PPO run</p>' in small
    assert "evaluation_draws.csv" not in small.split("other files")[0]  # listed, not tabulated
    big = rl_report(tmp_path, 1_000_000)
    assert "caveat" not in big.split("</style>")[1] and "Paired difference" in big


def test_cells_read_as_plain_numbers():
    cell = rl_tables.Cell(-93.6, 999.7, 2)
    assert cell.text() == "-93.6 ± 1,000" and rl_tables.Cell(4330.2, 2634.4, 2).text() == "4,330 ± 2,634"
    assert latex.mean_ci(rl_tables.Cell(4330.2, 1398.4, 2)) == r"$4{,}330 \pm 1{,}398$"  # no 1.4e+03


def test_ppo_relative_to_each_baseline_matches_a_hand_calculation():
    rel = rl_tables.relative_vs_baselines(frame())
    per_draw = [10 / 15 - 1, 12 / 13 - 1, 14 / 20 - 1]  # draw d: fixed-time only, not paired
    mean = sum(per_draw) / 3
    sd = math.sqrt(sum((r - mean) ** 2 for r in per_draw) / 2)
    cell = rel[PPO][FIXED]
    assert list(rel) == [PPO] and list(rel[PPO]) == [FIXED]
    assert cell.n == 3 and cell.mean == pytest.approx(mean) and cell.ci95 == pytest.approx(T2 * sd / math.sqrt(3))
    lo, hi = 100 * (mean - cell.ci95), 100 * (mean + cell.ci95)
    assert rl_tables.percent(cell) == f"{100 * mean:+.1f} % [{lo:+.1f}, {hi:+.1f}]"


def test_per_approach_rows_from_service_csv_old_and_new():
    new = {"controller": PPO, "approach": "N_in", "longest_wait_mean_s": "40.5", "starved_draws": "1",
           "draws": "20", "p95_delay_mean_s": "61.25", "served_veh_mean": "812.0"}
    old = {k: v for k, v in new.items() if k not in ("p95_delay_mean_s", "served_veh_mean")}
    assert rl_tables.approach_rows([new, old]) == [[PPO, "N_in", 61.25, 40.5, "1/20", 812.0],
                                                   [PPO, "N_in", None, 40.5, "1/20", None]]


def test_the_report_shows_ppo_against_each_baseline_and_the_approach_table(tmp_path):
    write_csv(tmp_path / "rl" / "data" / "metrics" / "service.csv",
              [{"controller": PPO, "approach": "E_in", "longest_wait_mean_s": 40.0, "longest_wait_max_s": 50.0,
                "starvation_threshold_s": 120.0, "starved_draws": 2, "draws": 3, "p95_delay_mean_s": 77.7,
                "p95_delay_max_s": 90.0, "served_veh_mean": 512.0}],
              ["controller", "approach", "longest_wait_mean_s", "longest_wait_max_s", "starvation_threshold_s",
               "starved_draws", "draws", "p95_delay_mean_s", "p95_delay_max_s", "served_veh_mean"])
    page = rl_report(tmp_path, 1_000_000)
    assert "relative to each classical controller" in page and "<th>vs fixed-time</th>" in page
    assert rl_tables.percent(rl_tables.relative_vs_baselines(frame())[PPO][FIXED]) in page
    assert "Service per approach" in page and "77.7" in page and 'class="num ceiling">2/3' in page


def test_fewer_than_twenty_draws_is_a_preview(tmp_path):
    assert "3 held-out demand draws only" in rl_tables.draws_note(rl_tables.pivot(frame()))
    twenty = [{"controller": c, "draw": d, "metric": "delay_per_vehicle_s", "class": "total", "value": 1.0 + d}
              for c in (PPO, FIXED) for d in range(rl_tables.PUBLISHED_DRAWS)]
    assert rl_tables.draws_note(rl_tables.pivot(twenty)) is None
    assert rl_tables.draws_note(rl_tables.pivot(twenty[:-1])) is not None  # fixed-time has 19
    write_csv(tmp_path / "rl" / "data" / "metrics" / "evaluation_draws.csv", twenty[:-1])
    suite = SuiteResult(name="rl", status="succeeded", metrics={"ppo_timesteps": 300_000})
    summary = SessionSummary(job_id="j", job_name="v", started_at=datetime.now(timezone.utc), suites=[suite])
    assert "a preview, not a published figure" in render_report(summary, tmp_path)
