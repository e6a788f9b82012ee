"""Import a later suite's libraries in the background while the suites before it run.

Why: on a warm kernel cache the ``rl`` suite's first seconds are imports, not training -- torch
alone took 5.5 s of a 15 s start on two loaded cores (measured: torch 5.5 s, stable-baselines3
0.6 s, ``rl`` 1.0 s, two vector envs 1.1 s, the first reset 1.8 s). The quickstart runs ``verify``
first, whose ladders are numba kernels compiled ``nogil=True``; a thread importing those modules
meanwhile takes nothing from what verify computes, and the ``rl`` suite then finds them imported.

What: :func:`start` starts one daemon thread per later suite of :data:`MODULES` (a suite that runs
first has nothing to overlap with); :func:`wait` joins it before the suite imports the same modules
itself. An import that fails in the thread is forgotten: the suite's own import raises the real
error (a missing ``rl`` still skips the suite). Only imports run here -- no environment, no kernel
call, no file -- so what a job computes is unchanged.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence

logger = logging.getLogger(__name__)

MODULES: dict[str, tuple[str, ...]] = {
    "rl": ("torch", "stable_baselines3", "rl.training", "rl.evaluation"),
}
"""Suite -> the modules its ``run`` imports first (heaviest first)."""

_THREADS: dict[str, threading.Thread] = {}


def start(suites: Sequence[str]) -> list[str]:
    """Begin importing, in the background, the modules of every suite of ``suites`` after the first.

    Returns:
        The suites whose imports started.
    """
    started = []
    for name in dict.fromkeys(suites[1:]):
        if name in MODULES and name != suites[0] and name not in _THREADS:
            thread = threading.Thread(target=_import_all, args=(MODULES[name],), daemon=True,
                                      name=f"arz-prewarm-{name}")  # fmt: skip
            _THREADS[name] = thread
            thread.start()
            started.append(name)
    return started


def wait(suite: str, timeout: float | None = None) -> bool:
    """Join the background imports of ``suite`` (if any); True when none is still running."""
    thread = _THREADS.get(suite)
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _import_all(modules: tuple[str, ...]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # the suite's own import raises it again, where it belongs
            logger.debug("prewarm: %s not imported (%s: %s)", module, type(exc).__name__, exc)
            return
