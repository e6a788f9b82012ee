"""Run a network scenario with its own fixed signal plans (``arz simulate`` on a network).

Controllers and the RL environment drive :class:`solver.network.batch.BatchedNetwork` themselves; this
module only plays the plans written in the scenario file.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from solver.backends import make_batched_network
from solver.fields import SimulationResult, output_times, primitive_fields
from solver.network.batch import BatchedNetwork, cell_lengths
from solver.network.compile import Network, build_network
from solver.network.speeds import transport_speeds
from solver.scenario.network import NetworkScenario


def plan_request(net: Network, t: float) -> tuple[np.ndarray, float]:
    """Phases requested by the scenario's plans at time t, and the time of the next change.

    Returns:
        ``(requested (S,) int64, next change in s)``. A signal without a plan requests phase 0.
    """
    req = np.zeros(len(net.signals), np.int64)
    next_change = np.inf
    specs = {n.id: n.signal for n in net.scenario.nodes if n.signal is not None}
    for s, sid in enumerate(net.signals):
        plan = specs[sid].plan
        if not plan:
            continue
        cycle = sum(step.green for step in plan)
        tau = t % cycle
        start = t - tau
        for step in plan:
            if tau < step.green - 1e-9:
                req[s] = step.phase
                next_change = min(next_change, start + step.green)
                break
            tau -= step.green
            start += step.green
    return req, next_change


def link_fields(sim: BatchedNetwork, link: str, speeds: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Fields of copy 0 on one link: rho (veh/m), w (m/s) and the reported speeds v (m/s).

    ``v_m``, ``v_c`` are the transport speeds of the fluxes (:mod:`solver.network.speeds`: a standing
    queue behind a red light reads 0, not ``w - p``). ``speeds``: :func:`transport_speeds` of
    ``sim`` if already computed (B, 2, Ncells). Each (n,).
    """
    sl = sim.net.link_slice(link)
    out = primitive_fields(sim.Q[0][:, sl], sim.net.par)
    u = transport_speeds(sim) if speeds is None else speeds
    out["v_m"], out["v_c"] = u[0, 0, sl].copy(), u[0, 1, sl].copy()
    return out


def _frame(sim: BatchedNetwork) -> dict[str, np.ndarray]:
    u = transport_speeds(sim)
    return {f"{lk}/{k}": v for lk in sim.net.links for k, v in link_fields(sim, lk, u).items()}


def simulate_network(sc: NetworkScenario, progress: Callable[[float, float], None] | None = None) -> SimulationResult:
    """Run a network scenario with its fixed plans; fields are keyed ``LINK/<var>`` (nt, n)."""
    net = build_network(sc)
    sim = make_batched_network(net, batch=1, device="cpu", threads=1)
    times = output_times(sc.time.end, sc.time.output_every)
    frames = [_frame(sim)]
    start = time.perf_counter()
    steps = 0
    for t_out in times[1:]:
        while sim.T[0] < t_out - 1e-9:
            req, change = plan_request(net, float(sim.T[0]))
            sim.advance(min(t_out, change) - sim.T[0], req[None])
            steps += int(sim.STEPS[0])
        frames.append(_frame(sim))
        if progress:
            progress(float(t_out), float(times[-1]))
    fields = {k: np.stack([f[k] for f in frames]) for k in frames[0]}
    led = sim.ledger()
    ledger = {cls: {name: float(led[name][0, k]) for name in led} for k, cls in enumerate(("m", "c"))}
    meas = sim.measures()
    measures = {
        "total_time_spent_veh_s": meas["tts"][0].tolist(),
        "total_delay_veh_s": meas["delay"][0].tolist(),
        "throughput_veh": meas["throughput"][0].tolist(),
        "mean_delay_per_vehicle_s": (meas["delay"][0] / np.maximum(led["entered"][0], 1e-12)).tolist(),
        "queue_max_m": dict(zip([a.link for a in net.approaches], meas["queue_max_m"][0].tolist(), strict=True)),
        "entry_queue_veh": meas["entry_queue"][0].tolist(),
        # interior cells: the ghost cells hold what the step's passes left there
        "max_density_veh_per_km": float(sim.Q[0][[0, 2]][:, cell_lengths(net) > 0].sum(axis=0).max() * 1000),
    }
    return SimulationResult(times, fields, ledger, steps, time.perf_counter() - start,
                            link_x={lk: net.centres[i] for i, lk in enumerate(net.links)}, measures=measures)
