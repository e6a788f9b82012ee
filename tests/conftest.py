"""Session-wide test settings: one kernel cache for the session, never the user's.

Compiled numba kernels (kernel_payload/kernel_cache.py) go to ``.pytest_cache/d/arz-kernels``
(pytest's own cache folder, ignored by git; a temporary folder when the cache plugin is off) for
this process and, through ``$ARZ_KERNEL_CACHE_DIR``, for every payload and local-backend job the
tests start. So each kernel compiles once per session on a fresh clone, whether a test calls it
in-process or a job's fresh clone does, later sessions load it, and ``~/.cache/arz`` is never
written. Its key folders follow the kernel sources, so an edit never runs a stale kernel.

On a cold cache, a session that also holds many kernel-free tests (the default tier) compiles the
kernels in a background process (tests/kernel_warmup.py) while the orchestrator tests run first;
the first kernel test waits for it. On two cores that overlaps minutes of compiling with tests
that are mostly waiting on subprocesses, git and the fake Kaggle server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
        _WARMUP["temporary"] = folder  # removed at the end of the session
    _PREVIOUS[kernel_cache.CACHE_ENV] = os.environ.get(kernel_cache.CACHE_ENV)
    os.environ[kernel_cache.CACHE_ENV] = str(folder)
    kernel_cache.install(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop a warm-up still running; restore ``$ARZ_KERNEL_CACHE_DIR`` and numba's locators."""
    process = _WARMUP.get("process")
    if isinstance(process, subprocess.Popen) and process.poll() is None:
        process.kill()
        process.wait()
    kernel_cache.uninstall()
    if isinstance(_WARMUP.get("temporary"), Path):
        shutil.rmtree(_WARMUP["temporary"], ignore_errors=True)
    previous = _PREVIOUS.pop(kernel_cache.CACHE_ENV, None)
    if previous is None:
        os.environ.pop(kernel_cache.CACHE_ENV, None)
    else:
        os.environ[kernel_cache.CACHE_ENV] = previous


# ---------------------------------------------------------------- kernel warm-up in the background
_WARMUP: dict[str, object] = {}
KERNEL_FREE = ("tests/orchestrator/", "tests/fakes/")
"""Test folders that call no solver kernel in-process or in a job, except the files below."""
KERNEL_USERS_AMONG_FREE = ("tests/orchestrator/test_real_verify_e2e.py",)
MIN_OVERLAP_TESTS = 100
"""Start the warm-up only when at least this many kernel-free tests can run meanwhile."""


def _needs_kernels(item: pytest.Item) -> bool:
    try:
        path = Path(item.path).resolve().relative_to(Path(item.config.rootpath).resolve()).as_posix()
    except ValueError:  # a test outside the root: assume it calls kernels
        return True
    return not path.startswith(KERNEL_FREE) or path in KERNEL_USERS_AMONG_FREE


def _cache_is_cold() -> bool:
    folder = kernel_cache.ProjectCacheLocator.folder
    return folder is None or not list(folder.glob("solver/kernels/network.*.nbc"))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """On a cold kernel cache with enough kernel-free tests, compile the kernels in a background
    process (tests/kernel_warmup.py) while the kernel-free tests run first. The CUDA-simulator
    run (tests/solver/test_cuda_sim.py, ~100 s of Python) starts in the background too, whenever
    one of its comparisons is selected."""
    simulated = [item for item in items if "gpu_results" in getattr(item, "fixturenames", ())]
    if simulated:  # the module object pytest collected (the one whose fixture will wait for it)
        _WARMUP["cudasim"] = simulated[0].module
        simulated[0].module.start_simulated_results()
    free = [item for item in items if not _needs_kernels(item)]
    users = [item for item in items if _needs_kernels(item)]
    if not users or len(free) < MIN_OVERLAP_TESTS or not _cache_is_cold():
        return
    log = Path(os.environ[kernel_cache.CACHE_ENV]) / "warmup.log"
    with open(log, "wb") as handle:
        _WARMUP["log"] = log
        _WARMUP["process"] = subprocess.Popen(
            [sys.executable, "-m", "tests.kernel_warmup"], cwd=config.rootpath, stdout=handle,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    items[:] = free + users


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A kernel test waits for the background warm-up (so nothing compiles twice)."""
    process = _WARMUP.get("process")
    if isinstance(process, subprocess.Popen) and process.poll() is None and _needs_kernels(item):
        try:
            process.wait(timeout=900)
        except subprocess.TimeoutExpired:
            process.kill()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop a background CUDA-simulator run the session did not wait for (and remove its folder)."""
    module = _WARMUP.get("cudasim")
    if module is not None:
        module.stop_simulated_results()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say so when the warm-up failed (the tests then compiled the kernels themselves)."""
    process = _WARMUP.get("process")
    if isinstance(process, subprocess.Popen) and process.poll() not in (None, 0):
        terminalreporter.write_line(f"kernel warm-up exited with {process.returncode}: see "
                                    f"{_WARMUP['log']} (tests compiled the kernels themselves)")  # fmt: skip
