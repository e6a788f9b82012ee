"""Session-wide test settings: one kernel cache for the session, never the user's.

Compiled numba kernels (kernel_payload/kernel_cache.py) go to ``.pytest_cache/d/arz-kernels``
(pytest's own cache folder, ignored by git; a temporary folder when the cache plugin is off) for
this process and, through ``$ARZ_KERNEL_CACHE_DIR``, for every payload and local-backend job the
tests start. So each kernel compiles once per session on a fresh clone, whether a test calls it
in-process or a job's fresh clone does, later sessions load it, and ``~/.cache/arz`` is never
written. Its key folders follow the kernel sources, so an edit never runs a stale kernel.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kernel_payload import kernel_cache

_PREVIOUS: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Point this process and its children at the session's kernel cache (before any kernel
    module is imported: numba picks a function's cache when the function is decorated)."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        folder = cache.mkdir("arz-kernels")
    else:
        folder = Path(tempfile.mkdtemp(prefix="arz-test-kernels-"))
    _PREVIOUS[kernel_cache.CACHE_ENV] = os.environ.get(kernel_cache.CACHE_ENV)
    os.environ[kernel_cache.CACHE_ENV] = str(folder)
    kernel_cache.install(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore ``$ARZ_KERNEL_CACHE_DIR`` and numba's own locators."""
    kernel_cache.uninstall()
    previous = _PREVIOUS.pop(kernel_cache.CACHE_ENV, None)
    if previous is None:
        os.environ.pop(kernel_cache.CACHE_ENV, None)
    else:
        os.environ[kernel_cache.CACHE_ENV] = previous
