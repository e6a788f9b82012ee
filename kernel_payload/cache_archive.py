"""The compiled-kernel cache as one archive in the job's output, for a kernel that loses its disk.

Why: a Kaggle kernel's ``~/.cache`` vanishes with the kernel, so every Kaggle job compiles its
numba kernels cold. When the bootstrap asks for it (``$ARZ_KERNEL_CACHE_EXPORT=1``) and this run
compiled something, the payload writes the key folder it used (:mod:`kernel_payload.kernel_cache`)
as ``kernel_cache/arz-kcache-<key16>.tar`` into the output folder; the orchestrator can keep it
(e.g. as a private dataset of that name) and attach it to the next job, whose bootstrap unpacks
it into the kernel cache folder before the payload starts.

Key: :func:`archive_key` = sha256 of the kernel key (kernel sources, numba and Python versions)
and the CPU (LLVM's host CPU name and features): another CPU or other sources give another name.
A mismatch is never an error: the kernel key folder inside the archive is simply not the one the
payload looks for, and numba's own index still checks each entry's CPU and bytecode -- cold, as
without an archive.

Archive layout: ``<kernel key>/<package>/<numba index and object files>`` (paths relative to the
cache folder), regular files only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
from pathlib import Path

logger = logging.getLogger(__name__)

EXPORT_ENV = "ARZ_KERNEL_CACHE_EXPORT"
FOLDER = "kernel_cache"
"""Output subfolder holding the archive."""
PREFIX = "arz-kcache-"


def cpu_identity() -> str:
    """LLVM's name and feature string of this machine's CPU (what numba compiles for)."""
    from llvmlite import binding

    return f"{binding.get_host_cpu_name()} {binding.get_host_cpu_features().flatten()}"


def archive_key(kernel_key: str, cpu: str | None = None) -> str:
    """16 hex digits naming the archive: the kernel key and the CPU (:func:`cpu_identity`)."""
    cpu = cpu_identity() if cpu is None else cpu
    return hashlib.sha256(f"{kernel_key}\0{cpu}".encode()).hexdigest()[:16]


def archive_name(kernel_key: str, cpu: str | None = None) -> str:
    """``arz-kcache-<key16>.tar``."""
    return f"{PREFIX}{archive_key(kernel_key, cpu)}.tar"


def export(key_folder: Path, out_dir: Path, cpu: str | None = None) -> Path | None:
    """Write ``key_folder`` as ``out_dir/kernel_cache/arz-kcache-<key16>.tar``; None when empty.

    Members are the key folder's regular files, named relative to its parent (so they begin with
    the kernel key), in sorted order.
    """
    files = sorted(p for p in key_folder.rglob("*") if p.is_file() and not p.is_symlink())
    if not files:
        return None
    target = out_dir / FOLDER / archive_name(key_folder.name, cpu)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tar.part")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(key_folder.parent).as_posix(), recursive=False)
    os.replace(partial, target)
    return target


def export_from_env(key_folder: Path | None, compiled: int, out_dir: Path) -> str | None:
    """Export when ``$ARZ_KERNEL_CACHE_EXPORT`` is set and this run compiled kernels.

    Never raises (the archive is an optimisation of the next job); returns a line for the log.
    """
    if os.environ.get(EXPORT_ENV, "") not in ("1", "true") or key_folder is None:
        return None
    if not compiled:
        return "kernel cache archive: nothing compiled in this run, none written"
    try:
        path = export(key_folder, out_dir)
    except (OSError, ImportError, tarfile.TarError) as exc:
        logger.warning("kernel cache archive not written: %s: %s", type(exc).__name__, exc)
        return f"kernel cache archive: not written ({type(exc).__name__})"
    if path is None:
        return "kernel cache archive: the cache folder is empty, none written"
    return f"kernel cache archive: {path.relative_to(out_dir)} ({path.stat().st_size} bytes)"
