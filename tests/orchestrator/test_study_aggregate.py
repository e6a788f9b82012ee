"""aggregate_sweep on schema-valid results folders: status, CSVs, CIs by hand, pairs, report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from orchestrator.study.aggregate import MemberResult, aggregate_sweep
from tests.orchestrator.study_folders import write_results

T975_1 = 12.706204736174707  # Student t, 97.5 %, 1 degree of freedom
INTERSECTION, ARTERIAL = "ARZ-Intersection-v0", "ARZ-Arterial-v0"


def _member(out: Path, mid: str, seed: int, env: str, draws: dict | None, result="succeeded",
            message="", pulled=True) -> MemberResult:  # fmt: skip
    folder = None
    if pulled:
        folder = write_results(out / "members" / mid, draws, job_id=f"job-{mid}", seed=seed,
                               failed=result == "failed")  # fmt: skip
    return MemberResult(mid, {"seeds": [seed], "rl.env": env}, f"job-{mid}",
                        "complete" if result == "succeeded" else "error", result, folder, message)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _four(out: Path, failed_last: bool = False) -> list[MemberResult]:
    """seeds [0],[1] x two envs; PPO delays chosen for hand computation, classical ones equal."""
    return [
        _member(out, "m01", 0, INTERSECTION, {"ppo": {2001000: 100, 2001001: 110}, "actuated": {2001000: 90, 2001001: 95}}),
        _member(out, "m02", 1, INTERSECTION, {"ppo": {2001000: 120, 2001001: 140}, "actuated": {2001000: 90, 2001001: 95}}),
        _member(out, "m03", 0, ARTERIAL, {"ppo": {2001000: 200, 2001001: 220}, "actuated": {2001000: 150, 2001001: 150}}),
        _member(out, "m04", 1, ARTERIAL, {"ppo": {2001000: 210, 2001001: 230}} if not failed_last else None,
                result="failed" if failed_last else "succeeded",
                message="rl failed: RuntimeError: boom" if failed_last else ""),
    ]  # fmt: skip


def test_four_members_succeed_with_every_file_written(tmp_path):
    out = tmp_path / "sweeps" / "local_seeds-x-env"
    summary = aggregate_sweep("seeds-x-env", "sw-1", _four(out), out)
    assert summary["status"] == "succeeded" and summary["sweep_id"] == "sw-1"
    assert [m["member_id"] for m in summary["members"]] == ["m01", "m02", "m03", "m04"]
    first = summary["members"][0]
    assert first == {"member_id": "m01", "matrix": {"seeds": [0], "rl.env": INTERSECTION},
                     "job_id": "job-m01", "status": "complete", "result": "succeeded",
                     "results_dir": "members/m01", "message": ""}  # fmt: skip
    assert json.loads((out / "sweep_summary.json").read_text())["members"] == summary["members"]
    for name in ("metrics.csv", "cells.csv", "paired.csv", "report.html", "latex/cells.tex"):
        assert (out / name).is_file(), name
    assert (out / "figures" / "rl_delay_per_vehicle_s_vs_rl.env.png").stat().st_size > 1000
    assert not list(out.rglob(".*.tmp"))  # atomic writes leave no temp file behind


def test_cell_mean_and_ci_match_a_hand_computation(tmp_path):
    out = tmp_path / "sweep"
    aggregate_sweep("s", "sw", _four(out), out)
    rows = {(r["rl.env"], r["controller"], r["metric"], r["class"]): r for r in _rows(out / "cells.csv")}
    ppo = rows[(INTERSECTION, "ppo", "delay_per_vehicle_s", "total")]
    # seed 0: mean 105, seed 1: mean 130 -> mean 117.5, sd = 25/sqrt(2), half-width t * sd / sqrt(2)
    assert int(ppo["n"]) == 2 and float(ppo["mean"]) == pytest.approx(117.5)
    assert float(ppo["ci95"]) == pytest.approx(T975_1 * 12.5, rel=1e-9)
    same = rows[(INTERSECTION, "actuated", "delay_per_vehicle_s", "total")]  # identical seeds
    assert float(same["mean"]) == pytest.approx(92.5) and float(same["ci95"]) == 0.0
    assert "seeds" not in _rows(out / "cells.csv")[0]  # cells exclude the seed key


def test_one_seed_gives_no_interval_and_a_missing_metric_stays_blank(tmp_path):
    out = tmp_path / "sweep"
    aggregate_sweep("s", "sw", _four(out), out)
    rows = {(r["rl.env"], r["controller"], r["metric"]): r for r in _rows(out / "cells.csv")}
    actuated = rows[(ARTERIAL, "actuated", "delay_per_vehicle_s")]  # only m03 ran actuated there
    assert int(actuated["n"]) == 1 and actuated["ci95"] == "" and actuated["missing"] == "m04"
    html = (out / "report.html").read_text()
    assert "150 ± n/a" in html
    tex = (out / "latex" / "cells.tex").read_text()
    assert "$150$" in tex and r"\pm" in tex and tex.rstrip().endswith(r"\end{document}")
    metrics = _rows(out / "metrics.csv")
    assert not [r for r in metrics if r["member_id"] == "m04" and r["controller"] == "actuated"]


def test_paired_differences_only_between_members_sharing_draws_and_environment(tmp_path):
    out = tmp_path / "sweep"
    aggregate_sweep("s", "sw", _four(out), out)
    rows = _rows(out / "paired.csv")
    pairs = {(r["member_a"], r["member_b"]) for r in rows}
    assert pairs == {("m01", "m02"), ("m03", "m04")}  # never across environments
    ppo = next(r for r in rows if (r["member_a"], r["controller"], r["metric"]) == ("m01", "ppo", "delay_per_vehicle_s"))
    # draw by draw: 120 - 100 = 20, 140 - 110 = 30 -> mean 25, sd 5*sqrt(2), half-width t * 5
    assert ppo["varied"] == "seeds" and int(ppo["n_draws"]) == 2
    assert float(ppo["mean_diff"]) == pytest.approx(25.0)
    assert float(ppo["ci95"]) == pytest.approx(T975_1 * 5.0, rel=1e-9)
    assert 0 < float(ppo["p_value"]) < 1 and ppo["significant"] == "False"
    same = next(r for r in rows if (r["member_a"], r["controller"], r["metric"]) == ("m01", "actuated", "delay_per_vehicle_s"))
    assert float(same["mean_diff"]) == 0.0 and float(same["p_value"]) == 1.0


def test_a_failed_member_makes_the_sweep_partial_and_is_shown(tmp_path):
    out = tmp_path / "sweep"
    members = _four(out, failed_last=True)
    summary = aggregate_sweep("s", "sw", members, out)
    assert summary["status"] == "partial"
    html = (out / "report.html").read_text()
    assert "rl failed: RuntimeError: boom" in html and "class='failed'>failed<" in html
    for mid in ("m01", "m02", "m03", "m04"):  # relative links, to files that exist
        assert f"href='members/{mid}/report.html'" in html and (out / "members" / mid / "report.html").is_file()
    # the failed member's verify numbers still count (verified), its missing rl ones do not
    metrics = _rows(out / "metrics.csv")
    assert {r["metric"] for r in metrics if r["member_id"] == "m04"} == {"checks_passed"}


def test_no_member_succeeded_is_failed_and_unpulled_members_have_no_link(tmp_path):
    out = tmp_path / "sweep"
    members = [_member(out, "m01", 0, INTERSECTION, None, result="failed", message="push refused"),
               _member(out, "m02", 1, INTERSECTION, None, result="", pulled=False)]  # fmt: skip
    summary = aggregate_sweep("s", "sw", members, out)
    assert summary["status"] == "failed"
    assert summary["members"][1]["results_dir"] == "" and summary["members"][1]["job_id"] == "job-m02"
    html = (out / "report.html").read_text()
    assert "members/m02/report.html" not in html and "not run" in html and "push refused" in html


def test_an_unreadable_member_folder_is_a_note_not_a_crash(tmp_path):
    out = tmp_path / "sweep"
    broken = out / "members" / "m02"
    broken.mkdir(parents=True)
    (broken / "session_summary.json").write_text("{not json")
    members = [_member(out, "m01", 0, INTERSECTION, {"ppo": {1: 1.0, 2: 2.0}}),
               MemberResult("m02", {"seeds": [1], "rl.env": INTERSECTION}, "job-m02", "complete",
                            "succeeded", broken)]  # fmt: skip
    summary = aggregate_sweep("s", "sw", members, out)
    assert summary["status"] == "succeeded"  # the verdicts decide; the note says what was unreadable
    assert "m02: results not readable" in (out / "report.html").read_text()
    cells = _rows(out / "cells.csv")
    assert all(r["n"] == "1" and r["missing"] == "m02" for r in cells)
    assert all(math.isfinite(float(r["mean"])) for r in cells)


def test_the_members_own_failure_reason_is_shown_and_stale_figures_go(tmp_path):
    out = tmp_path / "sweep"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "rl_gone_vs_rl.env.png").write_bytes(b"old")  # from an earlier aggregation
    members = _four(out, failed_last=True)
    members[3] = MemberResult(**{**members[3].__dict__, "message": ""})  # the scheduler said nothing
    aggregate_sweep("s", "sw", members, out)
    assert "RuntimeError in suite &#x27;rl&#x27;: boom" in (out / "report.html").read_text()
    assert not (out / "figures" / "rl_gone_vs_rl.env.png").exists()
    assert (out / "figures" / "rl_delay_per_vehicle_s_vs_rl.env.png").is_file()


def test_real_local_jobs_as_members_one_failing_make_a_partial_sweep(project):
    """Members pulled by the real local backend (the test suites): the crash is shown, the
    succeeded member's numbers aggregated, and both reports linked."""
    from typer.testing import CliRunner

    from orchestrator.cli import app
    from orchestrator.registry import Registry

    runner = CliRunner()
    assert runner.invoke(app, ["submit", "jobs/tiny.yml"]).exit_code == 0
    assert runner.invoke(app, ["submit", "jobs/crashy.yml"]).exit_code == 1  # a failed job
    crashy, tiny = Registry().list(limit=2)
    out = project / "validation_output" / "sweeps" / "local_tiny-x-crash"
    members = [MemberResult(f"m0{i + 1}", {"job": r.name}, r.id, r.status, r.result, Path(r.results_dir))
               for i, r in enumerate((tiny, crashy))]  # fmt: skip
    summary = aggregate_sweep("tiny-x-crash", "sw-tc", members, out)
    assert summary["status"] == "partial"
    assert [m["result"] for m in summary["members"]] == ["succeeded", "failed"]
    assert summary["members"][0]["results_dir"] == f"../../results/local_{tiny.slug}"
    html = (out / "report.html").read_text()
    assert "deliberate crash in test suite" in html
    assert html.count("/report.html'") == 2 and (out / summary["members"][1]["results_dir"] / "report.html").is_file()
    cells = {(r["job"], r["metric"]): r for r in _rows(out / "cells.csv")}
    assert float(cells[("tiny", "answer")]["mean"]) == 42.0 and cells[("tiny", "answer")]["ci95"] == ""
    assert float(cells[("crashy", "before_crash")]["mean"]) == 1.0  # what the failed member verified
