"""The clairvoyant rollout controller: its look-ahead is the future, and it acts on it."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils import seeding

from rl import ENV_IDS
from rl.config import resolve_config
from rl.controllers_tuned import GapActuated
from rl.errors import RLError
from rl.features import M_DELAY
from rl.rollout import RolloutController, decision_stakes
from rl.simulation import ControlledNetwork


def core_after(env_id: str, scales, steps: int, **kwargs) -> tuple[ControlledNetwork, GapActuated]:
    """Copies at the given demand multipliers, driven ``steps`` decisions by actuated-gap."""
    cfg, sc = resolve_config(**{**ENV_IDS[env_id], "device": "cpu", "episode_length": 600.0, **kwargs})
    core = ControlledNetwork(cfg, sc, batch=len(scales))
    core.fixed_scale = np.asarray(scales, float)
    core.reset(np.arange(core.B), [seeding.np_random(s)[0] for s in range(core.B)])
    base = GapActuated()
    base.reset(core)
    for _ in range(steps):
        core.step(base.act(core.observe(), core))
    return core, base


def total_delay(core) -> np.ndarray:
    return core._before[:, M_DELAY:M_DELAY + 2].sum(axis=1)


def test_the_lookahead_of_each_candidate_is_what_then_happens():
    core, base = core_after("ARZ-Intersection-v0", [0.9, 1.15], steps=30)
    ctl = RolloutController(GapActuated(), horizon_s=30.0)
    ctl.reset(core)
    predicted = ctl.lookahead_delays(core)  # (B, K)
    assert predicted.shape == (2, 2) and ctl.steps == 6
    for k, phases in enumerate(ctl.candidates):
        twin, twin_base = core_after("ARZ-Intersection-v0", [0.9, 1.15], steps=30)
        start = total_delay(twin).copy()
        twin.step(np.tile(phases, (twin.B, 1)))
        for _ in range(ctl.steps - 1):
            twin.step(twin_base.act(twin.observe(), twin))
        np.testing.assert_allclose(predicted[:, k], total_delay(twin) - start, rtol=1e-12, atol=1e-9)
    # looking ahead left the real copies where they were
    np.testing.assert_array_equal(core.sim.Q, core_after("ARZ-Intersection-v0", [0.9, 1.15], steps=30)[0].sim.Q)


def test_it_takes_the_least_delay_candidate_of_every_signal_combination():
    core, _ = core_after("ARZ-Arterial-v0", [1.0], steps=20)
    ctl = RolloutController(horizon_s=10.0)
    ctl.reset(core)
    assert ctl.K == 8 and ctl.candidates.shape == (8, 3)  # 2 x 2 x 2 phases
    delays = ctl.lookahead_delays(core)
    best = np.flatnonzero(delays[0] <= delays[0].min() + 1e-6)
    own = ctl.own.act(core.observe(), core)[0]
    chosen = ctl.act(core.observe(), core)[0]
    if any((ctl.candidates[k] == own).all() for k in best):
        np.testing.assert_array_equal(chosen, own)
    else:
        np.testing.assert_array_equal(chosen, ctl.candidates[best[0]])


def test_single_candidates_are_the_base_request_and_its_one_signal_deviations():
    core, _ = core_after("ARZ-Arterial-v0", [1.0, 1.1], steps=20)
    full = RolloutController(horizon_s=10.0)
    full.reset(core)
    ctl = RolloutController(horizon_s=10.0, candidates="single")
    ctl.reset(core)
    assert ctl.K == 4 and ctl.params()["candidates"] == "single"
    own = ctl.own.act(core.observe(), core)
    cands = ctl.candidate_phases(own)  # (B, K, S)
    assert cands.shape == (2, 4, 3)
    np.testing.assert_array_equal(cands[:, 0], own)
    np.testing.assert_array_equal((cands[:, 1:] != own[:, None, :]).sum(axis=2), 1)  # one signal each
    assert len({tuple(c) for c in cands[0]}) == 4
    # each candidate's look-ahead is the one the exhaustive controller computes for that combination
    single, every = ctl.lookahead_delays(core, cands), full.lookahead_delays(core)
    for b in range(core.B):
        for k in range(ctl.K):
            j = int(np.flatnonzero((full.candidates == cands[b, k]).all(axis=1))[0])
            assert single[b, k] == pytest.approx(every[b, j], rel=1e-12, abs=1e-9)
    chosen = ctl.act(core.observe(), core)  # a fresh base request on the same state: the same one
    for b in range(core.B):
        best = single[b].min()
        assert any((chosen[b] == cands[b, k]).all() for k in np.flatnonzero(single[b] <= best + 1e-6))
    with pytest.raises(RLError, match="candidates"):
        RolloutController(candidates="some")
    with pytest.raises(RLError, match="pass them"):
        ctl.lookahead_delays(core)


def test_ties_go_to_the_base_controllers_request(monkeypatch):
    core, _ = core_after("ARZ-Intersection-v0", [1.0, 1.0, 1.0], steps=5)
    ctl = RolloutController(horizon_s=10.0)
    ctl.reset(core)
    own = ctl.own.act(core.observe(), core)[:, 0]
    other = 1 - own
    # copy 0: a tie; copy 1: the other phase is strictly better; copy 2: the base's phase is
    delays = np.zeros((3, 2))
    delays[1, other[1]], delays[1, own[1]] = 5.0, 6.0
    delays[2, other[2]], delays[2, own[2]] = 6.0, 5.0
    monkeypatch.setattr(ctl, "lookahead_delays", lambda c, cands=None: delays)
    np.testing.assert_array_equal(ctl.act(core.observe(), core)[:, 0], [own[0], other[1], own[2]])


def test_bad_horizon_and_wrong_batch_are_clear_errors():
    with pytest.raises(RLError, match="horizon_s"):
        RolloutController(horizon_s=0)
    core, _ = core_after("ARZ-Intersection-v0", [1.0, 1.1], steps=1)
    ctl = RolloutController(horizon_s=10.0)
    ctl.reset(core)
    other, _ = core_after("ARZ-Intersection-v0", [1.0], steps=1)
    with pytest.raises(RLError, match="reset for 2 copies"):
        ctl.act(other.observe(), other)


@pytest.mark.parametrize("env_id,mode", [("ARZ-Arterial-v0", "single"), ("ARZ-Arterial-v0", "all"),
                                         ("ARZ-Intersection-v0", "all")])
def test_deduped_lookahead_is_the_exhaustive_one_and_skips_locked_signals(env_id, mode):
    """Simulating only the distinct candidates (locked signals' requests ignored) gives every
    candidate the delay the exhaustive look-ahead gives it, decision after decision, and the same
    labels; and it simulates fewer copies."""
    from rl.rollout import locked_signals

    core, _ = core_after(env_id, [0.9, 1.15], steps=3)
    fast = RolloutController(GapActuated(), horizon_s=15.0, candidates=mode)
    slow = RolloutController(GapActuated(), horizon_s=15.0, candidates=mode, dedupe=False)
    fast.reset(core)
    slow.reset(core)
    seen_locked = seen_free = 0
    for _ in range(24):
        own = fast.own.act(core.observe(), core)
        cands = fast.candidate_phases(own)
        locked = locked_signals(core)
        seen_locked += int(locked.sum())
        seen_free += int((~locked).sum())
        quick, full = fast.lookahead_delays(core, cands), slow.lookahead_delays(core, cands)
        for b in range(core.B):
            if len({tuple(c) for c in np.where(locked[b], 0, cands[b])}) > 1:  # else: all tie, zeros
                np.testing.assert_allclose(quick[b], full[b], rtol=1e-12, atol=1e-9)
            else:  # every candidate alike: the exhaustive look-ahead agrees, all tie
                np.testing.assert_array_equal(quick[b], 0.0)
                np.testing.assert_allclose(full[b], full[b, 0], rtol=1e-12, atol=1e-9)
        labels = fast.act(core.observe(), core)
        np.testing.assert_array_equal(labels, slow.act(core.observe(), core))
        core.step(labels)
    assert seen_locked > 0 and seen_free > 0  # both kinds of decision were exercised
    assert fast.simulated[0] < 0.8 * fast.simulated[1] and slow.simulated[0] == slow.simulated[1]


def test_stakes_are_what_getting_each_signal_wrong_costs():
    # two signals, candidates: own (0, 0) and its one-signal deviations (1, 0), (0, 1)
    cands = np.array([[[0, 0], [1, 0], [0, 1]]] * 3)
    delays = np.array([[10.0, 25.0, 12.0],   # own is best: signal 0 is worth 15, signal 1 worth 2
                       [10.0, 4.0, 12.0],    # (1, 0) is best: signal 0 worth 6; signal 1: 12 - 4 = 8
                       [7.0, 7.0, 7.0]])     # all tie: nothing is worth anything
    chosen = np.array([[0, 0], [1, 0], [0, 0]])
    np.testing.assert_allclose(decision_stakes(cands, delays, chosen), [[15.0, 2.0], [6.0, 8.0], [0.0, 0.0]])
    # a signal no candidate changes is worth nothing
    np.testing.assert_allclose(decision_stakes(cands[:, :2], delays[:, :2], chosen), [[15.0, 0.0], [6.0, 0.0], [0.0, 0.0]])


def test_act_leaves_the_stakes_of_its_decision():
    from rl.rollout import locked_signals

    core, _ = core_after("ARZ-Arterial-v0", [1.0, 1.15], steps=20)
    ctl = RolloutController(horizon_s=10.0, candidates="single")
    ctl.reset(core)
    locked = locked_signals(core)
    own = ctl.own.act(core.observe(), core)
    cands = ctl.candidate_phases(own)
    delays = ctl.lookahead_delays(core, cands)
    chosen = ctl.act(core.observe(), core)
    assert ctl.stakes.shape == (2, 3) and (ctl.stakes >= 0).all()
    np.testing.assert_allclose(ctl.stakes, decision_stakes(cands, delays, chosen))
    assert (ctl.stakes[locked] == 0).all()  # a locked signal's request changes nothing
