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


def _faces(avg, scale):
    """WENO5 faces of the cells that have a full stencil. Shapes: (n,) -> two (n - 4,)."""
    return physics.weno5_faces(avg[:-4], avg[1:-3], avg[2:-2], avg[3:-1], avg[4:], scale)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weno5_is_exact_on_quadratics_at_both_faces(seed, scale):
    a, b, c = np.random.default_rng(seed).normal(size=3) * [1.0, 3.0, 5.0]
    def poly(x):
        return a + b * x + c * x**2
    def anti(x):
        return a * x + b * x**2 / 2 + c * x**3 / 3
    edges = np.linspace(-1.0, 2.0, 31)
    left, right = _faces(_cell_averages(anti, edges), scale)
    assert left == pytest.approx(poly(edges[2:-3]), abs=1e-12)
    assert right == pytest.approx(poly(edges[3:-2]), abs=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_weno5_faces_converge_at_fifth_order_on_smooth_data(scale):
    """sin on [0, 1.2] (no critical point): max face error falls ~32x per halving of dx."""
    errors = []
    for n in (20, 40, 80, 160):
        edges = np.linspace(0.0, 1.2, n + 1)
        left, right = _faces(_cell_averages(lambda x: -np.cos(x), edges), scale)
        errors.append(max(np.abs(left - np.sin(edges[2:-3])).max(), np.abs(right - np.sin(edges[3:-2])).max()))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert orders[-1] >= 4.5, orders
    assert errors[-1] < 1e-10
