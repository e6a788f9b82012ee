"""How a trained policy's deterministic action is read: its most likely action, or behind the advisor gate.

Evaluation, validation and model selection all read a policy through :func:`deterministic_actions`,
so that the policy a training selects is the controller that is evaluated.

**The advisor gate** (``TrainConfig.advisor_gate``, saved with the model as ``arz_advisor_gate``):
in an environment that observes an advisor (tuned gap-out's request on ``ARZ-Arterial-v0``, the
last features of the observation, docs/environment.md), a signal takes the policy's most likely
phase only where the policy gives it a probability of at least the gate ``p``, and the advisor's
request elsewhere. The policy is trained as before (PPO samples from it unchanged); only the
deterministic read changes. Where the clone of the clairvoyant rollout teacher is unsure, it
follows the classical rule instead of guessing.

**A gate that rises with the measured demand** (``TrainConfig.advisor_gate_heavy`` and
``heavy_demand``, saved as ``arz_advisor_gate_heavy`` and ``arz_heavy_demand``): where a copy's
measured demand level (:meth:`rl.simulation.ControlledNetwork.measured_demand`: the vehicles counted
arriving at the entries over what the scenario's profile brings at a multiplier of 1) is at least
``heavy_demand``, the policy is read behind ``advisor_gate_heavy`` instead. Traffic engineers select
timing plans by detector volumes the same way (traffic-responsive plan selection). On the arterial
the clone's deviations from gap-out pay below x1.10 and break down above it (docs/environment.md,
"A gate keyed to the measured demand").

Why (issue 17, training-side screens; the figures are in :mod:`rl.presets` and docs/environment.md,
"The top of the arterial's range"): on the arterial, clones of the rollout teacher break down at
the top of the demand range (the entry link fills and stays full) where the teacher itself and
gap-out hold; behind the gate most of them hold there too, near gap-out's delay.
"""

from __future__ import annotations

import numpy as np

#: the gate's range: 0 turns it off; 0.5 with two phases per signal is the policy's argmax; 1 the
#: advisor's request except where the policy's probability rounds to 1 (float32)
GATE_RANGE = (0.5, 1.0)


def check_advisor_gate(gate, key: str = "advisor_gate") -> float:
    """``gate`` as a float: 0 (off) or within :data:`GATE_RANGE`, else
    :class:`rl.errors.EnvConfigError` naming ``key``."""
    from rl.errors import EnvConfigError

    lo, hi = GATE_RANGE
    if isinstance(gate, bool) or not isinstance(gate, (int, float)) or not (gate == 0 or lo <= gate <= hi):
        raise EnvConfigError(key, gate, f"give 0 (off) or a probability from {lo} to {hi} "
                                        "(the policy's least probability for a phase other than the advisor's request)")
    return float(gate)


def gate_requests(probs: list[np.ndarray], advice: np.ndarray, p) -> np.ndarray:
    """Per signal, the policy's most likely phase where its probability is at least ``p``, else
    the advisor's request (``p`` 0: the most likely phase).

    Shapes: probs, one (B, P_s) array per signal (probabilities); advice (B, S) int (the advisor's
    requested phases); p a number or (B,) (one gate per copy); returns (B, S) int64.
    """
    out = np.asarray(advice, np.int64).reshape(len(probs[0]), -1).copy()
    for s, q in enumerate(probs):
        best = q.argmax(axis=1)
        out[:, s] = np.where(q[np.arange(len(q)), best] >= p, best, out[:, s])
    return out


def action_probabilities(model, obs: np.ndarray) -> list[np.ndarray]:
    """A saved SB3 policy's action probabilities: one (B, P_s) array per signal (``MultiDiscrete``
    actions) or a single (B, P) array (``Discrete``). Shapes: obs (B, D)."""
    import torch

    with torch.no_grad():
        obs_t = torch.as_tensor(np.asarray(obs, np.float32), device=model.policy.device)
        dist = model.policy.get_distribution(obs_t).distribution
    return [d.probs.cpu().numpy() for d in (dist if isinstance(dist, list) else [dist])]


def advisor_gate(model) -> float:
    """The gate saved with ``model`` (``arz_advisor_gate``); 0 for a model saved without one."""
    return float(getattr(model, "arz_advisor_gate", 0.0) or 0.0)


def heavy_gate(model) -> tuple[float, float]:
    """``(gate, demand)``: the gate saved with ``model`` for a measured demand level of at least
    ``demand`` (``arz_advisor_gate_heavy``, ``arz_heavy_demand``; module docstring); ``(0, inf)``
    for a model read behind one gate at every demand."""
    gate = float(getattr(model, "arz_advisor_gate_heavy", 0.0) or 0.0)
    return (gate, float(getattr(model, "arz_heavy_demand", np.inf))) if gate else (0.0, np.inf)


def describe_gate(model) -> str:
    """How ``model`` is read, in words for logs and tables (e.g. ``gate 0.7, 0.85 from x1.1 demand``)."""
    gate, (heavy, level) = advisor_gate(model), heavy_gate(model)
    text = f"gate {gate:g}" if gate else "most likely action"
    return f"{text}, {heavy:g} from x{level:g} demand" if heavy else text


def is_gated(model) -> bool:
    """Whether ``model`` is read behind a gate at some demand (its advisor gate or a heavy gate)."""
    return bool(advisor_gate(model) or heavy_gate(model)[0])


def demand_for(model, core) -> np.ndarray | None:
    """The copies' measured demand (:meth:`rl.simulation.ControlledNetwork.measured_demand`, (B,))
    where ``model``'s gate depends on it, else None (nothing to read)."""
    return core.measured_demand() if heavy_gate(model)[0] else None


def check_heavy_demand(level, key: str = "heavy_demand") -> float:
    """``level`` (a demand multiplier, > 0) as a float, else :class:`rl.errors.EnvConfigError` naming ``key``."""
    from rl.errors import EnvConfigError

    if isinstance(level, bool) or not isinstance(level, (int, float)) or not (0 < level < np.inf):
        raise EnvConfigError(key, level, "give the measured demand multiplier (> 0, e.g. 1.1) from which "
                                         "the heavy gate applies")
    return float(level)


def copy_gates(model, demand: np.ndarray | None, n: int) -> np.ndarray:
    """The gate each of ``n`` copies is read behind: the model's advisor gate, or its heavy gate
    where the copy's measured demand level (``demand``, (n,), dimensionless;
    :meth:`rl.simulation.ControlledNetwork.measured_demand`) reaches its heavy demand. A model with
    a heavy gate needs ``demand`` (ValueError without it). Shapes: returns (n,)."""
    gate, (heavy, level) = advisor_gate(model), heavy_gate(model)
    gates = np.full(n, gate)
    if heavy:
        if demand is None:
            raise ValueError("this policy is read behind a gate that depends on the measured demand "
                             f"({describe_gate(model)}): pass the copies' measured demand "
                             "(ControlledNetwork.measured_demand())")
        gates = np.where(np.asarray(demand, float).reshape(n) >= level, heavy, gates)
    return gates


def deterministic_actions(model, obs: np.ndarray, demand: np.ndarray | None = None) -> np.ndarray:
    """The policy's deterministic actions for a batch of observations, shaped as SB3's
    ``predict`` returns them ((B,) for ``Discrete``, (B, S) for ``MultiDiscrete``): the most
    likely action, or behind the model's advisor gate (module docstring; per copy when the gate
    depends on ``demand``, the copies' measured demand levels, :func:`copy_gates`), whose advisor
    request is read from the observation's last ``sum(P_s)`` features. Shapes: obs (B, D); demand (B,)."""
    if not is_gated(model):
        return model.predict(obs, deterministic=True)[0]
    from rl.simulation import advisor_requests

    space = model.action_space
    nvec = np.asarray(getattr(space, "nvec", [getattr(space, "n", 0)]), np.int64).reshape(-1)
    obs = np.asarray(obs, np.float32).reshape(-1, model.observation_space.shape[0])
    advice = advisor_requests(obs[:, -int(nvec.sum()):], nvec)
    actions = gate_requests(action_probabilities(model, obs), advice, copy_gates(model, demand, len(obs)))
    return actions if hasattr(space, "nvec") else actions[:, 0]
