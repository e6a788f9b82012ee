"""Pointwise physics: DESIGN §2 reference values, creeping, and the WENO5-JS face values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from solver import physics
from solver.params import PhysicsParams

PAR = PhysicsParams().packed()
VMAX = PhysicsParams().vmax


@pytest.mark.parametrize(
    ("rho_m", "rho_c", "quality", "p_m", "p_c", "ve_c"),
    [(0.015, 0.005, 1, 0.02463, 0.01333, 19.1667), (0.05, 0.02, 3, 0.15520, 0.16333, 7.0000)],
)
def test_design_reference_values(rho_m, rho_c, quality, p_m, p_c, ve_c):
    got_m, got_c = physics.pressures(rho_m, rho_c, PAR)
    vm, vc = VMAX[quality]
    _, got_ve_c = physics.equilibrium_speeds(rho_m, rho_c, vm, vc, PAR)
    assert got_m == pytest.approx(p_m, abs=5e-6)
    assert got_c == pytest.approx(p_c, abs=5e-6)
    assert got_ve_c == pytest.approx(ve_c, abs=5e-5)


def test_motorcycles_creep_through_jammed_cars_and_stop_only_when_they_fill_the_road():
    vm, vc = VMAX[2]
    v_creep = PhysicsParams().v_creep
    ve_m, ve_c = physics.equilibrium_speeds(0.05, 0.21, vm, vc, PAR)  # rho_tot > rho_jam
    assert ve_c == 0.0
    assert ve_m == pytest.approx(v_creep * (1 - (0.05 + 0.4 * 0.21) / 0.25))
    assert physics.equilibrium_speeds(0.25, 0.0, vm, vc, PAR) == (0.0, 0.0)
    free_m, free_c = physics.equilibrium_speeds(0.0, 0.0, vm, vc, PAR)
    assert (free_m, free_c) == pytest.approx((vm, vc))


def test_pressure_slopes_match_finite_differences():
    rm, rc, h = 0.06, 0.03, 1e-7
    p_m, p_c, s_m, s_c = physics.pressure_slopes(rm, rc, PAR)
    assert (p_m, p_c) == pytest.approx(physics.pressures(rm, rc, PAR), rel=1e-14)
    dm = (physics.pressures(rm + h, rc, PAR)[0] - physics.pressures(rm - h, rc, PAR)[0]) / (2 * h)
    dc = (physics.pressures(rm, rc + h, PAR)[1] - physics.pressures(rm, rc - h, PAR)[1]) / (2 * h)
    assert s_m == pytest.approx(dm, rel=1e-7)
    assert s_c == pytest.approx(dc, rel=1e-7)


def test_marker_is_exact_away_from_vacuum_and_finite_in_it():
    eps = PhysicsParams().eps_vacuum
    assert physics.marker(0.05, 0.05 * 12.0, eps) == pytest.approx(12.0, rel=1e-15)
    assert physics.marker(0.0, 0.0, eps) == 0.0
    tiny = physics.marker(1e-12, 1e-3, eps)  # y/rho would be 1e9 m/s
    assert math.isfinite(tiny) and abs(tiny) < 1.0


def _cell_averages(antiderivative, edges):
    return (antiderivative(edges[1:]) - antiderivative(edges[:-1])) / np.diff(edges)


def _faces(rho, y, scale_r=0.25, scale_y=10.0, z=True):
    """WENO5 faces of the kernels' reconstruction (``weno5_class_faces``, weights shared by rho
    and y; ``z``: WENO-Z weights, else JS) for the cells that have a full stencil.
    Shapes: (n,) -> four (n - 4,)."""
    st = [v[k : v.size - 4 + k] for v in (rho, y) for k in range(5)]
    return physics.weno5_class_faces(*st, scale_r, scale_y, z)


@pytest.mark.parametrize("z", [True, False], ids=["Z", "JS"])
@pytest.mark.parametrize("scales", [(1e-3, 1e-3), (0.25, 10.0), (1e3, 1.0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weno5_is_exact_on_quadratics_at_both_sides_of_every_interface(seed, scales, z):
    """Each candidate stencil is exact for quadratics, so any weights give the exact face values
    of rho and of y (different quadratics), on the left face x_{i-1/2}^+ and the right x_{i+1/2}^-."""
    rng = np.random.default_rng(seed)
    edges = np.linspace(-1.0, 2.0, 31)
    faces = []
    for a, b, c in (rng.normal(size=3) * [1.0, 3.0, 5.0], rng.normal(size=3) * [2.0, 1.0, 7.0]):
        faces.append((_cell_averages(lambda x, a=a, b=b, c=c: a * x + b * x**2 / 2 + c * x**3 / 3, edges),
                      lambda x, a=a, b=b, c=c: a + b * x + c * x**2))
    (r_avg, r_poly), (y_avg, y_poly) = faces
    r_l, r_r, y_l, y_r = _faces(r_avg, y_avg, *scales, z=z)
    assert r_l == pytest.approx(r_poly(edges[2:-3]), abs=1e-11)
    assert r_r == pytest.approx(r_poly(edges[3:-2]), abs=1e-11)
    assert y_l == pytest.approx(y_poly(edges[2:-3]), abs=1e-11)
    assert y_r == pytest.approx(y_poly(edges[3:-2]), abs=1e-11)


@pytest.mark.parametrize("z", [True, False], ids=["Z", "JS"])
def test_weno5_class_faces_converge_at_fifth_order_on_smooth_data(z):
    """rho = 0.1 + 0.05 sin x, y = rho (8 + cos x) on [0, 1.2]: max face error falls ~32x per halving."""
    def anti_r(x):
        return 0.1 * x - 0.05 * np.cos(x)
    def anti_y(x):  # integral of (0.1 + 0.05 sin x)(8 + cos x)
        return 0.8 * x + 0.1 * np.sin(x) - 0.4 * np.cos(x) + 0.025 * np.sin(x) ** 2
    def rho(x):
        return 0.1 + 0.05 * np.sin(x)
    errors = []
    for n in (20, 40, 80, 160):
        edges = np.linspace(0.0, 1.2, n + 1)
        r_l, r_r, y_l, y_r = _faces(_cell_averages(anti_r, edges), _cell_averages(anti_y, edges), z=z)
        xl, xr = edges[2:-3], edges[3:-2]
        errors.append(max(np.abs(r_l - rho(xl)).max(), np.abs(r_r - rho(xr)).max(),
                          np.abs(y_l - rho(xl) * (8 + np.cos(xl))).max(),
                          np.abs(y_r - rho(xr) * (8 + np.cos(xr))).max()))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert orders[-1] >= 4.5, orders
    assert errors[-1] < 1e-9


@pytest.mark.parametrize("z", [True, False], ids=["Z", "JS"])
@pytest.mark.parametrize("seed", range(4))
def test_weno5_keeps_a_constant_marker_at_vacuum_fronts(seed, z):
    """y = w rho with one w and rho jumping from vacuum to a platoon: both faces keep exactly w
    (shared weights make the map linear in (rho, y) jointly), wherever the face density is not tiny."""
    rng = np.random.default_rng(seed)
    rho = np.concatenate([np.zeros(6), rng.uniform(0.05, 0.24, 4), np.zeros(3), rng.uniform(0.0, 0.1, 6)])
    w = rng.uniform(2.0, 25.0)
    r_l, r_r, y_l, y_r = _faces(rho, w * rho, z=z)
    for r, y in ((r_l, y_l), (r_r, y_r)):
        assert y == pytest.approx(w * r, abs=1e-13)
        big = np.abs(r) > 1e-6
        assert big.sum() >= 4
        assert y[big] / r[big] == pytest.approx(np.full(big.sum(), w), rel=1e-12)


def test_weno_z_weights_stay_closer_to_the_linear_scheme_at_a_smooth_extremum():
    """Around the maximum of a sine, WENO-JS's weights depart from the linear ones (the cause of
    its order loss at critical points); WENO-Z's (Borges et al. 2008) stay closer: its faces are
    nearer the linear fifth-order faces, and both are nearer the exact face values than 1e-6."""
    edges = np.linspace(np.pi / 2 - 0.5, np.pi / 2 + 0.5, 21)
    avg = _cell_averages(lambda x: 0.1 * x - 0.1 * np.cos(x), edges)
    st = [avg[k : avg.size - 4 + k] for k in range(5)]
    linear_r = (2 * st[0] - 13 * st[1] + 47 * st[2] + 27 * st[3] - 3 * st[4]) / 60  # d = (0.1, 0.6, 0.3)
    z_l, z_r, _, _ = _faces(avg, avg, 0.01, 1e9, z=True)
    js_l, js_r, _, _ = _faces(avg, avg, 0.01, 1e9, z=False)
    dev_z, dev_js = np.abs(z_r - linear_r).max(), np.abs(js_r - linear_r).max()
    assert dev_z < 0.1 * dev_js, (dev_z, dev_js)
    exact_r = 0.1 + 0.1 * np.sin(edges[3:-2])
    assert np.abs(z_r - exact_r).max() < 1e-6


@pytest.mark.parametrize("gammas", [(1.5, 2.0), (2.0, 1.5), (1.3, 2.7)])
def test_array_pressures_are_the_scalar_pressures_bitwise(gammas):
    """solver.initial.pressures (used for initial cell averages) gives the scalar function's bits,
    including at zero and slightly negative densities (clipped to 0 like physics.power)."""
    from solver.initial import pressures

    params = PhysicsParams(gamma_m=gammas[0], gamma_c=gammas[1])
    rng = np.random.default_rng(3)
    rho_m, rho_c = rng.uniform(-0.01, 0.3, 400), rng.uniform(-0.01, 0.2, 400)
    rho_m[:7], rho_c[3:9] = 0.0, 0.0
    p_m, p_c = pressures(rho_m, rho_c, params)
    par = params.packed()
    for i in range(rho_m.size):
        want = physics.pressures(float(rho_m[i]), float(rho_c[i]), par)
        assert (p_m[i], p_c[i]) == want
