"""The verification cases (DESIGN §8): each runs the solver and returns checks, ladders, profiles.

Every case is a scenario mapping validated like a file, built by :func:`solver.road.simulate.build_road`
and advanced by the ``numba-cpu`` backend through :func:`advance`, which also watches positivity,
NaN and a collapsing time step. Units: SI inside; densities in the profiles are veh/km.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from solver.backends import get_backend
from solver.initial import conserved, primitive_at
from solver.kernels import link as K
from solver.road.simulate import RoadProblem, build_road, road_ledger
from solver.scenario.road import RoadScenario
from solver.verification.plans import Part, Plan, Progress, Unit
from solver.verification.report import Check, Ladder, Sample, make_check, observed_orders
from solver.verification.riemann_exact import ARZParams1, exact_cell_averages, solve_riemann

VKM = 1e-3  # veh/m per veh/km
KMH = 1.0 / 3.6  # m/s per km/h
BACKEND = "numba-cpu"
PERIODIC = {"left": "periodic", "right": "periodic"}


LADDER_CHUNKS = 10
"""Chunks of a ladder run (see :func:`advance`). A chunk end cuts the step that would cross it:
with 100 chunks (0.2 s on the 20 s sine) the coarse grids ran below their Courant schedule, which
made them too accurate and lowered the observed orders (WENO5 on 60 +- 30 veh/km: 2.79, 4.38 at
50 -> 200 against 4.78, 4.98 now); the dispatch of 100 chunks also cost ~1.3 s of the quick level."""


def no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class Run:
    """Outcome of :func:`advance`.

    Shapes: q (4, n + 2 NG) final state with ghosts; bflux (2, 4) boundary transfers.
    ``min_density`` (veh/m) is over every chunk end; ``completed`` is False when a step failed,
    a value became non-finite or the step limit stopped the run.
    """

    prob: RoadProblem
    q: np.ndarray
    bflux: np.ndarray
    steps: int
    failures: int
    min_density: float
    nonfinite: int
    completed: bool

    @property
    def interior(self) -> np.ndarray:
        """Interior cells of q. Shapes: (4, n)."""
        return self.q[:, K.NG : K.NG + self.prob.setup.n]


def road(mapping: dict) -> RoadProblem:
    """A road problem from a scenario mapping (validated like a scenario file)."""
    return build_road(RoadScenario.model_validate({"name": "verification", "time": {"end": 1.0}, **mapping}))


def advance(prob: RoadProblem, t_end: float, chunks: int = 100, step_factor: float = 50.0) -> Run:
    """Advance a road problem to ``t_end`` s in chunks, stopping at the first sign of trouble.

    A chunk may take at most ``step_factor`` times the steps that a CFL bound predicts (from the
    initial state's wave speeds or the top free speed, whichever is larger), so a run whose time
    step collapses fails fast instead of hanging.
    """
    kb, s = get_backend(BACKEND), prob.setup
    Q, T, BF = prob.q0[None].copy(), np.zeros(1), np.zeros((1, 2, 4))
    inner = slice(K.NG, K.NG + s.n)
    chunk = t_end / chunks
    a0 = max(K.max_wave_speed(prob.q0, s.n, s.par), s.scales[1] / s.scales[0])  # >= free speed
    limit = int(step_factor * chunk * a0 / (s.cfl * s.dx)) + 20
    steps = failures = nonfinite = 0
    low, completed = math.inf, True
    for i in range(1, chunks + 1):
        target = t_end if i == chunks else i * chunk
        st, fl = kb.advance_links(s, Q, T, target, limit, BF)
        steps, failures = steps + int(st[0]), failures + int(fl[0])
        nonfinite += int((~np.isfinite(Q[0, :, inner])).sum())
        low = min(low, float(np.nanmin(Q[0, [0, 2], inner])))
        if failures or nonfinite or T[0] < target - 1e-9 * max(1.0, target):
            completed = False
            break
    return Run(prob, Q[0].copy(), BF[0].copy(), steps, failures, low, nonfinite, completed)


def _l1(run: Run, exact_rho: np.ndarray) -> float:
    """L1 error of rho_m in vehicles, NaN for a run that did not complete."""
    if not run.completed:
        return math.nan
    return float(np.abs(run.interior[0] - exact_rho).sum() * run.prob.setup.dx)


# ------------------------------------------------------------------------------ smooth data

SMOOTH_SPEED = 10.0  # m/s
SMOOTH_END = 20.0  # s
SMOOTH_CFL = 0.4


def smooth_mapping(cells: int, reconstruction: str, cfl: float, background: float = 60.0,
                   amplitude: float = 30.0, weights: str = "z") -> dict:
    """Periodic sine of motorcycles (``background +- amplitude`` veh/km) at 10 m/s on 1 km,
    relaxation off; ``weights`` the WENO5 nonlinear weights (``z`` or ``js``)."""
    return {
        "physics": {"relaxation": False},
        "road": {"length": 1000.0, "cells": cells},
        "initial": {"type": "sine", "background": {"rho_m": f"{background:g} veh/km", "v_m": SMOOTH_SPEED},
                    "amplitude": {"rho_m": f"{amplitude:g} veh/km"}, "periods": 1},
        "boundary": PERIODIC,
        "numerics": {"reconstruction": reconstruction, "cfl": cfl, "weno_weights": weights},
    }  # fmt: skip


def translated_averages(prob: RoadProblem, shift: float) -> np.ndarray:
    """Cell averages of the initial data translated by ``shift`` m (5-point Gauss–Legendre).

    Shapes: returns (4, n).
    """
    nodes, weights = np.polynomial.legendre.leggauss(5)
    lo, hi = prob.edges[:-1], prob.edges[1:]
    length = prob.edges[-1] - prob.edges[0]
    half, mid = 0.5 * (hi - lo), 0.5 * (hi + lo)
    total = np.zeros((4, lo.size))
    for node, weight in zip(nodes, weights, strict=True):
        prim = primitive_at(prob.scenario.initial, mid + half * node - shift, None, length, prob.params)
        total += 0.5 * weight * conserved(*prim, prob.params)
    return total


def smooth_ladder(reconstruction: str, cells: tuple[int, ...], progress: Progress, name: str = "",
                  cfl0: float = SMOOTH_CFL, **shape) -> tuple[Ladder, Sample]:
    """L1 error against the exact translation on a ladder; WENO5 takes dt ~ dx^(5/3)
    (Courant number ``cfl0 (cells[0]/N)^(2/3)``).

    ``shape``: ``background``, ``amplitude`` (veh/km) and ``weights`` of :func:`smooth_mapping`.
    """
    errors, name = [], name or f"{reconstruction}_sine"
    for i, n in enumerate(cells):
        cfl = cfl0 * (cells[0] / n) ** (2.0 / 3.0) if reconstruction == "weno5" else cfl0
        run = advance(road(smooth_mapping(n, reconstruction, cfl, **shape)), SMOOTH_END, LADDER_CHUNKS)
        exact = translated_averages(run.prob, SMOOTH_SPEED * SMOOTH_END)
        errors.append(_l1(run, exact[0]))
        progress(name, i + 1, len(cells))
    label = f"{reconstruction} on a translated sine, {cells[-1]} cells, t = {SMOOTH_END:g} s"
    sample = Sample(run.prob.x.copy(), run.interior[0] / VKM, exact[0] / VKM, label)
    return Ladder(name, list(cells), errors, observed_orders(list(cells), errors)), sample


def smooth_plan(cells: tuple[int, ...]) -> Plan:
    """WENO5 (order >= 4.5) and first order (order ~ 1) on smooth periodic data."""

    def combine(values: list) -> Part:
        (weno, weno_sample), (first, _) = values
        span = f"{cells[-2]} -> {cells[-1]} cells"
        checks = [
            make_check("weno5_smooth_order", f"WENO5 + SSP-RK3 observed order on a translated sine, {span}",
                       _last(weno.orders), ">=", 4.5),
            make_check("first_order_smooth_order", f"first-order observed order on the same sine, {span}",
                       _last(first.orders), "within", (0.9, 1.1)),
        ]  # fmt: skip
        return checks, [weno, first], {"smooth_weno5": weno_sample}

    weno = Unit(functools.partial(smooth_ladder, "weno5", cells), ladder_cost(cells, SMOOTH_END, weno=True))
    first = Unit(functools.partial(smooth_ladder, "first_order", cells), ladder_cost(cells, SMOOTH_END) / 3)
    return Plan([weno, first], combine)


def ladder_cost(cells: tuple[int, ...], end: float, weno: bool = False) -> float:
    """Relative work of a ladder (cells x steps ~ N^2 end; WENO5's shrinking Courant number on
    smooth data adds (N/N0)^(2/3)); for scheduling only."""
    return sum(n * n * end * ((n / cells[0]) ** (2.0 / 3.0) if weno else 1.0) for n in cells)


EXTREMUM_SINE = {"background": 125.0, "amplitude": 115.0}
"""A large-amplitude sine (10 .. 240 veh/km): smooth extrema, where WENO5-JS can lose order."""
EXTREMUM_CFL = 0.2
"""Courant number on the coarsest grid of the extremum ladder. Chosen when runs advanced in 100
chunks, whose 0.2 s ends cut the coarse grids' steps (Z then gave order 2.96 at 100 -> 200 at 0.4,
JS 3.51 on 100 +- 80 veh/km; at 0.1 both 5.0); with :data:`LADDER_CHUNKS` = 10 the same ladder at
0.4 gives 5.01 for Z and JS (5.02 on 100 +- 80), so 0.2 is a margin, not a necessity."""


def extremum_plan(cells: tuple[int, ...]) -> Plan:
    """WENO5-Z on the large-amplitude sine, its order checked at EVERY refinement (>= 4.5; the
    value is the smallest), and WENO5-JS on the same ladder for comparison (no check)."""

    def combine(values: list) -> Part:
        (z, sample), (js, _) = values
        orders = z.orders[1:]
        worst = math.nan if any(o is None for o in orders) else min(orders)
        what = (f"WENO5-Z observed order on a translated sine {EXTREMUM_SINE['background']:g} +- "
                f"{EXTREMUM_SINE['amplitude']:g} veh/km (smooth extrema), every refinement "
                f"{cells[0]} -> {cells[-1]} cells (value: the smallest)")
        return [make_check("weno5_extremum_order", what, worst, ">=", 4.5)], [z, js], {"extremum_weno5_z": sample}

    cost = ladder_cost(cells, SMOOTH_END, weno=True) * SMOOTH_CFL / EXTREMUM_CFL
    units = [Unit(functools.partial(smooth_ladder, "weno5", cells, name=f"weno5_{w}_extremum_sine",
                                    cfl0=EXTREMUM_CFL, weights=w, **EXTREMUM_SINE), cost)
             for w in ("z", "js")]  # fmt: skip
    return Plan(units, combine)


def _last(orders: list[float | None]) -> float:
    return math.nan if orders[-1] is None else float(orders[-1])


# ------------------------------------------------------------------------------ Riemann

RIEMANN_PHYSICS = {"relaxation": False, "K_m": "30 km/h"}  # gamma_m 1.5, rho_jam 250 veh/km
RIEMANN_MIN_ORDER = 0.5  # L1 order at a discontinuity: >= 1/2 at a linear contact, ~1 at a shock


@dataclass(frozen=True)
class RiemannCase:
    """A single-class Riemann problem: states as (veh/km, km/h), split in m, end time in s."""

    name: str
    left: tuple[float, float]
    right: tuple[float, float]
    split: float
    end: float


RIEMANN_CASES = (
    RiemannCase("shock_contact", (50.0, 40.0), (100.0, 20.0), 300.0, 60.0),
    RiemannCase("rarefaction_contact", (180.0, 10.0), (40.0, 20.0), 500.0, 60.0),
    RiemannCase("vacuum_middle", (180.0, 10.0), (40.0, 40.0), 300.0, 50.0),
    RiemannCase("vacuum_empty_road", (180.0, 10.0), (0.0, 0.0), 300.0, 50.0),
)


def riemann_mapping(case: RiemannCase, cells: int) -> dict:
    """Motorcycles only on a 1 km road with outflow ends, WENO5 + central-upwind, CFL 0.5."""
    (rl, vl), (rr, vr) = case.left, case.right
    return {
        "physics": RIEMANN_PHYSICS,
        "road": {"length": 1000.0, "cells": cells},
        "initial": {"type": "riemann", "split": case.split,
                    "left": {"rho_m": rl * VKM, "v_m": vl * KMH},
                    "right": {"rho_m": rr * VKM, "v_m": vr * KMH}},
        "numerics": {"reconstruction": "weno5", "flux": "central_upwind", "cfl": 0.5},
    }  # fmt: skip


def riemann_ladder(case: RiemannCase, cells: tuple[int, ...], progress: Progress) -> tuple[Ladder, Sample, Check]:
    """L1 error of rho against the exact cell averages on a ladder; the check asks for an
    observed order of at least :data:`RIEMANN_MIN_ORDER` at every refinement (its value is the
    smallest one): a scheme converging at a discontinuity gives 1/2 (linear contact) to 1."""
    (rl, vl), (rr, vr) = case.left, case.right
    states = (rl * VKM, vl * KMH, rr * VKM, vr * KMH)
    errors = []
    for i, n in enumerate(cells):
        run = advance(road(riemann_mapping(case, n)), case.end, LADDER_CHUNKS)
        p = run.prob.params
        prm = ARZParams1(K=p.K_m, gamma=p.gamma_m, rho_jam=p.rho_jam)
        exact, _ = exact_cell_averages(*states, prm, run.prob.edges, case.end, case.split)
        errors.append(_l1(run, exact))
        progress(f"riemann_{case.name}", i + 1, len(cells))
    solution = solve_riemann(*states, prm)
    orders = observed_orders(list(cells), errors)
    worst = math.nan if any(o is None for o in orders[1:]) else min(orders[1:])
    what = (f"{solution.kind} (rho* = {solution.rho_star / VKM:.0f} veh/km): observed order of the L1 of "
            f"rho at every refinement {cells[0]} -> {cells[-1]} cells (value: the smallest)")
    check = make_check(f"riemann_{case.name}", what, worst, ">=", RIEMANN_MIN_ORDER)
    label = f"Riemann {solution.kind}, {cells[-1]} cells, t = {case.end:g} s"
    sample = Sample(run.prob.x.copy(), run.interior[0] / VKM, exact / VKM, label)
    return Ladder(f"riemann_{case.name}", list(cells), errors, orders), sample, check


def riemann_plan(cells: tuple[int, ...]) -> Plan:
    """Every case of :data:`RIEMANN_CASES`, one unit each."""

    def combine(values: list) -> Part:
        names = [case.name for case in RIEMANN_CASES]
        return ([check for _, _, check in values], [ladder for ladder, _, _ in values],
                {name: sample for name, (_, sample, _) in zip(names, values, strict=True)})  # fmt: skip

    units = [Unit(functools.partial(riemann_ladder, case, cells), ladder_cost(cells, case.end)) for case in RIEMANN_CASES]
    return Plan(units, combine)


# ------------------------------------------------------------------------------ conservation

RING = {
    "physics": {"relaxation": True},
    "road": {"length": 2000.0, "cells": 200,
             "quality": [{"from": 0.0, "to": 1000.0, "quality": 2}, {"from": 1000.0, "to": 2000.0, "quality": 3}]},
    "initial": {"type": "sine", "periods": 2,
                "background": {"rho_m": "60 veh/km", "v_m": "30 km/h", "rho_c": "20 veh/km", "v_c": "25 km/h"},
                "amplitude": {"rho_m": "30 veh/km", "rho_c": "10 veh/km"}},
    "boundary": PERIODIC,
    "numerics": {"reconstruction": "weno5", "flux": "central_upwind", "cfl": 0.5},
}  # fmt: skip
"""Two-class periodic ring (2 km, 200 cells, R2 then R3), relaxation on; = scenarios/ring_road.yml."""


def conservation_plan(end: float) -> Plan:
    """Relative drift of each class's mass on the ring after ``end`` s."""

    def combine(values: list) -> Part:
        (run,) = values
        before, after = run.prob.q0[:, K.NG : K.NG + run.prob.setup.n], run.interior
        checks = []
        for name, r in (("motorcycles", 0), ("cars", 2)):
            drift = abs(after[r].sum() - before[r].sum()) / before[r].sum() if run.completed else math.nan
            what = f"relative mass drift of {name} on a periodic two-class ring with relaxation, {end / 60:g} min"
            checks.append(make_check(f"mass_drift_{name[0]}", what, float(drift), "<=", 1e-12))
        return checks, [], {}

    cells = RING["road"]["cells"]
    return Plan([Unit(functools.partial(_counted_run, RING, end, "ring_mass", 1, 1), cells * cells * end)], combine)


def _counted_run(mapping: dict, end: float, stage: str, done: int, total: int, progress: Progress) -> Run:
    """:func:`advance` one scenario mapping to ``end`` s, then count ``stage done/total``."""
    run = advance(road(mapping), end)
    progress(stage, done, total)
    return run


# ------------------------------------------------------------------------------ positivity

NEAR_VACUUM = 1e-9  # veh/m, below the marker's desingularisation scale 1e-6 rho_jam
RED_LIGHT = {
    "road": {"length": 1000.0, "cells": 200, "quality": 2},
    "initial": {"type": "uniform", "state": {"rho_m": NEAR_VACUUM, "rho_c": NEAR_VACUUM}},
    "boundary": {"left": {"type": "inflow", "state": {"rho_m": "80 veh/km", "v_m": "30 km/h",
                                                      "rho_c": "20 veh/km", "v_c": "30 km/h"}},
                 "right": "wall"},
}  # fmt: skip
"""A red light: traffic enters a near-empty road and queues up to near jam against a wall."""
JAM_RELEASE = {
    "road": {"length": 1000.0, "cells": 200, "quality": 2},
    "initial": {"type": "riemann", "split": 300.0, "left": {"rho_m": "180 veh/km", "rho_c": "67 veh/km"},
                "right": {"rho_m": NEAR_VACUUM, "rho_c": NEAR_VACUUM}},
    "boundary": {"left": "wall", "right": "outflow"},
}  # fmt: skip
"""A standing platoon at 99 % of the jam density released into a near-empty road."""


def positivity_plan(end: float) -> Plan:
    """Min density, NaN count, failed steps and the red light's vehicle ledger."""
    mappings = (RED_LIGHT, JAM_RELEASE)
    units = [Unit(functools.partial(_counted_run, mapping, end, "positivity", i + 1, len(mappings)),
                  mapping["road"]["cells"] ** 2 * end) for i, mapping in enumerate(mappings)]  # fmt: skip
    return Plan(units, functools.partial(_positivity_part, end))


def _positivity_part(end: float, runs: list[Run]) -> Part:
    failed = sum(r.failures + (0 if r.completed else 1) for r in runs)
    red = runs[0]
    ledger = road_ledger(red.prob, red.q, red.bflux)
    scale = max(max(abs(v) for v in led.values()) for led in ledger.values())
    residual = max(abs(led["residual"]) for led in ledger.values()) / scale
    what = f"red light and jam release from near-vacuum ({NEAR_VACUUM:g} veh/m) and near-jam states, {end:g} s"
    checks = [
        make_check("positivity_min_density", f"smallest density (veh/km) seen: {what}",
                   min(r.min_density for r in runs) / VKM, ">=", 0.0),
        make_check("positivity_nonfinite", f"non-finite values in the state: {what}",
                   float(sum(r.nonfinite for r in runs)), "==", 0.0),
        make_check("positivity_failed_steps", f"steps whose positivity could not be kept (+ runs cut short): {what}",
                   float(failed), "==", 0.0),
        make_check("red_light_ledger", "red light: |entered - exited - stored| / largest ledger term, worst class",
                   residual if red.completed else math.nan, "<=", 1e-12),
    ]  # fmt: skip
    return checks, [], {}
