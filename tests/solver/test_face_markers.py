"""Reconstructed faces keep each class's marker below the ARZ bound w <= vtop (faces above the
near-vacuum threshold; below it the neighbours' markers bound it), and a step that produces a NaN
is retried, not kept (solver.kernels.faces.scale_faces, sweep.update_copy).

The case (tests/data/gpu_f32_mixed_queue.npz): one copy of ``intersection_4arm`` from a real-GPU
float32 run of ARZ-Intersection-v0 (16,384 copies, random phases; 2026-12-04, H200), saved at the
start of the substep that failed (t = 764.49 s, dt 0.507 s). Inside a strongly mixed queue on the
first approach, WENO5 reconstructs rho and y separately and the right face of cell 20 came out
with rho = 1.5e-3 veh/m and w = y / rho = 353 m/s (the cells around it: w <= 26 m/s). Only faces
below 1e-3 rho_jam had their marker bounded, so the marker flux of that face was 170 (others
<= 5), the next RK stage's cell marker ~7,000 and its flux 1e6, and in float32 the WENO weights'
products overflowed: inf, then NaN, which the negative-density check let through. Every
copy-decision had about a one-in-a-million chance of this, enough to stop a GPU training run
within minutes. In float64 the same faces occur but the retried step survives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from solver import physics
from solver.kernels.common import NG, VACUUM_FACE
from solver.network.compile import build_network
from solver.params import RHO_JAM
from solver.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests" / "data" / "gpu_f32_mixed_queue.npz"
CELL = 20  # flat index of the cell whose right face left the range (link 0, interior cell 17)


@pytest.fixture(scope="module")
def case():
    net = build_network(load_scenario(ROOT / "scenarios" / "intersection_4arm.yml"))
    data = np.load(CASE)
    q = data["Q"][..., 0].astype(np.float64)  # (4, Ncells), batch axis dropped
    num = net.numerics("float64")
    return net, q, num, float(num.scales[1] / num.scales[0])


def _assert_in_range(rho, y, vtop, where, thresh=2.5e-4):
    """y <= rho vtop on every face of density >= thresh (VACUUM_FACE rho_jam, veh/m)."""
    bad = (rho >= thresh) & (y > rho * vtop)
    assert not bad.any(), f"{where}: w > vtop at faces {np.nonzero(bad)[0]}"


def test_the_raw_weno_face_of_the_mixed_queue_leaves_the_marker_range(case):
    """Why the bound is needed: the unlimited WENO5-Z faces of cell 20 (class 0)."""
    _, q, num, vtop = case
    r, y = q[0, CELL - 2:CELL + 3], q[1, CELL - 2:CELL + 3]
    r_l, r_r, y_l, y_r = physics.weno5_class_faces(*r, *y, num.scales[0], num.scales[1], True)
    assert r_r > 5 * VACUUM_FACE * num.par[RHO_JAM]  # far from the near-vacuum threshold
    assert y_r / r_r > 10 * vtop  # ~353 m/s against vtop ~ 25.7
    assert y_l < 0.0  # and the left face's marker is negative


def test_network_faces_keep_markers_in_range(case):
    """copy_faces, the network step's reconstruction on the CPU: every face below the bound, the
    offending face clamped to w = vtop, and faces already in range untouched."""
    from solver.kernels.sweep import copy_faces

    net, q, num, vtop = case
    lk = net.topo.lk
    qm, qp = np.zeros_like(q), np.zeros_like(q)
    copy_faces(q.copy(), qm, qp, lk, num.order, num.scales, num.par)
    for first, n in lk:
        cells = slice(first + NG, first + NG + n)
        for k in range(2):
            _assert_in_range(qm[2 * k, cells], qm[2 * k + 1, cells], vtop, f"left faces, link at {first}, class {k}")
            _assert_in_range(qp[2 * k, cells], qp[2 * k + 1, cells], vtop, f"right faces, link at {first}, class {k}")
    assert qp[1, CELL] == pytest.approx(qp[0, CELL] * vtop, rel=1e-12)
    # a smooth stretch of the same link (cells 3-13: w ~ 17.4) is reconstructed as before
    r, y = q[0, 6:11], q[1, 6:11]
    raw = physics.weno5_class_faces(*r, *y, num.scales[0], num.scales[1], True)
    assert (qm[0, 8], qp[0, 8], qm[1, 8], qp[1, 8]) == raw


def test_road_and_oracle_faces_keep_markers_in_range(case):
    """The single-road kernels (solver.kernels.link.reconstruct) and the numpy oracle bound the
    same face the same way (link 0 of the case as a road with outflow ghosts)."""
    from solver.kernels.link import reconstruct
    from solver.road import oracle

    net, q, num, vtop = case
    first, n = net.topo.lk[0]
    road = q[:, first:first + n + 2 * NG].copy()
    for g in range(NG):  # outflow ghosts: copies of the end cells
        road[:, g] = road[:, NG]
        road[:, NG + n + g] = road[:, NG + n - 1]
    qm, qp = np.zeros_like(road), np.zeros_like(road)
    reconstruct(road, n, num.order, num.scales, num.par, qm, qp)
    om, op = oracle.reconstruct(road, n, num.order, num.scales, num.par)
    cells = slice(NG, NG + n)
    for k in range(2):
        _assert_in_range(qm[2 * k, cells], qm[2 * k + 1, cells], vtop, f"road left faces, class {k}")
        _assert_in_range(qp[2 * k, cells], qp[2 * k + 1, cells], vtop, f"road right faces, class {k}")
        _assert_in_range(om[2 * k, 1:-1], om[2 * k + 1, 1:-1], vtop, f"oracle left faces, class {k}")
        _assert_in_range(op[2 * k, 1:-1], op[2 * k + 1, 1:-1], vtop, f"oracle right faces, class {k}")
    c = CELL - first  # the offending cell on the road's axis; the oracle's faces start at NG - 1
    assert qp[1, c] == pytest.approx(qp[0, c] * vtop, rel=1e-12)
    assert op[1, c - NG + 1] == pytest.approx(qp[1, c], rel=1e-12)


def test_a_stage_that_makes_a_nan_is_retried(case):
    """update_link reports a NaN density like a negative one: the step is redone with half the dt
    instead of keeping a state the next advance would reject as invalid."""
    from solver.kernels.sweep import update_link

    net, q, num, _ = case
    first, n = net.topo.lk[0]
    F = np.zeros_like(q)
    dst = np.zeros_like(q)
    assert not update_link(dst, q, 0.0, q, 1.0, F, first, n, 0.01, num.scales, num.par, num.flush, True)
    F[0, first + 5] = np.nan
    assert update_link(dst, q, 0.0, q, 1.0, F, first, n, 0.01, num.scales, num.par, num.flush, True)


REPLAY = """
import sys, numpy as np
from solver.network.batch_cuda import CudaBatchedNetwork
from solver.network.compile import build_network
from solver.scenario.loader import load_scenario
d = np.load(sys.argv[1])
sim = CudaBatchedNetwork(build_network(load_scenario("scenarios/intersection_4arm.yml")), batch=1, dtype="float32")
for k in ("Q", "QU", "T", "DSCALE", "SP", "SS", "ST", "SN", "REQ"):
    sim.dev[k].copy_to_device(np.ascontiguousarray(d[k].astype(sim.dev[k].dtype)))
sim.host.clear()
sim.advance(float(d["duration"]), d["requested"])
print("T", float(sim.dev["T"].copy_to_host()[0]), "steps", int(sim.dev["STEPS"].copy_to_host()[0]))
"""


def test_the_gpu_float32_case_advances_on_the_cuda_simulator():
    """The failing substep, replayed in float32 by the numba-cuda kernel on the CUDA simulator
    (a subprocess: the simulator must be on before numba.cuda is imported): it used to raise
    NumericalError ("network state became invalid ... on the GPU"); it now reaches the interval's end."""
    pytest.importorskip("numba.cuda")
    data = np.load(CASE)
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", REPLAY, str(CASE)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    t_end = float(data["T"][0]) + float(data["duration"])
    words = out.stdout.split()
    assert float(words[1]) == pytest.approx(t_end, abs=1e-6)
