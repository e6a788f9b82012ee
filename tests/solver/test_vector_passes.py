"""The vectorised passes of solver.kernels.faces give bitwise the numbers of the cell-by-cell code.

The network's RK stage (:func:`solver.kernels.sweep.stage_link`) computes faces and fluxes in
passes over contiguous cells; :func:`solver.kernels.sweep.link_sweep` is the fused, face-by-face
form of the same scheme (kept for the reported speeds). On random states (near-vacuum cells and
negative reconstructions included, so the limiter's branches run) both must give the same interior
fluxes to the last bit, for every reconstruction, both fluxes, with and without the supply cap.
Likewise the road's vectorised flux, relaxation and wave-speed passes against scalar loops.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from solver.kernels import faces, link, sweep
from solver.kernels.common import FASTMATH, NG, PHYSICS
from solver.params import EPS_VAC, TAU_C, TAU_M, PhysicsParams

PAR = PhysicsParams().packed()
_relax_marker, _flux_and_speeds = PHYSICS.relax_marker, PHYSICS.flux_and_speeds
SCALES = PhysicsParams().variable_scales()


def _states(n_cells: int, seed: int) -> np.ndarray:
    """Random states (4, n_cells): jam to vacuum, markers around free speed, some empty cells."""
    rng = np.random.default_rng(seed)
    q = np.empty((4, n_cells))
    for k in range(2):
        rho = rng.uniform(0.0, 0.22, n_cells) * (rng.random(n_cells) > 0.15)
        rho[rng.random(n_cells) < 0.1] *= 1e-5  # near vacuum: the marker bound runs
        q[2 * k] = rho
        q[2 * k + 1] = rho * rng.uniform(5.0, 25.0, n_cells)
    return q


@pytest.mark.parametrize("order", [link.FIRST_ORDER, link.WENO5, link.WENO5_JS])
@pytest.mark.parametrize("kind", [link.CENTRAL_UPWIND, link.HLL])
@pytest.mark.parametrize("supply_cap", [True, False])
def test_stage_passes_give_the_fused_sweeps_fluxes_bitwise(order, kind, supply_cap):
    links = [(0, 25), (31, 1), (38, 3), (47, 6)]  # (off, n): long, one-cell and short links
    n_cells = 59
    vmax = np.vstack([np.full(n_cells, 19.4), np.full(n_cells, 16.7)])
    for seed in range(3):
        q = _states(n_cells, seed)
        fused, passes = np.zeros((4, n_cells)), np.zeros((4, n_cells))
        qm, qp = np.zeros((4, n_cells)), np.zeros((4, n_cells))
        for off, n in links:
            sweep.link_sweep(q, fused, vmax, off, n, order, kind, SCALES, PAR, supply_cap)
            sweep.link_faces(q, qm, qp, off + NG, off + NG + n - 1, order, SCALES, PAR)
            sweep.face_fluxes(q, qm, qp, passes, vmax, off, n, kind, PAR, supply_cap)
        assert np.isfinite(passes).all()
        assert np.array_equal(fused, passes), np.abs(fused - passes).max()
        assert np.abs(passes).max() > 0.0



@pytest.mark.parametrize("order", [link.FIRST_ORDER, link.WENO5, link.WENO5_JS])
@pytest.mark.parametrize("kind", [link.CENTRAL_UPWIND, link.HLL])
@pytest.mark.parametrize("supply_cap", [True, False])
def test_whole_copy_passes_give_the_fused_sweeps_interior_fluxes_bitwise(order, kind, supply_cap):
    """copy_faces/copy_fluxes run over all links at once (stencils crossing a link's end read its
    filled ghosts; faces across link boundaries are garbage that nothing reads): every link's
    interior fluxes must still be the fused sweep's, whatever the ghosts held before."""
    lk = np.array([(0, 25), (31, 1), (38, 3), (47, 6)], np.int64)
    n_cells = 59
    vmax = np.vstack([np.full(n_cells, 19.4), np.full(n_cells, 16.7)])
    for seed in range(3):
        q = _states(n_cells, seed)
        fused, passes = np.zeros((4, n_cells)), np.full((4, n_cells), np.nan)
        qm, qp = np.zeros((4, n_cells)), np.zeros((4, n_cells))
        for off, n in lk:
            sweep.link_sweep(q, fused, vmax, off, n, order, kind, SCALES, PAR, supply_cap)
        src = q.copy()
        for off, n in lk:  # ghosts holding something else than the link's end cells
            src[:, off:off + NG] = 7.0
            src[:, off + NG + n:off + n + 2 * NG] = -3.0
        sweep.copy_faces(src, qm, qp, lk, order, SCALES, PAR)
        sweep.copy_fluxes(src, qm, qp, passes, vmax, lk, kind, PAR, supply_cap)
        for off, n in lk:
            inner = slice(off + 1, off + n)
            assert np.array_equal(fused[:, inner], passes[:, inner]), (off, np.abs(fused - passes)[:, inner].max())
        for off, n in lk:  # interior cells untouched
            assert np.array_equal(src[:, off + NG:off + NG + n], q[:, off + NG:off + NG + n])

@pytest.mark.parametrize("final", [False, True])
def test_whole_copy_update_gives_the_per_link_update_bitwise(final):
    """update_copy (one combine and one clean-up pass over every link, ghost cells included) must
    leave every interior cell exactly as update_link link by link, flag the same negatives, and
    keep the ghost cells finite (they are combined from their own, finite, values)."""
    lk = np.array([(0, 25), (31, 1), (38, 3), (47, 6)], np.int64)
    lk_dx = np.array([20.0, 7.5, 12.0, 31.0])
    n_cells = 59
    rng = np.random.default_rng(4)
    for seed in range(3):
        q0, src = _states(n_cells, seed), _states(n_cells, seed + 10)
        F = rng.uniform(-0.3, 0.3, (4, n_cells))
        if seed == 2:
            F[0, 40] = 40.0  # empties cell 41 (link 2) below zero: a negative to flag
        per_link, whole = np.zeros((4, n_cells)), np.full((4, n_cells), 5.0)
        neg_link = False
        for l, (off, n) in enumerate(lk):
            neg_link |= sweep.update_link(per_link, q0, 0.75, src, 0.25, F, off, n, 0.4 / lk_dx[l], SCALES, PAR,
                                          1e-15, final)
        row = np.full(n_cells, np.nan)
        neg_copy = sweep.update_copy(whole, q0, 0.75, src, 0.25, F, lk, lk_dx, 0.4, row, SCALES, PAR, 1e-15, final)
        for off, n in lk:
            cells = slice(off + NG, off + NG + n)
            assert np.array_equal(per_link[:, cells], whole[:, cells]), (seed, off)
        assert neg_copy == neg_link
        assert np.isfinite(whole[:, NG:lk[-1, 0] + NG + lk[-1, 1]]).all()
    assert neg_link == final  # the last state had a negative, which only the final stage reports


@numba.njit(fastmath=FASTMATH)
def _scalar_relax(q, n, vmax, h, par):
    decay_m, decay_c = math.exp(-h / par[TAU_M]), math.exp(-h / par[TAU_C])
    for i in range(n):
        c = NG + i
        q[1, c], q[3, c] = _relax_marker(q[0, c], q[1, c], q[2, c], q[3, c], vmax[0, i], vmax[1, i],
                                        decay_m, decay_c, par)


@numba.njit(fastmath=FASTMATH)
def _scalar_speed(q, n, par):
    a_max = 0.0
    for c in range(NG, NG + n):
        _, _, _, _, lo, hi = _flux_and_speeds(q[0, c], q[1, c], q[2, c], q[3, c], par)
        a_max = max(a_max, abs(lo), abs(hi))
    return a_max


def test_road_passes_give_the_scalar_loops_numbers_bitwise():
    n = 41
    q = _states(n + 2 * NG, 7)
    vmax = np.vstack([np.full(n, 19.4), np.full(n, 16.7)])
    # fluxes: the vectorised central-upwind pass against the face-by-face interface_fluxes
    qm, qp = _states(n + 2 * NG, 8), _states(n + 2 * NG, 9)
    F_scalar, F_vector = np.zeros((4, n + 2 * NG)), np.zeros((4, n + 2 * NG))
    link.interface_fluxes(qm, qp, n, link.CENTRAL_UPWIND, PAR, F_scalar)
    faces.capped_cu_fluxes(qm, qm, qp, F_vector, qm, NG - 1, n + 1, 0, PAR, False)
    assert np.array_equal(F_scalar[:, :n + 1], F_vector[:, :n + 1])
    # relaxation and the largest wave speed
    relaxed = q.copy()
    link.relax(relaxed, n, vmax, 2.5, PAR)
    expected = q.copy()
    _scalar_relax(expected, n, vmax, 2.5, PAR)
    assert np.array_equal(relaxed, expected) and not np.array_equal(relaxed, q)
    scratch = np.zeros(n + 2 * NG)
    assert link.max_wave_speed_scratch(q, n, PAR, scratch) == _scalar_speed(q, n, PAR) > 0.0


@numba.njit
def _scalar_clean(q, c0, n, thresh, tiny, vtop, eps):
    for c in range(c0, c0 + n):
        link.clean_cell(q, c, thresh, tiny, vtop, eps)


def test_clean_pass_gives_clean_cell_bitwise():
    """The vectorised vacuum clean-up of a link's cells against clean_cell cell by cell, on states
    with round-off negatives, deeper negatives, near-vacuum cells and runaway markers."""
    rng = np.random.default_rng(3)
    q = _states(80, 11)
    for k in range(2):
        q[2 * k, rng.random(80) < 0.1] = -1e-18  # round-off below zero: flushed
        q[2 * k, rng.random(80) < 0.05] = -1e-3  # a real negative: left for the retry
        q[2 * k + 1] *= np.where(rng.random(80) < 0.2, -50.0, 1.0)  # markers out of range
    thresh, tiny, vtop, eps = 1e-3 * 0.25, 1e-15 * 0.25, 30.0, PAR[EPS_VAC]
    expected, got = q.copy(), q.copy()
    _scalar_clean(expected, 2, 76, thresh, tiny, vtop, eps)
    faces.clean_pass(got, 2, 76, thresh, tiny, vtop, eps)
    assert np.array_equal(expected, got)
    assert not np.array_equal(expected, q)  # the cases above do change cells
