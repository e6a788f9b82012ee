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
    """The kernel's lifecycle, in the same words on every backend.

    It says whether the kernel is still going and how it ended, never whether the job's suites
    succeeded: that is the job's *result* (``succeeded | failed | partial | unknown``), read from
    its ``session_summary.json``. The bootstrap exits 0 whenever it wrote a summary, so a kernel
    can be ``complete`` while its result is ``failed``.

    ``submitting`` (recorded, not yet started), ``queued``, ``running``, ``complete`` (the kernel
    exited 0), ``error`` (it exited non-zero, vanished, hit its deadline, or the platform failed
    it), ``cancelled``, ``unknown`` (a word no mapping knows).
    """

    SUBMITTING = "submitting"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    def is_terminal(self) -> bool:
        """True once the kernel will not change any more (outputs may be downloaded)."""
        return self in (JobStatus.COMPLETE, JobStatus.ERROR, JobStatus.CANCELLED)

    @classmethod
    def _missing_(cls, value: object) -> JobStatus | None:
        """Registries written before the split stored ``succeeded``/``failed`` as the status."""
        return {"succeeded": cls.COMPLETE, "failed": cls.ERROR}.get(value)  # type: ignore[arg-type]


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
    """True when the kernel runs off this machine (Kaggle): the code travels as the job's
    ``kaggle.code`` says, and ``arz submit`` pushes first only for the ``git`` transport; False
    when it clones the local working tree's repository (local). (The name predates the inline
    transport.)"""

    def push(self, request: PushRequest) -> KernelRef:
        """Start the kernel; return a reference pinned to this exact run."""

    def find(self, slug: str, gpu: bool = False, deadline_s: float | None = None) -> KernelRef | None:
        """The run of ``slug`` if a push of it landed, else None (then it is safe to push it).

        For a push whose answer was lost (the process died after recording the job and before
        storing the reference): the reference, and the run's local state, as ``push`` would have
        made them. ``gpu`` and ``deadline_s`` (None: the backend's default) are the job's, kept
        in that state."""

    def status(self, ref: KernelRef) -> RemoteStatus:
        """Current status of the pinned run."""

    def logs(self, ref: KernelRef, follow: bool = False) -> Iterator[str]:
        """Log lines from the start, each once; with ``follow`` until the kernel ends."""

    def download(self, ref: KernelRef, dest: Path, max_bytes: int | None = None) -> list[Path]:
        """Download every output file into ``dest`` (a staging folder); return the paths.

        Links and special files are refused without being followed; at most ``max_bytes`` bytes
        are written (counted while streaming), else ``OutputRefused``.
        """

    def fetch_summary(self, ref: KernelRef, dest: Path) -> Path | None:
        """Fetch only the top-level ``session_summary.json`` into ``dest`` (None: there is none)."""

    def cancel(self, ref: KernelRef) -> object:
        """Stop the run (Kaggle: delete the kernel after downloading what exists)."""
