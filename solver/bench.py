"""Solver throughput: µs per SSP-RK3 step, cell updates per second, the seed corridor's 60 s.

Rows (one per measurement, median of repeats):

* ``road``: one link of 200 / 1,000 / 10,000 cells, first order and WENO5, two classes,
  relaxation on (a step = wave-speed bound, exact relaxation, three SSP-RK3 stages). ``threads 1,
  batch 1`` is one core; the batched rows run ``batch = cores * 4`` independent copies on one
  thread per core (:mod:`solver.threads`).
* ``road-oracle``: the numpy oracle on 200 cells (for scale).
* ``seed_corridor_road``: the 5 km, 200-cell road of the seed corridor alone, one 60 s interval.
* ``seed_corridor_network``: the seed corridor network (road, signal, stub) through
  :class:`solver.batch.BatchedNetwork`, consecutive 60 s decision intervals.
* ``intersection_4arm``: the signalised four-arm intersection (8 links, 160 cells, WENO5, 5 s
  decisions alternating the two phases every 30 s) through :class:`solver.batch.BatchedNetwork`:
  one copy on one core, and ``cores * 4`` copies on every core (:mod:`solver.bench_network`).

The summary holds the figures the acceptance asks for: 200-cell WENO5 µs/step on one core,
batched / one-core throughput ratios, the seed corridor's ms per 60 s interval and the
intersection's simulated seconds per wall second (one core and batch) with their ratio to
``SUMO_RL_REFERENCE_SIM_S_PER_WALL_S``, plus the
machine's 1-minute load average before the run (timings are wall-clock: other processes on the
machine slow them down; compare runs made at a low load).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from solver import kernels_cpu as K
from solver.backends import get_backend
from solver.simulate import RoadProblem
from solver.threads import default_threads
from solver.verification_cases import road

Progress = Callable[[str, int, int], None]
CELLS = (200, 1000, 10000)
ORDERS = ("first_order", "weno5")
BATCH_PER_CORE = 4
INTERVAL = 60.0  # s, one decision interval of the seed corridor
#: sumo-rl with libsumo on its single-intersection scenario, simulated s per wall s: the middle of
#: the 2,750-2,950 that issue 3 reports for this machine type. Not measured here (sumo-rl is not a
#: dependency); the ratios against it are only as good as that figure.
SUMO_RL_REFERENCE_SIM_S_PER_WALL_S = 2850.0


@dataclass
class BenchReport:
    """Benchmark rows (see the module docstring) and the headline figures."""

    rows: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able dict."""
        return {"rows": self.rows, "summary": self.summary}

    def to_markdown(self) -> str:
        """The rows as a Markdown table, then the summary as a list."""
        head = ("case", "backend", "reconstruction", "cells", "batch", "threads", "us_per_step",
                "cell_updates_per_s", "sim_s_per_wall_s")  # fmt: skip
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            lines.append("| " + " | ".join(_fmt(row.get(k)) for k in head) + " |")
        lines.append("")
        lines += [f"- {k}: {_fmt(v)}" for k, v in self.summary.items()]
        return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def bench_problem(cells: int, reconstruction: str) -> RoadProblem:
    """Two classes on a periodic road of ``cells`` 25 m cells (R2), a sine around 25 + 8 veh/km."""
    return road({
        "road": {"length": 25.0 * cells, "cells": cells, "quality": 2},
        "initial": {"type": "sine", "periods": 3,
                    "background": {"rho_m": "25 veh/km", "v_m": "40 km/h", "rho_c": "8 veh/km", "v_c": "35 km/h"},
                    "amplitude": {"rho_m": "10 veh/km", "rho_c": "3 veh/km"}},
        "boundary": {"left": "periodic", "right": "periodic"},
        "numerics": {"reconstruction": reconstruction, "flux": "central_upwind", "cfl": 0.5},
    })  # fmt: skip


def _kernel_call(prob: RoadProblem, batch: int, threads: int) -> Callable[[float, int], tuple[float, int, float]]:
    """A closure advancing ``batch`` copies by at most ``steps`` steps or to ``t_end``.

    Returns ``call(t_end, steps) -> (wall s, steps of copy 0, simulated s of copy 0)``.
    """
    s = prob.setup
    Q = np.repeat(prob.q0[None], batch, axis=0)
    T, BF = np.zeros(batch), np.zeros((batch, 2, 4))
    W = np.zeros((batch, 7, 4, Q.shape[2]))
    STEPS, FAIL = np.zeros(batch, np.int64), np.zeros(batch, np.int64)

    def call(t_end: float, steps: int) -> tuple[float, int, float]:
        t0 = float(T[0])
        start = time.perf_counter()
        K.advance_links_batch(Q, T, t_end, steps, s.dx, s.cfl, s.bc, s.bstate, s.order, s.kind,
                              s.scales, s.par, s.vmax, W, BF, STEPS, FAIL, threads=threads)
        return time.perf_counter() - start, int(STEPS[0]), float(T[0]) - t0

    return call


def _row(case, backend, reconstruction, cells, batch, threads, wall, steps, sim_s) -> dict:
    return {
        "case": case, "backend": backend, "reconstruction": reconstruction, "cells": cells,
        "batch": batch, "threads": threads, "us_per_step": 1e6 * wall / max(steps, 1),
        "cell_updates_per_s": cells * batch * steps / wall, "sim_s_per_wall_s": sim_s / wall,
    }  # fmt: skip


def measure_road(cells: int, reconstruction: str, batch: int, threads: int, repeats: int,
                 target_s: float) -> dict:
    """Median over ``repeats`` of one timed call of ~``target_s`` seconds (after a warm-up)."""
    call = _kernel_call(bench_problem(cells, reconstruction), batch, threads)
    wall, steps, _ = call(1e12, 3)  # warm-up (compilation, cache load, thread pool)
    per_step = max(wall / max(steps, 1), 1e-7)
    steps = max(3, int(target_s / per_step))
    runs = sorted((call(1e12, steps) for _ in range(repeats)), key=lambda r: r[0])
    wall, taken, sim_s = runs[len(runs) // 2]
    return _row("road", "numba-cpu", reconstruction, cells, batch, threads, wall, taken, sim_s)


def measure_oracle(cells: int, steps: int) -> dict:
    """The numpy oracle, WENO5, ``steps`` steps on one copy."""
    prob = bench_problem(cells, "weno5")
    Q, T, BF = prob.q0[None].copy(), np.zeros(1), np.zeros((1, 2, 4))
    start = time.perf_counter()
    taken, _ = get_backend("numpy").advance_links(prob.setup, Q, T, 1e12, steps, BF)
    wall = time.perf_counter() - start
    return _row("road-oracle", "numpy", "weno5", cells, 1, 1, wall, int(taken[0]), float(T[0]))


def corridor_road_problem() -> RoadProblem:
    """The seed corridor's road alone: 5 km, 200 cells, R2, equilibrium 25 + 8 veh/km, outflow."""
    return road({
        "road": {"length": 5000.0, "cells": 200, "quality": 2},
        "initial": {"type": "equilibrium", "rho_m": "25 veh/km", "rho_c": "8 veh/km"},
        "numerics": {"reconstruction": "weno5", "flux": "central_upwind", "cfl": 0.5},
    })  # fmt: skip


def measure_corridor_road(repeats: int) -> dict:
    """One 60 s interval of the corridor road on one core, from the initial state each time."""
    prob = corridor_road_problem()
    _kernel_call(prob, 1, 1)(INTERVAL, 10**9)  # warm-up
    runs = sorted((_kernel_call(prob, 1, 1)(INTERVAL, 10**9) for _ in range(repeats)), key=lambda r: r[0])
    wall, steps, sim_s = runs[len(runs) // 2]
    return _row("seed_corridor_road", "numba-cpu", "weno5", prob.setup.n, 1, 1, wall, steps, sim_s)


SEED_CORRIDOR = {
    "name": "seed-corridor",
    "numerics": {"reconstruction": "weno5", "flux": "central_upwind", "cfl": 0.5},
    "time": {"end": "1800 s"},
    "initial": {"type": "equilibrium", "rho_m": "25 veh/km", "rho_c": "8 veh/km"},
    "links": [{"id": "road", "from": "src", "to": "light", "length": "5 km", "cells": 200, "quality": 2},
              {"id": "stub", "from": "light", "to": "sink", "length": "200 m", "cells": 8, "quality": 2}],
    "nodes": [{"id": "src", "kind": "entry", "demand": {"m": [["0 s", "2200 veh/h"]], "c": [["0 s", "500 veh/h"]]}},
              {"id": "light", "kind": "junction",
               "signal": {"phases": [{"name": "green", "green": ["road"]}, {"name": "red", "green": []}],
                          "yellow": "3 s", "all_red": "2 s", "min_green": "10 s"}},
              {"id": "sink", "kind": "exit"}],
}  # fmt: skip
"""The network of scenarios/seed_corridor.yml (constant demand, no fixed plan: phases requested)."""


def measure_corridor_network(intervals: int) -> dict:
    """Consecutive 60 s intervals of the seed corridor network, phases alternating green/red.

    The median interval is reported; us_per_step and cell updates use its step count.
    """
    from solver.batch import BatchedNetwork
    from solver.network import build_network, load_network_mapping

    net = build_network(load_network_mapping(SEED_CORRIDOR))
    sim = BatchedNetwork(net, batch=1, threads=1)
    sim.advance(1.0, np.zeros((1, 1), np.int64))  # warm-up
    sim.reset()
    runs = []
    for i in range(intervals):
        start = time.perf_counter()
        sim.advance(INTERVAL, np.full((1, 1), i % 2, np.int64))
        runs.append((time.perf_counter() - start, int(sim.STEPS[0])))
    wall, steps = sorted(runs)[len(runs) // 2]
    return _row("seed_corridor_network", "numba-cpu", "weno5", net.n_cells, 1, 1, wall, steps, INTERVAL)


def measure_intersection(batch: int, threads: int, repeats: int, intervals: int) -> dict:
    """``intersection_4arm`` (5 s decisions) through the batched network: a bench row.

    ``sim_s_per_wall_s`` sums over the batch; ``us_per_step`` is the wall time of one substep of
    the whole batch call, as in the road rows (so ``cell_updates_per_s = cells batch / us_per_step``).
    """
    from solver.bench_network import network_rate

    rate, steps_per_interval, net = network_rate("intersection_4arm", batch, threads, 5.0, intervals, repeats)
    cells = int(net.lk[:, 1].sum())
    wall_per_interval = 5.0 * batch / rate  # s, one decision interval of the whole batch
    return {"case": "intersection_4arm", "backend": "numba-cpu", "reconstruction": "weno5", "cells": cells,
            "batch": batch, "threads": threads, "us_per_step": 1e6 * wall_per_interval / steps_per_interval,
            "cell_updates_per_s": cells * steps_per_interval * rate / 5.0, "sim_s_per_wall_s": rate}  # fmt: skip


def run_bench(quick: bool = True, progress: Progress | None = None) -> BenchReport:
    """Measure every row of the module docstring.

    Args:
        quick: fewer repeats and shorter timed calls (~20 s in all); False for steadier figures.
        progress: called as ``progress("bench", done, total)`` after each row.

    Returns:
        The report; ``summary`` has ``weno5_200_us_per_step_one_core``,
        ``batched_speedup_<order>_<cells>`` and ``seed_corridor_ms_per_60s`` (road and network).
    """
    repeats, target, intervals = (3, 0.05, 6) if quick else (7, 0.25, 30)
    cores, load = default_threads(), os.getloadavg()[0]
    jobs: list[Callable[[], dict]] = []
    for cells in CELLS:
        for order in ORDERS:
            jobs.append(lambda c=cells, o=order: measure_road(c, o, 1, 1, repeats, target))
            jobs.append(lambda c=cells, o=order: measure_road(c, o, cores * BATCH_PER_CORE, cores, repeats, target))
    jobs += [lambda: measure_oracle(200, 3 if quick else 10), lambda: measure_corridor_road(repeats),
             lambda: measure_corridor_network(intervals)]
    for batch, threads in ((1, 1), (cores * BATCH_PER_CORE, cores)):
        jobs.append(lambda b=batch, t=threads: measure_intersection(b, t, 3 if quick else 7, intervals))
    report = BenchReport()
    for i, job in enumerate(jobs):
        report.rows.append(job())
        if progress:
            progress("bench", i + 1, len(jobs))
    report.summary = {"load_average_1min_before": load, **summarize(report.rows, cores)}
    return report


def summarize(rows: list[dict], cores: int) -> dict:
    """Headline figures from the rows (ratios are batched / one-core cell updates per second)."""
    out: dict = {"cores": cores}
    single = {(r["reconstruction"], r["cells"]): r for r in rows if r["case"] == "road" and r["threads"] == 1}
    for r in rows:
        if r["case"] == "road" and r["threads"] > 1:
            base = single[(r["reconstruction"], r["cells"])]
            out[f"batched_speedup_{r['reconstruction']}_{r['cells']}"] = r["cell_updates_per_s"] / base["cell_updates_per_s"]
    out["weno5_200_us_per_step_one_core"] = single[("weno5", 200)]["us_per_step"]
    for r in rows:
        if r["case"].startswith("seed_corridor"):
            out[f"{r['case']}_ms_per_60s"] = 1e3 * INTERVAL / r["sim_s_per_wall_s"]
    for r in rows:
        if r["case"] == "intersection_4arm":
            which = "one_core" if r["threads"] == 1 else "batch_all_cores"
            out[f"intersection_4arm_sim_s_per_wall_s_{which}"] = r["sim_s_per_wall_s"]
            out[f"intersection_4arm_vs_sumo_rl_{which}"] = r["sim_s_per_wall_s"] / SUMO_RL_REFERENCE_SIM_S_PER_WALL_S
    return out
