"""The numba-cpu backend agrees with the numpy oracle to ~1e-12 on random valid states."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from solver import physics
from solver.backends import get_backend
from solver.kernels import link as K
from solver.kernels.common import generic_paths
from solver.params import GAMMA_C, GAMMA_M, RELAX
from solver.road.simulate import build_road
from solver.scenario.road import RoadScenario
from solver.verification.cases import road

N = 40
BOUNDARIES = {
    "outflow": (K.BC_OUTFLOW, K.BC_OUTFLOW),
    "periodic": (K.BC_PERIODIC, K.BC_PERIODIC),
    "inflow-wall": (K.BC_INFLOW, K.BC_WALL),
    "wall-inflow": (K.BC_WALL, K.BC_INFLOW),
}


def random_state(rng: np.random.Generator, n: int, par: np.ndarray) -> np.ndarray:
    """Valid conserved states: densities 5..150 veh/km per class, speeds 0..20 m/s.

    Shapes: returns (4, n).
    """
    rho_m, rho_c = rng.uniform(0.005, 0.15, n), rng.uniform(0.002, 0.08, n)
    v_m, v_c = rng.uniform(0.0, 20.0, n), rng.uniform(0.0, 15.0, n)
    p = np.array([physics.pressures(a, b, par) for a, b in zip(rho_m, rho_c, strict=True)])
    return np.stack([rho_m, rho_m * (v_m + p[:, 0]), rho_c, rho_c * (v_c + p[:, 1])])


def _problem(seed: int, order: int, kind: int, bc: tuple[int, int]):
    prob = road({"road": {"length": 400.0, "cells": N, "quality": [1 + i % 5 for i in range(N)]},
                 "initial": {"type": "uniform", "state": {}}})  # fmt: skip
    rng = np.random.default_rng(seed)
    bstate = random_state(rng, 2, prob.setup.par).T.copy()
    setup = dataclasses.replace(prob.setup, order=order, kind=kind, bc=np.array(bc, np.int64), bstate=bstate)
    q0 = np.zeros_like(prob.q0)
    q0[:, K.NG : K.NG + N] = random_state(rng, N, prob.setup.par)
    return setup, q0


def _advance(backend: str, setup, q0, steps: int):
    Q, T, BF = q0[None].copy(), np.zeros(1), np.zeros((1, 2, 4))
    taken, fails = get_backend(backend).advance_links(setup, Q, T, 1e9, steps, BF)
    return Q[0, :, K.NG : K.NG + setup.n], T[0], BF[0], int(taken[0]), int(fails[0])


@pytest.mark.parametrize("bc", list(BOUNDARIES), ids=list(BOUNDARIES))
@pytest.mark.parametrize("kind", [K.CENTRAL_UPWIND, K.HLL], ids=["cu", "hll"])
@pytest.mark.parametrize("order", [K.FIRST_ORDER, K.WENO5, K.WENO5_JS], ids=["first", "weno5z", "weno5js"])
def test_numba_cpu_matches_the_numpy_oracle(order, kind, bc):
    setup, q0 = _problem(seed=17 * order + 5 * kind + len(bc), order=order, kind=kind, bc=BOUNDARIES[bc])
    assert setup.par[RELAX] == 1.0  # relaxation on
    ref = _advance("numpy", setup, q0, 4)
    got = _advance("numba-cpu", setup, q0, 4)
    assert got[3] == ref[3] == 4 and got[4] == ref[4] == 0
    assert got[1] == pytest.approx(ref[1], rel=1e-13)
    scale = np.abs(ref[0]).max(axis=1, keepdims=True)
    assert np.abs(got[0] - ref[0]).max() <= 1e-12 * scale.max()
    assert np.abs(got[0] - ref[0]) / scale == pytest.approx(0.0, abs=1e-12)
    assert got[2] == pytest.approx(ref[2], rel=1e-12, abs=1e-15)


def test_states_actually_change_and_boundaries_transfer_mass():
    """Guards the comparison above against comparing two untouched arrays."""
    setup, q0 = _problem(seed=3, order=K.WENO5, kind=K.CENTRAL_UPWIND, bc=BOUNDARIES["inflow-wall"])
    q, _, bflux, _, _ = _advance("numba-cpu", setup, q0, 4)
    assert np.abs(q - q0[:, K.NG : K.NG + N]).max() > 1e-4
    assert bflux[0, 0] > 0.0 and bflux[1].tolist() == [0.0, 0.0, 0.0, 0.0]  # inflow in, wall shut


def test_backends_agree_when_one_class_meets_vacuum():
    prob = build_road(RoadScenario.model_validate({
        "name": "t", "time": {"end": 1.0}, "road": {"length": 300.0, "cells": 30},
        "initial": {"type": "riemann", "split": 150.0, "left": {"rho_m": 0.1, "v_m": 5.0, "rho_c": 0.02, "v_c": 4.0},
                    "right": {"rho_m": 0.02, "v_m": 12.0}},
    }))  # fmt: skip
    a = _advance("numpy", prob.setup, prob.q0, 6)
    b = _advance("numba-cpu", prob.setup, prob.q0, 6)
    assert np.abs(a[0] - b[0]).max() <= 1e-12 * np.abs(a[0]).max()


def test_the_oracle_does_not_import_the_physics_it_checks():
    """Agreement means something only if the oracle's physics is its own (docs/numerics.md)."""
    import ast
    import inspect

    from solver.road import oracle

    tree = ast.parse(inspect.getsource(oracle))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert "solver.physics" not in imported and "physics" not in names
    assert not {"numerical_flux", "weno5_class_faces", "relax_marker", "flux_and_speeds"} & names


@pytest.mark.parametrize("kind", [K.CENTRAL_UPWIND, K.HLL], ids=["cu", "hll"])
def test_other_pressure_exponents_take_the_generic_paths_and_match_the_oracle(kind):
    """Only central-upwind with the calibrated exponents may skip the face-by-face paths
    (``generic_paths`` -> None); any other exponent keeps them, and the kernel still matches the
    oracle."""
    setup, q0 = _problem(seed=11 + kind, order=K.WENO5, kind=kind, bc=BOUNDARIES["outflow"])
    par = setup.par.copy()
    par[GAMMA_M], par[GAMMA_C] = 1.7, 2.3
    setup = dataclasses.replace(setup, par=par)
    assert generic_paths(kind, par) is True
    ref = _advance("numpy", setup, q0, 4)
    got = _advance("numba-cpu", setup, q0, 4)
    assert got[3] == ref[3] == 4 and got[4] == ref[4] == 0
    scale = np.abs(ref[0]).max(axis=1, keepdims=True)
    assert np.abs(got[0] - ref[0]).max() <= 1e-12 * scale.max()


def test_generic_paths_is_none_only_for_the_common_case():
    par = road({"road": {"length": 100.0, "cells": 10}, "initial": {"type": "uniform", "state": {}}}).setup.par
    assert generic_paths(K.CENTRAL_UPWIND, par) is None
    assert generic_paths(np.int64(K.CENTRAL_UPWIND), par.astype(np.float32)) is None
    assert generic_paths(K.HLL, par) is True
    for slot in (GAMMA_M, GAMMA_C):
        other = par.copy()
        other[slot] += 0.25
        assert generic_paths(K.CENTRAL_UPWIND, other) is True
