"""``scripts.shield_screen.QueueShield``: the policy's phases until a queue is long, then the advisor's."""

from __future__ import annotations

import numpy as np

from rl import ENV_IDS
from rl.config import resolve_config
from rl.simulation import ControlledNetwork, advisor_requests
from scripts.shield_screen import QueueShield


class Always:
    """Requests phase ``p`` at every signal."""

    name = "always"

    def __init__(self, p: int):
        self.p = p

    def reset(self, core, seed=None) -> None:
        pass

    def act(self, obs, core) -> np.ndarray:
        return np.full((core.B, len(core.nvec)), self.p)


def _run(shield: QueueShield, decisions: int = 12):
    cfg, sc = resolve_config(**{**ENV_IDS["ARZ-Arterial-v0"], "device": "cpu", "demand_scale": 1.2})
    core = ControlledNetwork(cfg, sc, batch=2)
    core.reset(np.arange(2), [np.random.default_rng(s) for s in (0, 1)])
    shield.reset(core)
    obs, shown = core.observe(), []
    for _ in range(decisions):
        act = shield.act(obs, core)
        shown.append((act, advisor_requests(obs[:, -int(np.sum(core.nvec)):], core.nvec)))
        core.step(act)
        obs = core.observe()
    return shown


def test_below_the_threshold_the_policy_acts_and_above_it_the_advisor():
    never = _run(QueueShield(Always(1), theta=1e9, release=0.0, latch=False))
    assert all((act == 1).all() for act, _ in never)
    always = QueueShield(Always(1), theta=-1.0, release=-1.0, latch=False)
    shown = _run(always)
    assert all((act == advice).all() for act, advice in shown)
    assert any((advice == 0).any() for _, advice in shown)  # the advisor differs from the policy somewhere
    assert always.fired == 12 * 2 * 3


def test_a_latch_hands_every_signal_over_once_a_queue_passes_the_threshold():
    shield = QueueShield(Always(1), theta=20.0, release=0.0, latch=True)
    shown = _run(shield, decisions=30)
    on = [(act == advice).all(axis=1) for act, advice in shown]  # (B,) per decision
    first = [next((i for i, row in enumerate(on) if row[b] and (shown[i][1][b] != 1).any()), None) for b in range(2)]
    assert shield.fired > 0 and all(f is not None for f in first)
    for b in range(2):  # once handed over, every later decision is the advisor's
        assert all(on[i][b] for i in range(first[b], len(on)))
