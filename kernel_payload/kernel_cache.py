"""Compiled numba kernels reused between jobs: a per-user cache keyed by the kernel sources.

Why: every job runs from a fresh clone of its commit in a fresh temporary folder
(``/tmp/arz-job-<slug>/arz-src-XXXX``). numba's own locators key a cache on the *absolute path*
of the source folder (``__pycache__`` beside it, or ``$NUMBA_CACHE_DIR/<folder>_<sha1 of its
path>``), so each clone missed and every job compiled its kernels cold (~45-60 s on two cores).

How: :func:`install` puts :class:`ProjectCacheLocator` first in numba's list of cache locators.
For a source file of this project (``solver/``, ``rl/``, ``kernel_payload/`` of the tree this
payload runs from) it answers::

    cache folder   <cache dir>/<key>/<package-relative folder>   e.g. ~/.cache/arz/kernels/3fa2…/solver
    key            :func:`kernel_key`: sha256 of the kernel modules and every file they call into
                   (``solver.kernels.sources.DEPENDENCIES``, read from the running tree), the numba
                   version and the Python version
    source stamp   sha256 of the module's own bytes (numba ignores an index whose stamp differs)

So the path of the clone and the files' modification times play no part, and a kernel source
that differs in any byte (the module or a callee) gets another key folder: a stale compiled kernel
can never be loaded. numba's own index still checks the numba version, the Python version (in the
file name), the function's bytecode and the CPU (target triple and features) per entry.

The bootstrap chooses the folder (``$ARZ_KERNEL_CACHE_DIR``, default ``~/.cache/arz/kernels``,
never inside the job's output folder) and passes it in that variable; the payload installs the
locator before anything imports a kernel module. ``ARZ_KERNEL_CACHE_DIR=off`` (or unset, e.g. a
payload started by hand) leaves numba's default cache alone. Key folders are pruned to the
:data:`KEEP` most recently used.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any, ClassVar

from numba.core import caching

logger = logging.getLogger(__name__)

CACHE_ENV = "ARZ_KERNEL_CACHE_DIR"
OFF = "off"
KEEP = 6
"""Key folders kept (newest use first); older ones are removed by :func:`install`."""
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("solver", "rl", "kernel_payload")
"""Top-level folders of ROOT whose cached kernels this locator places."""


def cache_dir_from_env() -> Path | None:
    """The folder named by ``$ARZ_KERNEL_CACHE_DIR``, or None when it is unset, empty or ``off``."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if not value or value.lower() == OFF:
        return None
    return Path(value).expanduser()


def kernel_source_files(root: Path = ROOT) -> list[str]:
    """The kernel modules and the files they call into (``solver.kernels.sources.DEPENDENCIES``)."""
    from solver.kernels import sources

    files = set(sources.DEPENDENCIES)
    for deps in sources.DEPENDENCIES.values():
        files.update(deps)
    return sorted(files)


def kernel_key(root: Path = ROOT) -> str:
    """16 hex digits that change whenever a kernel source, numba or Python changes.

    sha256 over the numba version, the interpreter's cache tag and, for every file of
    :func:`kernel_source_files`, its name and bytes. A listed file this tree lacks (a project
    that ships the solver without ``rl/``) counts as absent: it has no kernels to cache, and the
    key still differs from a tree that has it.
    """
    import numba

    h = hashlib.sha256(f"numba {numba.__version__} {sys.implementation.cache_tag}\0".encode())
    for name in kernel_source_files(root):
        h.update(name.encode() + b"\0")
        path = root / name
        h.update(path.read_bytes() if path.is_file() else b"\1absent")
        h.update(b"\0")
    return h.hexdigest()[:16]


@functools.cache
def _content_stamp(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def source_stamp(path: str) -> str:
    """sha256 (hex) of a source file's bytes: numba's freshness stamp for its index."""
    st = os.stat(path)
    return _content_stamp(path, st.st_mtime_ns, st.st_size)


class ProjectCacheLocator(caching._CacheLocator):
    """numba cache locator for this project's modules: ``<key folder>/<package-relative folder>``.

    Args:
        py_func: the Python function being compiled.
        py_file: its source file.
        relative: that file's path relative to :data:`ROOT`.
    """

    folder: ClassVar[Path | None] = None
    """``<cache dir>/<key>``, set by :func:`install`; None means: not in use."""

    def __init__(self, py_func: Any, py_file: str, relative: Path) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(self.folder / relative.parent)

    def get_cache_path(self) -> str:
        """The folder this function's index and object code live in."""
        return self._cache_path

    def get_source_stamp(self) -> str:
        """The content hash of the function's module (not its mtime, which a clone resets)."""
        return source_stamp(self._py_file)

    def get_disambiguator(self) -> str:
        """The function's first line, as numba's own locators (``name-<line>.pyXY.nbi``)."""
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> ProjectCacheLocator | None:
        """A locator for a function of this project's packages, None for anything else."""
        if cls.folder is None:
            return None
        try:
            relative = Path(py_file).resolve().relative_to(ROOT)
        except (OSError, ValueError):
            return None
        if relative.parts[0] not in PACKAGES:
            return None
        self = cls(py_func, py_file, relative)
        try:
            self.ensure_cache_path()
        except OSError:
            return None
        return self


def _impl_classes() -> list[type]:
    """numba's cache implementation base classes holding ``_locator_classes`` (renamed in 0.6x)."""
    return [cls for cls in (getattr(caching, "CacheImpl", None), getattr(caching, "_CacheImpl", None))
            if cls is not None and isinstance(getattr(cls, "_locator_classes", None), list)]  # fmt: skip


def install(cache_dir: Path) -> Path:
    """Use ``cache_dir/<kernel key>`` for this project's compiled kernels from now on.

    Call before any kernel module is imported: numba picks a function's locator when the
    function is decorated. Prunes the key folders beyond the :data:`KEEP` most recent.

    Returns:
        The key folder in use.

    Raises:
        OSError: the folder cannot be created.
    """
    folder = cache_dir / kernel_key()
    folder.mkdir(parents=True, exist_ok=True)
    os.utime(folder)  # most recently used: pruning keeps it
    ProjectCacheLocator.folder = folder
    for impl in _impl_classes():
        if ProjectCacheLocator not in impl._locator_classes:
            impl._locator_classes.insert(0, ProjectCacheLocator)
    from solver.kernels import sources

    cached_modules = {path.removesuffix(".py").replace("/", ".") for path in sources.DEPENDENCIES}
    early = [name for name in sys.modules if name in cached_modules]
    if early:
        logger.warning("kernel cache: %s imported before the cache was installed; they use numba's "
                       "default cache", ", ".join(sorted(early)))  # fmt: skip
    prune(cache_dir, KEEP)
    return folder


def uninstall() -> None:
    """Stop placing new functions in the cache (functions already decorated keep their locator)."""
    ProjectCacheLocator.folder = None
    for impl in _impl_classes():
        if ProjectCacheLocator in impl._locator_classes:
            impl._locator_classes.remove(ProjectCacheLocator)


def compiled_entries(folder: Path) -> int:
    """How many compiled overloads (``*.nbc`` files) a key folder holds."""
    return sum(1 for _ in folder.rglob("*.nbc"))


def prune(cache_dir: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` most recently used key folders of ``cache_dir``; return them."""
    try:
        folders = [p for p in cache_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    removed = folders[keep:]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def install_from_env() -> tuple[str, str]:
    """Install the cache named by ``$ARZ_KERNEL_CACHE_DIR`` if any.

    Never raises: a cache that cannot be used leaves numba's default in place (and says so).

    Returns:
        ``(state, line)``: state ``warm`` (compiled kernels found), ``cold`` or ``off``, and a
        one-line status for the log.
    """
    cache_dir = cache_dir_from_env()
    if cache_dir is None:
        return "off", "kernel cache: numba's default (ARZ_KERNEL_CACHE_DIR unset or off)"
    try:
        folder = install(cache_dir)
    except ModuleNotFoundError as exc:
        return "off", f"kernel cache: not used (no {exc.name} in this tree: no cached kernels)"
    except (OSError, ImportError, AttributeError) as exc:  # read-only folder, another solver…
        return "off", f"kernel cache: not used ({type(exc).__name__}: {exc})"
    entries = compiled_entries(folder)
    if entries:
        return "warm", f"kernel cache: {folder} (warm, {entries} compiled kernels)"
    return "cold", f"kernel cache: {folder} (cold, kernels compile on first use)"
