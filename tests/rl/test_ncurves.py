"""N-curves per approach and the 95th-percentile vehicle delay: known answers, then the real solver."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils import seeding

from rl.controllers import make_controller
from rl.evaluation import run_episodes
from rl.ncurves import (
    ApproachCounts,
    cumulative_demand,
    p95_delay,
    vehicle_delays,
    weighted_percentile,
)
from rl.signal_plans import phase_greens
from solver.kernels.network import demand_rate
from tests.rl.test_service import _AlwaysPhase0
from tests.rl.test_values import _core


def _dd1(lam: float, mu: float, red: float, t: np.ndarray, free_flow: float = 0.0):
    """D/D/1 after one red: arrivals ``lam t``; departures start at ``red`` at rate ``mu`` until the
    queue is gone, then follow the arrivals; everything shifted by the free-flow time."""
    arr = lam * t
    dep = np.minimum(mu * np.clip(t - red - free_flow, 0.0, None), lam * np.clip(t - free_flow, 0.0, None))
    return arr, dep


def test_dd1_after_one_red_gives_the_analytic_percentile():
    # lam 0.2 veh/s, mu 0.5 veh/s, red 60 s: the queue clears at t* = mu r / (mu - lam) = 100 s after
    # N* = 20 vehicles, vehicle n (n < N*) waits r - n (1/lam - 1/mu) = 60 - 3 n s. Over T = 200 s,
    # 40 vehicles arrive; the 5 % most delayed are the first 2: p95 = 60 - 3 * 2 = 54 s.
    t = np.arange(0.0, 201.0)
    for free_flow in (0.0, 25.0):  # the free-flow time is taken off, not counted as delay
        arr, dep = _dd1(0.2, 0.5, 60.0, t, free_flow)
        p95 = p95_delay(t, np.stack([arr, 0 * arr]), np.stack([dep, 0 * dep]), np.array([free_flow, 0.0]))
        assert p95 == pytest.approx(54.0, abs=0.35)
    delays, step = vehicle_delays(t, *_dd1(0.2, 0.5, 60.0, t), 0.0)
    assert delays.max() == pytest.approx(60.0, abs=0.35)  # the first vehicle waits the whole red
    assert delays.sum() * step == pytest.approx(0.5 * 20 * 60, rel=1e-2)  # area between the curves


def test_vehicles_still_waiting_count_with_their_delay_so_far():
    # a red that never ends: vehicle n has waited T - n / lam - t_ff at the end; the first 5 % of
    # the vehicles waited at least 0.95 T - t_ff
    t = np.linspace(0.0, 300.0, 61)
    lam, free_flow = 0.25, 20.0
    p95 = p95_delay(t, np.stack([lam * t, lam * t]), np.zeros((2, t.size)), np.array([free_flow, free_flow]))
    assert p95 == pytest.approx(0.95 * 300.0 - free_flow, abs=0.5)


def test_classes_are_pooled_vehicle_by_vehicle():
    t = np.array([0.0, 100.0, 200.0])
    # class m: 96 vehicles delayed 10 s; class c: 4 vehicles delayed 100 s -> the 95th is an m's
    arr = np.array([[0.0, 96.0, 96.0], [0.0, 4.0, 4.0]])
    dep = np.array([[0.0, 0.0, 96.0], [0.0, 0.0, 4.0]])
    # arrivals over 0..100 s, departures over 100..200 s: every vehicle takes 100 s
    assert p95_delay(t, arr, dep, np.array([90.0, 0.0])) == pytest.approx(10.0, abs=0.5)  # c's 4 % above it
    assert p95_delay(t, arr, dep, np.array([0.0, 90.0])) == pytest.approx(100.0, abs=0.5)
    arr2, dep2 = arr.copy(), dep.copy()
    arr2[1], dep2[1] = [0, 10, 10], [0, 0, 10]  # 10 % of the vehicles are the slow class: they set the p95
    assert p95_delay(t, arr2, dep2, np.array([90.0, 0.0])) == pytest.approx(100.0, abs=0.5)
    assert weighted_percentile([10.0, 100.0], [96.0, 4.0], 95.0) == 10.0
    assert weighted_percentile([10.0, 100.0], [90.0, 10.0], 95.0) == 100.0


@pytest.mark.parametrize("linear", [True, False])
def test_cumulative_demand_is_the_integral_of_the_solvers_rate(linear):
    times = np.array([[[0.0, 1200.0, 2400.0, 3600.0]] * 2])
    values = np.array([[[0.2, 0.3, 0.3, 0.1]] * 2])
    npts, lin = np.array([[4, 4]]), np.array([int(linear)])
    grid = np.linspace(0.0, 4000.0, 400_001)
    rate = np.array([demand_rate(0, 0, s, times, values, npts, lin) for s in grid[::100]])
    fine = np.repeat(rate, 100)[: grid.size - 1]
    expected = np.concatenate([[0.0], np.cumsum(fine * np.diff(grid))])
    got = cumulative_demand(grid[::1000], times[0, 0], values[0, 0], linear)
    assert np.allclose(got, expected[::1000], atol=0.5)


def test_a_red_approach_on_the_real_solver(monkeypatch):
    """Phase 0 for 300 s: east and west never get green. Nothing leaves them, and their p95 is the
    delay so far of the earliest 5 % of the vehicles that arrived; what crossed the junction equals
    what left the network plus what is on the exits (the solver's own exit counter). The max-green
    guard is lifted (it would switch at 90 s): this is a red that never ends."""
    monkeypatch.setattr("rl.simulation.max_green_guard", lambda shown, at_max, requests, nvec: requests)
    T = 300.0
    core = _core(batch=2, episode_length=T)
    trace = run_episodes(_AlwaysPhase0(), core, [11, 12])
    red = phase_greens(core.net)[0][1]
    assert np.all(np.abs(trace.served[:, red]) < 1e-6)
    assert np.all(trace.served[:, phase_greens(core.net)[0][0]] > 5.0)
    # expected p95 of a red approach from the demand profile alone, integrated here independently
    topo, ff = core.net.topo, ApproachCounts(core).free_flow
    for a in red:
        e = [int(x) for x in topo.en_link].index(core.net.links.index(core.net.approaches[a].link))
        for b in range(2):
            grid = np.linspace(0.0, T, 30_001)
            delays, weights = [], []
            for k in range(2):
                n = topo.dem_np[e, k]
                rate = np.array([demand_rate(e, k, s, topo.dem_t, topo.dem_v, topo.dem_np, topo.dem_lin)
                                 for s in grid]) * core.sim.DSCALE[b, e]
                arrivals = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(grid))])
                veh = np.arange(0.005, arrivals[-1], 0.01)
                delays.append(np.maximum(T - np.interp(veh, arrivals, grid) - ff[a, k], 0.0))
                weights.append(np.full(veh.size, 0.01))
                assert n > 0
            expected = weighted_percentile(np.concatenate(delays), np.concatenate(weights), 95.0)
            assert trace.p95_delay[b, a] == pytest.approx(expected, abs=1.0)
            assert expected > 0.9 * T - ff[a].max() - 5.0


def _episode(core, counts, controller: str, seeds: tuple[int, int]) -> None:
    """One whole episode of two copies (draws ``seeds``) under ``controller``, sampling the curves
    before the first decision and after each one."""
    core.reset(np.arange(2), [seeding.np_random(s)[0] for s in seeds])
    ctl = make_controller(controller)
    ctl.reset(core, seed=seeds[0])
    counts.sample()
    obs = core.observe()
    for _ in range(core.cfg.n_decisions):
        core.step(ctl.act(obs, core))
        obs = core.observe()
        counts.sample()


def test_what_crossed_the_junction_left_or_is_on_the_exits():
    core = _core(batch=2, episode_length=300.0)
    counts = ApproachCounts(core)
    _episode(core, counts, "fixed-time", (3, 4))
    crossed = counts.served().sum(axis=1)
    outs = [core.net.links.index(x) for x in ("N_out", "S_out", "E_out", "W_out")]
    q = np.asarray(core.sim.Q)
    on_exits = sum(q[:, 0::2, core.net.link_slice(core.net.links[l])].sum(axis=(1, 2)) * core.net.lk_dx[l]
                   for l in outs)
    exited = core.sim.ledger()["exited"].sum(axis=1)
    assert crossed == pytest.approx(exited + on_exits, rel=1e-6, abs=1e-6)
    assert (crossed > 10).all()
    _, arr, dep = counts.curves()
    assert (dep <= arr + 1e-6).all() and (np.diff(dep, axis=-1) > -1e-6).all()


def test_flows_chained_through_the_arterials_junctions_add_up_to_the_solvers_exits():
    """On the arterial, links between signals are fed by junctions (turning ratios of what left the
    links upstream): chaining the flows from the entries to the exit links must give the solver's
    own count of vehicles that left the network."""
    core = _core("ARZ-Arterial-v0", batch=2, episode_length=300.0)
    counts = ApproachCounts(core)
    assert any(counts.feeders[int(l)][0] == "junction" for l in counts.app_link)  # a chained approach
    _episode(core, counts, "fixed-time", (5, 6))
    _, _, outflow = counts.link_curves()
    exits = [int(l) for l in core.net.topo.ex_link]
    left = outflow[:, exits][..., -1].sum(axis=1)  # (B, 2)
    exited = core.sim.ledger()["exited"]
    assert left == pytest.approx(exited, rel=1e-6, abs=1e-6)
    assert (exited.sum(axis=1) > 10).all()


def test_the_area_between_the_curves_is_the_solvers_delay_on_the_intersection():
    """A vehicle crossing a link of one Vmax is delayed t_out - t_in - L / Vmax = integral of
    (1 - v / Vmax) dt, the solver's own delay: summed over the approaches' vehicles, the N-curves
    must give the solver's total delay (the exits, which discharge freely, add little). Measured at
    600 s: ratios 0.98 and 1.06 for these two draws (sampling every 5 s, clipping at 0)."""
    core = _core(batch=2, episode_length=600.0)
    counts = ApproachCounts(core)
    _episode(core, counts, "actuated", (1, 2))
    t, arr, dep = counts.curves()
    total = np.zeros(2)
    for b in range(2):
        for a in range(arr.shape[1]):
            for k in range(2):
                delays, step = vehicle_delays(t[b], arr[b, a, k], dep[b, a, k], counts.free_flow[a, k])
                total[b] += delays.sum() * step
    solver = core.sim.measures()["delay"].sum(axis=1)
    assert total == pytest.approx(solver, rel=0.1)
