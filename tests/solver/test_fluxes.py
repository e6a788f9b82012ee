"""Numerical fluxes at one interface, against the equations (not against a second copy of them).

Consistency ``F(u, u) = f(u)``, upwinding when every wave goes one way, wave-speed bounds that
enclose the eigenvalues of a finite-difference Jacobian of the flux, and HLL (Davis estimates) as
a flux of its own: different from central-upwind on generic states and converging to the exact
Riemann solution.
"""

from __future__ import annotations

import numpy as np
import pytest

from solver import physics
from solver.kernels import link as K
from solver.params import PhysicsParams
from solver.verification.cases import KMH, RIEMANN_CASES, VKM, advance, riemann_mapping, road
from solver.verification.report import observed_orders
from solver.verification.riemann_exact import ARZParams1, exact_cell_averages

PAR = PhysicsParams().packed()
P = PhysicsParams()


def states(rng: np.random.Generator, n: int, v_lo: float = 0.0, v_hi: float = 20.0) -> np.ndarray:
    """Conserved states, densities 5..150 / 2..80 veh/km, speeds v_lo..v_hi m/s.

    The pressure is the DESIGN power law written out here. Shapes: returns (n, 4).
    """
    rho_m, rho_c = rng.uniform(0.005, 0.15, n), rng.uniform(0.002, 0.08, n)
    v_m, v_c = rng.uniform(v_lo, v_hi, n), rng.uniform(v_lo, v_hi, n)
    p_m = P.K_m * ((rho_m + P.alpha * rho_c) / P.rho_jam) ** P.gamma_m
    p_c = P.K_c * ((rho_m + rho_c) / P.rho_jam) ** P.gamma_c
    return np.stack([rho_m, rho_m * (v_m + p_m), rho_c, rho_c * (v_c + p_c)], axis=1)


def physical_flux(q: np.ndarray) -> np.ndarray:
    """``(rho_m v_m, y_m v_m, rho_c v_c, y_c v_c)`` from DESIGN §2, for rho well above vacuum."""
    rho_m, y_m, rho_c, y_c = q
    v_m = y_m / rho_m - P.K_m * ((rho_m + P.alpha * rho_c) / P.rho_jam) ** P.gamma_m
    v_c = y_c / rho_c - P.K_c * ((rho_m + rho_c) / P.rho_jam) ** P.gamma_c
    return np.array([rho_m * v_m, y_m * v_m, rho_c * v_c, y_c * v_c])


def jacobian_eigenvalues(q: np.ndarray) -> np.ndarray:
    """Eigenvalues of the 4x4 Jacobian of :func:`physical_flux` by complex-step differentiation
    (exact to round-off: ``df/dq_j = Im f(q + i h e_j) / h``)."""
    jac = np.empty((4, 4))
    for j in range(4):
        step = q.astype(complex)
        step[j] += 1e-30j
        jac[:, j] = physical_flux(step).imag / 1e-30
    return np.linalg.eigvals(jac)


@pytest.mark.parametrize("kind", [K.CENTRAL_UPWIND, K.HLL], ids=["cu", "hll"])
def test_flux_is_consistent(kind):
    for q in states(np.random.default_rng(1), 200):
        got = physics.numerical_flux(*q, *q, kind, PAR)[:4]
        assert np.array(got) == pytest.approx(physical_flux(q), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("kind", [K.CENTRAL_UPWIND, K.HLL], ids=["cu", "hll"])
def test_flux_is_the_upwind_flux_when_every_wave_goes_right(kind):
    """Light traffic at speed: every eigenvalue of both states is positive, so F = f(q_L)."""
    rng = np.random.default_rng(2)
    checked = 0
    for ql, qr in zip(states(rng, 300, 12.0, 25.0), states(rng, 300, 12.0, 25.0), strict=True):
        ql[[0, 2]] *= 0.3  # light traffic: pressure terms well below the speeds
        qr[[0, 2]] *= 0.3
        ql[[1, 3]] *= 0.3
        qr[[1, 3]] *= 0.3
        lo, _ = physics.flux_and_speeds(*ql, PAR)[4:]
        lo_r, _ = physics.flux_and_speeds(*qr, PAR)[4:]
        if min(lo, lo_r) <= 0.0:
            continue
        checked += 1
        got = physics.numerical_flux(*ql, *qr, kind, PAR)[:4]
        assert np.array(got) == pytest.approx(physical_flux(ql), rel=1e-12)
    assert checked >= 100


def test_wave_speed_bounds_enclose_the_eigenvalues_of_the_jacobian():
    rng = np.random.default_rng(3)
    for q in states(rng, 300):
        lam = jacobian_eigenvalues(q)
        assert np.abs(lam.imag).max() < 1e-6  # hyperbolic: real spectrum
        s_min, s_max = physics.flux_and_speeds(*q, PAR)[4:]
        assert s_min <= lam.real.min() + 1e-9 and lam.real.max() <= s_max + 1e-9
        lo, hi = physics.characteristic_speeds(*q, PAR)  # HLL's estimates are the extreme eigenvalues
        assert lo == pytest.approx(lam.real.min(), abs=1e-9)
        assert hi == pytest.approx(lam.real.max(), abs=1e-9)
        assert s_min <= lo and hi <= s_max


def test_hll_differs_from_central_upwind_on_generic_states():
    """Wherever waves go both ways (S_L < 0 < S_R) HLL's tighter speeds give another flux; where
    every wave goes one way both are the upwind flux."""
    rng = np.random.default_rng(4)
    ql, qr = states(rng, 2000, 0.0, 12.0), states(rng, 2000, 0.0, 12.0)
    both_ways = upwind = 0
    for a, b in zip(ql, qr, strict=True):
        diff = np.subtract(physics.numerical_flux(*a, *b, K.HLL, PAR)[:4],
                           physics.numerical_flux(*a, *b, K.CENTRAL_UPWIND, PAR)[:4])
        lo = min(physics.characteristic_speeds(*a, PAR)[0], physics.characteristic_speeds(*b, PAR)[0])
        if lo < 0.0:
            both_ways += 1
            assert np.abs(diff).max() > 1e-9 * np.abs(physical_flux(a)).max()
        elif min(physics.flux_and_speeds(*a, PAR)[4], physics.flux_and_speeds(*b, PAR)[4]) >= 0.0:
            upwind += 1
            assert np.abs(diff).max() == 0.0
    assert both_ways > 200 and upwind > 100, (both_ways, upwind)


def test_hll_converges_to_the_exact_riemann_solution_at_a_shock():
    """Shock + contact of the verification suite with ``flux: hll``: L1 of rho falls at every
    refinement with an observed order >= 0.5, and HLL's errors are not central-upwind's."""
    case = next(c for c in RIEMANN_CASES if c.name == "shock_contact")
    (rl, vl), (rr, vr) = case.left, case.right
    cells, errors = (100, 200, 400), {"hll": [], "central_upwind": []}
    for flux in errors:
        for n in cells:
            mapping = riemann_mapping(case, n)
            mapping["numerics"] = {**mapping["numerics"], "flux": flux}
            run = advance(road(mapping), case.end, chunks=4)
            p = run.prob.params
            exact, _ = exact_cell_averages(rl * VKM, vl * KMH, rr * VKM, vr * KMH,
                                           ARZParams1(K=p.K_m, gamma=p.gamma_m, rho_jam=p.rho_jam),
                                           run.prob.edges, case.end, case.split)
            assert run.completed
            errors[flux].append(float(np.abs(run.interior[0] - exact).sum() * run.prob.setup.dx))
    orders = observed_orders(list(cells), errors["hll"])[1:]
    assert min(orders) >= 0.5, (errors, orders)
    assert errors["hll"] != errors["central_upwind"]
