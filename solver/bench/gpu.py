"""GPU throughput of the batched network step (``arz bench --device gpu``), CPU batch alongside.

For one scenario (``intersection_4arm``, 5 s decisions) and a range of batch sizes, time whole
decision intervals of :class:`solver.network.batch_cuda.CudaBatchedNetwork` in float32 and float64, and
of :class:`solver.network.batch.BatchedNetwork` on every core, in the same run. One row per (device,
dtype, batch), as plain dicts like :mod:`solver.bench.runner`'s rows:

* ``decision_steps_per_s``: copies x decisions advanced per wall second;
* ``sim_s_per_wall_s``: simulated seconds per wall second summed over the batch;
* ``substeps_per_decision``: mean SSP-RK3 steps per copy and decision (what the work is);
* ``warmup_s``: the first interval's wall time (on the GPU it includes compiling the kernels).

The timing loop is what a controller or an RL vector env does: request phases, advance one
decision, read back times and failure flags (the GPU state itself stays on the device).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from solver.network.batch import BatchedNetwork
from solver.network.compile import Network, build_network
from solver.scenario.loader import load_scenario

DEFAULT_BATCHES = (1, 16, 256, 1024, 4096, 16384)
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _plan(batch: int, n_signals: int, k: int) -> np.ndarray:
    """Fixed-time requests: phase (k // 6) % 2 (30 s greens at 5 s decisions), all copies."""
    return np.full((batch, n_signals), (k // 6) % 2, np.int64)


def time_decisions(sim, net: Network, decisions: int, interval: float, warmup: int = 1) -> dict:
    """Time ``decisions`` decision intervals of an existing batched simulator.

    Returns:
        ``wall_s``, ``warmup_s`` (s), ``decision_steps_per_s``, ``sim_s_per_wall_s`` and
        ``substeps_per_decision``.
    """
    S, B = len(net.signals), sim.B
    start = time.perf_counter()
    for k in range(warmup):
        sim.advance(interval, _plan(B, S, k))
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for k in range(warmup, warmup + decisions):
        sim.advance(interval, _plan(B, S, k))
    wall = time.perf_counter() - start
    return {"wall_s": wall, "warmup_s": warm, "decision_steps_per_s": B * decisions / wall,
            "sim_s_per_wall_s": B * decisions * interval / wall,
            "substeps_per_decision": float(np.mean(sim.STEPS))}  # last interval's, per copy


def _row(device: str, backend: str, name: str, dtype: str, batch: int, threads: int, case: str,
         decisions: int, interval: float, timing: dict) -> dict:
    return {"case": case, "device": device, "backend": backend, "device_name": name,
            "dtype": dtype, "batch": batch, "threads": threads, "decision_s": interval,
            "decisions": decisions, **{k: round(v, 6) for k, v in timing.items()}}  # fmt: skip


def bench_cpu(net: Network, batches, decisions: int, interval: float, budget_s: float,
              case: str, threads: int | None = None,
              progress: Callable[[str], None] | None = None) -> list[dict]:
    """CPU batch rows on ``threads`` cores (default all); batches whose estimated time exceeds
    ``budget_s`` are skipped."""
    from solver.device import device_name

    threads = threads or os.cpu_count() or 1
    name, rows, per_copy = device_name("cpu"), [], 0.0
    for batch in batches:
        if per_copy * batch * (decisions + 1) > budget_s:
            continue
        sim = BatchedNetwork(net, batch=batch, threads=threads)
        timing = time_decisions(sim, net, decisions, interval)
        per_copy = timing["wall_s"] / (batch * decisions)
        rows.append(_row("cpu", "numba-cpu", name, "float64", batch, threads, case, decisions, interval, timing))
        if progress:
            progress(f"cpu x{threads} batch {batch}: {timing['decision_steps_per_s']:.0f} decisions/s")
    return rows


def bench_gpu(net: Network, batches, dtypes, decisions: int, interval: float, case: str,
              progress: Callable[[str], None] | None = None) -> list[dict]:
    """GPU rows (numba-cuda) for every dtype and batch."""
    from solver.device import device_name
    from solver.network.batch_cuda import CudaBatchedNetwork

    name, rows = device_name("gpu"), []
    for dtype in dtypes:
        for batch in batches:
            sim = CudaBatchedNetwork(net, batch=batch, dtype=dtype)
            timing = time_decisions(sim, net, decisions, interval)
            rows.append(_row("gpu", "numba-cuda", name, dtype, batch, 1, case, decisions, interval, timing))
            if progress:
                progress(f"gpu {dtype} batch {batch}: {timing['decision_steps_per_s']:.0f} decisions/s")
            del sim
    return rows


def run_gpu_bench(scenario: str = "intersection_4arm", batches=DEFAULT_BATCHES,
                  dtypes=("float32", "float64"), decisions: int = 4, cpu_budget_s: float = 30.0,
                  cpu_threads=(None, 2), progress: Callable[[str], None] | None = None) -> list[dict]:
    """GPU and CPU batch throughput vs batch size, in one run (``arz bench --device gpu``).

    Args:
        scenario: catalogue scenario name (``scenarios/<name>.yml``) or a path to one.
        batches: batch sizes to time (1 .. 16,384).
        dtypes: GPU precisions.
        decisions: timed decision intervals per row (after one warm-up interval).
        cpu_budget_s: CPU batches estimated to take longer than this are skipped.
        cpu_threads: CPU thread counts to time (None: every core; 2: the acceptance's 2-core
            reference); duplicates are dropped.
        progress: called with one line per finished row.

    Returns:
        Rows (dicts) for the CPU batch then the GPU; see the module docstring.

    Raises:
        BackendError: no usable GPU.
    """
    from solver.device import resolve_device

    resolve_device("gpu")  # a clear error before any CPU work when there is no GPU
    path = Path(scenario) if scenario.endswith((".yml", ".yaml")) else SCENARIOS / f"{scenario}.yml"
    sc = load_scenario(path)
    net, interval = build_network(sc), float(sc.decision_interval)
    rows = []
    for threads in dict.fromkeys(t or os.cpu_count() or 1 for t in cpu_threads):
        rows += bench_cpu(net, batches, decisions, interval, cpu_budget_s, sc.name, threads, progress)
    rows += bench_gpu(net, batches, dtypes, decisions, interval, sc.name, progress)
    return rows


def speedups(rows: list[dict], min_batch: int = 4096) -> dict:
    """Headline figures: best CPU batch throughput (all cores and 2 cores), best GPU throughput
    per dtype at a batch >= ``min_batch`` (or any batch when none is that large), and ratios."""
    def best(pred) -> dict | None:
        chosen = [r for r in rows if pred(r)]
        return max(chosen, key=lambda r: r["decision_steps_per_s"]) if chosen else None

    cores = max((r["threads"] for r in rows if r["device"] == "cpu"), default=0)
    cpu_all = best(lambda r: r["device"] == "cpu" and r["threads"] == cores)
    cpu_two = best(lambda r: r["device"] == "cpu" and r["threads"] == 2)
    out = {"cpu_cores": cores,
           "cpu_best_decisions_per_s": cpu_all["decision_steps_per_s"] if cpu_all else None,
           "cpu_2core_best_decisions_per_s": cpu_two["decision_steps_per_s"] if cpu_two else None}
    for dtype in sorted({r["dtype"] for r in rows if r["device"] == "gpu"}):
        gpu = [r for r in rows if r["device"] == "gpu" and r["dtype"] == dtype]
        large = [r for r in gpu if r["batch"] >= min_batch] or gpu
        top = max(large, key=lambda r: r["decision_steps_per_s"])
        rate = top["decision_steps_per_s"]
        out[f"gpu_{dtype}_decisions_per_s"] = rate
        out[f"gpu_{dtype}_batch"] = top["batch"]
        for key, ref in (("vs_cpu", cpu_all), ("vs_2core_cpu", cpu_two)):
            out[f"gpu_{dtype}_speedup_{key}"] = rate / ref["decision_steps_per_s"] if ref else None
    return out
