"""A suite's last files made by a separate process once the next suite is under way.

Why: the ``verify`` suite's seven figures took 6.1-6.4 s of matplotlib (2 cores at load ~3.5;
mostly text layout in Python) after its numbers were known, and the quickstart's PPO waited for
them. They depend only on ``verification.json``, already written, so a worker process can draw
them from it later, on another core (a thread would hold the GIL that the next suite needs).

When: a suite submits the work (:func:`submit`); the runner launches it (:func:`release`) when the next suite
reports its first count (the next suite's start-up -- for the quickstart, the ``rl`` suite's
imports, environments and first PPO steps -- comes first: drawn at once, the figures competed
with it; rl suite start to first PPO count 10.0 and 10.6 s, against 9.0 and 7.1 s launched at the
first count, 2 cores at load 9-11, so noisy), and waits for it (:func:`finish`, which launches
it first if it is still queued) before a suite that must run alone (``bench`` times things) and before
the summary is finalised; :func:`stop` ends it when the job is interrupted.

Contract: a worker is ``python -m MODULE ARGS`` run from the tree this payload runs from, its
output kept out of the job's log until it ends. It writes each file under :func:`partial_name`
and renames it into place, so one that is stopped leaves no truncated file (:func:`stop` removes
the hidden partial ones). Its result belongs to the suite that submitted it: the runner then lists
the new files under that suite and, when the worker failed, fails the suite with the worker's
output -- nothing is hidden.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAIL_CHARS = 3000
PARTIAL = ".partial"


@dataclass
class Worker:
    """One piece of background work submitted by a suite, writing into ``folder``.

    ``process`` is None until the worker is launched (:func:`release`).
    """

    suite: str
    what: str
    command: list[str]
    folder: Path
    output: Path | None = None
    process: subprocess.Popen | None = None


@dataclass(frozen=True)
class Outcome:
    """How a :class:`Worker` ended: ``returncode`` (negative: killed by a signal) and its output's tail."""

    suite: str
    what: str
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        """True when the worker exited 0."""
        return self.returncode == 0


_PENDING: list[Worker] = []
_STOPPED: list[Outcome] = []


def partial_name(path: Path) -> Path:
    """Where a worker writes ``path`` before renaming it into place (hidden, removed by :func:`stop`)."""
    return path.with_name(f".{path.stem}{PARTIAL}{path.suffix}")


def submit(suite: str, what: str, module: str, args: list[str], folder: Path) -> Worker:
    """Queue ``python -m module *args`` for ``suite``; it runs from :func:`release` or :func:`finish` on.

    Args:
        suite: the suite the worker's files belong to.
        what: names the work in messages (``figures``).
        module: the worker's module, run from this payload's tree.
        args: its command-line arguments.
        folder: where it writes (through :func:`partial_name`).
    """
    worker = Worker(suite, what, [sys.executable, "-m", module, *args], folder)
    _PENDING.append(worker)
    return worker


def release() -> int:
    """Launch every queued worker; return how many were launched."""
    launched = 0
    for worker in _PENDING:
        if worker.process is None:
            _launch(worker)
            launched += 1
    return launched


def pending() -> list[Worker]:
    """Workers not finished yet (queued or running, in submission order)."""
    return list(_PENDING)


def finish() -> list[Outcome]:
    """Launch what is still queued, wait for every worker; return how each ended (in order)."""
    release()
    outcomes, _STOPPED[:] = list(_STOPPED), []
    while _PENDING:
        worker = _PENDING.pop(0)
        worker.process.wait()  # type: ignore[union-attr]
        outcomes.append(_outcome(worker))
    return outcomes


def stop() -> None:
    """End every worker (interrupted job): terminate the running ones, wait for them and remove
    their partial files; :func:`finish` then reports how each ended (a queued one that never ran
    as killed by SIGTERM, with no output)."""
    for worker in _PENDING:
        if worker.process is None:
            _STOPPED.append(Outcome(worker.suite, worker.what, -signal.SIGTERM, ""))
    _PENDING[:] = [w for w in _PENDING if w.process is not None]
    for worker in _PENDING:
        with contextlib.suppress(OSError):
            worker.process.terminate()  # type: ignore[union-attr]
    for worker in _PENDING:
        try:
            worker.process.wait(timeout=5)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            worker.process.kill()  # type: ignore[union-attr]
            worker.process.wait()  # type: ignore[union-attr]
        for leftover in worker.folder.glob(f".*{PARTIAL}.*"):
            leftover.unlink(missing_ok=True)


def _launch(worker: Worker) -> None:
    handle, name = tempfile.mkstemp(prefix=f"arz-{worker.suite}-", suffix=".log")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with os.fdopen(handle, "w") as sink:
        worker.process = subprocess.Popen(worker.command, stdin=subprocess.DEVNULL, stdout=sink,
                                          stderr=subprocess.STDOUT, env=env)  # fmt: skip
    worker.output = Path(name)


def _outcome(worker: Worker) -> Outcome:
    text = ""
    if worker.output is not None:
        with contextlib.suppress(OSError):
            text = worker.output.read_text(errors="replace")[-TAIL_CHARS:]
            worker.output.unlink()
    return Outcome(worker.suite, worker.what, worker.process.returncode, text.strip())  # type: ignore[union-attr]
