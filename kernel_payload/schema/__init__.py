"""Pydantic contracts shared by the kernel payload and the orchestrator.

Everything that crosses a file or a process boundary between the laptop and the kernel lives here:
the job file (:class:`JobSpec`), what the bootstrap hands the payload (:class:`KernelSpec`), the
progress events printed as ``@@arz {json}`` lines (:class:`ProgressEvent`) and the
``session_summary.json`` the payload leaves behind (:class:`SessionSummary`).

This module imports only the standard library and pydantic (the orchestrator imports it at start-up).
"""

from pydantic import ValidationError

from kernel_payload.schema.job import (
    BUILTIN_SUITES,
    DEFAULT_MAX_RESULT_BYTES,
    TEST_SUITES_ENV,
    BenchSettings,
    JobSpec,
    KaggleSettings,
    KernelSpec,
    ResultsSettings,
    RLSettings,
    VerifySettings,
    extra_suite_names,
)
from kernel_payload.schema.progress import EVENT_PREFIX, ProgressEvent
from kernel_payload.schema.summary import (
    SUMMARY_FILE,
    ArtifactEntry,
    DeviceInfo,
    ErrorInfo,
    RunStatus,
    SessionSummary,
    SuiteResult,
    SuiteStatus,
    file_sha256,
)

__all__ = [
    "BUILTIN_SUITES",
    "DEFAULT_MAX_RESULT_BYTES",
    "EVENT_PREFIX",
    "SUMMARY_FILE",
    "TEST_SUITES_ENV",
    "ArtifactEntry",
    "BenchSettings",
    "DeviceInfo",
    "ErrorInfo",
    "JobSpec",
    "KaggleSettings",
    "KernelSpec",
    "ProgressEvent",
    "RLSettings",
    "ResultsSettings",
    "RunStatus",
    "SessionSummary",
    "SuiteResult",
    "SuiteStatus",
    "ValidationError",
    "VerifySettings",
    "extra_suite_names",
    "file_sha256",
]
