"""scripts/results_table.py: the docs' results table from a results folder, numbers checked by hand."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kernel_payload.schema import SessionSummary, SuiteResult
from kernel_payload.tables import write_csv
from scripts import results_table

ROOT = Path(__file__).resolve().parents[2]

# delay per vehicle on three shared draws; random has the least delay but is never the baseline
DELAYS = {"ppo (seed 0)": [40.0, 45.0, 50.0], "ppo (seed 1)": [90.0, 100.0, 110.0],
          "actuated-gap": [50.0, 50.0, 50.0], "fixed-time": [100.0, 90.0, 95.0], "random": [10.0, 10.0, 10.0]}


def results_folder(root: Path, env: str = "ARZ-Intersection-v0", delays: dict | None = None) -> Path:
    """A pulled results folder as the rl suite writes it (frame + session summary)."""
    rows = []
    for controller, values in (delays or DELAYS).items():
        for d, v in enumerate(values):
            starved = float(controller == "fixed-time" and d == 0)
            throughput = (1000.0 + d) * (0.98 if controller == "ppo (seed 1)" else 1.0)
            for metric, value in (("delay_per_vehicle_s", v), ("p95_delay_s", 2 * v), ("longest_wait_s", 3 * v),
                                  ("starved", starved), ("throughput_veh", throughput)):
                rows.append({"controller": controller, "draw": 2_001_000 + d, "metric": metric, "class": "total",
                             "value": value})
    write_csv(root / "rl" / "data" / "metrics" / "evaluation_draws.csv", rows,
              ["controller", "draw", "metric", "class", "value"])
    suite = SuiteResult(name="rl", status="succeeded",
                        metrics={"rl_env": env, "ppo_timesteps": 300_000, "rl_n_envs": 8, "rl_preset": "cpu",
                                 "rl_device": "cpu"})
    summary = SessionSummary(job_id="j", job_name="rl-validation", started_at=datetime.now(timezone.utc),
                             suites=[suite])
    (root / "session_summary.json").write_text(summary.model_dump_json())
    return root


def _row(text: str, controller: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith(f"| {controller} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_the_table_compares_with_the_best_classical_controller_draw_by_draw(tmp_path):
    text = results_table.table_markdown(results_folder(tmp_path / "job"))
    assert "ARZ-Intersection-v0: 3 held-out demand draws; PPO 300,000 steps per training seed on 8 copies" in text
    assert "vs best classical: actuated-gap (paired, %)" in text  # not random, not fixed-time
    ppo = _row(text, "ppo (seed 0)")
    # per draw 40/50-1, 45/50-1, 50/50-1 = -20 %, -10 %, 0 %: mean -10 %, sd 10 %, t(0.975, 2) = 4.303
    half = 4.303 * 10.0 / 3 ** 0.5
    assert ppo[2] == f"-10.0 % [{-10.0 - half:+.1f}, {-10.0 + half:+.1f}]"
    assert ppo[1].startswith("45 ± ") and ppo[3].startswith("90 ± ") and ppo[4].startswith("135 ± ")
    assert ppo[5] == "0/3" and ppo[6] == "1,001 ± 2.48"  # 1000, 1001, 1002: t(0.975, 2) sd / sqrt(3)
    assert ppo[7] == "+0.0 % [+0.0, +0.0]"  # the same throughput on every draw
    assert _row(text, "ppo (seed 1)")[2].startswith("+100.0 %")
    assert _row(text, "ppo (seed 1)")[7] == "-2.0 % [-2.0, -2.0]"  # 2 % fewer vehicles on every draw
    assert _row(text, "actuated-gap")[2] == "-"
    assert _row(text, "fixed-time")[5] == "1/3"
    # headroom: per draw the least delay; classical only: actuated-gap's 50 every draw (0 %); every
    # controller but random: ppo seed 0's 40, 45, 50 (-20, -10, 0 %: seed 0's own figure)
    headroom = next(line for line in text.splitlines() if line.startswith("Headroom"))
    assert "per-draw best classical controller +0.0 % [+0.0, +0.0]" in headroom
    assert f"PPO seeds included, -10.0 % [{-10.0 - half:+.1f}, {-10.0 + half:+.1f}]" in headroom


def test_a_sweep_folder_gives_one_table_per_member(tmp_path, capsys):
    for member, env in (("m01", "ARZ-Intersection-v0"), ("m02", "ARZ-Arterial-v0")):
        results_folder(tmp_path / "sweep" / "members" / member, env)
    assert results_table.main([str(tmp_path / "sweep")]) == 0
    out = capsys.readouterr().out
    assert out.index("#### ARZ-Intersection-v0") < out.index("#### ARZ-Arterial-v0")
    assert out.count("| ppo (seed 0) |") == 2


@pytest.mark.parametrize("make", [lambda p: p, lambda p: (p / "members" / "m01").mkdir(parents=True) or p])
def test_a_folder_without_an_evaluation_is_one_line_and_exit_2(tmp_path, make):
    folder = make(tmp_path / "empty")
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "scripts.results_table", str(folder)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "rl/data/metrics/evaluation_draws.csv" in proc.stderr and "results folder" in proc.stderr


def test_merge_makes_one_table_from_jobs_that_trained_other_seeds(tmp_path, capsys):
    first = results_folder(tmp_path / "a", delays={k: v for k, v in DELAYS.items() if k != "ppo (seed 1)"})
    later = {**{k: v for k, v in DELAYS.items() if k != "ppo (seed 0)"}, "ppo (seed 10)": [45.0, 45.0, 45.0]}
    second = results_folder(tmp_path / "b", delays=later)
    assert results_table.main(["--merge", str(second), str(first)]) == 0
    out = capsys.readouterr().out
    assert out.count("#### ") == 1 and "_Source: `b`, `a`; generated by `python -m scripts.results_table --merge`" in out
    lines = [x.split("|")[1].strip() for x in out.splitlines() if x.startswith("| ppo")]
    assert lines == ["ppo (seed 0)", "ppo (seed 1)", "ppo (seed 10)"]  # seeds together, in order
    # each row is what the folder alone gives: the comparison is the same draw by draw
    alone = results_table.table_markdown(first)
    assert _row(out, "ppo (seed 0)") == _row(alone, "ppo (seed 0)")
    assert _row(out, "actuated-gap") == _row(alone, "actuated-gap")


@pytest.mark.parametrize("change, match", [
    ({"actuated-gap": [50.0, 50.0, 51.0]}, "actuated-gap delay_per_vehicle_s"),  # not the same evaluation
    ({"ppo (seed 0)": [1.0, 1.0, 1.0]}, "ppo \\(seed 0\\) appear"),  # the same seed twice
])
def test_merge_refuses_folders_that_did_not_evaluate_the_same_thing(tmp_path, capsys, change, match):
    first = results_folder(tmp_path / "a")
    classical = {k: v for k, v in DELAYS.items() if not k.startswith("ppo")}
    second = results_folder(tmp_path / "b", delays={**classical, "ppo (seed 5)": [45.0] * 3, **change})
    assert results_table.main(["--merge", str(first), str(second)]) == 2
    assert re.search(match, capsys.readouterr().err)


def test_merge_refuses_another_environment(tmp_path, capsys):
    first = results_folder(tmp_path / "a")
    second = results_folder(tmp_path / "b", env="ARZ-Arterial-v0")
    assert results_table.main(["--merge", str(first), str(second)]) == 2
    assert "same environment and recipe" in capsys.readouterr().err
