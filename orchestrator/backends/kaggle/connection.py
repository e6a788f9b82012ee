"""Authenticated, time-limited access to the ``kaggle`` client (imported lazily, here only).

Facts of kaggle 2.2.5 this module works around:

* ``import kaggle`` authenticates at import time; ``KaggleApi.authenticate()`` prints help and
  calls ``exit(1)`` when no credentials exist. Both run in a bounded worker with stdout captured,
  and ``SystemExit`` becomes :class:`KaggleCredentialsError`.
* ``KaggleApi`` reads ``KAGGLE_CONFIG_DIR`` and ``KAGGLE_API_ENVIRONMENT`` once, when its class is
  defined; :func:`fresh_api` re-reads them so each backend sees the current environment.
* The client's HTTP session has no timeout; :meth:`KaggleConnection.client` mounts one.
* Our own requests to Kaggle (the log stream) go through ``httpx``; :func:`session_headers`
  gives them the headers, credentials included, that the client's session would send.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.backends.kaggle.errors import (
    KaggleCredentialsError,
    KaggleError,
    KaggleTimeoutError,
)
from orchestrator.backends.kaggle.http import HttpPolicy, mount_timeouts

T = TypeVar("T")
TOKEN_URL = "https://www.kaggle.com/settings/api"


@dataclass(frozen=True)
class CredentialSource:
    """Where a credential was found (never its value).

    Attributes:
        kind: ``access token``, ``legacy API key`` or ``OAuth credentials``.
        where: the file or environment variable holding it.
        readable_by_others: the file can be read by other local users (chmod 600 fixes it).
    """

    kind: str
    where: str
    readable_by_others: bool = False


def kaggle_config_dir() -> Path:
    """The folder ``kaggle`` reads ``kaggle.json`` from, by the client's own rule."""
    explicit = os.environ.get("KAGGLE_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    legacy = Path.home() / ".kaggle"
    if sys.platform.startswith("linux") and not legacy.exists():
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(xdg) / "kaggle"
    return legacy


def _loose(path: Path) -> bool:
    return os.name != "nt" and bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))


def _nonempty(path: Path) -> bool:
    return path.is_file() and bool(path.read_text(encoding="utf-8", errors="replace").strip())


def find_credentials() -> list[CredentialSource]:
    """Every credential the client would consider, in its order of preference (no network)."""
    found: list[CredentialSource] = []
    token = os.environ.get("KAGGLE_API_TOKEN")
    if token:
        found.append(CredentialSource("access token", "KAGGLE_API_TOKEN environment variable"))
    for name in ("access_token", "access_token.txt"):
        path = Path.home() / ".kaggle" / name
        if _nonempty(path):
            found.append(CredentialSource("access token", str(path), _loose(path)))
    config = kaggle_config_dir() / "kaggle.json"
    if _has_legacy_key(config):
        found.append(CredentialSource("legacy API key", str(config), _loose(config)))
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        found.append(CredentialSource("legacy API key", "KAGGLE_USERNAME/KAGGLE_KEY variables"))
    oauth = Path.home() / ".kaggle" / "credentials.json"
    if _nonempty(oauth):
        found.append(CredentialSource("OAuth credentials", str(oauth), _loose(oauth)))
    return found


def _has_legacy_key(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("username")) and bool(data.get("key"))


def credentials_error(found: list[CredentialSource]) -> KaggleCredentialsError:
    """The error for failed authentication, naming where we looked and what was found."""
    if found:
        where = ", ".join(f"{c.kind} in {c.where}" for c in found)
        return KaggleCredentialsError(
            f"Kaggle rejected the credentials found ({where}); the token may be expired or revoked.",
            fix=f"create a new API token at {TOKEN_URL} and save it to ~/.kaggle/access_token "
            "(chmod 600), or run with --backend local")
    return KaggleCredentialsError(
        "no Kaggle credentials found (looked at KAGGLE_API_TOKEN, ~/.kaggle/access_token, "
        f"{kaggle_config_dir() / 'kaggle.json'}, KAGGLE_USERNAME/KAGGLE_KEY).",
        fix=f"create an API token at {TOKEN_URL} and save it to ~/.kaggle/access_token "
        "(chmod 600), or run with --backend local")


def run_bounded(work: Callable[[], T], timeout_s: float, what: str) -> T:
    """Run ``work`` in a daemon thread with stdout captured; give up after ``timeout_s``.

    For the client's own calls that take no timeout (its import-time and explicit
    authentication). ``SystemExit`` inside becomes :class:`KaggleCredentialsError`.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, name=f"kaggle-{what}", daemon=True)
    with contextlib.redirect_stdout(io.StringIO()):
        worker.start()
        worker.join(timeout_s)
    if worker.is_alive():
        raise KaggleTimeoutError(f"Kaggle {what} did not finish within {timeout_s:.0f} s.",
                                 fix="check your network and https://status.kaggle.com, then retry")
    error = box.get("error")
    if isinstance(error, SystemExit):
        raise credentials_error(find_credentials()) from None
    if isinstance(error, ImportError):
        raise KaggleError(f"the kaggle client cannot be imported ({error}).",
                          fix="pip install 'kaggle==2.2.5' six") from error
    if error is not None:
        raise error
    return box["value"]


def fresh_api() -> Any:
    """An authenticated ``KaggleApi`` that reads the environment as it is now."""
    from kaggle.api.kaggle_api_extended import KaggleApi  # lazy: authenticates at import

    api = KaggleApi()
    api.config_dir = str(kaggle_config_dir())
    api.config = os.path.join(api.config_dir, KaggleApi.config_file)
    local = os.environ.get("KAGGLE_API_ENVIRONMENT") == "LOCALHOST"
    api.args = ["--local"] if local else []
    api.authenticate()
    return api


class KaggleConnection:
    """The authenticated client, built on first use, with timeouts on every request.

    Args:
        policy: timeouts and retry budget.
    """

    def __init__(self, policy: HttpPolicy):
        self.policy = policy
        self._api: Any = None
        self._lock = threading.Lock()

    def api(self) -> Any:
        """The authenticated ``KaggleApi`` (authenticates once, bounded in time)."""
        with self._lock:
            if self._api is None:
                self._api = run_bounded(fresh_api, self.policy.auth_timeout_s, "authentication")
            return self._api

    def kernel_types(self) -> Any:
        """kagglesdk's kernel request types.

        Imported only after :meth:`api` has imported the client under the lock: two threads
        importing ``kaggle`` and ``kagglesdk`` at once (the monitor polls status while a thread
        follows logs) can meet a half-initialised module.
        """
        self.api()
        from kagglesdk.kernels.types import kernels_api_service

        return kernels_api_service

    @property
    def owner(self) -> str:
        """The account name the credentials belong to."""
        return self.api().config_values.get("username") or ""

    @contextlib.contextmanager
    def client(self, read_timeout_s: float | None = None) -> Iterator[Any]:
        """A ``kagglesdk`` ``KaggleClient`` whose HTTP session times out every request."""
        kaggle = self.api().build_kaggle_client()
        http = kaggle._http_client  # the SDK exposes no other way to reach its session
        http._init_session()
        mount_timeouts(http._session, self.policy.timeout(read_timeout_s))
        try:
            yield kaggle
        finally:
            http._session.close()

    def request_headers(self, kaggle: Any) -> dict[str, str]:
        """Headers for our own request to Kaggle (see :func:`session_headers`)."""
        return session_headers(kaggle._http_client._session)

    def stream_url(self, kaggle: Any, path: str) -> str:
        """Absolute URL of a non-RPC endpoint (e.g. the log stream), as the client builds it."""
        from kagglesdk.kaggle_env import KaggleEnv

        http = kaggle._http_client
        base = http._endpoint if http._env == KaggleEnv.PROD else f"{http._endpoint}/api"
        return f"{base}/v1/{path}"


def session_headers(session: Any) -> dict[str, str]:
    """The headers a ``requests`` session of the ``kaggle`` client sends, credentials included.

    The client keeps its credentials as the session's ``auth`` (a bearer token or a username/key
    pair, applied per request); they are applied here to a request that is never sent, so an
    ``httpx`` request can carry exactly the same ``Authorization`` header. ``Content-Type`` (the
    client's JSON default) is left out.
    """
    import requests

    prepared = requests.Request("GET", "http://localhost/", headers=dict(session.headers),
                                auth=session.auth).prepare()  # fmt: skip
    return {k: v for k, v in prepared.headers.items() if k.lower() != "content-type"}
