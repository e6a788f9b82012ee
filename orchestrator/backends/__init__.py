"""Execution backends, chosen by name from a registry and imported only when used.

``get_backend("local")`` imports :mod:`orchestrator.backends.local`; ``"kaggle"`` imports the Kaggle
adapter (which imports ``kaggle`` lazily itself). Backends are built without arguments.
"""

from __future__ import annotations

import importlib

from orchestrator.backends.base import ExecutionBackend
from orchestrator.errors import UnknownBackend

BACKENDS: dict[str, str] = {
    "local": "orchestrator.backends.local:LocalBackend",
    "kaggle": "orchestrator.backends.kaggle.backend:KaggleBackend",
}
"""Backend name -> ``module:Class``."""


def get_backend(name: str) -> ExecutionBackend:
    """Build the backend registered as ``name``.

    Raises:
        UnknownBackend: ``name`` is not registered, or its module is not there yet.
    """
    target = BACKENDS.get(name)
    if target is None:
        raise UnknownBackend(f"unknown backend '{name}'.", fix=f"use one of: {', '.join(BACKENDS)}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UnknownBackend(f"backend '{name}' is not available in this version ({exc.name} "
                             "is missing).", fix="use --backend local") from exc  # fmt: skip
    return getattr(module, class_name)()
