"""Pydantic contracts shared by the kernel payload and the orchestrator.

Everything that crosses a file or a process boundary between the laptop and the kernel lives here:
the job file (:class:`JobSpec`), what the bootstrap hands the payload (:class:`KernelSpec`), the
progress events printed as ``@@arz {json}`` lines (:class:`ProgressEvent`) and the
``session_summary.json`` the payload leaves behind (:class:`SessionSummary`).

This module imports only the standard library and pydantic (the orchestrator imports it at start-up).
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)

__all__ = [
    "BUILTIN_SUITES",
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
    "RunStatus",
    "SessionSummary",
    "SuiteResult",
    "SuiteStatus",
    "ValidationError",
    "VerifySettings",
]

BUILTIN_SUITES = ("verify", "rl", "bench")
"""Suites every kernel knows."""

TEST_SUITES_ENV = "ARZ_TEST_SUITES"
"""Test-only: ``name=module:function[;...]`` suites the runner adds to its registry."""

EVENT_PREFIX = "@@arz "
"""Every progress event is printed as one line: this prefix, then the event as JSON."""

SUMMARY_FILE = "session_summary.json"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|m|h)?\s*$")
_SECONDS_PER_UNIT = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def extra_suite_names() -> list[str]:
    """Names of the test-only suites declared in ``$ARZ_TEST_SUITES`` (empty in normal use)."""
    entries = os.environ.get(TEST_SUITES_ENV, "")
    return [e.split("=", 1)[0].strip() for e in entries.split(";") if "=" in e]


# --------------------------------------------------------------------------------------- job file
class RLSettings(_Model):
    """PPO training and controller evaluation (the ``rl`` suite).

    Attributes:
        env: Gymnasium environment id.
        timesteps: PPO timesteps per training seed.
        n_envs: parallel environments during training.
        seeds: training seeds (one model each); None means the job's top-level ``seeds``.
        eval_episodes: evaluation episodes per controller and evaluation seed.
        eval_seeds: evaluation seeds (kept apart from the training seeds).
        controllers: controllers to compare; ``ppo`` stands for every model trained here.
        env_kwargs: extra keyword arguments for the environment.
    """

    env: str = "arz-corridor-v0"
    timesteps: PositiveInt = 20_000
    n_envs: PositiveInt = 4
    seeds: list[int] | None = None
    eval_episodes: PositiveInt = 5
    eval_seeds: list[int] = Field(default_factory=lambda: [1000])
    controllers: list[str] = Field(
        default_factory=lambda: ["ppo", "fixed-time", "actuated", "max-pressure"], min_length=1
    )
    env_kwargs: dict[str, Any] = Field(default_factory=dict)


class VerifySettings(_Model):
    """Numerics verification (the ``verify`` suite): ``quick`` (< 1 min) or ``full``."""

    level: Literal["quick", "full"] = "quick"


class BenchSettings(_Model):
    """Throughput benchmark (the ``bench`` suite); ``quick`` keeps it under a minute."""

    quick: bool = True


class KaggleSettings(_Model):
    """Kaggle kernel settings.

    Attributes:
        accelerator: ``NvidiaTeslaT4`` or None for a CPU kernel.
        private: kernel visibility.
        internet: the kernel clones the repository, so this is normally on.
        deadline: wall-clock budget in seconds (accepts ``"2h"``, ``"90 min"``); None = Kaggle's.
    """

    accelerator: Literal["NvidiaTeslaT4"] | None = "NvidiaTeslaT4"
    private: bool = True
    internet: bool = True
    deadline: PositiveInt | None = None

    @field_validator("deadline", mode="before")
    @classmethod
    def _parse_deadline(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a duration; write e.g. 3600, '90 min' or '2h'")
        return int(float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)])


class JobSpec(_Model):
    """A job file (``jobs/*.yml``): what to run, where and with which settings.

    Attributes:
        name: short name (letters, digits, ``-``, ``_``); it appears in the commit and kernel slug.
        description: free text.
        suites: suites to run, in order (``verify``, ``rl``, ``bench``).
        scenario: scenario file or name handed to the RL environment, or None.
        rl, verify, bench: per-suite settings.
        device: ``auto`` (GPU when one is visible), ``cpu`` or ``gpu`` (fail without a GPU).
        backend: default backend (the CLI's ``--backend`` overrides it).
        kaggle: Kaggle kernel settings.
        seeds: the job's seeds (RL training seeds unless ``rl.seeds`` is set).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
    description: str = ""
    suites: list[str] = Field(min_length=1)
    scenario: str | None = None
    rl: RLSettings = Field(default_factory=RLSettings)
    verify: VerifySettings = Field(default_factory=VerifySettings)
    bench: BenchSettings = Field(default_factory=BenchSettings)
    device: Literal["auto", "cpu", "gpu"] = "auto"
    backend: Literal["local", "kaggle"] = "local"
    kaggle: KaggleSettings = Field(default_factory=KaggleSettings)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("suites")
    @classmethod
    def _known_suites(cls, suites: list[str]) -> list[str]:
        known = [*BUILTIN_SUITES, *extra_suite_names()]
        for suite in suites:
            if suite not in known:
                raise ValueError(f"unknown suite '{suite}'; choose from {', '.join(known)}")
        if len(set(suites)) != len(suites):
            raise ValueError("a suite is listed twice")
        return suites

    @property
    def training_seeds(self) -> list[int]:
        """Seeds of the RL training runs."""
        return self.rl.seeds if self.rl.seeds is not None else self.seeds


class KernelSpec(_Model):
    """What the bootstrap hands ``python -m kernel_payload --spec``: the job plus its identity."""

    job_id: str
    slug: str
    commit_sha: str
    repo_url: str = ""
    job: JobSpec


# -------------------------------------------------------------------------------- progress events
class ProgressEvent(_Model):
    """One progress event, printed by the payload as ``@@arz {json}`` and flushed.

    Attributes:
        stage: ``job``, ``bootstrap``, a suite name, or ``<suite>/<step>`` for steps inside a suite.
        done: units finished so far (None for a plain message).
        total: units in the stage, when known.
        metrics: numbers worth showing live (e.g. ``{"l1": 1.2e-4}``).
        message: short human text.
        status: final status when the event closes a stage (e.g. ``succeeded``).
        time: Unix time of the event in s.
    """

    stage: str
    done: int | None = None
    total: int | None = None
    metrics: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    message: str = ""
    status: str | None = None
    time: float = 0.0

    def to_line(self) -> str:
        """The event as one ``@@arz`` line (no newline)."""
        return EVENT_PREFIX + self.model_dump_json(exclude_defaults=True)

    @classmethod
    def from_line(cls, line: str) -> ProgressEvent | None:
        """Parse a log line; None when it is not a well-formed event."""
        text = line.strip()
        if not text.startswith(EVENT_PREFIX.strip()):
            return None
        try:
            return cls.model_validate_json(text[len(EVENT_PREFIX.strip()) :].strip())
        except ValidationError:
            return None


# ------------------------------------------------------------------------------- session summary
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
    """

    requested: str
    kind: Literal["cpu", "gpu"]
    name: str
    cpu: str
    cpu_count: int
    gpu: str | None = None
    python: str
    platform: str


class SessionSummary(_Model):
    """``session_summary.json``: written by the payload on success, failure and interruption.

    ``status`` is computed from the suites and the error, never stored by hand: ``failed`` when an
    error stopped the job or a suite failed or was interrupted, ``partial`` when a requested suite was
    skipped or did not run (or the run has not finished), ``succeeded`` only when all suites did.
    """

    schema_version: int = 1
    job_id: str
    job_name: str
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
        """One line saying why the run did not succeed ("" when it did)."""
        if self.error is not None:
            where = f" in suite '{self.error.suite}'" if self.error.suite else ""
            return f"{self.error.type}{where}: {self.error.message}"
        parts = [
            f"{s.name} {s.status.value}" + (f" ({s.reason})" if s.reason else "")
            for s in self.suites
            if s.status != SuiteStatus.SUCCEEDED
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
