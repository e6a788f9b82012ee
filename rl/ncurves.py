"""Cumulative vehicle counts per approach (N-curves) and the vehicle delays they imply.

The solver keeps no per-approach counter of vehicles crossing a stop line, and none is needed:
at every sample (each decision of the evaluation loop) :class:`ApproachCounts` reads the vehicles
on every link and in every entry queue, per class, and derives each link's cumulative flows by
conservation (no solver kernel change):

* an entry's cumulative demand ``Lambda_e(t)`` is the integral of its demand profile times the
  copy's demand multiplier (the profile the solver itself imposes, :func:`cumulative_demand`);
* a link fed by an entry takes in ``Lambda_e - queue_e`` (what left the vertical entry queue);
* a link fed by a junction takes in ``sum_i beta_i,l O_i`` over the junction's incoming links
  (fixed turning ratios split each incoming flux, :mod:`solver.kernels.network`);
* a link's cumulative outflow is ``O_l = N_l(0) + I_l - N_l(t)`` (its vehicles at the start, plus
  what came in, minus what is on it now), links taken in upstream-first order.

For an approach (the link ending at a junction) the **arrival curve** ``A(t)`` counts a vehicle
when it joins the entry queue (entry-fed links) or crosses the link's upstream end (junction-fed
links), the vehicles on the link at reset arriving at ``t = 0``; the **departure curve** ``D(t)``
counts it over the stop line (``O_l``).

Vehicle delay (:func:`vehicle_delays`): **FIFO per class** (a motorcycle may overtake a car by
filling gaps, so not FIFO across classes, but within a class the first in is the first out); vehicle
n of class k arrives at ``t_in = A^-1(n)`` and departs at ``t_out = D^-1(n)``, both interpolated
linearly between samples, and is delayed by ``t_out - t_in - t_ff,k``, with ``t_ff,k`` the link's
free-flow travel time for its class (sum of dx / Vmax_k over its cells), clipped at 0 (numerical
diffusion lets a few vehicles beat free flow). Vehicles still on the approach (or in its entry
queue) at the episode end count with their **delay so far**, ``t_end - t_in - t_ff,k`` clipped at
0 (a lower bound: it credits them the whole free-flow time, however far they still have to go). The 95th percentile is then taken over **all vehicles of both classes** pooled, each vehicle
weighing the same (:func:`p95_delay`).
"""

from __future__ import annotations

import numpy as np

from rl.errors import RLError

PERCENTILE = 95.0  # the delay percentile reported per approach
GRID_VEH = 0.1  # vehicles are resolved in steps of this many vehicles (at most MAX_POINTS a curve)
MAX_POINTS = 20_000


def cumulative_demand(t: np.ndarray, times: np.ndarray, values: np.ndarray, linear: bool) -> np.ndarray:
    """Integral from 0 to ``t`` of a demand profile as the solver evaluates it (veh).

    The rate is ``values[0]`` before ``times[0]``, ``values[-1]`` after ``times[-1]``, and between
    points a step (the left value) or a linear interpolation (``linear``), as
    :func:`solver.kernels.network.demand_rate`.

    Shapes: t (T,) s; times values (P,) s and veh/s. Returns (T,).
    """
    t = np.asarray(t, float)
    times, values = np.asarray(times, float), np.asarray(values, float)
    pieces = [(0.0, times[0], values[0], values[0])]
    for i in range(1, len(times)):
        pieces.append((times[i - 1], times[i], values[i - 1], values[i] if linear else values[i - 1]))
    pieces.append((times[-1], np.inf, values[-1], values[-1]))
    out = np.zeros_like(t)
    for a, b, r0, r1 in pieces:
        a = max(a, 0.0)  # the clock starts at 0
        if b <= a:
            continue
        span = np.clip(t - a, 0.0, b - a)
        out += r0 * span if np.isinf(b) else r0 * span + 0.5 * (r1 - r0) * span**2 / (b - a)
    return out


class ApproachCounts:
    """N-curves of every approach of B copies over one episode: :meth:`sample` after the reset and
    after every interval (see the module docstring).

    Args:
        core: a :class:`rl.simulation.ControlledNetwork` (any backend: reads ``sim.Q``, ``sim.QU``,
            ``sim.T`` and ``sim.DSCALE`` as host arrays).

    Attributes:
        free_flow: free-flow travel time of each approach's link per class, s. Shapes: (A, 2).
    """

    def __init__(self, core):
        net = core.net
        self.core, self.net = core, net
        self.slices = [net.link_slice(link) for link in net.links]
        self.dx = np.asarray(net.lk_dx, float)
        self.app_link = np.array([net.links.index(a.link) for a in net.approaches], np.int64)
        self.free_flow = np.array([[float(np.sum(self.dx[l] / net.vmax[k, self.slices[l]])) for k in range(2)]
                                   for l in self.app_link])
        self.feeders = _feeders(net)
        self.order = _upstream_first(net, self.feeders)
        self.times: list[np.ndarray] = []
        self.on_link: list[np.ndarray] = []  # (B, L, 2) veh
        self.queued: list[np.ndarray] = []  # (B, E, 2) veh

    def sample(self) -> None:
        """Record the copies' current vehicles per link and entry queue, and their clocks."""
        sim = self.core.sim
        q = np.asarray(sim.Q, float)
        self.on_link.append(np.stack([q[:, 0::2, s].sum(axis=2) * self.dx[l] for l, s in enumerate(self.slices)],
                                     axis=1))
        self.queued.append(np.asarray(sim.QU, float).copy())
        self.times.append(np.asarray(sim.T, float).copy())
        self.dscale = np.asarray(sim.DSCALE, float).copy()  # the episode's demand multipliers

    def curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample times and the arrival and departure curves of every approach and class.

        Returns:
            ``(t, A, D)``: t (B, T) s; A, D (B, A, 2, T) cumulative vehicles.
        """
        t, arrivals, outflow = self.link_curves()
        return t, arrivals[:, self.app_link], outflow[:, self.app_link]

    def link_curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`curves` for every link (in the network's link order). Shapes: t (B, T);
        arrivals, outflow (B, L, 2, T)."""
        t = np.stack(self.times, axis=-1)
        n = np.stack(self.on_link, axis=-1)  # (B, L, 2, T)
        qu = np.stack(self.queued, axis=-1)  # (B, E, 2, T)
        topo, dscale = self.net.topo, self.dscale
        inflow, outflow, arrivals = np.zeros_like(n), np.zeros_like(n), np.zeros_like(n)
        for l in self.order:
            kind, src = self.feeders[l]
            if kind == "entry":
                demand = np.stack([[cumulative_demand(t[b], topo.dem_t[src, k, :topo.dem_np[src, k]],
                                                      topo.dem_v[src, k, :topo.dem_np[src, k]], bool(topo.dem_lin[src]))
                                    for k in range(2)] for b in range(n.shape[0])]) * dscale[:, src, None, None]
                inflow[:, l] = demand - qu[:, src]
                arrivals[:, l] = demand
            elif kind == "junction":
                inflow[:, l] = sum(beta * outflow[:, i] for i, beta in src)
                arrivals[:, l] = inflow[:, l]
            outflow[:, l] = n[:, l, :, :1] + inflow[:, l] - n[:, l]
            arrivals[:, l] += n[:, l, :, :1]
        return t, arrivals, outflow

    def served(self) -> np.ndarray:
        """Vehicles (both classes) over each approach's stop line since the first sample.
        Shapes: (B, A)."""
        _, _, dep = self.curves()
        return dep[..., -1].sum(axis=2)

    def p95(self) -> np.ndarray:
        """95th-percentile vehicle delay of every copy and approach over the samples so far, s.
        Shapes: (B, A)."""
        t, arr, dep = self.curves()
        B, A = arr.shape[0], arr.shape[1]
        out = np.zeros((B, A))
        for b in range(B):
            for a in range(A):
                out[b, a] = p95_delay(t[b], arr[b, a], dep[b, a], self.free_flow[a])
        return out


def _feeders(net) -> list[tuple[str, object]]:
    """What feeds each link: ``("entry", e)`` or ``("junction", [(in-link index, beta), ...])``."""
    topo = net.topo
    feed: list[tuple[str, object]] = [("none", None)] * len(net.links)
    for e, l in enumerate(topo.en_link):
        feed[int(l)] = ("entry", e)
    for j in range(len(topo.jn_in_ptr) - 1):
        ins = topo.jn_in[topo.jn_in_ptr[j]:topo.jn_in_ptr[j + 1]]
        outs = topo.jn_out[topo.jn_out_ptr[j]:topo.jn_out_ptr[j + 1]]
        b0 = topo.jn_beta_ptr[j]
        for o, l in enumerate(outs):
            feed[int(l)] = ("junction", [(int(i), float(topo.beta[b0 + k * len(outs) + o])) for k, i in enumerate(ins)])
    return feed


def _upstream_first(net, feeders) -> list[int]:
    """Link indices ordered so that every junction-fed link follows the links feeding it."""
    done: list[int] = []
    left = list(range(len(net.links)))
    while left:
        ready = [l for l in left if feeders[l][0] != "junction" or all(i in done for i, _ in feeders[l][1])]
        if not ready:
            raise RLError(f"N-curves need a network without loops; links {[net.links[l] for l in left]} feed "
                          "each other (per-approach delay percentiles are undefined on a ring)")
        done += ready
        left = [l for l in left if l not in ready]
    return done


def vehicle_delays(t: np.ndarray, arrivals: np.ndarray, departures: np.ndarray, free_flow: float,
                   step: float | None = None) -> tuple[np.ndarray, float]:
    """Delays of the vehicles of one class on one approach (FIFO), on a grid of vehicle numbers.

    Vehicle numbers ``n = (i + 1/2) step`` up to the last arrival count; a served vehicle
    (``n <= D(t_end)``) is delayed ``t_out - t_in - free_flow``, a waiting one
    ``t_end - t_in - free_flow`` (its delay so far), both clipped at 0.

    Args:
        t: sample times, s (T,), increasing; arrivals, departures: cumulative vehicles (T,).
        free_flow: free-flow travel time, s.
        step: vehicles per grid point (default :data:`GRID_VEH`, coarser beyond :data:`MAX_POINTS`).

    Returns:
        ``(delays, step)``: delays (n,) s, one per grid point, each standing for ``step`` vehicles.
    """
    t = np.asarray(t, float)
    arr = np.maximum.accumulate(np.maximum(np.asarray(arrivals, float), 0.0))
    dep = np.minimum(np.maximum.accumulate(np.maximum(np.asarray(departures, float), 0.0)), arr)
    total = float(arr[-1])
    if total <= 0.0:
        return np.zeros(0), step or GRID_VEH
    step = step or max(GRID_VEH, total / MAX_POINTS)
    n = (np.arange(int(np.ceil(total / step))) + 0.5) * step
    n = n[n <= total]
    t_in = np.interp(n, arr, t)
    served = n <= dep[-1]
    t_out = np.where(served, np.interp(n, dep, t), t[-1])
    return np.maximum(t_out - t_in - free_flow, 0.0), step


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value not exceeded by ``q`` % of the total weight (NaN without weight)."""
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    if values.size == 0 or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, q / 100.0 * cum[-1] * (1 - 1e-12)))
    return float(values[order][min(k, len(values) - 1)])


def p95_delay(t: np.ndarray, arrivals: np.ndarray, departures: np.ndarray, free_flow: np.ndarray,
              q: float = PERCENTILE) -> float:
    """The ``q``-th percentile of vehicle delay on one approach, both classes pooled (s).

    Shapes: t (T,) s; arrivals departures (2, T) per class; free_flow (2,) s. A vehicle of either
    class weighs the same. 0 when no vehicle arrived.
    """
    delays, weights = [], []
    for k in range(2):
        d, step = vehicle_delays(t, arrivals[k], departures[k], float(free_flow[k]))
        delays.append(d)
        weights.append(np.full(d.size, step))
    values = np.concatenate(delays)
    if values.size == 0:
        return 0.0
    return weighted_percentile(values, np.concatenate(weights), q)
