"""Where the orchestrator keeps its state: ``$ARZ_HOME`` or the user's data directory."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "ARZ_HOME"


def arz_home() -> Path:
    """The data folder (registry database, local kernel working folders), created on demand."""
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("arz", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path
