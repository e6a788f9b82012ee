"""Gymnasium environment: signal control on an ARZ network (a thin shell over the batched solver)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rl.config import resolve_config
from rl.simulation import ControlledNetwork, info_row


def action_space_for(nvec: np.ndarray, action: str = "phase") -> spaces.Space:
    """``Discrete(n)`` for one signal, ``MultiDiscrete(nvec)`` for several; with ``action="switch"``
    every signal has two choices (keep, switch)."""
    nvec = np.asarray(nvec) if action == "phase" else np.full(len(nvec), 2, np.int64)
    return spaces.Discrete(int(nvec[0])) if len(nvec) == 1 else spaces.MultiDiscrete(nvec)


def phase_requests(core, actions, action: str = "phase") -> np.ndarray:
    """The phase each signal is asked for, from an agent's actions.

    ``phase``: the action is the requested phase. ``switch``: 0 keeps the phase shown, 1 asks for
    the next one in the scenario's order; during clearance both continue to the phase being
    entered (a change in progress is never reversed). The signal enforces min green either way:
    a switch asked during min green happens when it ends.

    Args:
        core: :class:`rl.simulation.ControlledNetwork` (reads its signals' phase, stage, next phase).
        actions: per copy and signal. Shapes: (B, S) or (B,) int.

    Returns:
        Requested phases. Shapes: (B, S) int64.
    """
    a = np.asarray(actions, np.int64).reshape(core.B, -1)
    if action == "phase":
        return a
    sim = core.sim
    shown, stage, entering = np.asarray(sim.SP), np.asarray(sim.SS), np.asarray(sim.SN)
    following = (shown + 1) % core.nvec[None, :]
    return np.where(stage != 0, entering, np.where(a == 1, following, shown)).astype(np.int64)


def observation_space_for(size: int) -> spaces.Box:
    """Every feature is normalised to [0, 1]."""
    return spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)


class TrafficSignalEnv(gym.Env):
    """Signal control on a multi-class (motorcycles m, cars c) ARZ road network.

    ## Description
    Every ``decision_interval`` seconds the agent requests one phase per signalised junction;
    the solver advances the network (WENO5 + central-upwind, entry queues, junction supply and
    demand) and the signal itself enforces minimum green, yellow and all-red: a request to change
    during min green waits, and a change always passes through clearance.

    ## Action Space
    ``Discrete(n_phases)`` with one signal; ``MultiDiscrete(n_phases per signal)`` with several.
    With ``action="phase"`` the action is the requested phase per signal (index into the
    scenario's ``phases``); with ``action="switch"`` it is 0 (keep) or 1 (next phase) per signal
    (:func:`phase_requests`).

    ## Observation Space
    ``Box(0, 1, (D,), float32)``, in this order (A approaches, E entries, S signals, P phases,
    O observed cells, 3 bins per approach covering ~150 m before the stop line, bin 0 nearest,
    then U = ``upstream_bins`` bins per approach over the rest of its link; features are the
    3A near bins, the UA upstream bins, the O cells):

    | block | count | value |
    |---|---|---|
    | density per feature and class | 2 (3A + UA + O) | mean density / rho_jam |
    | speed per feature and class | 2 (3A + UA + O) | density-weighted v_k / Vmax_k (1 when empty) |
    | entry queue per entry and class | 2E | q / (q + 50 veh) |
    | current phase one-hot per signal | sum P | 1 for the phase shown (or being left) |
    | clearance flag per signal | S | 1 during yellow or all-red |
    | time in stage per signal | S | min(t / max_green, 1) |
    | episode clock (with ``clock=True``) | 1 | time since reset / episode_length |

    ``env.unwrapped.feature_names`` names each entry.

    ## Rewards
    By name (``reward=``): ``delay`` (default) ``-(delay accrued in the interval, veh s) /
    (interval s * 100 veh)``; ``queue`` minus the mean queued fraction of the approaches;
    ``pressure`` minus |vehicles on approaches - on exits| / 100; ``throughput`` veh/s leaving.

    ## Starting State
    The scenario's initial state (empty roads unless it sets ``initial``), all signals green on
    phase 0, entry queues empty; the demand multiplier is drawn uniformly from ``demand_scale``
    with ``np_random`` (so ``reset(seed=s)`` is deterministic).

    ## Episode End
    Never terminated; truncated after ``round(episode_length / decision_interval)`` decisions
    (counted, not read off the solver's clock, whose interval ends are exact only to ~1e-9 t).

    ## Info
    Interval measures: ``delay`` (veh s, per class), ``throughput`` and ``arrived`` (veh, per
    class), ``queue`` (mean queue length per approach, m), ``residual`` (vehicle-conservation
    ledger, veh, per class), ``time`` (s); ``reset`` also gives ``demand_scale``.

    ## Arguments
    Args:
        scenario: scenario file or catalogue name (``intersection_4arm``, ``arterial_3`` ...).
        decision_interval: seconds between decisions (default: the scenario's).
        episode_length: simulated seconds per episode (default: the scenario's ``time.end``).
        reward: ``delay`` | ``queue`` | ``pressure`` | ``throughput``.
        observed_cells: extra single-cell observations on the scenario's ``observe`` link.
        demand_scale: number or (lo, hi) range of the demand multiplier drawn per episode.
        device: ``auto`` | ``cpu`` | ``gpu``: ``auto`` uses the numba-cuda backend (float32 state)
            when numba-cuda finds a GPU; ``gpu`` without one raises BackendUnavailableError.
        action: ``phase`` | ``switch`` (see Action Space).
        upstream_bins: bins per approach over the rest of its link (after all the near bins).
        clock: observe the episode clock: where the demand profile stands.
        advisor: a stateless classical controller (``actuated-gap`` | ``max-pressure-advanced``)
            whose request ends the observation (one-hot per signal and phase); CPU only.
        advisor_params: its parameters (a mapping; its defaults where absent).
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario="intersection_4arm", decision_interval=None, episode_length=None,
                 reward="delay", observed_cells=None, demand_scale=(0.8, 1.2), device="auto", action="phase",
                 upstream_bins=0, clock=False, advisor=None, advisor_params=None):
        self.config, sc = resolve_config(scenario, decision_interval, episode_length, reward,
                                         observed_cells, demand_scale, device, action, upstream_bins, clock,
                                         advisor, advisor_params)
        self.core = ControlledNetwork(self.config, sc, batch=1)
        self.action_space = action_space_for(self.core.nvec, self.config.action)
        self.observation_space = observation_space_for(self.core.obs_size)
        self.feature_names = self.core.feature_names

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; see the class docstring."""
        super().reset(seed=seed)
        self.core.reset(np.array([0]), [self.np_random])
        return self.core.observe()[0], {"demand_scale": float(self.core.demand_scale[0])}

    def step(self, action):
        """Hold the requested phase(s) for one decision interval."""
        rewards, truncated, info = self.core.step(phase_requests(self.core, action, self.config.action))
        return self.core.observe()[0], float(rewards[0]), False, bool(truncated[0]), info_row(info, 0)
