"""The suite registry and the context every suite receives.

A suite is a function ``run(ctx: SuiteContext) -> None`` that writes its files under ``ctx.root``
(``figures/``, ``data/metrics/``, ``data/models/``, ``latex/``), records headline numbers in
``ctx.metrics`` as it goes, reports progress with ``ctx.progress(stage, done, total)``, raises
:class:`~kernel_payload.errors.SuiteSkipped` when it cannot run here and any other exception when
it fails. Suites are resolved lazily by name, so the payload imports numba, torch or matplotlib only
for the suites a job asks for.

For tests only, ``$ARZ_TEST_SUITES`` (``name=module:function;...``) adds suites to the registry.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel_payload.errors import UnknownSuite
from kernel_payload.events import ProgressCallback
from kernel_payload.schema import TEST_SUITES_ENV, DeviceInfo, JobSpec

SUITES: dict[str, str] = {
    "verify": "kernel_payload.suites.verify:run",
    "rl": "kernel_payload.suites.rl:run",
    "bench": "kernel_payload.suites.bench:run",
}
"""Suite name -> ``module:function``, imported only when the suite runs."""


@dataclass
class SuiteContext:
    """What a suite gets to work with.

    Attributes:
        name: suite name.
        root: the suite's output folder (``OUT/<suite>``).
        job: the whole job spec.
        device: the resolved device.
        progress: ``progress(stage, done, total)``, emitted as ``<suite>/<stage>`` events.
        metrics: headline numbers; kept in the summary even when the suite fails later.
        background: the runner finishes work the suite starts with :mod:`kernel_payload.background`
            (a later suite follows); False: the suite makes every file itself before it returns.
    """

    name: str
    root: Path
    job: JobSpec
    device: DeviceInfo
    progress: ProgressCallback
    metrics: dict[str, Any] = field(default_factory=dict)
    background: bool = False

    @property
    def figures_dir(self) -> Path:
        """``<suite>/figures`` (PNG files)."""
        return self._sub("figures")

    @property
    def metrics_dir(self) -> Path:
        """``<suite>/data/metrics`` (CSV files)."""
        return self._sub("data", "metrics")

    @property
    def models_dir(self) -> Path:
        """``<suite>/data/models`` (model zips)."""
        return self._sub("data", "models")

    @property
    def latex_dir(self) -> Path:
        """``<suite>/latex`` (standalone ``.tex`` tables)."""
        return self._sub("latex")

    def _sub(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path


SuiteFunction = Callable[[SuiteContext], None]


def registered_suites() -> dict[str, str]:
    """The built-in suites plus any test-only suites from ``$ARZ_TEST_SUITES``."""
    suites = dict(SUITES)
    for entry in os.environ.get(TEST_SUITES_ENV, "").split(";"):
        if "=" in entry:
            name, target = entry.split("=", 1)
            suites[name.strip()] = target.strip()
    return suites


def resolve_suite(name: str) -> SuiteFunction:
    """Import and return the ``run`` function of suite ``name``.

    Raises:
        UnknownSuite: the name is not registered.
    """
    target = registered_suites().get(name)
    if target is None:
        raise UnknownSuite(f"unknown suite '{name}'; known: {', '.join(registered_suites())}")
    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function or "run")
