"""Session-wide test settings: compiled kernels go to a session temporary cache, never the user's."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

KERNEL_CACHE_ENV = "ARZ_KERNEL_CACHE_DIR"


@pytest.fixture(scope="session", autouse=True)
def session_kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``$ARZ_KERNEL_CACHE_DIR`` for the whole session (kernel_payload/kernel_cache.py).

    Every job and payload the tests start compiles into it, so the first compiles and the rest
    load: tests gain from the warm start the way users do, and never write ``~/.cache/arz``.
    """
    folder = str(tmp_path_factory.mktemp("kernel-cache"))
    previous = os.environ.get(KERNEL_CACHE_ENV)
    os.environ[KERNEL_CACHE_ENV] = folder
    yield folder
    if previous is None:
        os.environ.pop(KERNEL_CACHE_ENV, None)
    else:
        os.environ[KERNEL_CACHE_ENV] = previous
