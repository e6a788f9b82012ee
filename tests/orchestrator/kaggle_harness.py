"""Shared set-up for the Kaggle backend tests: an isolated environment and a running fake server.

Every test gets its own ``HOME``, ``KAGGLE_CONFIG_DIR`` and ``XDG_CONFIG_HOME``, no inherited
``KAGGLE_*`` or proxy variable, ``KAGGLE_API_ENVIRONMENT=LOCALHOST``, and the client's LOCAL
endpoint pointed at the fake (in process). :meth:`KaggleHarness.subprocess_env` gives a child
process the same isolation, reaching the fake through ``HTTP_PROXY`` instead.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from orchestrator.backends.base import JobStatus, KernelRef, PushRequest
from orchestrator.backends.kaggle.backend import KaggleBackend, KaggleConfig
from orchestrator.backends.kaggle.http import HttpPolicy
from tests.fakes.kaggle_server import FakeKaggle
from tests.fakes.kaggle_sessions import SessionOptions

FAST_POLICY = HttpPolicy(
    connect_timeout_s=2.0, read_timeout_s=2.0, stream_read_timeout_s=5.0,
    download_read_timeout_s=5.0, auth_timeout_s=10.0, attempts=4, backoff_initial_s=0.05,
    backoff_max_s=0.2, max_retry_after_s=5.0, reconnect_delay_s=0.05, max_stream_failures=3,
)
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@dataclass
class KaggleHarness:
    """A running fake plus the isolated home the client reads its credentials from."""

    fake: FakeKaggle
    home: Path
    root: Path
    config: KaggleConfig = field(default_factory=KaggleConfig)
    _count: int = 0

    def backend(self, **overrides) -> KaggleBackend:
        """A backend with fast test timeouts (``overrides`` replace :class:`KaggleConfig` fields)."""
        return KaggleBackend(replace(self.config, **overrides))

    def slug(self, tag: str = "job") -> str:
        """A fresh slug, as the submit flow makes them."""
        self._count += 1
        return f"arz-{tag}-0123abcd-{self._count:04d}"

    def request(self, script: str, gpu: bool = True, **extra) -> PushRequest:
        """A push request for ``script`` under a fresh slug."""
        return PushRequest(slug=self.slug(), script=script, gpu=gpu, extra=extra)

    def use_token(self) -> None:
        """Authenticate with an access token file instead of ``kaggle.json``."""
        (self.home / ".kaggle" / "kaggle.json").unlink()
        token = self.home / ".kaggle" / "access_token"
        token.write_text(self.fake.token)
        token.chmod(0o600)

    def subprocess_env(self) -> dict[str, str]:
        """Environment for a child process: same isolation, fake reached via ``HTTP_PROXY``."""
        env = {k: v for k, v in os.environ.items()
               if not k.upper().startswith("KAGGLE_") and k.upper() not in PROXY_VARS}
        env.update(HOME=str(self.home), KAGGLE_CONFIG_DIR=str(self.home / ".kaggle"),
                   XDG_CONFIG_HOME=str(self.home / ".config"), KAGGLE_API_ENVIRONMENT="LOCALHOST",
                   HTTP_PROXY=self.fake.url, http_proxy=self.fake.url, NO_PROXY="", no_proxy="")
        return env


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Give this test its own HOME and Kaggle config, and drop inherited Kaggle/proxy vars."""
    for name in list(os.environ):
        if name.upper().startswith("KAGGLE_") or name.upper() in PROXY_VARS:
            monkeypatch.delenv(name, raising=False)
    (home / ".kaggle").mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")


def start_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  session: SessionOptions | None = None) -> KaggleHarness:
    """Isolate the environment, start the fake, write ``kaggle.json``; the caller stops it."""
    from kagglesdk.kaggle_env import KaggleEnv, _env_to_endpoint

    home = tmp_path / "home"
    isolate(monkeypatch, home)
    fake = FakeKaggle(tmp_path / "server", session=session or SessionOptions(queue_s=0.1),
                      max_lifetime_s=120.0).start()
    monkeypatch.setitem(_env_to_endpoint, KaggleEnv.LOCAL, fake.url)
    config = home / ".kaggle" / "kaggle.json"
    config.write_text(json.dumps({"username": fake.username, "key": fake.key}))
    config.chmod(0o600)
    settings = KaggleConfig(policy=FAST_POLICY, state_root=tmp_path / "state", stale_grace_s=30.0)
    return KaggleHarness(fake, home, tmp_path, settings)


def wait_terminal(backend: KaggleBackend, ref: KernelRef, timeout_s: float = 20.0,
                  every_s: float = 0.05) -> list:
    """Poll ``status`` until terminal; return every status seen (bounded by ``timeout_s``)."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen.append(backend.status(ref))
        if seen[-1].status.is_terminal():
            return seen
        time.sleep(every_s)
    raise AssertionError(f"no terminal status within {timeout_s} s: {seen[-3:]}")


def succeeded(statuses: list) -> bool:
    """True when the last status seen is SUCCEEDED."""
    return bool(statuses) and statuses[-1].status is JobStatus.COMPLETE


class FastKaggleBackend(KaggleBackend):
    """The real Kaggle backend with the harness's fast timeouts, for flows that build their
    backend by name (``jobs.submit_job``); :func:`register_fast_backend` installs it."""

    settings: KaggleConfig | None = None

    def __init__(self) -> None:
        super().__init__(self.settings)


def register_fast_backend(monkeypatch: pytest.MonkeyPatch, harness: KaggleHarness) -> None:
    """Make ``get_backend("kaggle")`` build :class:`FastKaggleBackend` with the harness's config
    (and a 50 ms poll of a processing dataset) for this test."""
    from orchestrator.backends import BACKENDS
    from orchestrator.backends.kaggle.datasets import DatasetPolicy

    settings = replace(harness.config, datasets=DatasetPolicy(ready_s=20.0, poll_s=0.05))
    monkeypatch.setattr(FastKaggleBackend, "settings", settings)
    monkeypatch.setitem(BACKENDS, "kaggle", f"{__name__}:FastKaggleBackend")
