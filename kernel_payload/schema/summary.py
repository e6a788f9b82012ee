"""``session_summary.json``: statuses, errors, the artifact manifest and the summary itself."""

from __future__ import annotations

import enum
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, computed_field, model_validator

from kernel_payload.schema._base import _Model

SUMMARY_FILE = "session_summary.json"


class RunStatus(str, enum.Enum):
    """Computed result of a job: every requested suite succeeded, something failed, or neither."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIAL = "partial"


class SuiteStatus(str, enum.Enum):
    """State of one suite inside a run."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not_run"

    def is_failure(self) -> bool:
        """True for states that make the whole job ``failed``."""
        return self in (SuiteStatus.FAILED, SuiteStatus.INTERRUPTED)


class ErrorInfo(_Model):
    """An error that stopped a suite or the job.

    Attributes:
        type: exception class name (``Interrupted`` for a signal).
        message: the exception message.
        traceback_tail: the last lines of the traceback.
        suite: the suite it happened in, or None for the job itself.
    """

    type: str
    message: str
    traceback_tail: str = ""
    suite: str | None = None


class ArtifactEntry(_Model):
    """One output file in the manifest.

    Attributes:
        path: path relative to the output folder, with ``/`` separators.
        bytes: size in bytes.
        sha256: hex digest of the content.
    """

    path: str
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @classmethod
    def from_file(cls, root: Path, path: Path) -> ArtifactEntry:
        """Describe ``path`` (inside ``root``) by its relative path, size and sha256."""
        return cls(
            path=path.relative_to(root).as_posix(),
            bytes=path.stat().st_size,
            sha256=file_sha256(path),
        )

    def problem(self, root: Path) -> str | None:
        """What is wrong with this file under ``root`` (missing, size, hash), or None if it matches."""
        path = root / self.path
        if not path.is_file():
            return "missing"
        size = path.stat().st_size
        if size != self.bytes:
            return f"size {size} bytes, manifest says {self.bytes}"
        if file_sha256(path) != self.sha256:
            return "sha256 differs from the manifest (content changed)"
        return None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SuiteResult(_Model):
    """Outcome of one suite.

    Attributes:
        name: suite name.
        status: its state.
        started_at: start time (UTC).
        duration_s: wall time in s.
        metrics: headline numbers of the suite.
        artifacts: files it wrote, relative to the output folder.
        reason: why it was skipped or failed, in one line.
        error: the error that stopped it, if any.
    """

    name: str
    status: SuiteStatus = SuiteStatus.PENDING
    started_at: datetime | None = None
    duration_s: float | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    artifacts: list[str] = Field(default_factory=list)
    reason: str = ""
    error: ErrorInfo | None = None


class DeviceInfo(_Model):
    """Where the payload ran.

    Attributes:
        requested: the job's ``device`` setting.
        kind: ``cpu`` or ``gpu``, as resolved.
        name: the device used (GPU name, or the CPU model).
        cpu: CPU model.
        cpu_count: logical CPUs.
        gpu: GPU name, or None when no GPU is visible.
        python: Python version.
        platform: OS platform string.
        note: why a visible GPU was not used (empty when nothing needs saying).
    """

    requested: str
    kind: Literal["cpu", "gpu"]
    name: str
    cpu: str
    cpu_count: int
    gpu: str | None = None
    python: str
    platform: str
    note: str = ""


class SessionSummary(_Model):
    """``session_summary.json``: written by the payload on success, failure and interruption.

    ``status`` is computed from the suites and the error, never stored by hand: ``failed`` when an
    error stopped the job or a suite failed or was interrupted, ``partial`` when a requested suite was
    skipped or did not run (or the run has not finished), ``succeeded`` only when all suites did.
    """

    schema_version: int = 1
    job_id: str
    job_name: str
    job_description: str = ""
    slug: str = ""
    commit_sha: str = ""
    repo_url: str = ""
    started_at: datetime
    finished_at: datetime | None = None
    device: DeviceInfo | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    suites: list[SuiteResult] = Field(default_factory=list)
    artifacts: list[ArtifactEntry] = Field(default_factory=list)
    error: ErrorInfo | None = None
    startup: dict[str, float | int | str] = Field(default_factory=dict)
    """Where the start-up went, in seconds (kernel_payload/startup.py): ``clone_s``,
    ``install_s``, ``imports_s``, ``compile_s`` / ``kernels_compiled``, ``kernel_cache``
    (warm|cold|off), ``first_count_s`` and ``first_ppo_s`` (after the kernel started)."""

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in ("status", "reason", "duration_s")}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> RunStatus:
        """The computed result of the run."""
        if self.error is not None or any(s.status.is_failure() for s in self.suites):
            return RunStatus.FAILED
        if (
            self.finished_at is None
            or not self.suites
            or any(s.status != SuiteStatus.SUCCEEDED for s in self.suites)
        ):
            return RunStatus.PARTIAL
        return RunStatus.SUCCEEDED

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reason(self) -> str:
        """One line saying why the run did not succeed ("" when it did): the first error, then
        every other suite that did not succeed."""
        parts = []
        if self.error is not None:
            where = f" in suite '{self.error.suite}'" if self.error.suite else ""
            parts.append(f"{self.error.type}{where}: {self.error.message}")
        parts += [
            f"{s.name} {s.status.value}" + (f" ({s.reason})" if s.reason else "")
            for s in self.suites
            if s.status != SuiteStatus.SUCCEEDED
            and (self.error is None or s.name != self.error.suite)
        ]
        if self.finished_at is None:
            parts.insert(0, "run not finished")
        return "; ".join(parts) if parts else ("" if self.suites else "no suite ran")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_s(self) -> float | None:
        """Wall time of the run in s (None while it runs)."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def suite(self, name: str) -> SuiteResult:
        """The result of suite ``name`` (KeyError when the job did not request it)."""
        for result in self.suites:
            if result.name == name:
                return result
        raise KeyError(name)

    def write(self, folder: Path) -> Path:
        """Write ``session_summary.json`` into ``folder`` atomically; return its path."""
        path = folder / SUMMARY_FILE
        tmp = folder / f".{SUMMARY_FILE}.tmp"
        tmp.write_text(json.dumps(self.model_dump(mode="json"), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, folder: Path) -> SessionSummary:
        """Load ``session_summary.json`` from ``folder``."""
        return cls.model_validate_json((folder / SUMMARY_FILE).read_text())
