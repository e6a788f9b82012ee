"""Signs of life while a stage has no count to report yet (building envs, compiling kernels).

The first rollout of PPO can take tens of seconds on a cold machine: numba compiles the solver's
kernels, then the environments run a whole rollout before the first ``progress`` call. A
:class:`StartupWatch` fills that gap: it emits the stage at ``0/total`` with a message saying what is
happening, refreshed every couple of seconds by a heartbeat thread, and names the kernel numba is
compiling (numba's ``numba:compile`` events) until the stage's first real count arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kernel_payload.events import ProgressCallback, emit, unit_of
from kernel_payload.schema import ProgressEvent

HEARTBEAT_S = 2.0
COMPILE_EVENT = "numba:compile"


class StartupWatch:
    """Emit ``<stage> 0/total`` heartbeats until the stage reports its first count.

    Use as a context manager around the call that starts the stage, and pass the call the callback
    from :meth:`wrap` so the watch learns when the first count arrives.

    Args:
        stage: full stage name, e.g. ``rl/train``.
        total: units the stage will count (e.g. PPO timesteps), shown as ``0/total``.
        first: what happens before the first count (``building envs``).
        interval_s: seconds between heartbeats.
        send: where events go (default: :func:`kernel_payload.events.emit`).
    """

    def __init__(self, stage: str, total: int | None, first: str, interval_s: float = HEARTBEAT_S,
                 send: Callable[[ProgressEvent], None] = emit) -> None:  # fmt: skip
        self.stage, self.total, self.first, self.interval_s = stage, total, first, interval_s
        self.send = send
        self.started = threading.Event()
        self.compiling: str | None = None
        self.compiled = 0
        self.doing: str | None = None  # the latest count of another stage (the warm start before PPO)
        self._t0 = time.monotonic()
        self._thread: threading.Thread | None = None
        self._listener: Any = None

    def message(self) -> str:
        """What the stage is doing now, with the seconds spent so far."""
        seconds = int(time.monotonic() - self._t0)
        if self.compiling is not None:
            return f"compiling kernels (first run only): {self.compiling}… {seconds} s"
        if self.doing is not None:
            return f"{self.doing}… {seconds} s"
        if self.compiled:
            return f"{self.first} ({self.compiled} kernels compiled)… {seconds} s"
        return f"{self.first}… {seconds} s"

    def wrap(self, progress: ProgressCallback) -> ProgressCallback:
        """``progress`` that also stops the heartbeat at the stage's first count."""
        suite, _, step = self.stage.partition("/")

        def forward(stage: str, done: int, total: int) -> None:
            if not step or stage in (step, self.stage):  # a suite-wide watch: any count will do
                self.started.set()
            else:  # work before the stage's own counts (a warm start): the heartbeat names it
                self.doing = f"{stage} {done:,}/{total:,}"
            progress(stage, done, total)

        return forward

    def beat(self) -> None:
        """Emit one ``0/total`` event with the current message."""
        done = None if self.total is None else 0
        self.send(ProgressEvent(stage=self.stage, done=done, total=self.total, message=self.message(),
                                unit=unit_of(self.stage)))  # fmt: skip

    def __enter__(self) -> StartupWatch:
        self._t0 = time.monotonic()
        self.beat()
        self._listener = _compile_listener(self)
        self._thread = threading.Thread(target=self._run, name=f"arz-heartbeat-{self.stage}",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.started.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 1)
        if self._listener is not None:
            from numba.core import event

            event.unregister(COMPILE_EVENT, self._listener)

    def _run(self) -> None:
        while not self.started.wait(self.interval_s):
            self.beat()


def _compile_listener(watch: StartupWatch) -> Any:
    """Register a numba listener that tells ``watch`` which kernel is compiling (None without numba)."""
    try:
        from numba.core import event
    except ImportError:
        return None

    class CompileListener(event.Listener):
        """Tracks numba compilations: the kernel's name while it compiles, a count when done."""

        def on_start(self, ev: Any) -> None:
            dispatcher = (ev.data or {}).get("dispatcher")
            watch.compiling = getattr(getattr(dispatcher, "py_func", None), "__name__", "kernel")

        def on_end(self, ev: Any) -> None:
            watch.compiling = None
            watch.compiled += 1

    listener = CompileListener()
    event.register(COMPILE_EVENT, listener)
    return listener
