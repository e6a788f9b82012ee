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


def gate_requests(probs: list[np.ndarray], advice: np.ndarray, p: float) -> np.ndarray:
    """Per signal, the policy's most likely phase where its probability is at least ``p``, else
    the advisor's request.

    Shapes: probs, one (B, P_s) array per signal (probabilities); advice (B, S) int (the advisor's
    requested phases); returns (B, S) int64.
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


def deterministic_actions(model, obs: np.ndarray) -> np.ndarray:
    """The policy's deterministic actions for a batch of observations, shaped as SB3's
    ``predict`` returns them ((B,) for ``Discrete``, (B, S) for ``MultiDiscrete``): the most
    likely action, or behind the model's advisor gate (module docstring), whose advisor request
    is read from the observation's last ``sum(P_s)`` features. Shapes: obs (B, D)."""
    gate = advisor_gate(model)
    if not gate:
        return model.predict(obs, deterministic=True)[0]
    from rl.simulation import advisor_requests

    space = model.action_space
    nvec = np.asarray(getattr(space, "nvec", [getattr(space, "n", 0)]), np.int64).reshape(-1)
    obs = np.asarray(obs, np.float32).reshape(-1, model.observation_space.shape[0])
    advice = advisor_requests(obs[:, -int(nvec.sum()):], nvec)
    actions = gate_requests(action_probabilities(model, obs), advice, gate)
    return actions if hasattr(space, "nvec") else actions[:, 0]
