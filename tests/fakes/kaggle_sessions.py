"""Kernel sessions of the fake Kaggle server: the pushed script really runs, in a subprocess.

Each pushed version gets a session folder laid out like a Kaggle kernel::

    <root>/<owner>/<slug>/v<N>/src/script.py    the pushed source
    <root>/<owner>/<slug>/v<N>/working/         the working directory = the kernel's output dir

The session goes QUEUED -> RUNNING -> COMPLETE | ERROR (or CANCEL_ACKNOWLEDGED when its kernel is
deleted). Every stdout/stderr line becomes one log event ``{"stream_name", "time", "data"}``, the
shape of Kaggle's SSE events and of its persisted log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TERMINAL = ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED")
_NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens, every connection is refused
OFFLINE_ENV = {
    "GIT_ALLOW_PROTOCOL": "none",  # no transport at all: https, ssh, git and local paths ("file")
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
    "PIP_NO_INDEX": "1", "PIP_INDEX_URL": _NOWHERE, "PIP_RETRIES": "0",
    "PIP_TIMEOUT": "2", "PIP_CONFIG_FILE": "/dev/null",
    "HTTP_PROXY": _NOWHERE, "HTTPS_PROXY": _NOWHERE, "ALL_PROXY": _NOWHERE, "NO_PROXY": "",
    "http_proxy": _NOWHERE, "https_proxy": _NOWHERE, "all_proxy": _NOWHERE, "no_proxy": "",
}  # fmt: skip
"""Environment of a kernel pushed with ``enable_internet: false`` (the fake's stand-in for a
kernel without network access)."""


@dataclass
class SessionOptions:
    """How the fake runs one session.

    Attributes:
        queue_s: time spent QUEUED before the script starts, in seconds.
        max_run_s: hard limit on the script's run time (Kaggle's session limit), in seconds.
        error_message: when set, the session ends ERROR with this failure message even if the
            script succeeds (a platform failure such as out-of-memory).
        env: extra environment variables for the script.
        internet: the kernel's ``enable_internet``; without it the script runs with
            :data:`OFFLINE_ENV`, so git cannot fetch from any URL or path and pip cannot reach an
            index (a kernel that needs the network fails, as on Kaggle).
    """

    queue_s: float = 0.1
    max_run_s: float = 60.0
    error_message: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    internet: bool = True


class FakeSession:
    """One run of one kernel version.

    Args:
        folder: the session folder (``src/`` and ``working/`` are created inside).
        script: the pushed Python source.
        gpu: whether the session holds a GPU (counts against the concurrency cap).
        options: queueing, limits and injected failure.
    """

    def __init__(self, folder: Path, script: str, gpu: bool, options: SessionOptions):
        self.folder = folder
        self.gpu = gpu
        self.options = options
        self.status = "QUEUED"
        self.failure_message: str | None = None
        self.events: list[dict] = []
        self.finished_at: float | None = None
        self._cond = threading.Condition()
        self._proc: subprocess.Popen | None = None
        self._stopped = False
        self._t0 = time.monotonic()
        (folder / "src").mkdir(parents=True, exist_ok=True)
        self.working.mkdir(parents=True, exist_ok=True)
        (folder / "src" / "script.py").write_text(script, encoding="utf-8")

    @property
    def started_at(self) -> float:
        """When the session was created (``time.monotonic``); it holds its slot from then until
        ``finished_at``."""
        return self._t0

    @property
    def working(self) -> Path:
        """The kernel's working (= output) directory."""
        return self.folder / "working"

    def is_active(self) -> bool:
        """True while the session is queued or running."""
        return self.status not in TERMINAL

    def start(self) -> None:
        """Start the session in a background thread (queue delay, then the script)."""
        threading.Thread(target=self._run, name="fake-kaggle-session", daemon=True).start()

    def stop(self) -> None:
        """Kill the script (the kernel was deleted) and mark the session cancelled."""
        with self._cond:
            self._stopped = True
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
        self._finish("CANCEL_ACKNOWLEDGED", None)

    def wait_events(self, start: int, timeout: float) -> tuple[list[dict], bool]:
        """Events from index ``start`` on, waiting up to ``timeout`` seconds for new ones.

        Returns:
            (new events, whether the session has ended).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.events) <= start and self.is_active():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.events[start:]), not self.is_active()

    def wait_done(self, timeout: float) -> bool:
        """Block until the session ends or ``timeout`` seconds pass; True if it ended."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.is_active() and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return not self.is_active()

    def _run(self) -> None:
        time.sleep(self.options.queue_s)
        with self._cond:
            if self._stopped:
                return
            self._proc = self._spawn()
            self.status = "RUNNING"
            self._cond.notify_all()
        readers = [
            threading.Thread(target=self._pump, args=(self._proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._pump, args=(self._proc.stderr, "stderr"), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            code = self._proc.wait(timeout=self.options.max_run_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = None
        for reader in readers:
            reader.join(timeout=5)
        self._finish(*self._outcome(code))

    def _spawn(self) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not _is_private_env(k)}
        env.update({"KAGGLE_KERNEL_RUN_TYPE": "Batch", "PYTHONUNBUFFERED": "1"})
        env.update(self.options.env)
        if not self.options.internet:
            env.update(OFFLINE_ENV)
        return subprocess.Popen(
            [sys.executable, "-u", str(self.folder / "src" / "script.py")],
            cwd=self.working,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )

    def _pump(self, stream, name: str) -> None:
        for line in stream:
            with self._cond:
                elapsed = round(time.monotonic() - self._t0, 3)
                self.events.append({"stream_name": name, "time": elapsed, "data": line})
                self._cond.notify_all()

    def _outcome(self, code: int | None) -> tuple[str, str | None]:
        if code is None:
            return "ERROR", "Your notebook exceeded the maximum execution time."
        if self.options.error_message:
            return "ERROR", self.options.error_message
        if code != 0:
            return "ERROR", f"Your notebook exited with code {code}."
        return "COMPLETE", None

    def _finish(self, status: str, message: str | None) -> None:
        with self._cond:
            if not self.is_active():
                return
            if self._stopped and status != "CANCEL_ACKNOWLEDGED":
                return
            if status != "CANCEL_ACKNOWLEDGED":  # Kaggle adds its own rendering of the run
                (self.working / "__results__.html").write_text("<html>kaggle viewer</html>")
            self.status = status
            self.failure_message = message
            self.finished_at = time.monotonic()
            self._cond.notify_all()


def _is_private_env(name: str) -> bool:
    """Variables a real kernel would never see: the laptop's credentials and proxies."""
    upper = name.upper()
    return upper.startswith("KAGGLE_") or upper in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
