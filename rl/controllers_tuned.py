"""Tuned classical baselines: Advanced max-pressure and a gap-out / max-out actuated controller.

Both read the batched simulator's state the way loop detectors and cameras would: vehicles per
cell near the stop line and the speed at which the scheme moves them
(:func:`solver.network.speeds.transport_speeds`, 0 in a standing queue). Each has a small parameter grid
(:attr:`GRID`) that :func:`rl.tuning.tune_controller` searches on training-side demand draws
before an evaluation; the evaluation draws are never used to choose a parameter.

- :class:`AdvancedMaxPressure` (Zhang et al. 2022, "Expression might be enough", Advanced-MP):
  the *efficient pressure* of a phase counts queued vehicles only (upstream queue minus the
  turning-weighted queues of the exits); the current phase is kept while the vehicles *running*
  towards its stop line within the effective range would still clear in the next interval, i.e.
  while they are at least the best efficient pressure.
- :class:`GapActuated`: a detector ``detector_m`` upstream of each stop line; a green phase is
  extended while the flow over some green approach's detector shows headways shorter than
  ``gap_s`` (gap-out otherwise), and at most its Webster green times ``max_out`` (max-out); the
  next phase with vehicles waiting or arriving is served, phases without demand are skipped.
"""

from __future__ import annotations

import numpy as np

from rl.signal_plans import approach_flows, phase_greens, saturation_flows, webster_plan

MOVING = 2.0  # m/s: a cell whose vehicles move slower than this is queued (7.2 km/h)


class ApproachCells:
    """The cells of every approach, ordered from the stop line upstream, and of every link.

    Attributes:
        cells: per approach, cell indices (stop line first). distance: per approach, distance of
            each cell's centre from the stop line, m. dx: per approach, cell length, m.
    """

    def __init__(self, net):
        self.net = net
        self.cells, self.distance, self.dx = [], [], []
        for a in net.approaches:
            sl = net.link_slice(a.link)
            dx = float(net.lk_dx[net.links.index(a.link)])
            cells = np.arange(sl.stop - 1, sl.start - 1, -1)
            self.cells.append(cells)
            self.distance.append((np.arange(len(cells)) + 0.5) * dx)
            self.dx.append(dx)

    def state(self, sim) -> tuple[np.ndarray, np.ndarray]:
        """Vehicles per metre (veh/m, both classes) and their density-weighted transport speed (m/s)
        of every cell of every copy.

        Shapes: both (B, Ncells); cells of non-approach links are included (indexed by cell).
        """
        from solver.network.speeds import transport_speeds

        rho = np.asarray(sim.Q)[:, [0, 2]]  # (B, 2, N) veh/m
        u = transport_speeds(sim)  # (B, 2, N) m/s
        total = rho.sum(axis=1)
        speed = (rho * u).sum(axis=1) / np.maximum(total, 1e-12)
        return total, speed

    def queued(self, vehicles_per_m: np.ndarray, speed: np.ndarray, a: int) -> np.ndarray:
        """Queued vehicles (moving slower than :data:`MOVING`) on approach a. Shapes: (B,)."""
        c = self.cells[a]
        return (vehicles_per_m[:, c] * (speed[:, c] < MOVING)).sum(axis=1) * self.dx[a]

    def running(self, vehicles_per_m: np.ndarray, speed: np.ndarray, a: int, reach_m: float) -> np.ndarray:
        """Moving vehicles within ``reach_m`` of approach a's stop line. Shapes: (B,)."""
        near = self.distance[a] <= reach_m
        c = self.cells[a][near]
        return (vehicles_per_m[:, c] * (speed[:, c] >= MOVING)).sum(axis=1) * self.dx[a]


def _link_queued(net, vehicles_per_m, speed, link: str) -> np.ndarray:
    """Queued vehicles on a whole link (its queue sits at its downstream end). Shapes: (B,)."""
    sl = net.link_slice(link)
    dx = float(net.lk_dx[net.links.index(link)])
    return (vehicles_per_m[:, sl] * (speed[:, sl] < MOVING)).sum(axis=1) * dx


def _keep_or_switch(current: np.ndarray, score: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The current phase where ``keep``, else the phase of largest score (ties keep the current)."""
    B = len(current)
    best = score.argmax(axis=1)
    tie = score[np.arange(B), current] >= score.max(axis=1) - 1e-9
    return np.where(keep | tie, current, best)


class AdvancedMaxPressure:
    """Advanced-MP: efficient (queue) pressure, and the current phase kept while its running
    vehicles within ``reach_m`` of the stop line are at least the best efficient pressure, or
    while it has been green for less than ``hold_s`` (a minimum green on top of the signal's).

    Attributes:
        reach_m: effective range, m (vehicles that can reach the stop line in about one interval).
        hold_s: minimum time in the current phase before a switch, s.
    """

    name = "max-pressure-advanced"
    GRID = {"reach_m": [50.0, 100.0, 150.0, 250.0], "hold_s": [0.0, 10.0, 20.0]}

    def __init__(self, reach_m: float = 100.0, hold_s: float = 0.0):
        self.reach_m, self.hold_s = float(reach_m), float(hold_s)

    def params(self) -> dict[str, float]:
        """The tunable parameters and their values."""
        return {"reach_m": self.reach_m, "hold_s": self.hold_s}

    def reset(self, core, seed=None) -> None:
        net = core.net
        self.cells = ApproachCells(net)
        self.greens = phase_greens(net)
        nodes = {n.id: n for n in net.scenario.nodes}
        self.exits = []  # per approach: [(exit link, turning fraction)]
        for a in net.approaches:
            outs = [lk.id for lk in net.scenario.links if lk.start == a.junction]
            turning = (nodes[a.junction].turning or {}).get(a.link, {outs[0]: 1.0} if outs else {})
            self.exits.append(list(turning.items()))

    def act(self, obs, core) -> np.ndarray:
        sim, net = core.sim, core.net
        veh, speed = self.cells.state(sim)
        exit_queue = {lk: _link_queued(net, veh, speed, lk) for lk in net.links}
        A = len(net.approaches)
        pressure = np.stack([self.cells.queued(veh, speed, a) - sum(
            (beta * exit_queue[o] for o, beta in self.exits[a]), np.zeros(sim.B)) for a in range(A)], axis=1)
        running = np.stack([self.cells.running(veh, speed, a, self.reach_m) for a in range(A)], axis=1)
        out = np.zeros((core.B, len(self.greens)), np.int64)
        for s, greens in enumerate(self.greens):
            phase_p = np.stack([pressure[:, g].sum(axis=1) for g in greens], axis=1)  # (B, P)
            current = np.asarray(sim.SP[:, s], np.int64)
            run_now = np.stack([running[:, g].sum(axis=1) for g in greens], axis=1)[np.arange(core.B), current]
            keep = (run_now >= phase_p.max(axis=1)) | (np.asarray(sim.ST[:, s]) < self.hold_s)
            out[:, s] = _keep_or_switch(current, phase_p, keep)
        return out


class GapActuated:
    """Fully actuated control with gap-out and max-out per phase.

    Attributes:
        gap_s: a green phase gaps out when no green approach's detector sees headways shorter than
            this, s. detector_m: detector distance upstream of the stop line, m. max_out: a
            phase's maximum green as a multiple of its Webster green (capped by the signal's
            max green).
    """

    name = "actuated-gap"
    GRID = {"gap_s": [1.5, 2.0, 2.5], "max_out": [0.75, 1.0, 1.5, 2.5]}  # detector_m: fixed 30 m

    def __init__(self, gap_s: float = 2.0, detector_m: float = 30.0, max_out: float = 1.0):
        self.gap_s, self.detector_m, self.max_out = float(gap_s), float(detector_m), float(max_out)

    def params(self) -> dict[str, float]:
        """The tunable parameters and their values."""
        return {"gap_s": self.gap_s, "detector_m": self.detector_m, "max_out": self.max_out}

    def reset(self, core, seed=None) -> None:
        net = core.net
        self.cells = ApproachCells(net)
        self.greens = phase_greens(net)
        flows = approach_flows(net, core.cfg.episode_length, float(np.mean(core.cfg.demand_scale)), "mean")
        sat = saturation_flows(net, flows)
        nodes = {n.id: n.signal for n in net.scenario.nodes}
        self.max_green = []
        for s, sid in enumerate(net.signals):
            plan = webster_plan(net, s, flows, sat)
            sig = nodes[sid]
            self.max_green.append(np.clip(self.max_out * plan.greens, sig.min_green, sig.max_green))
        self.detector = []  # per approach: cell index of the detector
        for a, cells in enumerate(self.cells.cells):
            i = int(np.clip(np.searchsorted(self.cells.distance[a], self.detector_m), 0, len(cells) - 1))
            self.detector.append(int(cells[i]))

    def act(self, obs, core) -> np.ndarray:
        sim = core.sim
        veh, speed = self.cells.state(sim)
        A = len(self.detector)
        flow = np.stack([veh[:, c] * speed[:, c] for c in self.detector], axis=1)  # (B, A) veh/s
        arriving = flow * self.gap_s >= 1.0  # headway shorter than the gap
        waiting = np.stack([self.cells.queued(veh, speed, a) >= 0.5 for a in range(A)], axis=1) | arriving
        shown = np.asarray(sim.SP, np.int64)
        out = shown.copy()
        rows = np.arange(core.B)
        for s, greens in enumerate(self.greens):
            P = len(greens)
            extend = np.stack([arriving[:, g].any(axis=1) for g in greens], axis=1)  # (B, P)
            demand = np.stack([waiting[:, g].any(axis=1) for g in greens], axis=1)
            p = shown[:, s]
            hold = extend[rows, p] & (np.asarray(sim.ST)[:, s] < np.asarray(self.max_green[s])[p])
            nxt = p.copy()  # the first phase after p, in cycle order, with demand (p itself if none)
            for k in range(P - 1, 0, -1):  # farthest first, so the nearest one is written last
                q = (p + k) % P
                nxt = np.where(demand[rows, q], q, nxt)
            # in clearance the next phase is already chosen
            out[:, s] = np.where(np.asarray(sim.SS)[:, s] != 0, np.asarray(sim.SN)[:, s], np.where(hold, p, nxt))
        return out
