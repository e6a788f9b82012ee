"""Where a job's start-up goes: clone, pip, interpreter and imports, numba compiles, first count.

The bootstrap measures its own steps and passes them in ``$ARZ_STARTUP`` (JSON:
``kernel_started_at`` and ``payload_spawned_at`` as epoch seconds, ``clone_s``, ``install_s``);
the payload adds the rest: when its ``main`` ran and when the runner started the suites, the wall
time numba spent compiling (outermost ``numba:compile`` events; loads from the kernel cache are
not compiles), and when the first progress count of a suite's step arrived (for the quickstart:
verify's first grid; ``first_ppo_s`` is the first PPO count: training counts real environment
steps from its first batch of steps on, see ``rl.training.train``). The summary's ``startup`` field
and the report show :meth:`StartupTimes.as_dict`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

STARTUP_ENV = "ARZ_STARTUP"


class StartupTimes:
    """Start-up timings of this payload process (see the module docstring).

    Args:
        environ: where ``$ARZ_STARTUP`` is read from.
    """

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        try:
            given = json.loads((environ if environ is not None else os.environ).get(STARTUP_ENV) or "{}")
        except ValueError:
            given = {}
        self.given = given if isinstance(given, dict) else {}
        self.main_at = time.time()
        self.suites_at: float | None = None
        self.kernel_cache = ""
        self.compile_s = 0.0
        self.compiled = 0
        self.first: dict[str, float] = {}
        self.precompile: dict[str, Any] = {}  # the rl kernels' worker (kernel_payload.precompile)
        self._depth = 0
        self._compile_t0 = 0.0

    @property
    def origin(self) -> float:
        """When the kernel started (the bootstrap's start), else when this payload started."""
        value = self.given.get("kernel_started_at")
        return float(value) if isinstance(value, (int, float)) else self.main_at

    def note_event(self, stage: str, done: int | None, at: float) -> None:
        """Remember the first counted progress of a suite step (and of PPO training)."""
        if not done or stage in ("job", "bootstrap"):
            return
        self.first.setdefault("first_count_s", at - self.origin)
        if stage == "rl/train":
            self.first.setdefault("first_ppo_s", at - self.origin)

    def compile_started(self) -> None:
        """numba began compiling a function (nested compiles count once, in the outermost)."""
        if self._depth == 0:
            self._compile_t0 = time.perf_counter()
        self._depth += 1

    def compile_ended(self) -> None:
        """numba finished compiling a function."""
        self._depth = max(0, self._depth - 1)
        if self._depth == 0:
            self.compile_s += time.perf_counter() - self._compile_t0
            self.compiled += 1

    def as_dict(self) -> dict[str, Any]:
        """Seconds per start-up step, rounded to 0.1 s; steps that were not measured are left out."""
        out: dict[str, Any] = {}
        for key in ("clone_s", "install_s"):
            if isinstance(self.given.get(key), (int, float)):
                out[key] = self.given[key]
        spawned = self.given.get("payload_spawned_at")
        if isinstance(spawned, (int, float)) and self.suites_at is not None:
            out["imports_s"] = self.suites_at - spawned  # interpreter, numpy, pydantic, the runner
        if self.kernel_cache:
            out["kernel_cache"] = self.kernel_cache
        out["compile_s"], out["kernels_compiled"] = self.compile_s, self.compiled
        out.update(self.first)
        out.update(self.precompile)
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


_TIMES: list[StartupTimes] = []


def times() -> StartupTimes:
    """This process's :class:`StartupTimes` (created on first use)."""
    if not _TIMES:
        _TIMES.append(StartupTimes())
    return _TIMES[0]


def watch_compiles() -> bool:
    """Count numba compiles into :func:`times` from now on; False when numba is not importable."""
    try:
        from numba.core import event
    except ImportError:
        return False
    clock = times()

    class CompileTimer(event.Listener):
        """Adds each outermost compile's wall time to the start-up times."""

        def on_start(self, ev: Any) -> None:
            clock.compile_started()

        def on_end(self, ev: Any) -> None:
            clock.compile_ended()

    event.register("numba:compile", CompileTimer())
    return True
