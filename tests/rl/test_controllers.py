"""Classical controllers: action-space compliance, Webster's formula and max-pressure choice."""

import numpy as np
import pytest

import rl
from rl.controllers import CONTROLLERS, make_controller
from rl.errors import UnknownNameError
from rl.signal_plans import approach_flows, saturation_flows, webster_plan


@pytest.fixture(scope="module")
def venvs():
    return {eid: rl.make_vec_env(eid, 2, seed=0, episode_length=120.0) for eid in rl.ENV_IDS}


@pytest.mark.parametrize("name", sorted(CONTROLLERS))
@pytest.mark.parametrize("env_id", sorted(rl.ENV_IDS))
def test_every_controller_respects_the_action_space(venvs, env_id, name):
    venv = venvs[env_id]
    ctl = make_controller(name)
    ctl.reset(venv.core, seed=0)
    obs = venv.reset()
    for _ in range(min(venv.config.n_decisions, 8)):
        actions = ctl.act(obs, venv.core)
        assert actions.shape == (2, len(venv.core.nvec)) and actions.dtype.kind == "i"
        for a in actions:
            assert venv.action_space.contains(a[0] if a.size == 1 else a)
        obs, *_ = venv.step(actions)


def test_unknown_controller_names_the_choices():
    with pytest.raises(UnknownNameError, match="max-pressure"):
        make_controller("smart")


def test_webster_follows_the_formula(venvs):
    net = venvs["ARZ-Arterial-v0"].core.net
    flows = approach_flows(net, 3600.0)
    sat = saturation_flows(net, flows)
    plan = webster_plan(net, 2, flows, sat)
    y = np.array([flows["main2"].sum() / sat["main2"], flows["cross3_in"].sum() / sat["cross3_in"]])
    cycle = (1.5 * 10.0 + 5.0) / (1.0 - y.sum())
    assert plan.cycle == pytest.approx(cycle)
    assert plan.greens[0] / plan.greens[1] == pytest.approx(y[0] / y[1])
    assert 0.3 < flows["main2"].sum() / sat["main2"] < 0.8  # mean demand below capacity


def test_fixed_time_runs_the_plan_cyclically(venvs):
    venv = venvs["ARZ-Intersection-v0"]
    ctl = make_controller("fixed-time")
    ctl.reset(venv.core)
    plan = ctl.plans[0]
    venv.reset()
    venv.core.sim.T[:] = plan.greens[0] + plan.lost[0] + 1.0  # inside phase 1's window
    assert (ctl.act(None, venv.core) == 1).all()
    venv.core.sim.T[:] = plan.cycle + 1.0  # next cycle starts with phase 0
    assert (ctl.act(None, venv.core) == 0).all()


def test_max_pressure_serves_the_loaded_approaches(venvs):
    venv = venvs["ARZ-Intersection-v0"]
    ctl = make_controller("max-pressure")
    ctl.reset(venv.core)
    venv.reset()
    sim = venv.core.sim
    sim.Q[1, 2, venv.core.net.link_slice("E_in")] = 0.1  # copy 1: cars waiting east
    actions = ctl.act(None, venv.core)
    assert actions[:, 0].tolist() == [0, 1]


def test_peak_design_flows_bound_the_mean_and_lengthen_the_cycle(venvs):
    net = venvs["ARZ-Intersection-v0"].core.net
    mean, peak = approach_flows(net, 3600.0), approach_flows(net, 3600.0, statistic="peak")
    assert all((peak[k] >= mean[k] - 1e-12).all() for k in mean)
    assert peak["N_in"].sum() > 1.1 * mean["N_in"].sum()  # the morning peak of the profile
    hour = rl.make_vec_env("ARZ-Intersection-v0", 1, seed=0)  # plans are designed over the episode
    ctl_mean, ctl_peak = make_controller("fixed-time"), make_controller("fixed-time-peak")
    for ctl in (ctl_mean, ctl_peak):
        ctl.reset(hour.core)
    assert ctl_peak.plans[0].cycle > 1.2 * ctl_mean.plans[0].cycle
