"""Run a single-road scenario: build the link, advance it output by output, return arrays.

No I/O here: :func:`simulate` returns a :class:`SimulationResult`; writing NPZ is the caller's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solver import physics
from solver.backends import get_backend
from solver.errors import NumericalError
from solver.fields import SimulationResult, output_times, primitive_fields
from solver.initial import cell_averages, quality_per_cell, road_grid
from solver.kernels import link as K
from solver.params import PhysicsParams
from solver.road.backends import LinkSetup
from solver.scenario.road import RoadScenario

_BC = {"outflow": K.BC_OUTFLOW, "periodic": K.BC_PERIODIC, "wall": K.BC_WALL}
_FLUX = {"central_upwind": K.CENTRAL_UPWIND, "hll": K.HLL}


@dataclass
class RoadProblem:
    """A single road ready to run: grid, kernel setup and the initial state.

    Shapes: x (n,) cell centres (m); edges (n + 1,); q0 (4, n + 2 NG).
    """

    scenario: RoadScenario
    params: PhysicsParams
    x: np.ndarray
    edges: np.ndarray
    setup: LinkSetup
    q0: np.ndarray


def _bstate(side, params: PhysicsParams) -> np.ndarray:
    if isinstance(side, str):
        return np.zeros(4)
    s = side.state
    p_m, p_c = physics.pressures(s.rho_m, s.rho_c, params.packed())
    return np.array([s.rho_m, s.rho_m * (s.v_m + p_m), s.rho_c, s.rho_c * (s.v_c + p_c)])


def build_road(scenario: RoadScenario) -> RoadProblem:
    """Grid, boundary codes, free speeds and quadrature initial data of a road scenario."""
    params = scenario.physics.to_params()
    road = scenario.road
    edges, x, dx = road_grid(road.length, road.cells)
    quality = quality_per_cell(road.quality, x)
    bnd = scenario.boundary
    bc = np.array([_BC.get(s, K.BC_INFLOW) if isinstance(s, str) else K.BC_INFLOW
                   for s in (bnd.left, bnd.right)], dtype=np.int64)
    num = scenario.numerics
    setup = LinkSetup(
        n=road.cells, dx=dx, cfl=num.cfl, bc=bc,
        bstate=np.stack([_bstate(bnd.left, params), _bstate(bnd.right, params)]),
        order=K.order_code(num.reconstruction, num.weno_weights), kind=_FLUX[num.flux],
        scales=params.variable_scales(),
        par=params.packed(), vmax=params.vmax_cells(quality),
    )
    q0 = np.zeros((4, road.cells + 2 * K.NG))
    q0[:, K.NG : K.NG + road.cells] = cell_averages(scenario.initial, edges, quality, params)
    return RoadProblem(scenario, params, x, edges, setup, q0)


def simulate(scenario: RoadScenario, backend: str = "numba-cpu",
             progress: Callable[[float, float], None] | None = None) -> SimulationResult:
    """Run a single-road scenario.

    Args:
        scenario: validated road scenario.
        backend: ``numpy`` or ``numba-cpu``.
        progress: called with (simulated time, end time) in s after each output.

    Raises:
        NumericalError: a density went negative or NaN appeared (a bug, never expected).
    """
    prob = build_road(scenario)
    kb = get_backend(backend)
    inner = slice(K.NG, K.NG + prob.setup.n)
    Q, T, BF = prob.q0[None].copy(), np.zeros(1), np.zeros((1, 2, 4))
    times = output_times(scenario.time.end, scenario.time.output_every)
    frames = [primitive_fields(Q[0, :, inner], prob.setup.par)]
    steps, start = 0, time.perf_counter()
    for t_out in times[1:]:
        s, fails = kb.advance_links(prob.setup, Q, T, t_out, 10**9, BF)
        steps += int(s[0])
        if fails[0] or not np.isfinite(Q).all() or Q[0, [0, 2], inner].min() < 0:
            raise NumericalError(f"state became invalid before t = {t_out:g} s in {scenario.name!r}")
        frames.append(primitive_fields(Q[0, :, inner], prob.setup.par))
        if progress:
            progress(float(t_out), float(times[-1]))
    wall = time.perf_counter() - start
    fields = {k: np.stack([f[k] for f in frames]) for k in frames[0]}
    return SimulationResult(times, fields, road_ledger(prob, Q[0], BF[0]), steps, wall, x=prob.x)


def road_ledger(prob: RoadProblem, q: np.ndarray, bflux: np.ndarray) -> dict[str, dict[str, float]]:
    """Per-class vehicle ledger of a road: entered - exited - stored - queued = residual.

    ``stored`` is the change of vehicles on the road; roads have no entry queue (queued = 0).
    """
    dx, inner = prob.setup.dx, slice(K.NG, K.NG + prob.setup.n)
    out = {}
    for name, r in (("m", 0), ("c", 2)):
        entered, exited = float(bflux[0, r]), float(bflux[1, r])
        stored = float(q[r, inner].sum() * dx - prob.q0[r, inner].sum() * dx)
        out[name] = {"entered": entered, "exited": exited, "stored": stored, "queued": 0.0,
                     "residual": entered - exited - stored}
    return out
