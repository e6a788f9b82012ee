"""Where the orchestrator keeps its state: ``$ARZ_HOME`` or the user's data directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from orchestrator.errors import HomeError

HOME_ENV = "ARZ_HOME"


def arz_home() -> Path:
    """The data folder (registry database, local kernel working folders), created on demand.

    Raises:
        HomeError: ``$HOME`` is unset or missing (and ``ARZ_HOME`` is not set), or the folder
            cannot be created or written; the message names the folder and the fix.
    """
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override).expanduser()
        source = f"ARZ_HOME={override}"
    else:
        home = os.environ.get("HOME")
        if not home or not os.path.isdir(home):
            raise HomeError(f"HOME ({home or 'unset'}) is not an existing folder, so arz has "
                            "nowhere to keep its job registry.",
                            fix="set HOME to your home folder, or ARZ_HOME to a writable folder")  # fmt: skip
        from platformdirs import user_data_dir

        path = Path(user_data_dir("arz", appauthor=False))
        source = "the user data folder under HOME"
    try:
        path.mkdir(parents=True, exist_ok=True)
        _probe_writable(path)
    except OSError as exc:
        raise HomeError(f"arz cannot write its state folder {path} ({source}): "
                        f"{exc.strerror or exc}.",
                        fix=f"make {path} writable, or set ARZ_HOME to a writable folder") from exc  # fmt: skip
    return path


def _probe_writable(path: Path) -> None:
    """Raise OSError unless a file can be created in ``path`` (``os.access`` misses read-only mounts)."""
    handle, name = tempfile.mkstemp(prefix=".arz-probe-", dir=path)
    os.close(handle)
    os.unlink(name)
