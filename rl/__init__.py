"""Reinforcement learning for signal control on ARZ networks.

Importing this package registers the Gymnasium environments (and does nothing else):

| id | scenario | decisions |
|---|---|---|
| ``ARZ-Intersection-v0`` | ``scenarios/intersection_4arm.yml`` | 5 s, ``Discrete(2)`` |
| ``ARZ-Arterial-v0`` | ``scenarios/arterial_3.yml`` | 5 s, ``MultiDiscrete([2, 2, 2])``, 2 upstream bins per approach, gap-out's request observed |
| ``ARZ-SeedCorridor-v0`` | ``scenarios/seed_corridor.yml`` | 60 s, cells 10 50 100 150 190 |

``rl.TrafficSignalEnv`` and ``rl.make_vec_env`` are imported on first use.
"""

from __future__ import annotations

import gymnasium

ENV_IDS = {
    "ARZ-Intersection-v0": {"scenario": "intersection_4arm", "decision_interval": 5.0},
    # gap-out's request observed (tuned on training-side draws; docs/environment.md, "advisor")
    "ARZ-Arterial-v0": {"scenario": "arterial_3", "decision_interval": 5.0, "upstream_bins": 2,
                        "advisor": "actuated-gap", "advisor_params": (("gap_s", 1.5), ("max_out", 0.75))},
    "ARZ-SeedCorridor-v0": {"scenario": "seed_corridor", "decision_interval": 60.0,
                            "observed_cells": (10, 50, 100, 150, 190)},
}



def registered_kwargs(env_id: str, overrides: dict) -> dict:
    """The registered keyword arguments of ``env_id`` updated with ``overrides``; an ``advisor``
    given without ``advisor_params`` drops the registered advisor's parameters (they are that
    advisor's: ``advisor=None`` turns it off, another advisor starts from its own defaults).
    ``gymnasium.make`` merges the registered arguments itself: there pass both keys."""
    merged = {**ENV_IDS[env_id], **overrides}
    if "advisor" in overrides and "advisor_params" not in overrides:
        merged.pop("advisor_params", None)
    return merged


for _id, _kwargs in ENV_IDS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(id=_id, entry_point="rl.env:TrafficSignalEnv", kwargs=dict(_kwargs))

_LAZY = {"TrafficSignalEnv": "rl.env", "make_vec_env": "rl.vec_env", "BatchedVecEnv": "rl.vec_env"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rl' has no attribute {name!r}")


__all__ = ["ENV_IDS", "TrafficSignalEnv", "make_vec_env", "BatchedVecEnv", "registered_kwargs"]
