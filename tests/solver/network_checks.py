"""Independent checks of a network run, step by step, for any compiled network.

:func:`run_checked` advances a :class:`solver.network.batch.BatchedNetwork` one time step at a time and,
after every step, (1) integrates the traffic measures from the state itself in numpy (total time
spent, delay against free flow, approach queue lengths; the kernels accumulate the same
right-endpoint sums) and (2) recomputes every junction face from the junction rule of DESIGN §4
(demand split by the turning ratios, each exit's supply shared in proportion to what is sent to
it, an approach held back by its tightest destination) and compares it with the flux the kernel
used in its last Runge–Kutta stage. Demand and supply per cell are the equilibrium sending and
receiving flows of :func:`solver.physics.sending_receiving`; the physics of speeds is the numpy
oracle's (:mod:`solver.road.oracle`), not the kernels'.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from solver import physics
from solver.kernels import network as KN
from solver.kernels.link import NG
from solver.network.batch import BatchedNetwork
from solver.params import EPS_VAC
from solver.road import oracle


@dataclass
class Integrated:
    """Measures integrated from the state (per class: tts, delay in veh s; per approach: queue
    integral in m s and maximum in m), plus how many junction faces were checked."""

    tts: np.ndarray = field(default_factory=lambda: np.zeros(2))
    delay: np.ndarray = field(default_factory=lambda: np.zeros(2))
    queue_ms: np.ndarray | None = None
    queue_max: np.ndarray | None = None
    junction_faces: int = 0
    blocked_faces: int = 0
    steps: int = 0


def stored_and_delayed(sim: BatchedNetwork, b: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Vehicles on the network (links and entry queues) and fully delayed vehicles, per class.

    Delay counts, per vehicle on a link, ``clip(1 - v/Vmax, 0, 1)``; a vehicle waiting in an
    entry queue is fully delayed. Shapes: returns two (2,) arrays (veh).
    """
    net, q = sim.net, sim.Q[b]
    vehicles, delayed = np.zeros(2), np.zeros(2)
    for l, link in enumerate(net.links):
        sl, dx = net.link_slice(link), net.lk_dx[l]
        p_m, p_c = oracle.pressures(q[0, sl], q[2, sl], net.par)
        for k, (r, p) in enumerate(((0, p_m), (2, p_c))):
            v = oracle.marker(q[r, sl], q[r + 1, sl], net.par[EPS_VAC]) - p
            lag = np.clip(1.0 - v / net.vmax[k, sl], 0.0, 1.0)
            vehicles[k] += q[r, sl].sum() * dx
            delayed[k] += (q[r, sl] * lag).sum() * dx
    queued = sim.QU[b].sum(axis=0)
    return vehicles + queued, delayed + queued


def queue_lengths(sim: BatchedNetwork, b: int = 0) -> np.ndarray:
    """Metres of each approach whose total density is at least the queue threshold. Shapes: (A,)."""
    net, q = sim.net, sim.Q[b]
    thresh = net.scenario.queue_threshold * net.params.rho_jam
    out = np.zeros(len(net.approaches))
    for a, app in enumerate(net.approaches):
        sl = net.link_slice(app.link)
        out[a] = (q[0, sl] + q[2, sl] >= thresh).sum() * net.lk_dx[net.links.index(app.link)]
    return out


def expected_junction_faces(sim: BatchedNetwork, b: int = 0) -> list[tuple[int, int, float, float]]:
    """Junction faces from the junction rule on the last RK stage's state.

    Returns ``(flux row, flat face index, expected flux, demand before blocking)`` for every
    incoming end face and outgoing start face of every junction, rows 0..3 = (rho_m, y_m, rho_c, y_c).
    """
    net = sim.net
    lk, vmax = net.lk, net.vmax
    q = sim.W[b, KN.Q2]
    green = sim.GREEN[b]
    in_ptr, ins, out_ptr, outs, beta_ptr, beta = net.topo[9:15]
    faces = []
    for j in range(len(in_ptr) - 1):
        i_links, o_links = ins[in_ptr[j] : in_ptr[j + 1]], outs[out_ptr[j] : out_ptr[j + 1]]
        turn = beta[beta_ptr[j] : beta_ptr[j + 1]].reshape(len(i_links), len(o_links))
        end = [lk[i, 0] + NG + lk[i, 1] - 1 for i in i_links]
        first = [lk[o, 0] + NG for o in o_links]
        sr_in = [physics.sending_receiving(*q[:, c], vmax[0, c], vmax[1, c], net.par) for c in end]
        sr_out = [physics.sending_receiving(*q[:, c], vmax[0, c], vmax[1, c], net.par) for c in first]
        for k in range(2):
            demand = np.array([s[k] for s in sr_in]) * green[in_ptr[j] : in_ptr[j + 1]]
            marker = np.array([s[4 + k] for s in sr_in])
            supply = np.array([s[2 + k] for s in sr_out])
            sent = turn.T @ demand  # what each exit is asked to take
            ratio = np.where(sent > 0, np.minimum(1.0, supply / np.where(sent > 0, sent, 1.0)), 1.0)
            held = np.array([ratio[turn[i] > 0].min(initial=1.0) for i in range(len(i_links))])
            flow = demand * held
            for i, link in enumerate(i_links):
                face = lk[link, 0] + lk[link, 1]
                faces += [(2 * k, face, flow[i], demand[i]), (2 * k + 1, face, flow[i] * marker[i], demand[i])]
            for o, link in enumerate(o_links):
                faces += [(2 * k, lk[link, 0], turn[:, o] @ flow, np.nan),
                          (2 * k + 1, lk[link, 0], turn[:, o] @ (flow * marker), np.nan)]
    return faces


def run_checked(sim: BatchedNetwork, duration: float, request=None, every: float = 10.0,
                rel: float = 1e-12) -> Integrated:
    """Advance copy 0 (of a batch of 1) step by step for ``duration`` s, checking every step.

    ``request(t)`` gives the requested phases (S,) at time t (default: keep them). Junction faces
    must match :func:`expected_junction_faces` to ``rel`` of the largest face flux.
    """
    assert sim.B == 1
    out = Integrated(queue_ms=np.zeros(len(sim.net.approaches)), queue_max=np.zeros(len(sim.net.approaches)))
    t_end = float(sim.T[0]) + duration
    while sim.T[0] < t_end - 1e-9:
        t0 = float(sim.T[0])
        req = None if request is None else np.asarray(request(t0), np.int64)[None]
        sim.advance(t_end - t0, req, max_steps=1)
        dt = float(sim.T[0]) - t0
        vehicles, delayed = stored_and_delayed(sim)
        out.tts += dt * vehicles
        out.delay += dt * delayed
        lengths = queue_lengths(sim)
        out.queue_ms += dt * lengths
        out.queue_max = np.maximum(out.queue_max, lengths)
        faces = expected_junction_faces(sim)
        if faces:
            F = sim.W[0, KN.FLUX]
            scale = max(max(abs(f[2]) for f in faces), 1e-12)
            for row, face, expected, demand in faces:
                assert abs(F[row, face] - expected) <= rel * scale, (t0, row, face, F[row, face], expected)
                out.junction_faces += 1
                out.blocked_faces += int(row % 2 == 0 and demand == demand and expected < demand * (1 - 1e-9))
        out.steps += 1
    return out
