"""Compiled numba kernels carried from one Kaggle job to the next through a private dataset.

A Kaggle kernel's disk vanishes with it, so without help every job compiles its kernels cold.
The Kaggle backend therefore

1. sets ``export_kernel_cache: true`` in the kernel's bootstrap configuration: a payload that
   compiled something writes ``kernel_cache/arz-kcache-<key16>.tar`` into its output
   (:mod:`kernel_payload.cache_archive`; key = kernel sources, numba and Python versions, CPU);
2. attaches the repository's cache dataset ``<owner>/arz-kcache-<repo-slug>`` with
   ``dataset_sources`` when it exists: the bootstrap unpacks the archive into the kernel cache
   before the payload starts (``restore_kernel_cache``); another key simply means cold;
3. after a verified pull of a succeeded job holding such an archive, makes it the dataset's new
   version -- unless the latest version already holds a file of that name (same key: nothing is
   uploaded).

The cache is an optimisation only: failing to look it up, attach it or upload it is a warning
line, never a failed push or pull. The archive stays in the results under its own folder
``kernel_cache/`` (it is in the manifest, so the pull verifies it), apart from the suites' results.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from orchestrator.backends.kaggle.datasets import CodeDatasets
from orchestrator.kernel_builder import CONFIG_LINE, embedded_config

log = logging.getLogger(__name__)
PREFIX = "arz-kcache-"
FOLDER = (
    "kernel_cache"  # kernel_payload.cache_archive.FOLDER (not imported: it needs numba's llvmlite)
)
SLUG_MAX = 50
STATE_KEY = "kernel_cache_dataset"  # in KernelState.extra: the dataset a pull uploads to


def cache_dataset_slug(root: Path) -> str:
    """``arz-kcache-<repo-slug>``: the repository folder's name as the code dataset spells it."""
    name = re.sub(r"[^a-z0-9]+", "-", Path(root).resolve().name.lower()).strip("-") or "repo"
    return (PREFIX + name)[:SLUG_MAX].rstrip("-")


def with_cache_export(script: str) -> str:
    """The kernel script with ``export_kernel_cache: true`` in its embedded configuration.

    Raises:
        ValueError: the script has no ``CONFIG_JSON`` line (not a bootstrap).
    """
    config = embedded_config(script)
    config["export_kernel_cache"] = True
    literal = json.dumps(json.dumps(config))
    return CONFIG_LINE.sub(lambda _m: f"CONFIG_JSON = {literal}", script, count=1)


def cache_archive(results: Path) -> Path | None:
    """The kernel-cache archive a pulled job holds (``kernel_cache/arz-kcache-*.tar``), or None."""
    found = sorted((results / FOLDER).glob(f"{PREFIX}*.tar")) if (results / FOLDER).is_dir() else []
    return found[-1] if found else None


class KernelCacheDataset:
    """Looks up, attaches and updates a repository's private kernel-cache dataset.

    Args:
        datasets: the dataset client shared with the code and wheelhouse datasets.
    """

    def __init__(self, datasets: CodeDatasets):
        self.datasets = datasets

    @staticmethod
    def slug_for(extra: dict) -> str | None:
        """The cache dataset of the job's repository (``extra["repo_root"]``); None without one."""
        root = extra.get("repo_root")
        return cache_dataset_slug(root) if root else None

    def sources(self, slug: str | None) -> list[str]:
        """``[owner/slug]`` to attach when the dataset exists and is ready now; ``[]`` otherwise.

        A version still processing, or a question Kaggle could not answer, is a warning and this
        job starts cold: the push never waits for (nor fails on) the cache.
        """
        if not slug:
            return []
        try:
            files = self.datasets.ready_files_now(slug)  # never waits for a version
        except Exception as err:  # noqa: BLE001 -- an optimisation must never stop a push
            log.warning("kernel cache dataset %s not attached (%s: %s); this job compiles cold",
                        slug, type(err).__name__, err)  # fmt: skip
            return []
        return [f"{self.datasets.connection.owner}/{slug}"] if files else []

    def keep(self, slug: str | None, results: Path) -> str | None:
        """Upload the pulled job's cache archive as a new version of ``slug`` when it is new.

        Only for a succeeded job (its ``session_summary.json``) pushed with a cache dataset
        (``slug``). Never raises; returns the dataset file's name when the dataset holds it
        afterwards, None otherwise.
        """
        archive = cache_archive(results) if slug else None
        if archive is None or not _succeeded(results):
            return None
        try:
            self.datasets.publish(slug, archive.name, archive.read_bytes,
                                  f"arz compiled kernels {archive.stem.removeprefix(PREFIX)}")  # fmt: skip
        except Exception as err:  # noqa: BLE001 -- the job itself succeeded; the cache is a bonus
            log.warning("the compiled-kernel cache %s was not uploaded to dataset %s (%s: %s); "
                        "the next job compiles cold", archive.name, slug, type(err).__name__, err)  # fmt: skip
            return None
        return archive.name


def _succeeded(results: Path) -> bool:
    try:
        from kernel_payload.schema import SessionSummary

        return SessionSummary.read(results).status.value == "succeeded"
    except Exception:  # noqa: BLE001 -- no readable summary: not a job to learn from
        return False
