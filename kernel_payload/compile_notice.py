"""The one-time "compiling kernels" notice of the lab commands.

numba compiles the cached kernels (``@njit(cache=True)``) on their first call after a fresh clone
or an edit of their module: 30-45 s on two cores, during which nothing else moves. A command that
is about to call them checks numba's on-disk cache first (:func:`cold_kernel_modules`, a look at
the index files, no numba import) and, when it is cold, says so on stderr before the run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

NOTICE = "compiling kernels (first run only, ~30 s)…"

#: the modules with cached kernels each kind of run calls into
ROAD = ("solver.kernels.faces", "solver.kernels.link")
NETWORK = ("solver.kernels.faces", "solver.kernels.link", "solver.kernels.signals", "solver.kernels.sweep",
           "solver.kernels.measures", "solver.kernels.network", "solver.network.speeds")
RL = NETWORK  # the RL observations read the network's transport speeds

_shown = False


def _index_files(source: Path) -> list[Path]:
    """numba's index files (``<module>.<function>-<line>.pyXY.nbi``) for a source file: in
    ``$NUMBA_CACHE_DIR`` when it is set (numba then uses only that), else in ``__pycache__``."""
    pattern = f"{source.stem}.*.nbi"
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if cache_dir:  # numba's _UserProvidedCacheLocator: <dir>/<parent>_<sha1 of the source's folder>
        folder = os.path.dirname(os.path.abspath(source))
        sub = f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"
        return list((Path(cache_dir) / sub).glob(pattern))
    return list((source.parent / "__pycache__").glob(pattern))


def is_cold(source: Path) -> bool:
    """Whether numba's cache has no index for ``source`` newer than the file itself.

    numba keys its cache on the source file's modification time: an index written before the
    last edit (or no index at all) means the next call compiles.
    """
    indexes = _index_files(source)
    return not indexes or max(p.stat().st_mtime for p in indexes) < source.stat().st_mtime


def cold_kernel_modules(modules: tuple[str, ...]) -> list[str]:
    """The modules (dotted names) whose compiled kernels the next call will have to compile."""
    cold = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None and is_cold(Path(spec.origin)):
            cold.append(name)
    return cold


def notice_if_cold(modules: tuple[str, ...], quiet: bool = False) -> bool:
    """Print :data:`NOTICE` on stderr (once per process) when a kernel of ``modules`` will compile.

    Returns:
        Whether the cache was cold (the notice is printed only if not ``quiet`` and not shown yet).
    """
    global _shown
    cold = bool(cold_kernel_modules(modules))
    if cold and not quiet and not _shown:
        _shown = True
        print(NOTICE, file=sys.stderr, flush=True)
    return cold
