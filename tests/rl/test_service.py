"""Service per approach: red waits by hand, Webster thresholds, and a controller that starves."""

from __future__ import annotations

import numpy as np
import pytest

from kernel_payload import rl_tables
from rl.controllers import make_controller
from rl.evaluation import approach_lengths, episode_metrics, run_episodes
from rl.service import (
    QUEUE_WAIT_M,
    STARVE_FACTOR,
    WaitTracker,
    approach_green,
    max_green_red,
    starvation_thresholds,
)
from rl.signal_plans import approach_flows, phase_greens, saturation_flows, webster_plan
from tests.rl.test_values import _core


def test_wait_tracker_by_hand():
    w = WaitTracker(1, 2)
    q = QUEUE_WAIT_M + 1.0
    steps = [  # (queue per approach, green per approach)
        ([q, q], [True, False]),  # approach 1 waits 5 s
        ([q, q], [True, False]),  # 10 s
        ([q, 0.0], [True, False]),  # a short queue does not wait, but the wait is not over: 10 s
        ([q, q], [True, False]),  # 15 s
        ([q, q], [False, True]),  # green: 1 restarts; approach 0 waits 5 s
        ([q, q], [False, False]),  # 0: 10 s, 1: 5 s
    ]
    for queue, green in steps:
        w.update(np.array([queue]), np.array([green]), 5.0)
    assert w.longest.tolist() == [[10.0, 15.0]]
    assert w.wait.tolist() == [[10.0, 5.0]]


def test_approach_green_follows_phase_and_clearance():
    core = _core(batch=3)
    greens = phase_greens(core.net)[0]
    core.sim.SP[:, 0] = [0, 1, 0]
    core.sim.SS[:, 0] = [0, 0, 1]  # copy 2 is in clearance: nobody has green
    got = approach_green(core)
    for b, phase in enumerate([0, 1, None]):
        expected = [phase is not None and a.index in greens[phase] for a in core.net.approaches]
        assert got[b].tolist() == expected


def test_thresholds_are_the_larger_of_twice_the_webster_red_and_a_max_green_cycle():
    core = _core(batch=1, episode_length=3600.0)
    net = core.net
    flows = approach_flows(net, 3600.0, float(np.mean(core.cfg.demand_scale)))
    plan = webster_plan(net, 0, flows, saturation_flows(net, flows))
    greens = phase_greens(net)[0]
    thr = starvation_thresholds(core)
    for a in net.approaches:
        served = next(p for p, g in enumerate(greens) if a.index in g)
        webster = STARVE_FACTOR * (plan.cycle - plan.greens[served])
        # by hand: the other phase's 90 s max green + a 5 s decision + 5 s clearance, own clearance, a decision
        assert max_green_red(core, a.index) == pytest.approx((90 + 5 + 5) + 5 + 5)
        assert thr[a.index] == pytest.approx(max(webster, 110.0))
    assert (thr == 110.0).all()  # Webster's mean-demand plan is a short cycle here (2 x its red < 110 s)


class _AlwaysPhase0:
    name = "always-0"

    def reset(self, core, seed=None):
        pass

    def act(self, obs, core):
        return np.zeros((core.B, len(core.nvec)), np.int64)


def test_max_green_binds_a_controller_that_never_asks_to_switch():
    core = _core(batch=2, episode_length=400.0)
    thr = starvation_thresholds(core)
    trace = run_episodes(_AlwaysPhase0(), core, [11, 12])
    phase1 = phase_greens(core.net)[0][1]
    # E and W got green after 90 s of north-south green; their wait stays within one max-green cycle
    assert (trace.longest_wait[:, phase1] > 80).all() and (trace.longest_wait <= thr).all()
    m = episode_metrics(trace, 400.0, approach_lengths(core.net), thr)
    assert m[("starved", "total")].tolist() == [0.0, 0.0]


def test_a_controller_that_never_serves_a_phase_is_starving_and_webster_is_not(monkeypatch):
    # without the guard (as on a signal whose max green a controller could ignore), never
    # switching starves E and W: the flag must see it
    monkeypatch.setattr("rl.simulation.max_green_guard", lambda shown, at_max, requests, nvec: requests)
    core = _core(batch=2, episode_length=300.0)
    thr = starvation_thresholds(core)
    lengths = approach_lengths(core.net)
    starve = run_episodes(_AlwaysPhase0(), core, [11, 12])
    m = episode_metrics(starve, 300.0, lengths, thr)
    phase1 = phase_greens(core.net)[0][1]
    assert (starve.longest_wait[:, phase1] > thr[phase1]).all()  # E and W waited the whole episode
    assert m[("starved", "total")].tolist() == [1.0, 1.0]
    fair = episode_metrics(run_episodes(make_controller("fixed-time"), core, [11, 12]), 300.0, lengths, thr)
    assert fair[("starved", "total")].tolist() == [0.0, 0.0]
    assert (fair[("longest_wait_s", "total")] <= thr.max()).all()


def test_the_pivot_flags_a_starving_controller():
    draws = [{"controller": c, "draw": d, "metric": metric, "class": "total", "value": v}
             for c, starved in (("good", [0, 0]), ("bad", [1, 0]))
             for d, s in enumerate(starved)
             for metric, v in (("longest_wait_s", 50.0 + 100 * s), ("starved", float(s)))]
    table = rl_tables.pivot(draws)
    assert "⚠" not in table["good"]["longest red wait (s)"].text()
    assert table["bad"]["longest red wait (s)"].text().endswith("⚠ starved 1/2")
    assert "bad (1/2 draws)" in rl_tables.starvation_note(table)
    assert rl_tables.starvation_note(rl_tables.pivot([d for d in draws if d["controller"] == "good"])) is None
