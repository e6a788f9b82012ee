"""Values, not shapes: observations against the simulator state, rewards and the actuated
controller by hand on constructed states, and the evaluation statistics (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from rl import ENV_IDS, features
from rl.config import resolve_config
from rl.controllers import CONTROLLERS, Actuated, make_controller
from rl.evaluation import (
    EVAL_SEED_BASE,
    ci95,
    episode_metrics,
    evaluate,
    paired_relative_difference,
    run_episodes,
)
from rl.rewards import get_reward
from rl.simulation import ControlledNetwork
from rl.training import EVAL_SEED_OFFSET

RHO_JAM = 0.25


def _core(env_id: str = "ARZ-Intersection-v0", batch: int = 2, **kw) -> ControlledNetwork:
    cfg, sc = resolve_config(**{**ENV_IDS[env_id], "episode_length": 60.0, **kw})
    return ControlledNetwork(cfg, sc, batch=batch)


def _set_link(core, link: str, rho_m, rho_c, v_m, v_c, b: int | None = None) -> None:
    """Put densities (veh/m) and speeds (m/s), scalars or per cell, on a link of copy b (all: None)."""
    from solver.road.oracle import pressures

    net, sl = core.net, core.net.link_slice(link)
    n = sl.stop - sl.start
    rho_m, rho_c, v_m, v_c = (np.broadcast_to(np.asarray(x, float), (n,)) for x in (rho_m, rho_c, v_m, v_c))
    p_m, p_c = pressures(rho_m, rho_c, net.par)
    state = np.stack([rho_m, rho_m * (v_m + p_m), rho_c, rho_c * (v_c + p_c)])
    for bb in range(core.B) if b is None else [b]:
        core.sim.Q[bb][:, sl] = state


def _random_state(core, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for b in range(core.B):
        for link in core.net.links:
            n = core.net.link_slice(link).stop - core.net.link_slice(link).start
            _set_link(core, link, rng.uniform(0.005, 0.15, n), rng.uniform(0.002, 0.08, n),
                      rng.uniform(0.5, 15.0, n), rng.uniform(0.5, 12.0, n), b)
    core.sim.QU[:] = rng.uniform(0.0, 120.0, core.sim.QU.shape)
    core.sim.SP[:] = rng.integers(0, 2, core.sim.SP.shape)
    core.sim.SS[:] = rng.integers(0, 3, core.sim.SS.shape)
    core.sim.ST[:] = rng.uniform(0.0, 60.0, core.sim.ST.shape)


def _expected_feature(core, b: int, name: str) -> float:
    """One feature from its name and the documented definition (rl/observation.py, docs/environment.md),
    computed from the state without any clipping."""
    net, sim = core.net, core.sim
    words = name.split()
    if words[0] in ("density", "speed"):
        k, link = {"m": 0, "c": 1}[words[1]], words[2]
        sl = net.link_slice(link)
        dx = net.lk_dx[net.links.index(link)]
        n_near = int(min(sl.stop - sl.start, max(3, round(150.0 / dx))))
        if words[3] == "bin":  # 150 m before the stop line (at least 3 cells), three bins, stop line first
            cells = np.array_split(np.arange(sl.stop - 1, sl.stop - 1 - n_near, -1), 3)[int(words[4])]
        elif words[3] == "upstream":  # the rest of the link in equal bins, nearest the near bins first
            bins = sum(1 for n in core.layout.names if n.startswith(f"density m {link} upstream "))
            rest = np.arange(sl.stop - 1 - n_near, sl.start - 1, -1)
            cells = np.array_split(rest, bins)[int(words[4])]
        else:
            cells = np.array([sl.start + int(words[4])])
        rho = sim.Q[b, 2 * k, cells]
        if words[0] == "density":
            return float(rho.mean() / RHO_JAM)
        # the per-cell definition is tested in tests/solver/test_reported_speeds.py
        from solver.network.speeds import transport_speeds

        v = transport_speeds(sim)[b, k, cells]
        vn = np.clip(v / net.vmax[k, cells], 0.0, 1.0)
        prior = 1e-3 * RHO_JAM
        return float(((rho * vn).mean() + prior) / (rho.mean() + prior))
    if words[0] == "entry":
        qu = sim.QU[b, net.entries.index(words[3]), {"m": 0, "c": 1}[words[2]]]
        return float(qu / (qu + 50.0))
    s = net.signals.index(words[-1])
    if words[0] == "phase":
        return float(sim.SP[b, s] == int(words[1]))
    if words[0] == "clearance":
        return float(sim.SS[b, s] > 0)
    max_green = next(n.signal.max_green for n in net.scenario.nodes if n.id == words[-1])
    return float(min(sim.ST[b, s] / max_green, 1.0))


@pytest.mark.parametrize("env_id", sorted(ENV_IDS))
def test_every_observation_feature_equals_its_definition_on_the_state(env_id):
    """Compared feature by feature, unclipped: a transposed feature, a wrong scale or a saturated
    normalisation hidden by the final clip(0, 1) shows up as a mismatch."""
    core = _core(env_id)
    _random_state(core, seed=7)
    obs = core.observe()
    names = core.layout.names
    assert obs.shape == (core.B, len(core.feature_names))
    expected = np.array([[_expected_feature(core, b, n) for n in names] for b in range(core.B)])
    assert obs[:, :len(names)] == pytest.approx(expected, abs=2e-7)  # float32
    if core.advisor is not None:  # then the observed rule's request, one-hot per signal (a fresh instance)
        from rl.simulation import advisor_onehot, make_advisor

        request = make_advisor(core).act(obs[:, :len(names)], core)
        assert np.array_equal(obs[:, len(names):], advisor_onehot(request, core.nvec))
        assert core.feature_names[len(names):][0].startswith("advisor phase 0 ")
    inside = (expected > 0.01) & (expected < 0.99)
    groups = {n.split()[0] for n, ok in zip(names, inside.all(axis=0), strict=True) if ok}
    assert {"density", "speed", "entry"} <= groups  # the comparison is not between saturated values


def _vector(core, **slots) -> np.ndarray:
    """Measure vectors (B, M) of the core, zero but for the given slots (start slot -> (B, n) values)."""
    out = np.zeros_like(core.readout.read(observe=False, adopt=False).measures)
    for slot, values in slots.items():
        values = np.asarray(values, float)
        start = getattr(features, slot)
        out[:, start:start + values.shape[1]] = values
    return out


def _rewards(core, name: str, before, after, dt) -> np.ndarray:
    w = get_reward(name)(core.net)
    return np.array([features.interval_reward(b, a, dt, w.lin, w.cur, w.absw) for b, a in zip(before, after, strict=True)])


def test_rewards_by_hand_on_a_constructed_state():
    core = _core(batch=2)
    dt = 5.0
    before = _vector(core, M_DELAY=[[10.0, 5.0], [0.0, 0.0]], M_THROUGHPUT=[[3.0, 1.0], [0.0, 0.0]])
    after = _vector(core, M_DELAY=[[40.0, 15.0], [100.0, 0.0]], M_THROUGHPUT=[[7.0, 2.0], [1.0, 0.0]],
                    M_APPROACH=[[100.0, 0.0, 50.0, 0.0], [0.0, 0.0, 0.0, 1000.0]])
    assert _rewards(core, "delay", before, after, dt) == pytest.approx([-40 / 500, -100 / 500])
    assert _rewards(core, "throughput", before, after, dt) == pytest.approx([5 / 5, 1 / 5])
    approach_length = 4 * 500.0  # four 500 m approaches
    assert _rewards(core, "queue", before, after, dt) == pytest.approx(
        [-150 / (dt * approach_length), -1000 / (dt * approach_length)])
    # pressure: approaches hold 0.08 veh/m (m + c) on 4 x 500 m, exits 0.02 veh/m on 4 x 300 m
    for link in core.net.links:
        _set_link(core, link, *((0.05, 0.03) if link.endswith("_in") else (0.015, 0.005)), 5.0, 5.0)
    _set_link(core, "N_in", 0.01, 0.01, 5.0, 5.0, b=1)  # copy 1: the north approach lighter
    up = np.array([4 * 500 * 0.08, 3 * 500 * 0.08 + 500 * 0.02])
    state = core.readout.read(observe=False, adopt=False).measures  # the link counts of this state
    assert _rewards(core, "pressure", before, state, dt) == pytest.approx(-np.abs(up - 4 * 300 * 0.02) / 100)


def test_step_reward_and_info_follow_the_measures():
    """The reward a step returns is the registered weights applied to the measures, and the info's
    ledger residual closes (the measure vector's stored and queued slots are the ledger's)."""
    core = _core(batch=2)
    core.reset(np.arange(2), [np.random.default_rng(s) for s in (1, 2)])
    before = core.readout.read(observe=False, adopt=False).measures
    rewards, _, info = core.step(np.array([[1], [0]]))
    after = core.readout.read(observe=False, adopt=False).measures
    assert rewards == pytest.approx(_rewards(core, "delay", before, after, core.cfg.decision_interval), rel=1e-12)
    assert rewards == pytest.approx(-info["delay"].sum(axis=1) / (core.cfg.decision_interval * 100), rel=1e-12)
    ledger = core.sim.ledger()
    assert info["residual"] == pytest.approx(ledger["residual"], abs=1e-9)
    assert np.abs(info["residual"]).max() < 1e-9 * ledger["entered"].max()
    assert info["time"] == pytest.approx(core.sim.T)


def _actuated_decision(sp: int, ss: int, st: float, occupied: tuple[bool, bool], sn: int = 0) -> int:
    core = _core(batch=1)
    ctl = Actuated()
    ctl.reset(core)
    for link in core.net.links:
        _set_link(core, link, 0.0, 0.0, 10.0, 10.0)
    for phase, busy in enumerate(occupied):  # phase 0: N_in, S_in; phase 1: E_in, W_in
        if busy:
            for link in (("N_in", "S_in"), ("E_in", "W_in"))[phase]:
                _set_link(core, link, 0.05, 0.02, 2.0, 2.0)  # 0.28 rho_jam > 0.1 at the stop line
    core.sim.SP[:], core.sim.SS[:], core.sim.ST[:], core.sim.SN[:] = sp, ss, st, sn
    return int(ctl.act(core.observe(), core)[0, 0])


@pytest.mark.parametrize(("sp", "ss", "st", "occupied", "sn", "expected"), [
    (0, 0, 20.0, (True, True), 0, 0),    # green demanded, below max green: extend
    (0, 0, 20.0, (False, True), 0, 1),   # green idle, the other phase waits: switch
    (0, 0, 95.0, (True, True), 0, 1),    # max green (90 s) reached and the other waits: switch
    (0, 0, 95.0, (True, False), 0, 0),   # max green but nobody else waits: stay
    (1, 0, 20.0, (False, False), 0, 1),  # nobody anywhere: stay
    (0, 1, 1.0, (True, False), 1, 1),    # clearance: keep the phase already chosen
])
def test_actuated_controller_decides_by_the_rule(sp, ss, st, occupied, sn, expected):
    assert _actuated_decision(sp, ss, st, occupied, sn) == expected


def test_ci95_is_the_student_t_interval():
    values = np.random.default_rng(3).normal(2.0, 0.7, 12)
    lo, hi = scipy.stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=scipy.stats.sem(values))
    assert ci95(values) == pytest.approx((hi - lo) / 2, rel=1e-12)
    assert np.isnan(ci95(values[:1]))


def test_a_controller_against_itself_on_the_same_draws_differs_by_exactly_zero():
    """Two runs of one controller on the evaluation draws give identical per-draw metrics (the
    draws are reproduced exactly), so the paired difference is 0 with a 0 interval; another
    controller on the same draws is not."""
    draws = [EVAL_SEED_BASE + e for e in range(3)]
    runs = {}
    for key, name in (("a", "fixed-time"), ("b", "fixed-time"), ("other", "max-pressure")):
        core = _core(batch=3)
        ctl = make_controller(name)
        runs[key] = episode_metrics(run_episodes(ctl, core, draws), core.cfg.episode_length)
    metric = ("delay_per_vehicle_s", "total")
    assert paired_relative_difference(runs["a"][metric], runs["b"][metric]) == (0.0, 0.0)
    mean, _ = paired_relative_difference(runs["other"][metric], runs["a"][metric])
    assert mean != 0.0
    delay = runs["a"][metric]
    assert (delay > 0).all() and np.ptp(delay) > 0  # draws differ from each other


class _Recorder:
    """A fake classical controller that records the demand draws of every episode batch."""

    seen: list = []

    def __init__(self):
        self.name = "recorder"

    def reset(self, core, seed=None) -> None:
        _Recorder.seen.append(core.demand_scale.copy())

    def act(self, obs, core) -> np.ndarray:
        return np.zeros((core.B, len(core.nvec)), np.int64)


def test_every_controller_sees_the_same_evaluation_draws_and_none_of_training(tmp_path, monkeypatch):
    monkeypatch.setitem(CONTROLLERS, "recorder", _Recorder)
    _Recorder.seen = []
    evaluate("ARZ-Intersection-v0", ["recorder", "fixed-time", "recorder"], episodes=3, seeds=[0, 1],
             out_dir=tmp_path, episode_length=10.0, demand_scale=(0.7, 1.3))
    assert len(_Recorder.seen) == 4  # (seed 0, seed 1) twice, fixed-time in between
    assert np.array_equal(_Recorder.seen[0], _Recorder.seen[2])  # the same draws for a controller listed later
    assert np.array_equal(_Recorder.seen[1], _Recorder.seen[3])
    assert not np.array_equal(_Recorder.seen[0], _Recorder.seen[1])  # seeds 0 and 1 draw differently
    # training copies are seeded seed + i, validation seed + EVAL_SEED_OFFSET + i: no overlap
    from gymnasium.utils import seeding

    training = {float(seeding.np_random(s)[0].uniform(0.7, 1.3)) for s in
                list(range(64)) + [EVAL_SEED_OFFSET + i for i in range(64)]}
    evaluation = {float(x) for x in np.concatenate(_Recorder.seen)}
    assert not training & evaluation
    eval_seeds = {EVAL_SEED_BASE + 1000 * s + e for s in range(100) for e in range(1000)}
    assert not eval_seeds & (set(range(10_000)) | set(range(EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + 10_000)))


def test_episode_metrics_by_hand():
    from rl.evaluation import Trace

    m = {"delay": np.array([[100.0, 50.0], [0.0, 30.0]]), "entered": np.array([[10.0, 5.0], [0.0, 3.0]]),
         "throughput": np.array([[8.0, 4.0], [1.0, 2.0]]), "tts": np.array([[3600.0, 7200.0], [360.0, 0.0]]),
         "queue_ms": np.array([[600.0, 0.0], [1200.0, 600.0]]), "queue_max_m": np.array([[40.0, 0.0], [20.0, 60.0]])}
    got = episode_metrics(Trace(measures=m), episode_length=60.0)
    assert got[("delay_per_vehicle_s", "m")] == pytest.approx([10.0, 0.0])  # no vehicle: 0, not NaN
    assert got[("delay_per_vehicle_s", "c")] == pytest.approx([10.0, 10.0])
    assert got[("delay_per_vehicle_s", "total")] == pytest.approx([150 / 15, 30 / 3])
    assert got[("throughput_veh", "total")] == pytest.approx([12.0, 3.0])
    assert got[("tts_veh_h", "c")] == pytest.approx([2.0, 0.0])
    assert got[("mean_queue_m", "total")] == pytest.approx([300 / 60, 900 / 60])  # mean over approaches
    assert got[("max_queue_m", "total")] == pytest.approx([40.0, 60.0])
