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
Cost: ``horizon_s / decision_interval`` look-ahead steps of at most ``B x K`` copies per decision
(K = number of candidates: 2 on the intersection, 8 on the arterial, 4 with ``"single"``). Only
the distinct ones are simulated (``dedupe``): a signal whose request cannot act before the next
decision (:func:`locked_signals`: in clearance, or a green that reaches its minimum only after
the interval) behaves the same under every candidate, so candidates that differ only there have
the same look-ahead, and a copy whose candidates are all alike needs none. Under tuned gap-out
61 % of the (copy, signal) pairs are locked on the arterial and 62 % of the intersection's
decisions need no look-ahead at all.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools

import numpy as np

from rl.errors import RLError
from rl.features import M_DELAY

DEFAULT_HORIZON_S = 120.0
TIE_VEH_S = 1e-6  # look-ahead delays closer than this (veh s) are a tie
LOOKAHEAD_GRAIN = 2  # look-ahead batch sizes are multiples of this (RolloutController._lookahead_copies)
LOCK_MARGIN_S = 1e-3  # a signal is locked only if its request could act this much after the interval at the earliest
CANDIDATES = ("all", "single")  # RolloutController's candidate sets (module docstring)


class RolloutController:
    """Look ahead ``horizon_s`` from every candidate under ``base``; take the least-delay one.

    Args:
        base: the controller of the look-ahead after the first interval (default: actuated with
            gap-out at its default parameters; :mod:`rl.imitation` tunes it first).
        horizon_s: look-ahead length, s (rounded to whole decision intervals, at least one).
        candidates: ``all`` (every phase combination) or ``single`` (the base's request and its
            one-signal deviations; module docstring).
        dedupe: simulate each distinct candidate of a copy once (module docstring); False
            simulates all ``B x K`` (the same delays, slower: for tests).
    """

    name = "rollout"

    def __init__(self, base=None, horizon_s: float = DEFAULT_HORIZON_S, candidates: str = "all", dedupe: bool = True):
        if base is None:
            from rl.controllers_tuned import GapActuated

            base = GapActuated()
        if not horizon_s > 0:
            raise RLError(f"rollout horizon_s = {horizon_s!r}: give a positive number of seconds")
        if candidates not in CANDIDATES:
            raise RLError(f"rollout candidates = {candidates!r}: use one of {CANDIDATES}")
        self.base, self.horizon_s, self.mode, self.dedupe = base, float(horizon_s), candidates, bool(dedupe)

    def params(self) -> dict:
        """The horizon and the base controller's parameters."""
        base = self.base.params() if hasattr(self.base, "params") else {}
        return {"horizon_s": self.horizon_s, "candidates": self.mode, "base": getattr(self.base, "name", type(self.base).__name__), **base}

    def reset(self, core, seed=None) -> None:
        """Prepare the look-ahead of ``core``'s copies (a CPU :class:`rl.simulation.ControlledNetwork`;
        the look-ahead batches are built as the distinct candidates need them)."""
        from solver.network.batch import BatchedNetwork

        if not isinstance(core.sim, BatchedNetwork):
            raise RLError("the rollout controller copies host state: run it on CPU copies (device: cpu)")
        self.candidates = np.array(list(itertools.product(*[range(int(p)) for p in core.nvec])), np.int64)
        self.nvec = np.asarray(core.nvec, np.int64)
        self.K = len(self.candidates) if self.mode == "all" else 1 + int((self.nvec - 1).sum())
        self.B, self._cfg, self._scenario, self._seed = core.B, core.cfg, core.net.scenario, seed
        self._ahead: dict[int, tuple] = {}  # batch size -> (look-ahead copies, their base controller)
        self.own = copy.deepcopy(self.base)  # the base's request from the real copies (tie-break)
        self.own.reset(core, seed)
        self.steps = max(1, int(round(self.horizon_s / core.cfg.decision_interval)))
        self.simulated = [0, 0]  # look-ahead copies simulated, and B x K (what dedupe saved)
        self.stakes = np.zeros((core.B, len(self.nvec)))  # the last decision's, per copy and signal (decision_stakes)

    def _lookahead_copies(self, n: int) -> tuple:
        """Look-ahead copies for ``n`` candidates, each batch with its own base controller: sizes
        in multiples of :data:`LOOKAHEAD_GRAIN` (a copy simulated for nothing costs a copy's step;
        a batch costs its memory once)."""
        from rl.simulation import ControlledNetwork

        size = -(-n // LOOKAHEAD_GRAIN) * LOOKAHEAD_GRAIN
        if size not in self._ahead:
            # the look-ahead reads no observation but the base's: no advisor to compute at every step
            cfg = dataclasses.replace(self._cfg, advisor=None, advisor_params=())
            ahead, base = ControlledNetwork(cfg, self._scenario, batch=size), copy.deepcopy(self.base)
            base.reset(ahead, self._seed)
            self._ahead[size] = (ahead, base)
        return self._ahead[size]

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
        ``candidates`` (B, K, S) (None: every combination, ``all``'s), result (B, K).

        Candidates that differ only at locked signals get the one look-ahead (their delays are
        equal); a copy whose candidates are all alike gets zeros (every candidate ties)."""
        if core.B != self.B:
            raise RLError(f"rollout controller reset for {self.B} copies, called with {core.B}")
        if candidates is None:
            if self.mode != "all":
                raise RLError("rollout candidates='single' depend on the base's request: pass them")
            candidates = np.broadcast_to(self.candidates, (core.B, *self.candidates.shape))
        cands = np.asarray(candidates, np.int64).reshape(core.B, self.K, -1)
        if self.dedupe:  # a locked signal's request is irrelevant: request phase 0 there
            cands = np.where(locked_signals(core)[:, None, :], 0, cands)
        rows, requests, where = [], [], np.zeros((core.B, self.K), np.int64)
        for b in range(core.B):
            if self.dedupe:
                distinct, inverse = np.unique(cands[b], axis=0, return_inverse=True)
            else:
                distinct, inverse = cands[b], np.arange(self.K)
            if len(distinct) == 1:  # every candidate alike: all tie, no look-ahead
                where[b] = -1
                continue
            where[b] = len(rows) + np.ravel(inverse)
            rows += [b] * len(distinct)
            requests.append(distinct)
        self.simulated[0] += len(rows)
        self.simulated[1] += core.B * self.K
        delays = np.zeros((core.B, self.K))
        if not rows:
            return delays
        n = len(rows)
        ahead, base = self._lookahead_copies(n)
        pad = ahead.B - n  # the spare copies repeat the first candidate; their delays are unused
        ahead.load_copies(core, np.asarray(rows + [rows[0]] * pad, np.int64))
        ahead.decisions[:] = 0  # the look-ahead never ends an episode
        start = ahead._before[:, M_DELAY:M_DELAY + 2].sum(axis=1).copy()
        first = np.concatenate(requests)
        ahead.step(np.concatenate([first, np.repeat(first[:1], pad, axis=0)]))
        for _ in range(self.steps - 1):
            ahead.step(base.act(ahead.observe(), ahead))
        simulated = ahead._before[:n, M_DELAY:M_DELAY + 2].sum(axis=1) - start[:n]
        live = where >= 0
        delays[live] = simulated[where[live]]
        return delays

    def act(self, obs, core) -> np.ndarray:
        """Requested phase per copy and signal, (B, S) int; what each signal's choice is worth is
        left in ``self.stakes`` (B, S), veh s (:func:`decision_stakes`)."""
        own = np.asarray(self.own.act(obs, core), np.int64).reshape(core.B, -1)  # the base's request (real state)
        cands = self.candidate_phases(own)  # (B, K, S)
        delays = self.lookahead_delays(core, cands)
        best = delays.min(axis=1, keepdims=True)
        tied = delays <= best + TIE_VEH_S + 1e-9 * np.abs(best)  # (B, K)
        is_own = (cands == own[:, None, :]).all(axis=2)
        pick = np.where((tied & is_own).any(axis=1), np.argmax(tied & is_own, axis=1), np.argmax(tied, axis=1))
        chosen = cands[np.arange(core.B), pick]
        self.stakes = decision_stakes(cands, delays, chosen)
        return chosen


def decision_stakes(cands: np.ndarray, delays: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """What each signal's decision is worth, veh s: per copy and signal, the least look-ahead delay
    of the candidates that give the signal another phase than ``chosen`` minus the least of those
    that give it ``chosen``'s (0 where no candidate gives it another phase, or where the difference is
    a tie's tolerance below 0). A locked signal's, and every signal's in a copy whose candidates
    all tie, is 0: the request does not matter there. The weight a cost-sensitive clone gives the
    label (:mod:`rl.imitation`, ``weighting="stakes"``).

    Shapes: cands (B, K, S), delays (B, K), chosen (B, S) -> (B, S) float.
    """
    same = cands == np.asarray(chosen)[:, None, :]  # (B, K, S)
    d = np.asarray(delays, float)[:, :, None]
    best_same = np.where(same, d, np.inf).min(axis=1)
    best_other = np.where(same, np.inf, d).min(axis=1)
    stakes = np.where(np.isfinite(best_other) & np.isfinite(best_same), best_other - best_same, 0.0)
    return np.maximum(stakes, 0.0)


def locked_signals(core) -> np.ndarray:
    """Signals whose request cannot act before the next decision, (B, S) bool.

    The signal kernel (:func:`solver.kernels.signals.signal_update`) reads a request only in a
    green that has lasted its minimum: a signal in yellow, in all-red, or in a green that reaches
    its minimum more than :data:`LOCK_MARGIN_S` after the coming interval ends does the same
    whatever is requested, and the next decision requests anew. (The request's only other use, the
    step's cap at a pending minimum green, lies beyond the interval's end then.)
    """
    times = np.asarray(core.net.sig_static[0], float)  # (S, 4): yellow, all-red, min green, max green (s)
    yellow, all_red, min_green = times[:, 0], times[:, 1], times[:, 2]
    stage, t = np.asarray(core.sim.SS), np.asarray(core.sim.ST, float)
    until = np.where(stage == 0, min_green - t,
                     np.where(stage == 1, yellow - t + all_red + min_green, all_red - t + min_green))
    return until > core.cfg.decision_interval + LOCK_MARGIN_S
