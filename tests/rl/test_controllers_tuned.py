"""The tuned baselines by hand on constructed states, and tuning on training-side draws only."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rl.controllers_tuned import AdvancedMaxPressure, GapActuated
from rl.evaluation import EVAL_SEED_BASE, evaluate
from rl.training import EVAL_SEED_OFFSET
from rl.tuning import TUNE_SEED_BASE, tune_controller, tuning_draws
from tests.rl.test_values import _core, _set_link

JAM = 0.2  # veh/m of motorcycles in a constructed standing queue (rho_jam = 0.25)


def _empty(core) -> None:
    for link in core.net.links:
        _set_link(core, link, 0.0, 0.0, 0.0, 0.0)
    core.sim.QU[:] = 0.0
    core.sim.SP[:], core.sim.SS[:], core.sim.ST[:] = 0, 0, 30.0


def _queue(core, link: str, metres: float, b: int) -> float:
    """A standing queue of ``metres`` at the stop line of ``link`` in copy b; returns its vehicles."""
    sl, dx = core.net.link_slice(link), float(core.net.lk_dx[core.net.links.index(link)])
    n = sl.stop - sl.start
    k = int(round(metres / dx))
    rho = np.where(np.arange(n) >= n - k, JAM, 0.0)
    _set_link(core, link, rho, 0.0, 0.0, 0.0, b)
    return JAM * k * dx


def _moving(core, link: str, metres: float, b: int, speed: float = 10.0, rho: float = 0.1) -> float:
    """Free-flowing vehicles over the last ``metres`` before the stop line of ``link`` in copy b."""
    sl, dx = core.net.link_slice(link), float(core.net.lk_dx[core.net.links.index(link)])
    n = sl.stop - sl.start
    k = int(round(metres / dx))
    dens = np.where(np.arange(n) >= n - k, rho, 0.0)
    _set_link(core, link, dens, 0.0, speed, speed, b)
    return rho * k * dx


@pytest.fixture()
def core():
    return _core(batch=2)


def test_advanced_mp_serves_the_standing_queue_unless_the_green_is_still_running(core):
    # intersection_4arm: phase 0 serves N_in/S_in, phase 1 serves E_in/W_in
    ctl = AdvancedMaxPressure(reach_m=250.0)
    ctl.reset(core)
    _empty(core)
    queued = _queue(core, "E_in", 60.0, b=0)  # copy 0: only a queue on the red approach
    _queue(core, "E_in", 60.0, b=1)
    running = _moving(core, "N_in", 200.0, b=1)  # copy 1: the green approach is still discharging
    assert running > queued  # the hand calculation behind copy 1's answer
    assert ctl.act(None, core)[:, 0].tolist() == [1, 0]
    ctl.hold_s = 60.0  # a minimum green longer than the time in stage keeps phase 0 everywhere
    assert ctl.act(None, core)[:, 0].tolist() == [0, 0]


def test_advanced_mp_counts_only_queued_vehicles_as_pressure(core):
    ctl = AdvancedMaxPressure(reach_m=0.0)  # no running rule: the efficient pressure alone decides
    ctl.reset(core)
    _empty(core)
    _moving(core, "E_in", 300.0, b=0)  # many vehicles on E, none queued: no pressure
    _queue(core, "N_in", 10.0, b=0)
    _queue(core, "E_in", 100.0, b=1)  # copy 1: a queued E against a shorter queued N
    _queue(core, "N_in", 40.0, b=1)
    core.sim.SP[:] = 0
    assert ctl.act(None, core)[:, 0].tolist() == [0, 1]


def test_gap_actuated_extends_gaps_out_and_maxes_out(core):
    ctl = GapActuated(gap_s=2.0, detector_m=30.0, max_out=1.0)
    ctl.reset(core)
    _empty(core)
    for b in range(2):
        _queue(core, "E_in", 60.0, b)  # demand waiting on the red phase
    _moving(core, "N_in", 200.0, b=0, speed=10.0, rho=0.1)  # copy 0: 1 veh/s over the detector
    _moving(core, "N_in", 200.0, b=1, speed=10.0, rho=0.02)  # copy 1: 0.2 veh/s, a 5 s headway
    core.sim.ST[:] = 5.0
    assert ctl.act(None, core)[:, 0].tolist() == [0, 1]  # extend on arrivals; gap out at 5 s > 2 s
    core.sim.ST[:] = ctl.max_green[0][0] + 1.0  # past the Webster green: max-out
    assert ctl.act(None, core)[:, 0].tolist() == [1, 1]
    _empty(core)
    core.sim.ST[:] = 5.0
    assert ctl.act(None, core)[:, 0].tolist() == [0, 0]  # no demand anywhere: rest in green


def test_tuning_draws_are_disjoint_from_training_and_evaluation():
    tune = set(tuning_draws(0, 50)) | set(tuning_draws(1000, 50))  # seeds as in jobs/*.yml
    evaluation = {EVAL_SEED_BASE + 1000 * s + e for s in (0, 999, *range(1000, 1005), 10**6) for e in range(100)}
    training = set(range(0, 10_000))  # training episodes draw from seed + i
    selection = {EVAL_SEED_OFFSET + s + i for s in (0, 999) for i in range(10_000)}  # best-model copies
    assert not tune & evaluation and not tune & training and not tune & selection
    assert min(tune) >= TUNE_SEED_BASE


def test_tuning_keeps_the_least_delay_and_sets_it(monkeypatch):
    core = _core(batch=2, episode_length=120.0)
    monkeypatch.setattr(AdvancedMaxPressure, "GRID", {"reach_m": [50.0], "hold_s": [0.0, 60.0]})
    ctl = AdvancedMaxPressure()
    res = tune_controller(ctl, core, tuning_draws(0, 2))
    delays = [row["delay_per_vehicle_s"] for row in res.table]
    assert len(res.table) == 2 and delays[0] != delays[1]
    best = res.table[int(np.argmin(delays))]
    assert best["chosen"] and sum(r["chosen"] for r in res.table) == 1
    assert ctl.hold_s == best["hold_s"] == res.best["hold_s"]
    with pytest.raises(ValueError, match="one copy per draw"):
        tune_controller(ctl, core, tuning_draws(0, 3))


def test_evaluate_tunes_on_its_own_draws_and_writes_the_table(tmp_path, monkeypatch):
    monkeypatch.setattr(GapActuated, "GRID", {"gap_s": [1.5, 3.0], "max_out": [1.0]})
    res = evaluate("ARZ-Intersection-v0", ["actuated-gap", "fixed-time"], 2, [0], tmp_path,
                   tune_draws=2, episode_length=60.0)
    assert [t.controller for t in res.tuning] == ["actuated-gap"]
    assert res.tuning[0].draws == tuning_draws(0, 2)
    with (tmp_path / "tuning.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["params"] for r in rows] == ["gap_s=1.5 max_out=1", "gap_s=3 max_out=1"]
    assert sum(int(r["chosen"]) for r in rows) == 1


def _gap_request_per_copy(ctl, core) -> np.ndarray:
    """GapActuated's rule written out copy by copy, signal by signal (the reference of the test below)."""
    sim = core.sim
    veh, speed = ctl.cells.state(sim)
    A = len(ctl.detector)
    flow = np.stack([veh[:, c] * speed[:, c] for c in ctl.detector], axis=1)
    arriving = flow * ctl.gap_s >= 1.0
    waiting = np.stack([ctl.cells.queued(veh, speed, a) >= 0.5 for a in range(A)], axis=1) | arriving
    out = np.asarray(sim.SP, np.int64).copy()
    for s, greens in enumerate(ctl.greens):
        P = len(greens)
        for b in range(core.B):
            if sim.SS[b, s] != 0:
                out[b, s] = int(sim.SN[b, s])
                continue
            p = int(sim.SP[b, s])
            if any(arriving[b, a] for a in greens[p]) and sim.ST[b, s] < ctl.max_green[s][p]:
                continue
            nxt = [q % P for q in range(p + 1, p + P) if any(waiting[b, a] for a in greens[q % P])]
            out[b, s] = nxt[0] if nxt else p
    return out


def _four_phase_intersection(tmp_path) -> str:
    """The shipped intersection with one phase per approach (4 phases: the cycle order matters)."""
    from rl.config import SCENARIO_DIR

    text = (SCENARIO_DIR / "intersection_4arm.yml").read_text()
    two = "phases: [{name: north-south, green: [N_in, S_in]}, {name: east-west, green: [E_in, W_in]}]"
    plan = "plan: [{phase: 0, green: 35 s}, {phase: 1, green: 25 s}]"
    assert two in text and plan in text
    text = text.replace(two, "phases: [{name: n, green: [N_in]}, {name: e, green: [E_in]}, "
                             "{name: s, green: [S_in]}, {name: w, green: [W_in]}]")
    text = text.replace(plan, "plan: [{phase: 0, green: 20 s}, {phase: 1, green: 15 s}, "
                              "{phase: 2, green: 20 s}, {phase: 3, green: 15 s}]")
    path = tmp_path / "intersection_4phase.yml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("env_id", ["ARZ-Arterial-v0", "four-phase"])
def test_gap_actuated_requests_equal_the_rule_copy_by_copy(env_id, tmp_path):
    """The batched rule equals the per-copy rule on every copy (phases, clearance, stage times and
    traffic drawn at random, 64 copies x 20 states): on the 3-signal arterial, and on a 4-phase
    intersection where the next phase with demand depends on the cycle order."""
    from rl.vec_env import make_vec_env

    kw = {"scenario": _four_phase_intersection(tmp_path)} if env_id == "four-phase" else {}
    venv = make_vec_env("ARZ-Intersection-v0" if kw else env_id, 64, device="cpu", **kw)
    venv.seed(7)
    venv.reset()
    core, rng = venv.core, np.random.default_rng(7)
    ctl = GapActuated(gap_s=1.5, max_out=0.75)
    ctl.reset(core)
    nvec = np.asarray(core.nvec)
    assert nvec.max() == (4 if kw else 2)
    moves = set()
    for _ in range(20):
        venv.step(rng.integers(0, nvec, size=(core.B, len(nvec))))
        core.sim.SP[:] = rng.integers(0, nvec, size=core.sim.SP.shape)
        core.sim.SN[:] = rng.integers(0, nvec, size=core.sim.SN.shape)
        core.sim.SS[:] = np.where(rng.random(core.sim.SS.shape) < 0.3, 1, 0)
        core.sim.ST[:] = rng.uniform(0.0, 90.0, size=core.sim.ST.shape)
        got, want = ctl.act(None, core), _gap_request_per_copy(ctl, core)
        np.testing.assert_array_equal(got, want)
        moves.update(((np.asarray(got) - np.asarray(core.sim.SP)) % nvec).ravel().tolist())
    assert moves >= set(range(int(nvec.max())))  # holds and every step ahead in the cycle were checked
