"""A clairvoyant rollout controller: the headroom of a draw, and a teacher for the warm start.

At every decision :class:`RolloutController` copies each network copy's exact state (densities,
entry queues, signal timers, the demand multiplier: the whole future of the draw) into one
look-ahead copy per candidate phase combination (``candidates="all"``: every product of the
signals' phases; ``"single"``: the base controller's own request and every request that differs
from it at one signal, a coordinate search that is cheaper where there are several signals: 4
look-ahead copies on the 3-signal arterial instead of 8, the same 2 on one signal), holds the
candidate for one decision interval, lets a base controller (default: actuated with gap-out, tuned
or not) drive the rest of ``horizon_s``, and takes the candidate whose look-ahead accumulated the
least delay (both classes, entry queues included). Ties go to the base controller's own request:
candidates often tie (a request during clearance or early in a minimum green is overridden by the
base's next one before it acts), and a tie broken by index would label those decisions "phase 0"
for a student to copy; the lowest index breaks the remaining ties.

It reads the future demand, which no deployable controller knows: it is **not** a classical
controller and never one of the comparison's baselines. Two uses:

* **headroom**: how far below the best classical controller control can go on a draw (issue 17:
  on ARZ-Intersection-v0 with the tuned gap-out base and a 120 s horizon, -18.6 % [-30.4, -6.8]
  over 10 stratified multipliers, 0 % at the light ones where every controller sits at the floor);
* **teacher** of the warm start (:mod:`rl.imitation`, ``warm_start="rollout"``): the student
  clones its decisions from its own observation only.

A horizon that is too short makes it worse than its base (30 s: +31 % at x1.1 on the
intersection; a switch pays its clearance inside the horizon and its benefit after it).
Cost: ``horizon_s / decision_interval`` look-ahead steps of ``B x K`` copies per decision
(K = number of candidates: 2 on the intersection, 8 on the arterial, 4 with ``"single"``).
"""

from __future__ import annotations

import copy
import itertools

import numpy as np

from rl.errors import RLError
from rl.features import M_DELAY

DEFAULT_HORIZON_S = 120.0
TIE_VEH_S = 1e-6  # look-ahead delays closer than this (veh s) are a tie
CANDIDATES = ("all", "single")  # RolloutController's candidate sets (module docstring)


class RolloutController:
    """Look ahead ``horizon_s`` from every candidate under ``base``; take the least-delay one.

    Args:
        base: the controller of the look-ahead after the first interval (default: actuated with
            gap-out at its default parameters; :mod:`rl.imitation` tunes it first).
        horizon_s: look-ahead length, s (rounded to whole decision intervals, at least one).
        candidates: ``all`` (every phase combination) or ``single`` (the base's request and its
            one-signal deviations; module docstring).
    """

    name = "rollout"

    def __init__(self, base=None, horizon_s: float = DEFAULT_HORIZON_S, candidates: str = "all"):
        if base is None:
            from rl.controllers_tuned import GapActuated

            base = GapActuated()
        if not horizon_s > 0:
            raise RLError(f"rollout horizon_s = {horizon_s!r}: give a positive number of seconds")
        if candidates not in CANDIDATES:
            raise RLError(f"rollout candidates = {candidates!r}: use one of {CANDIDATES}")
        self.base, self.horizon_s, self.mode = base, float(horizon_s), candidates

    def params(self) -> dict:
        """The horizon and the base controller's parameters."""
        base = self.base.params() if hasattr(self.base, "params") else {}
        return {"horizon_s": self.horizon_s, "candidates": self.mode, "base": getattr(self.base, "name", type(self.base).__name__), **base}

    def reset(self, core, seed=None) -> None:
        """Build the look-ahead copies (B x K) of ``core`` (a CPU :class:`rl.simulation.ControlledNetwork`)."""
        from rl.simulation import ControlledNetwork
        from solver.network.batch import BatchedNetwork

        if not isinstance(core.sim, BatchedNetwork):
            raise RLError("the rollout controller copies host state: run it on CPU copies (device: cpu)")
        self.candidates = np.array(list(itertools.product(*[range(int(p)) for p in core.nvec])), np.int64)
        self.nvec = np.asarray(core.nvec, np.int64)
        self.K = len(self.candidates) if self.mode == "all" else 1 + int((self.nvec - 1).sum())
        self.ahead = ControlledNetwork(core.cfg, core.net.scenario, batch=core.B * self.K)
        self.base.reset(self.ahead, seed)
        self.own = copy.deepcopy(self.base)  # the base's request from the real copies (tie-break)
        self.own.reset(core, seed)
        self._rows = np.repeat(np.arange(core.B), self.K)  # look-ahead copy b*K + k starts from copy b
        self.steps = max(1, int(round(self.horizon_s / core.cfg.decision_interval)))

    def candidate_phases(self, own: np.ndarray) -> np.ndarray:
        """The candidates of every copy, (B, K, S) int64, given the base's requests ``own`` (B, S):
        ``all``: every combination (the same for every copy); ``single``: ``own`` first, then
        ``own`` with signal s set to each of its other phases, signal by signal."""
        own = np.asarray(own, np.int64).reshape(-1, len(self.nvec))
        if self.mode == "all":
            return np.broadcast_to(self.candidates, (own.shape[0], *self.candidates.shape)).copy()
        out = [own]
        for s, n in enumerate(self.nvec):
            for shift in range(1, int(n)):
                dev = own.copy()
                dev[:, s] = (own[:, s] + shift) % n
                out.append(dev)
        return np.stack(out, axis=1)

    def lookahead_delays(self, core, candidates: np.ndarray | None = None) -> np.ndarray:
        """Delay (veh s, both classes) each candidate accumulates over the horizon. Shapes:
        ``candidates`` (B, K, S) (None: every combination, ``all``'s), result (B, K)."""
        if core.B * self.K != self.ahead.B:
            raise RLError(f"rollout controller reset for {self.ahead.B // self.K} copies, called with {core.B}")
        if candidates is None:
            if self.mode != "all":
                raise RLError("rollout candidates='single' depend on the base's request: pass them")
            candidates = np.broadcast_to(self.candidates, (core.B, *self.candidates.shape))
        ahead = self.ahead
        ahead.load_copies(core, self._rows)
        ahead.decisions[:] = 0  # the look-ahead never ends an episode
        start = ahead._before[:, M_DELAY:M_DELAY + 2].sum(axis=1).copy()
        ahead.step(np.asarray(candidates, np.int64).reshape(core.B * self.K, -1))
        for _ in range(self.steps - 1):
            ahead.step(self.base.act(ahead.observe(), ahead))
        return (ahead._before[:, M_DELAY:M_DELAY + 2].sum(axis=1) - start).reshape(core.B, self.K)

    def act(self, obs, core) -> np.ndarray:
        """Requested phase per copy and signal, (B, S) int."""
        own = np.asarray(self.own.act(obs, core), np.int64).reshape(core.B, -1)  # the base's request (real state)
        cands = self.candidate_phases(own)  # (B, K, S)
        delays = self.lookahead_delays(core, cands)
        best = delays.min(axis=1, keepdims=True)
        tied = delays <= best + TIE_VEH_S + 1e-9 * np.abs(best)  # (B, K)
        is_own = (cands == own[:, None, :]).all(axis=2)
        pick = np.where((tied & is_own).any(axis=1), np.argmax(tied & is_own, axis=1), np.argmax(tied, axis=1))
        return cands[np.arange(core.B), pick]
