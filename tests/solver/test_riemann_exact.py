"""Tests of the exact Riemann solver of the homogeneous single-class ARZ system."""

from __future__ import annotations

import math

import numpy as np
import pytest

from solver.verification.riemann_exact import (
    ARZParams1,
    RiemannInputError,
    exact_cell_averages,
    sample_exact,
    solve_riemann,
)

KMH = 1.0 / 3.6  # m/s per km/h
VKM = 1.0e-3  # veh/m per veh/km

PARAMS = ARZParams1(K=20 * KMH, gamma=1.5, rho_jam=0.25)
PARAMS2 = ARZParams1(K=20 * KMH, gamma=2.0, rho_jam=0.25)

# (rho_l, v_l, rho_r, v_r) in SI, DESIGN §5 kind of states
SHOCK = (20 * VKM, 60 * KMH, 120 * VKM, 10 * KMH)
RAREFACTION = (120 * VKM, 10 * KMH, 20 * VKM, 12 * KMH)
VACUUM = (120 * VKM, 10 * KMH, 20 * VKM, 60 * KMH)
CASES = {"shock": SHOCK, "rarefaction": RAREFACTION, "vacuum": VACUUM,
         "right-vacuum": (120 * VKM, 10 * KMH, 0.0, 30 * KMH),
         "left-vacuum": (0.0, 50 * KMH, 60 * VKM, 20 * KMH),
         "mild-shock": (40 * VKM, 30 * KMH, 60 * VKM, 25 * KMH)}


def w_of(rho, v, prm=PARAMS):
    return v + prm.pressure(rho)


def test_shock_case_has_shock_and_contact_and_rankine_hugoniot_holds():
    sol = solve_riemann(*SHOCK, PARAMS)
    assert sol.kind == "shock+contact"
    rho_l, v_l, _, v_r = SHOCK
    s = sol.waves[0].speeds[0]
    rho_s, v_s = sol.rho_star, sol.v_star
    y_l, y_s = rho_l * w_of(rho_l, v_l), rho_s * w_of(rho_s, v_s)
    assert s * (rho_s - rho_l) == pytest.approx(rho_s * v_s - rho_l * v_l, rel=1e-12)
    assert s * (y_s - y_l) == pytest.approx(y_s * v_s - y_l * v_l, rel=1e-12)
    assert v_s == v_r


@pytest.mark.parametrize("prm", [PARAMS, PARAMS2])
def test_shock_satisfies_lax_entropy_condition(prm):
    for case in (SHOCK, CASES["mild-shock"]):
        sol = solve_riemann(*case, prm)
        s = sol.waves[0].speeds[0]
        lam_l = case[1] - prm.gamma * prm.pressure(case[0])
        lam_s = sol.v_star - prm.gamma * prm.pressure(sol.rho_star)
        assert lam_s < s < lam_l
        assert s < sol.v_star


def test_weak_shock_speed_tends_to_characteristic_speed():
    rho, v = 50 * VKM, 30 * KMH
    lam = v - PARAMS.gamma * PARAMS.pressure(rho)
    sol = solve_riemann(rho, v, rho, v - 1e-9, PARAMS)
    assert sol.kind == "shock+contact"
    assert sol.waves[0].speeds[0] == pytest.approx(lam, abs=1e-8)


@pytest.mark.parametrize("name", ["shock", "rarefaction", "mild-shock"])
@pytest.mark.parametrize("prm", [PARAMS, PARAMS2])
def test_w_constant_across_one_wave_and_v_constant_across_contact(name, prm):
    rho_l, v_l, rho_r, v_r = CASES[name]
    sol = solve_riemann(rho_l, v_l, rho_r, v_r, prm)
    contact = sol.waves[-1].speeds[0]
    assert sol.waves[-1].kind == "contact" and contact == v_r
    xi = np.linspace(-30.0, contact - 1e-9, 2001)  # left of the contact: L, 1-wave, star
    rho, v = sol.sample(xi)
    np.testing.assert_allclose(w_of(rho, v, prm), w_of(rho_l, v_l, prm), rtol=1e-13)
    rho_s, v_s = sol.sample(np.array([contact - 1e-9, contact + 1e-9]))
    assert v_s[0] == pytest.approx(v_s[1], rel=1e-14)
    assert rho_s[0] == pytest.approx(sol.rho_star) and rho_s[1] == pytest.approx(rho_r)


@pytest.mark.parametrize("prm", [PARAMS, PARAMS2])
def test_rarefaction_fan_is_continuous_and_monotone(prm):
    sol = solve_riemann(*RAREFACTION, prm)
    assert sol.kind == "rarefaction+contact"
    lo, hi = sol.waves[0].speeds
    assert lo < hi < sol.v_star
    d = 1e-9
    rho, v = sol.sample(np.array([lo - d, lo + d, hi - d, hi + d]))
    assert rho[0] == pytest.approx(rho[1], rel=1e-8) and v[0] == pytest.approx(v[1], abs=1e-8)
    assert rho[2] == pytest.approx(rho[3], rel=1e-8) and v[2] == pytest.approx(v[3], abs=1e-8)
    assert rho[0] == pytest.approx(RAREFACTION[0]) and rho[3] == pytest.approx(sol.rho_star)
    rho_fan, v_fan = sol.sample(np.linspace(lo, hi, 200, endpoint=False))
    assert np.all(np.diff(rho_fan) < 0) and np.all(np.diff(v_fan) > 0)
    lam = v_fan - prm.gamma * prm.pressure(rho_fan)  # self-similarity: lambda1 = xi in the fan
    np.testing.assert_allclose(lam, np.linspace(lo, hi, 200, endpoint=False), atol=1e-12)


def test_vacuum_case_is_empty_between_w_l_t_and_v_r_t():
    rho_l, v_l, rho_r, v_r = VACUUM
    sol = solve_riemann(*VACUUM, PARAMS)
    assert sol.kind == "rarefaction+vacuum+contact" and sol.rho_star == 0.0
    w_l, t, x0 = w_of(rho_l, v_l), 20.0, 500.0
    assert w_l < v_r
    x = np.linspace(x0 + w_l * t, x0 + v_r * t, 101)[1:-1]
    rho, v = sample_exact(*VACUUM, PARAMS, x, t, x0)
    assert np.all(rho == 0.0) and np.all(np.isfinite(v))
    rho_out, _ = sample_exact(*VACUUM, PARAMS, np.array([x0 + w_l * t - 1e-3,
                                                         x0 + v_r * t + 1e-3]), t, x0)
    assert 0.0 < rho_out[0] < 1e-3 and rho_out[1] == rho_r


def test_right_vacuum_state_ends_rarefaction_at_w_l():
    rho_l, v_l, _, _ = CASES["right-vacuum"]
    sol = solve_riemann(*CASES["right-vacuum"], PARAMS)
    assert sol.kind == "rarefaction+vacuum"
    assert sol.waves[0].speeds[1] == pytest.approx(w_of(rho_l, v_l))
    rho, v = sol.sample(np.array([w_of(rho_l, v_l) + 1e-6, 1e3, math.inf]))
    assert np.all(rho == 0.0) and np.all(v == pytest.approx(w_of(rho_l, v_l)))


def test_left_vacuum_state_translates_right_state():
    _, _, rho_r, v_r = CASES["left-vacuum"]
    sol = solve_riemann(*CASES["left-vacuum"], PARAMS)
    assert sol.kind == "vacuum+contact"
    rho, v = sample_exact(*CASES["left-vacuum"], PARAMS, np.array([0.0, 99.0, 101.0, 500.0]),
                          10.0, 100.0 - v_r * 10.0)
    np.testing.assert_array_equal(rho, [0.0, 0.0, rho_r, rho_r])
    np.testing.assert_allclose(v, v_r)


def test_all_vacuum_and_constant_states():
    rho, v = sample_exact(0.0, 3.0, 0.0, 4.0, PARAMS, np.linspace(-5, 5, 11), 1.0, 0.0)
    assert np.all(rho == 0.0) and np.all(v == 0.0)
    sol = solve_riemann(0.05, 8.0, 0.05, 8.0, PARAMS)
    assert sol.kind == "constant" and sol.waves == ()
    rho, v = sol.sample(np.linspace(-50, 50, 11))
    assert np.all(rho == 0.05) and np.all(v == 8.0)


def test_single_waves_when_v_or_w_match():
    assert solve_riemann(0.03, 10.0, 0.09, 10.0, PARAMS).kind == "contact"  # same v
    for rho_r, kind in ((0.09, "shock"), (0.01, "rarefaction")):  # same w
        v_r = w_of(0.03, 10.0) - PARAMS.pressure(rho_r)
        sol = solve_riemann(0.03, 10.0, rho_r, v_r, PARAMS)
        assert sol.kind == kind and sol.rho_star == rho_r


def test_sample_exact_is_self_similar_and_initial_data_at_t0():
    x = np.linspace(0.0, 1000.0, 257)
    rho1, v1 = sample_exact(*SHOCK, PARAMS, x, 10.0, 500.0)
    rho2, v2 = sample_exact(*SHOCK, PARAMS, 500.0 + 2.0 * (x - 500.0), 20.0, 500.0)
    np.testing.assert_array_equal(rho1, rho2)
    np.testing.assert_array_equal(v1, v2)
    rho0, v0 = sample_exact(*SHOCK, PARAMS, x, 0.0, 500.0)
    np.testing.assert_array_equal(rho0, np.where(x < 500.0, SHOCK[0], SHOCK[2]))
    np.testing.assert_array_equal(v0, np.where(x < 500.0, SHOCK[1], SHOCK[3]))


@pytest.mark.parametrize("name", sorted(CASES))
def test_cell_averages_conserve_mass_and_y(name):
    rho_l, v_l, rho_r, v_r = CASES[name]
    t, edges = 60.0, np.linspace(-2000.0, 3000.0, 1001)  # no wave reaches the boundary by t
    rho0, y0 = exact_cell_averages(*CASES[name], PARAMS, edges, 0.0, 500.0)
    rho_t, y_t = exact_cell_averages(*CASES[name], PARAMS, edges, t, 500.0)
    dx = np.diff(edges)
    assert rho_t[0] == rho0[0] and rho_t[-1] == rho0[-1]
    assert np.sum(rho0 * dx) == pytest.approx((rho_l + rho_r) * 2500.0, rel=1e-14)
    # the outer states keep flowing through the boundaries: inflow F(L) t, outflow F(R) t
    y_l, y_r = rho_l * w_of(rho_l, v_l), rho_r * w_of(rho_r, v_r)
    mass_t = np.sum(rho0 * dx) + t * (rho_l * v_l - rho_r * v_r)
    y_total_t = np.sum(y0 * dx) + t * (y_l * v_l - y_r * v_r)
    assert np.sum(rho_t * dx) == pytest.approx(mass_t, rel=1e-12)
    assert np.sum(y_t * dx) == pytest.approx(y_total_t, rel=1e-12)
    assert np.all(rho_t >= 0.0) and np.all(np.isfinite(y_t))


@pytest.mark.parametrize("name", ["shock", "rarefaction", "vacuum", "right-vacuum"])
def test_cell_averages_of_tiny_cells_match_point_samples(name):
    t, x0, h = 30.0, 500.0, 1e-6
    centres = np.linspace(0.0, 1000.0, 397) + 0.123  # avoid landing on a wave
    edges = np.sort(np.concatenate([centres - h / 2, centres + h / 2]))
    rho_avg, y_avg = exact_cell_averages(*CASES[name], PARAMS, edges, t, x0)
    rho_pt, v_pt = sample_exact(*CASES[name], PARAMS, centres, t, x0)
    y_pt = rho_pt * (v_pt + PARAMS.pressure(rho_pt))
    np.testing.assert_allclose(rho_avg[::2], rho_pt, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(y_avg[::2], y_pt, rtol=1e-9, atol=1e-15)


def test_fan_cell_averages_match_gauss_legendre_quadrature():
    t, x0 = 40.0, 500.0
    sol = solve_riemann(*VACUUM, PARAMS2)
    lo, hi = (x0 + s * t for s in sol.waves[0].speeds)
    edges = np.linspace(lo, hi, 9)  # cells inside the fan, the last one touching vacuum
    rho_avg, y_avg = exact_cell_averages(*VACUUM, PARAMS2, edges, t, x0)
    nodes, weights = np.polynomial.legendre.leggauss(200)
    for i in range(edges.size - 1):
        a, b = edges[i] + 1e-9, edges[i + 1] - 1e-9
        x = 0.5 * (a + b) + 0.5 * (b - a) * nodes
        rho, v = sample_exact(*VACUUM, PARAMS2, x, t, x0)
        quad = 0.5 * np.sum(weights * rho)
        assert rho_avg[i] == pytest.approx(quad, rel=1e-5)  # tail cell: sqrt-type endpoint
        assert y_avg[i] == pytest.approx(quad * sol.regions[1].w, rel=1e-5)


@pytest.mark.parametrize("name", ["rarefaction", "vacuum"])
def test_cell_averages_agree_with_midpoint_sums_within_variation_bound(name):
    n_sub, edges = 4000, np.linspace(0.0, 1000.0, 41)
    rho_avg, _ = exact_cell_averages(*CASES[name], PARAMS, edges, 25.0, 500.0)
    fine = np.linspace(0.0, 1000.0, 40 * n_sub + 1)
    rho_f, _ = sample_exact(*CASES[name], PARAMS, 0.5 * (fine[1:] + fine[:-1]), 25.0, 500.0)
    rho_f = rho_f.reshape(40, n_sub)
    # a midpoint sum of a piecewise monotone function errs by at most its variation / n_sub
    variation = np.abs(np.diff(rho_f, axis=1)).sum(axis=1) + np.abs(np.diff(rho_f[:, [0, -1]]))[:, 0]
    assert np.all(np.abs(rho_avg - rho_f.mean(axis=1)) <= 2 * variation / n_sub + 1e-14)
    assert np.count_nonzero(variation) >= 3  # the fan spans several cells


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"rho_l": -0.01}, "rho_l"), ({"rho_r": -1e-9}, "rho_r"), ({"v_l": math.nan}, "v_l"),
     ({"v_r": math.inf}, "v_r"), ({"rho_l": math.nan}, "rho_l")],
)
def test_invalid_states_name_the_argument(kwargs, argument):
    args = dict(zip(("rho_l", "v_l", "rho_r", "v_r"), SHOCK, strict=True)) | kwargs
    with pytest.raises(ValueError, match=argument) as info:
        solve_riemann(**args, params=PARAMS)
    assert isinstance(info.value, RiemannInputError) and info.value.argument == argument


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"gamma": 1.0}, "gamma"), ({"gamma": 0.5}, "gamma"), ({"K": 0.0}, "K"),
     ({"rho_jam": -0.25}, "rho_jam"), ({"K": math.nan}, "K")],
)
def test_invalid_params_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"^{argument}="):
        ARZParams1(**({"K": 5.0, "gamma": 1.5, "rho_jam": 0.25} | kwargs))


def test_invalid_time_edges_and_positions():
    with pytest.raises(ValueError, match="^t="):
        sample_exact(*SHOCK, PARAMS, np.zeros(3), -1.0, 0.0)
    with pytest.raises(ValueError, match="^edges="):
        exact_cell_averages(*SHOCK, PARAMS, np.array([0.0, 2.0, 1.0]), 1.0, 0.0)
    with pytest.raises(ValueError, match="^x="):
        sample_exact(*SHOCK, PARAMS, np.array([math.nan]), 1.0, 0.0)
    with pytest.raises(ValueError, match="^sub="):
        exact_cell_averages(*SHOCK, PARAMS, np.array([0.0, 1.0]), 1.0, 0.0, sub=0)
