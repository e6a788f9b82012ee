"""The execution-backend protocol shared by the local and Kaggle backends.

A backend runs one *kernel* (a stdlib-only bootstrap script that clones the pinned commit and runs
``python -m kernel_payload``) somewhere, and exposes its lifecycle. Every method takes the
:class:`KernelRef` returned by :meth:`ExecutionBackend.push`, so a job can be resumed from the
registry after the orchestrator restarts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from orchestrator.errors import BackendError

__all__ = [
    "BackendError", "ExecutionBackend", "JobStatus", "KernelRef", "PushRequest", "RemoteStatus",
]  # fmt: skip


class JobStatus(str, enum.Enum):
    """Lifecycle of a job as the orchestrator sees it (one vocabulary for every backend)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    def is_terminal(self) -> bool:
        """True once the kernel will not change any more (outputs may be downloaded)."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class KernelRef:
    """Identifies one pushed kernel run.

    Attributes:
        backend: registry name of the backend (``"local"`` or ``"kaggle"``).
        slug: the kernel slug, fresh per run (``arz-<job>-<sha8>-<rand>``).
        owner: account that owns the kernel (``"local"`` for the local backend).
        version: pinned kernel version (Kaggle ``vN``), or None where it does not apply.
        workdir: backend-specific handle (the local backend's working folder), or "".
    """

    backend: str
    slug: str
    owner: str
    version: int | None = None
    workdir: str = ""


@dataclass(frozen=True)
class RemoteStatus:
    """What a backend knows about a kernel right now.

    Attributes:
        status: mapped status.
        raw: the backend's own word for it (e.g. Kaggle's ``KernelWorkerStatus``).
        message: failure message, when the backend gives one.
    """

    status: JobStatus
    raw: str = ""
    message: str = ""


@dataclass
class PushRequest:
    """Everything a backend needs to start a kernel.

    Attributes:
        slug: fresh kernel slug; the title must match it.
        script: the generated bootstrap (stdlib-only Python source).
        gpu: whether to ask for a GPU (Kaggle ``machine_shape: NvidiaTeslaT4``).
        internet: whether the kernel needs internet (it clones the repository).
        private: kernel visibility.
        extra: backend-specific options.
    """

    slug: str
    script: str
    gpu: bool = False
    internet: bool = True
    private: bool = True
    extra: dict = field(default_factory=dict)


@runtime_checkable
class ExecutionBackend(Protocol):
    """Push, observe, download and cancel one kernel. Implementations raise ``BackendError``s."""

    name: str
    requires_push: bool
    """True when the kernel clones from the git remote (Kaggle), so ``arz submit`` must push first;
    False when it clones the local working tree's repository (local)."""

    def push(self, request: PushRequest) -> KernelRef:
        """Start the kernel; return a reference pinned to this exact run."""

    def status(self, ref: KernelRef) -> RemoteStatus:
        """Current status of the pinned run."""

    def logs(self, ref: KernelRef, follow: bool = False) -> Iterator[str]:
        """Log lines from the start, each once; with ``follow`` until the kernel ends."""

    def download(self, ref: KernelRef, dest: Path) -> list[Path]:
        """Download every output file into ``dest`` (a staging folder); return the paths."""

    def cancel(self, ref: KernelRef) -> None:
        """Stop the run (Kaggle: delete the kernel after downloading what exists)."""
