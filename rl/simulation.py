"""The pure part of the environments: B controlled network copies stepped in one batched call.

:class:`ControlledNetwork` is shared by :class:`rl.env.TrafficSignalEnv` (B = 1) and
:class:`rl.vec_env.BatchedVecEnv` (B = n_envs): observation, reward, info and episode end are
computed here once, as functions of the batched simulator's state.
"""

from __future__ import annotations

import numpy as np

from rl.config import EnvConfig
from rl.errors import RLError
from rl.observation import build_layout, observe
from rl.rewards import get_reward

#: copies whose clocks differ by more than this fraction of a decision interval are out of step.
#: The solver stops an interval within 1e-9 t_end of its end (a few microseconds at t ~ 3600 s),
#: so clocks of copies in step may differ by that much; copies reset at different decisions
#: differ by whole intervals.
OUT_OF_STEP = 0.1


class ControlledNetwork:
    """B copies of one signalised network with decisions every ``decision_interval`` s.

    Args:
        cfg: resolved environment configuration.
        scenario: the validated network scenario of ``cfg.scenario``.
        batch: number of copies B.

    Attributes:
        sim: the batched network (:func:`solver.backends.make_batched_network`); net: its compiled network.
        layout: observation layout; nvec: phases per signal (the action's MultiDiscrete nvec).
    """

    def __init__(self, cfg: EnvConfig, scenario, batch: int = 1):
        from solver.backends import make_batched_network
        from solver.network.compile import build_network

        self.cfg = cfg
        self.net = build_network(scenario)
        if not self.net.signals:
            raise RLError(f"scenario {cfg.scenario} has no signal to control; add a signal to a junction")
        # float32 state on the GPU: T4-class GPUs are slow in float64; the CPU runs float64
        dtype = "float32" if cfg.device == "gpu" else "float64"
        self.sim = make_batched_network(self.net, batch, device=cfg.device, dtype=dtype)
        link = scenario.observe.link if scenario.observe else None
        self.layout = build_layout(self.net, cfg.observed_cells, link)
        self.reward_fn = get_reward(cfg.reward)
        self.nvec = np.array(self.net.n_phases, np.int64)
        self.demand_scale = np.ones(batch)
        self.decisions = np.zeros(batch, np.int64)  # decisions taken in the current episode, per copy
        self._before = self._measures()

    def _measures(self) -> dict[str, np.ndarray]:
        """Cumulative measures plus vehicles arrived (``entered``, a copy). Each (B, ...)."""
        return {**self.sim.measures(), "entered": self.sim.ledger()["entered"].copy()}

    @property
    def B(self) -> int:
        """Number of copies."""
        return self.sim.B

    def reset(self, index: np.ndarray, rngs: list[np.random.Generator]) -> None:
        """Reset copies ``index``, each drawing its demand multiplier from its own generator.

        Shapes: index (n,); rngs: n generators in the same order.
        """
        lo, hi = self.cfg.demand_scale
        scale = np.array([lo if lo == hi else rng.uniform(lo, hi) for rng in rngs])
        self.sim.reset(index=index, demand_scale=scale[:, None])
        self.demand_scale[index] = scale
        self.decisions[index] = 0
        now = self._measures()
        for key, arr in self._before.items():
            arr[index] = now[key][index]

    def observe(self) -> np.ndarray:
        """Observation of every copy. Shapes: (B, D) float32."""
        return observe(self.sim, self.layout)

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Hold the requested phases for one decision interval.

        Args:
            actions: requested phase per copy and signal. Shapes: (B, S) int.

        Returns:
            rewards (B,), truncated (B,) bool, interval measures (each with leading axis B):
            ``delay`` (veh s, (B, 2)), ``throughput`` and ``arrived`` (veh, (B, 2)), ``queue``
            (mean queue per approach, m, (B, A)), ``residual`` (conservation ledger, veh, (B, 2)),
            ``time`` (s, (B,)).
        """
        if self.B > 1 and np.ptp(self.sim.T) > OUT_OF_STEP * self.cfg.decision_interval:
            raise RLError(f"copies are out of step in time (clocks {self.sim.T.min():g} .. {self.sim.T.max():g} s): "
                          "episodes have one length, so reset all copies together")
        dt = self.cfg.decision_interval
        self.sim.advance(dt, np.asarray(actions, np.int64).reshape(self.B, -1))
        after = self._measures()
        rewards = self.reward_fn(self.sim, self._before, after, dt)
        info = {"delay": after["delay"] - self._before["delay"],
                "throughput": after["throughput"] - self._before["throughput"],
                "arrived": after["entered"] - self._before["entered"],
                "queue": (after["queue_ms"] - self._before["queue_ms"]) / dt,
                "residual": self.sim.ledger()["residual"], "time": self.sim.T.copy()}
        self._before = after
        self.decisions += 1
        truncated = self.decisions >= self.cfg.n_decisions
        return rewards.astype(np.float64), truncated, info


def info_row(info: dict[str, np.ndarray], b: int) -> dict:
    """The info dict of copy b (arrays lose their batch axis)."""
    return {k: v[b] for k, v in info.items()}
