"""Pydantic contracts shared by the kernel payload and the orchestrator.

Everything that crosses a file or a process boundary between the laptop and the kernel lives here:
the job file (:class:`JobSpec`), what the bootstrap hands the payload (:class:`KernelSpec`), the
progress events printed as ``@@arz {json}`` lines (:class:`ProgressEvent`) and the
``session_summary.json`` the payload leaves behind (:class:`SessionSummary`).

This module imports only the standard library and pydantic, lazily: names load on first use.
"""

import importlib
from typing import Any

_EXPORTS = {
    "ValidationError": "pydantic",
    **dict.fromkeys(("BUILTIN_SUITES", "TEST_SUITES_ENV", "BenchSettings", "JobSpec", "KaggleSettings",
                     "KernelSpec", "RLSettings", "ResultsSettings", "DEFAULT_MAX_RESULT_BYTES", "VerifySettings", "extra_suite_names"),
                    "kernel_payload.schema.job"),
    **dict.fromkeys(("EVENT_PREFIX", "ProgressEvent", "Stage"), "kernel_payload.schema.progress"),
    **dict.fromkeys(("SUMMARY_FILE", "ArtifactEntry", "DeviceInfo", "ErrorInfo", "RunStatus", "SessionSummary",
                     "SuiteResult", "SuiteStatus", "file_sha256"), "kernel_payload.schema.summary"),
}  # fmt: skip
"""Public name -> the module that defines it; imported on first use (PEP 562), so that importing
``kernel_payload.schema.errors`` -- the error funnel ``arz`` loads at start-up -- costs no pydantic."""


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access and cache the value here."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


__all__ = sorted(_EXPORTS)
