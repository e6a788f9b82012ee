"""A suite's last files made by a separate process while the next suite runs.

Why: the ``verify`` suite's eight figures took 3 s of matplotlib (6 s on two loaded cores:
mostly text layout in Python) after its numbers were known, and the quickstart's PPO waited for
them. They depend only on ``verification.json``, already written; a worker process draws them from
it on another core (a thread would hold the GIL the ``rl`` suite's start-up needs).

Contract: :func:`start` launches ``python -m MODULE ARGS`` from the tree this payload runs from,
at a slightly lower CPU priority (:data:`NICE`), its output kept out of the job's log until it
ends. A worker writes each file under :func:`partial_name` and renames it into place, so one that
is stopped leaves no truncated file (:func:`stop` removes the hidden partial ones). The runner calls :func:`finish` before a suite that must run alone (``bench`` times things)
and before the summary is finalised, and :func:`stop` when the job is interrupted. A worker's
result belongs to the suite that started it: the runner then lists the new files under that suite
and, when the worker failed, fails the suite with the worker's output -- nothing is hidden.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NICE = 5
"""Niceness added to a worker: the next suite's start-up comes first, the worker still progresses
on a machine others load (CFS weight 335 against 1024 at niceness 0)."""
TAIL_CHARS = 3000
PARTIAL = ".partial"


@dataclass
class Worker:
    """One background process started by a suite, writing into ``folder``."""

    suite: str
    what: str
    process: subprocess.Popen
    output: Path
    folder: Path


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


def partial_name(path: Path) -> Path:
    """Where a worker writes ``path`` before renaming it into place (hidden, removed by :func:`stop`)."""
    return path.with_name(f".{path.stem}{PARTIAL}{path.suffix}")


def start(suite: str, what: str, module: str, args: list[str], folder: Path) -> Worker:
    """Run ``python -m module *args`` in the background for ``suite``.

    Args:
        suite: the suite the worker's files belong to.
        what: names the work in messages (``figures``).
        module: the worker's module, run from this payload's tree.
        args: its command-line arguments.
        folder: where it writes (through :func:`partial_name`).
    """
    handle, name = tempfile.mkstemp(prefix=f"arz-{suite}-", suffix=".log")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with os.fdopen(handle, "w") as sink:
        process = subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.DEVNULL,
                                   stdout=sink, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    with contextlib.suppress(OSError):  # not allowed here: run at the same priority
        os.setpriority(os.PRIO_PROCESS, process.pid, os.getpriority(os.PRIO_PROCESS, 0) + NICE)
    worker = Worker(suite, what, process, Path(name), folder)
    _PENDING.append(worker)
    return worker


def pending() -> list[Worker]:
    """Workers not finished yet (in start order)."""
    return list(_PENDING)


def finish() -> list[Outcome]:
    """Wait for every pending worker; return how each ended (in start order)."""
    outcomes = []
    while _PENDING:
        worker = _PENDING[0]
        worker.process.wait()
        _PENDING.pop(0)
        outcomes.append(_outcome(worker))
    return outcomes


def stop() -> None:
    """Terminate every pending worker (interrupted job), wait for it and remove its partial files;
    :func:`finish` then reports how each ended."""
    for worker in _PENDING:
        with contextlib.suppress(OSError):
            worker.process.terminate()
    for worker in _PENDING:
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
        for leftover in worker.folder.glob(f".*{PARTIAL}.*"):
            leftover.unlink(missing_ok=True)


def _outcome(worker: Worker) -> Outcome:
    try:
        text = worker.output.read_text(errors="replace")[-TAIL_CHARS:]
    except OSError:
        text = ""
    with contextlib.suppress(OSError):
        worker.output.unlink()
    return Outcome(worker.suite, worker.what, worker.process.returncode, text.strip())
