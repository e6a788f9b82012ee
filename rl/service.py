"""Service and fairness per approach: the longest a queue waited at red, and starvation.

A controller that keeps delay low by never serving a minor approach is not deployable. At every
decision the evaluation loop feeds :class:`WaitTracker` the interval's mean queue per approach and
which approaches had green during it; an approach *waits* while its queue is longer than
:data:`QUEUE_WAIT_M` and its light is not green (red or clearance), and its wait restarts at its
next green. The resolution is the decision interval.

An episode *starves* an approach when its longest wait exceeds :data:`STARVE_FACTOR` times the
longest red of the approach's signal under Webster's plan (:func:`starvation_thresholds`): a
fixed-time controller designed for the same demand never makes a queue wait that long.
"""

from __future__ import annotations

import numpy as np

from rl.signal_plans import approach_flows, phase_greens, saturation_flows, webster_plan

QUEUE_WAIT_M = 5.0  # a queue shorter than this (about one car) is not waiting, m
STARVE_FACTOR = 2.0  # starvation: a wait longer than this many Webster reds of the signal


def approach_green(core) -> np.ndarray:
    """Which approaches show green now (their signal's phase serves them, not in clearance).

    Unsignalised approaches count as always green. Shapes: (B, A) bool.
    """
    net, sim = core.net, core.sim
    greens = phase_greens(net)
    out = np.ones((core.B, len(net.approaches)), bool)
    SP, SS = np.asarray(sim.SP), np.asarray(sim.SS)
    for a in net.approaches:
        if a.signal < 0:
            continue
        served = np.array([a.index in g for g in greens[a.signal]])
        out[:, a.index] = served[SP[:, a.signal]] & (SS[:, a.signal] == 0)
    return out


def starvation_thresholds(core) -> np.ndarray:
    """Per approach, :data:`STARVE_FACTOR` x the longest red of its signal's Webster plan (s).

    The longest red of an approach is the cycle minus the greens of the phases serving it, taken
    for the plan designed on the mean demand. Unsignalised approaches: ``inf``. Shapes: (A,).
    """
    net = core.net
    flows = approach_flows(net, core.cfg.episode_length, float(np.mean(core.cfg.demand_scale)), "mean")
    sat = saturation_flows(net, flows)
    greens = phase_greens(net)
    out = np.full(len(net.approaches), np.inf)
    for s in range(len(net.signals)):
        plan = webster_plan(net, s, flows, sat)
        for a in (a for a in net.approaches if a.signal == s):
            served = sum(float(plan.greens[p]) for p, g in enumerate(greens[s]) if a.index in g)
            out[a.index] = STARVE_FACTOR * (plan.cycle - served)
    return out


class WaitTracker:
    """Current and longest red wait of every approach of B copies (s). Shapes: (B, A) each."""

    def __init__(self, batch: int, approaches: int):
        self.wait = np.zeros((batch, approaches))
        self.longest = np.zeros((batch, approaches))

    def update(self, queue_m: np.ndarray, green: np.ndarray, dt: float) -> None:
        """One interval of ``dt`` s with mean queues ``queue_m`` (m) under ``green`` (both (B, A))."""
        waiting = (np.asarray(queue_m) > QUEUE_WAIT_M) & ~np.asarray(green, bool)
        self.wait = np.where(waiting, self.wait + dt, np.where(green, 0.0, self.wait))
        np.maximum(self.longest, self.wait, out=self.longest)
