"""Solver throughput: µs per SSP-RK3 step, cell updates per second, the seed corridor's 60 s.

Rows (one per measurement, median of repeats):

* ``road``: one link of 200 / 1,000 / 10,000 cells, first order and WENO5, two classes,
  relaxation on (a step = wave-speed bound, exact relaxation, three SSP-RK3 stages). ``threads 1,
  batch 1`` is one core; the batched rows run ``batch = cores * 4`` independent copies on one
  thread per core (:mod:`solver.threads`).
* ``road-oracle``: the numpy oracle on 200 cells (for scale).
* ``seed_corridor_road``: the 5 km, 200-cell road of the seed corridor alone, one 60 s interval.
* ``seed_corridor_network``: the seed corridor network (road, signal, stub) through
  :class:`solver.network.batch.BatchedNetwork`, consecutive 60 s decision intervals.
* ``intersection_4arm``: the signalised four-arm intersection (8 links, 160 cells, WENO5) through
  :class:`solver.network.batch.BatchedNetwork`: whole 3,600 s episodes of 5 s decisions under seeded
  random phase requests, median of 5 episodes, one copy on one core and ``cores * 4`` copies on
  every core (:func:`solver.bench.network.episode_rates`).

Columns and units (:data:`COLUMN_UNITS`): ``us_per_step`` is µs per step of the whole batch call;
``cell_updates_per_s`` counts every copy; ``sim_s_per_wall_s`` is simulated seconds per wall
second **per copy** (every row alike), ``batch_sim_s_per_wall_s`` the same summed over the batch.

The summary holds the headline figures: 200-cell WENO5 µs/step on one core, batched / one-core
throughput ratios, the seed corridor's ms per 60 s interval, the intersection's rate and mean
vehicle count, and -- only when sumo-rl is installed (:mod:`solver.bench.sumo`) -- sumo-rl's rate
and vehicle count measured in the same run at the same episode length, with the ratios; otherwise
``sumo_rl_omitted`` says why. Timings are wall-clock: the machine's 1-minute load average before
and after the run and its core count are part of the summary (compare runs made at a low load).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from solver.backends import get_backend
from solver.kernels import link as K
from solver.road.simulate import RoadProblem
from solver.threads import default_threads
from solver.verification.cases import road

Progress = Callable[[str, int, int], None]
CELLS = (200, 1000, 10000)
ORDERS = ("first_order", "weno5")
BATCH_PER_CORE = 4
INTERVAL = 60.0  # s, one decision interval of the seed corridor
EPISODE_S, DECISION_S, EPISODES = 3600.0, 5.0, 5  # the intersection's episodes (as sumo-rl's)
COLUMN_UNITS = {
    "case": "", "backend": "", "reconstruction": "", "cells": "cells per copy", "batch": "copies",
    "threads": "threads", "us_per_step": "µs per step of the whole batch",
    "cell_updates_per_s": "cell updates per wall s, all copies",
    "sim_s_per_wall_s": "simulated s per wall s, per copy",
    "batch_sim_s_per_wall_s": "simulated s per wall s, summed over the batch",
}  # fmt: skip
"""Every column of a bench row and its unit."""


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
        head = tuple(COLUMN_UNITS)
        titles = [f"{k} ({COLUMN_UNITS[k]})" if COLUMN_UNITS[k] else k for k in head]
        lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(head)]
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
        "batch_sim_s_per_wall_s": batch * sim_s / wall,
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
    from solver.network.batch import BatchedNetwork
    from solver.network.compile import build_network
    from solver.scenario.loader import load_network_mapping

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


def measure_intersection(batch: int, threads: int, episodes: int = EPISODES, seconds: float = EPISODE_S,
                         seed: int = 0) -> dict:
    """``intersection_4arm`` over whole episodes (see :func:`solver.bench.network.episode_rates`).

    Returns a bench row (median episode; ``sim_s_per_wall_s`` per copy) plus ``mean_vehicles``
    (per copy, links and entry queues), ``episodes`` and ``episode_s``.
    """
    from solver.bench.network import episode_rates

    got = episode_rates("intersection_4arm", batch, threads, episodes, seconds, DECISION_S, seed)
    cells, rate = int(got["network"].lk[:, 1].sum()), float(np.median(got["rates"]))
    wall = got["wall_per_decision"]
    return {"case": "intersection_4arm", "backend": "numba-cpu", "reconstruction": "weno5", "cells": cells,
            "batch": batch, "threads": threads, "us_per_step": 1e6 * wall / got["substeps"],
            "cell_updates_per_s": cells * batch * got["substeps"] / wall, "sim_s_per_wall_s": rate,
            "batch_sim_s_per_wall_s": rate * batch, "mean_vehicles": got["mean_vehicles"],
            "episodes": episodes, "episode_s": seconds}  # fmt: skip


def run_bench(quick: bool = True, progress: Progress | None = None, sumo: bool = True,
              smoke: bool = False) -> BenchReport:
    """Measure every row of the module docstring (and sumo-rl beside them when installed).

    Args:
        quick: fewer repeats and shorter timed calls (~1 min in all on 2 cores); False for steadier
            figures.
        progress: called as ``progress("bench", done, total)`` after each row.
        sumo: measure sumo-rl too when it is installed (:func:`solver.bench.sumo.measure_sumo_rl`).
        smoke: a seconds-long run that only proves every row can be measured: 200-cell roads,
            one repeat, one 60 s interval, one 60 s intersection episode, no sumo-rl. Its figures
            are not benchmarks (the summary says ``smoke: True``).

    Returns:
        The report; ``summary`` has ``weno5_200_us_per_step_one_core``,
        ``batched_speedup_<order>_<cells>``, ``seed_corridor_ms_per_60s`` (road and network), the
        intersection figures, the sumo-rl comparison or ``sumo_rl_omitted``, and the machine load.
    """
    repeats, target, intervals = (1, 0.005, 1) if smoke else (3, 0.05, 6) if quick else (7, 0.25, 30)
    episodes_one, episode_s = (1, 60.0) if smoke else (EPISODES, EPISODE_S)
    sumo = sumo and not smoke
    cores, load = default_threads(), os.getloadavg()[0]
    jobs: list[Callable[[], dict]] = []
    for cells in CELLS[:1] if smoke else CELLS:
        for order in ORDERS:
            jobs.append(lambda c=cells, o=order: measure_road(c, o, 1, 1, repeats, target))
            jobs.append(lambda c=cells, o=order: measure_road(c, o, cores * BATCH_PER_CORE, cores, repeats, target))
    jobs += [lambda: measure_oracle(200, 3 if quick else 10), lambda: measure_corridor_road(repeats),
             lambda: measure_corridor_network(intervals)]
    for batch, threads in ((1, 1), (cores * BATCH_PER_CORE, cores)):
        episodes = episodes_one if threads == 1 or not quick else min(2, episodes_one)  # a batched episode is `batch` episodes
        jobs.append(lambda b=batch, t=threads, n=episodes: measure_intersection(b, t, n, episode_s))
    report = BenchReport()
    for i, job in enumerate(jobs):
        report.rows.append(job())
        if progress:
            progress("bench", i + 1, len(jobs) + int(sumo))
    sumo_rl = {"omitted": "not requested"}
    if sumo:
        from solver.bench.sumo import measure_sumo_rl

        sumo_rl = measure_sumo_rl(EPISODES if quick else 2 * EPISODES, EPISODE_S)
        if progress:
            progress("bench", len(jobs) + 1, len(jobs) + 1)
    report.summary = {**({"smoke": True} if smoke else {}), "load_average_1min_before": load, "load_average_1min_after": os.getloadavg()[0],
                      **summarize(report.rows, cores), **compare_with_sumo_rl(report.rows, sumo_rl)}  # fmt: skip
    return report


def compare_with_sumo_rl(rows: list[dict], sumo_rl: dict) -> dict:
    """sumo-rl's figures and the intersection's ratios to them, or ``sumo_rl_omitted`` with the reason.

    Ratios compare simulated seconds per wall second of one ARZ copy on one core, and of the
    ARZ batch on every core (summed over the batch), with sumo-rl's one simulation.
    """
    if "sim_s_per_wall_s" not in sumo_rl:
        return {"sumo_rl_omitted": sumo_rl.get("omitted", "not measured")}
    out = {"sumo_rl_sim_s_per_wall_s": sumo_rl["sim_s_per_wall_s"], "sumo_rl_mean_vehicles": sumo_rl["mean_vehicles"],
           "sumo_rl_episode_s": sumo_rl["episode_s"], "sumo_rl_episodes": sumo_rl["episodes"]}  # fmt: skip
    for r in rows:
        if r["case"] == "intersection_4arm":
            which = "one_core" if r["threads"] == 1 else "batch_all_cores"
            out[f"intersection_4arm_vs_sumo_rl_{which}"] = r["batch_sim_s_per_wall_s"] / sumo_rl["sim_s_per_wall_s"]
    return out


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
            out[f"intersection_4arm_sim_s_per_wall_s_{which}"] = r["batch_sim_s_per_wall_s"]  # batch total
            if r["threads"] == 1:
                out["intersection_4arm_mean_vehicles"] = r["mean_vehicles"]
                out["intersection_4arm_episode_s"] = r["episode_s"]
    return out
