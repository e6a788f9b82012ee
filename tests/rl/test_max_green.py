"""The scenario's max green binds every controller (rl.simulation.max_green_guard)."""

import numpy as np

from rl.simulation import green_state_from_obs, max_green_guard
from tests.rl.test_values import _core


def test_the_guard_by_hand():
    shown = np.array([[0, 1], [1, 0], [0, 2]])
    at_max = np.array([[True, False], [True, True], [False, True]])
    asked = np.array([[0, 1], [0, 0], [1, 2]])
    nvec = np.array([2, 3])
    # kept phases at max green move to the next phase; a request for another phase stands
    assert max_green_guard(shown, at_max, asked, nvec).tolist() == [[1, 1], [0, 1], [1, 0]]


def test_a_green_never_outlasts_max_green_and_the_gpu_reading_agrees():
    core = _core(batch=2, episode_length=600.0)
    core.reset(np.arange(2), [np.random.default_rng(s) for s in (1, 2)])
    max_green = float(core.layout.max_green[0])
    dt = core.cfg.decision_interval
    greens, run = [], np.zeros(2)
    for _ in range(core.cfg.n_decisions):
        host = (np.asarray(core.sim.SP).copy(), (np.asarray(core.sim.SS) == 0)
                & (np.asarray(core.sim.ST) >= max_green - 1e-9))
        from_obs = green_state_from_obs(core.observe(), core.nvec)  # what the GPU batch reads
        assert (from_obs[0] == host[0]).all() and (from_obs[1] == host[1]).all()
        core.step(np.zeros((2, 1), np.int64))  # always ask for north-south
        in_green = (np.asarray(core.sim.SS)[:, 0] == 0) & (np.asarray(core.sim.SP)[:, 0] == 0)
        run = np.where(in_green, run + dt, 0.0)
        greens.append(run.copy())
    longest = np.max(greens)
    assert max_green - dt <= longest <= max_green + dt  # it was reached, and it was ended


def test_max_green_ends_a_green_only_for_a_waiting_call():
    from rl.observation import OCCUPIED
    from rl.signal_plans import phase_greens
    from rl.simulation import conflicting_calls

    core = _core(batch=3)
    greens = phase_greens(core.net)  # [[N, S], [E, W]] as approach indices
    obs = np.zeros((3, core.layout.size), np.float32)
    east = greens[0][1][0]
    obs[0, 6 * east] = OCCUPIED + 0.05  # copy 0: motorcycles in east's detector zone
    obs[1, 6 * east + 1] = OCCUPIED / 2  # copy 1: too few to be a call
    obs[2, 6 * greens[0][0][0]] = 1.0  # copy 2: only the green approach (north) is occupied
    shown = np.zeros((3, 1), np.int64)  # north-south green everywhere
    assert conflicting_calls(obs, shown, greens, len(core.net.approaches))[:, 0].tolist() == [True, False, False]
    # the same occupancy calls north-south when east-west is green
    assert conflicting_calls(obs, np.ones((3, 1), np.int64), greens, 4)[:, 0].tolist() == [False, False, True]


def test_a_green_without_a_call_rests():
    """No vehicle anywhere: a green held past max green stays green (nobody waits)."""
    core = _core(batch=1, episode_length=200.0, demand_scale=1e-6)
    core.reset(np.arange(1), [np.random.default_rng(0)])
    for _ in range(core.cfg.n_decisions):
        core.step(np.zeros((1, 1), np.int64))
    assert int(core.sim.SP[0, 0]) == 0 and int(core.sim.SS[0, 0]) == 0
    assert float(core.sim.ST[0, 0]) > float(core.layout.max_green[0])
