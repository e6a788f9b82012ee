"""Tune a classical controller's parameters on training-side demand draws, never evaluation ones.

A tunable controller has a ``GRID`` (parameter -> candidate values), a ``params()`` method and a
constructor taking those parameters. :func:`tune_controller` runs every combination of the grid on
the same ``n_draws`` demand draws (copies of one batched network, one episode each) and keeps the
combination with the least mean delay per vehicle. The draws come from
:func:`tuning_draws`: ``TUNE_SEED_BASE + 1000 seed + i``, a range disjoint from the training
episodes (``seed + i``), from training's own model-selection copies
(``seed + rl.training.EVAL_SEED_OFFSET + i``) and from the evaluation draws
(``rl.evaluation.EVAL_SEED_BASE + 1000 seed + i``), for evaluation seeds below 10^9.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TUNE_SEED_BASE = 10**12  # training-side draws for tuning: far above every evaluation draw (2e6 + 1000 seed)


@dataclass(frozen=True)
class TuningResult:
    """The chosen parameters and every candidate's score.

    Attributes:
        controller: controller name; best: chosen parameters; draws: the demand draws used.
        table: one row per candidate: its parameters, ``delay_per_vehicle_s`` (mean over the
            draws, s) and ``chosen`` (bool).
    """

    controller: str
    best: dict
    draws: list[int]
    table: list[dict]


def tuning_draws(seed: int, n_draws: int) -> list[int]:
    """Training-side demand draws for tuning (disjoint from training and evaluation draws)."""
    return [TUNE_SEED_BASE + 1000 * int(seed) + i for i in range(int(n_draws))]


def is_tunable(controller) -> bool:
    """Whether ``controller`` has a parameter grid to tune."""
    return bool(getattr(controller, "GRID", None))


def grid_candidates(controller) -> list[dict]:
    """Every parameter combination of ``controller.GRID``, in grid order."""
    keys = list(controller.GRID)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(controller.GRID[k] for k in keys))]


def tune_controller(controller, core, draws: list[int],
                    progress: Callable[[int, int], None] | None = None) -> TuningResult:
    """Choose ``controller``'s parameters on ``draws`` and set them on it.

    Args:
        controller: a tunable controller (see the module docstring); updated in place.
        core: :class:`rl.simulation.ControlledNetwork` with ``len(draws)`` copies.
        draws: demand draw seeds, one per copy (use :func:`tuning_draws`).
        progress: called with (candidates done, candidates) after each candidate.

    Returns:
        The result; ties keep the earlier candidate in grid order.
    """
    from rl.evaluation import run_episodes

    if core.B != len(draws):
        raise ValueError(f"tuning needs one copy per draw: {core.B} copies for {len(draws)} draws")
    keys = list(controller.GRID)
    candidates = grid_candidates(controller)
    table, best, best_delay = [], None, np.inf
    for i, params in enumerate(candidates):
        trial = type(controller)(**params)
        m = run_episodes(trial, core, draws).measures
        delay = float((m["delay"].sum(axis=1) / np.maximum(m["entered"].sum(axis=1), 1e-9)).mean())
        table.append({**params, "delay_per_vehicle_s": delay, "chosen": False})
        if delay < best_delay:
            best, best_delay = params, delay
        if progress is not None:
            progress(i + 1, len(candidates))
    for row in table:
        row["chosen"] = all(row[k] == best[k] for k in keys)
    for k, v in best.items():
        setattr(controller, k, v)
    return TuningResult(controller.name, dict(best), list(draws), table)
