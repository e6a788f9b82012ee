"""scripts/demand_response.py: the delay-against-demand table, by hand."""

from __future__ import annotations

import numpy as np

from scripts import demand_response


def test_summary_compares_with_the_best_classical_controller_point_by_point():
    scales = np.array([0.9, 1.1])
    delays = {"actuated": np.array([20.0, 100.0]), "actuated-gap": np.array([10.0, 120.0]),
              "ppo (seed 0)": np.array([9.0, 60.0])}
    lines = demand_response.summary_lines(scales, delays)
    # best classical by mean: actuated 60 < actuated-gap 65
    assert lines[0].endswith("| vs actuated (mean of d/d_best - 1) |") and "x0.900 | x1.100" in lines[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in lines[2:5]}
    assert rows["actuated"].endswith("| - |")
    assert rows["actuated-gap"].endswith("| -15.0 % |")  # 10/20 - 1 = -50 %, 120/100 - 1 = +20 %
    assert rows["ppo (seed 0)"].endswith("| -47.5 % |")  # 9/20 - 1 = -55 %, 60/100 - 1 = -40 %
    # per-point best: classical 10, 100 (-50 %, 0 %); every controller 9, 60 (-55 %, -40 %)
    assert lines[-1] == ("Per-point best (an oracle that knows the demand): of the classical controllers "
                         "-25.0 %, of every controller -47.5 % against actuated.")


def test_tuned_params_come_from_the_chosen_rows(tmp_path):
    metrics = tmp_path / "rl" / "data" / "metrics"
    metrics.mkdir(parents=True)
    (metrics / "tuning.csv").write_text(
        "controller,params,delay_per_vehicle_s,chosen,draws\n"
        "actuated-gap,gap_s=1.5 max_out=0.75,66.4,1,1..8\n"
        "actuated-gap,gap_s=2 max_out=1,76.7,0,1..8\n"
        "max-pressure-advanced,reach_m=100 hold_s=10,107.2,1,1..8\n")
    assert demand_response.tuned_params(tmp_path) == {"actuated-gap": {"gap_s": 1.5, "max_out": 0.75},
                                                     "max-pressure-advanced": {"reach_m": 100.0, "hold_s": 10.0}}
    assert demand_response.tuned_params(tmp_path / "none") == {}


def test_a_folder_without_an_rl_suite_is_one_line_and_exit_2(tmp_path, capsys):
    assert demand_response.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("demand_response: ") and "session_summary.json" in err and len(err.splitlines()) == 1
    assert demand_response.main([str(tmp_path), "--points", "1"]) == 2


def test_stratified_response_runs_every_controller_at_the_strata_midpoints(monkeypatch):
    from rl.controllers import make_controller

    monkeypatch.setitem(__import__("rl").ENV_IDS, "ARZ-Intersection-v0",
                        {"scenario": "intersection_4arm", "decision_interval": 5.0, "episode_length": 60.0})
    scales, delays = demand_response.response("ARZ-Intersection-v0", {"fixed-time": make_controller("fixed-time")},
                                              4)
    np.testing.assert_allclose(scales, [0.85, 0.95, 1.05, 1.15])
    assert delays["fixed-time"].shape == (4,) and np.all(delays["fixed-time"] > 0)
    assert np.all(np.diff(delays["fixed-time"]) > 0)  # each copy ran at its own multiplier: more demand, more delay


def test_the_rollout_bound_is_listed_and_never_the_best_classical(tmp_path):
    from rl.rollout import RolloutController
    from scripts.results_table import is_classical

    ctls = demand_response.controllers(tmp_path, rollout_s=90.0)
    bound = ctls["rollout bound (90 s)"]
    assert isinstance(bound, RolloutController) and bound.horizon_s == 90.0
    assert bound.base is not ctls["actuated-gap"] and bound.base.params() == ctls["actuated-gap"].params()
    assert not is_classical("rollout bound (90 s)") and is_classical("actuated-gap")
    lines = demand_response.summary_lines(np.array([1.0]), {"actuated": np.array([20.0]),
                                                            "rollout bound (90 s)": np.array([5.0])})
    assert lines[0].endswith("| vs actuated (mean of d/d_best - 1) |") and "| -75.0 % |" in lines[3]
