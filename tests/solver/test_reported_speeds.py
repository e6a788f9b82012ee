"""Reported speeds are the transport speeds of the fluxes (solver/network/speeds.py, docs/network.md):
a standing queue behind a red light reads ~0 while ``w - p`` still says it moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from solver import physics
from solver.network.batch import BatchedNetwork
from solver.network.compile import build_network
from solver.network.run import simulate_network
from solver.network.speeds import transport_speeds
from solver.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
KMH = 3.6


@pytest.fixture(scope="module")
def red_light():
    return simulate_network(load_scenario(ROOT / "scenarios/red_light.yml"))


def test_a_standing_queue_behind_a_red_light_reports_no_speed(red_light):
    """t = 88 s, red since 0 s: cells at >= 95 % of rho_jam with both neighbours too are the
    queue's inside; their reported speed is <= 0.1 km/h, while w - p there is not."""
    res = red_light
    i = int(np.argmin(np.abs(res.t - 88.0)))
    f = {k.split("/")[1]: v[i] for k, v in res.fields.items() if k.startswith("approach/")}
    rho = f["rho_m"] + f["rho_c"]
    dense = rho >= 0.95 * 0.25
    inside = dense & np.roll(dense, 1) & np.roll(dense, -1)
    inside[[0, -1]] = dense[[0, -1]] & dense[[1, -2]]
    assert inside.sum() >= 10  # a real queue (~40 cells of 10 m)
    assert np.abs(f["v_m"][inside]).max() * KMH <= 0.1
    assert np.abs(f["v_c"][inside]).max() * KMH <= 0.1
    par = load_scenario(ROOT / "scenarios/red_light.yml").physics.to_params().packed()
    p_m = np.array([physics.pressures(a, b, par)[0] for a, b in zip(f["rho_m"], f["rho_c"], strict=True)])
    assert (f["w_m"][inside] - p_m[inside]).max() * KMH > 0.5  # what was reported before


def test_no_reported_speed_exceeds_the_free_speed_or_is_negative(red_light):
    """Nearly empty cells between busy faces (the gaps the red light's platoons leave) divide face
    fluxes by ~1e-5 veh/m; the report clips them to [0, Vmax] (it read up to 113 m/s before)."""
    net = build_network(load_scenario(ROOT / "scenarios/red_light.yml"))
    for link in net.links:
        sl = net.link_slice(link)
        for k, cls in enumerate(("m", "c")):
            v = red_light.fields[f"{link}/v_{cls}"]
            assert v.min() >= 0.0
            assert (v <= net.vmax[k, sl][None, :] * (1 + 1e-12)).all(), f"{link} {cls}: {v.max():.1f} m/s"


def test_the_reported_speed_equals_w_minus_p_where_nothing_limits_the_flux(red_light):
    """Uniform equilibrium at t = 0: every interior face carries rho v, so the face average is v."""
    f = {k: v[0] for k, v in red_light.fields.items()}
    sc = load_scenario(ROOT / "scenarios/red_light.yml")
    par = sc.physics.to_params().packed()
    for link in ("approach", "downstream"):
        rho_m, rho_c = f[f"{link}/rho_m"], f[f"{link}/rho_c"]
        p = np.array([physics.pressures(a, b, par) for a, b in zip(rho_m, rho_c, strict=True)])
        inner = slice(1, -1)  # the end cells see the node faces (red light, entry)
        assert f[f"{link}/v_m"][inner] == pytest.approx((f[f"{link}/w_m"] - p[:, 0])[inner], rel=1e-9)
        assert f[f"{link}/v_c"][inner] == pytest.approx((f[f"{link}/w_c"] - p[:, 1])[inner], rel=1e-9)
        assert f[f"{link}/v_m"][inner].min() > 5.0  # m/s: a free-flowing link, not an empty one


def test_the_speed_is_the_face_average_of_the_mass_flux_over_rho_and_leaves_the_state_alone():
    """The last cell before the red light: its outflow face is shut, its inflow face carries the
    upstream flux, so it reports half of that flux over its density; and computing speeds does
    not touch the state, the queues or the signal state."""
    net = build_network(load_scenario(ROOT / "scenarios/red_light.yml"))
    sim = BatchedNetwork(net, batch=2, threads=1)
    sim.advance(20.0, np.array([[1], [0]]))  # copy 0 red (phase 1 = stop), copy 1 green
    before = [a.copy() for a in (sim.Q, sim.QU, sim.T, sim.SP, sim.SS, sim.ST)]
    u = transport_speeds(sim)
    for a, b in zip(before, (sim.Q, sim.QU, sim.T, sim.SP, sim.SS, sim.ST), strict=True):
        assert np.array_equal(a, b)
    last = net.link_slice("approach").stop - 1
    u_red, u_green = u[0, 0, last], u[1, 0, last]
    assert u_green > 1.0 and 0.0 < u_red < 0.75 * u_green  # shut outflow: a half-face average
    assert u[:, :, : net.link_slice("approach").start].max() == 0.0  # ghost cells stay 0
