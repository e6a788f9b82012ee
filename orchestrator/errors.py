"""The orchestrator's exception hierarchy.

Library code raises these; only :mod:`orchestrator.cli` turns them into exit codes (one place,
``exit_code_for``). Every message says what happened, the likely cause and the fix, on one line.
"""

from __future__ import annotations


class ArzError(Exception):
    """Base class of every orchestrator error.

    Attributes:
        message: what happened (and the likely cause).
        fix: what the user can do about it, or "".
        exit_code: the CLI exit code (1 = job/run failed, 2 = bad input or set-up).
    """

    exit_code = 1

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} Fix: {self.fix}" if self.fix else self.message


class BadInput(ArzError):
    """The user's input (job file, option, job id) cannot be used."""

    exit_code = 2


class JobSpecError(BadInput):
    """A job YAML file is missing, unreadable or does not validate."""


class UnknownJob(BadInput):
    """No job in the registry matches the given id."""


class UnknownBackend(BadInput):
    """The backend name is not in the backend registry."""


class GitSyncError(ArzError):
    """Committing or pushing the code for a job failed (set-up problem, exit 2)."""

    exit_code = 2


class SecretDetected(GitSyncError):
    """A file that would be committed or pushed looks like a secret."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(
            f"refusing to commit: '{path}' looks like a secret ({why}).",
            fix=f"remove it from the commit (git rm --cached '{path}' or revert the change) and add "
            "it to .gitignore; keep credentials in ~/.kaggle or environment variables",
        )
        self.path = path


class NoRemote(GitSyncError):
    """Pushing was needed but the branch has no usable remote."""


class PushRejected(GitSyncError):
    """The remote refused the push."""


class BackendError(ArzError):
    """A backend could not start, observe, download or cancel a kernel."""


class PullError(ArzError):
    """Downloaded results are missing or do not match the manifest."""


class ManifestMismatch(PullError):
    """One downloaded file is missing, has the wrong size or the wrong sha256.

    Attributes:
        path: the failing file, relative to the results folder.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(
            f"downloaded results failed verification: {path}: {problem}.",
            fix="download again with `arz pull ID`; if it persists the output was damaged in the "
            "kernel (see `arz logs ID`)",
        )
        self.path = path


class JobFailed(ArzError):
    """The job ran but its result is not ``succeeded`` (failed or partial)."""


class OutputRefused(PullError):
    """A kernel's output breaks a pull rule (unsafe name, link or special file, size cap)."""


class SummaryMismatch(PullError):
    """``session_summary.json`` describes another job, commit or suite list than the registry.

    Attributes:
        field: the disagreeing field (``job_id``, ``commit_sha`` or ``suites``).
    """

    def __init__(self, field: str, found: object, expected: object) -> None:
        super().__init__(
            f"session_summary.json does not belong to this job: {field} is {found!r}, the registry "
            f"recorded {expected!r}; nothing was kept.",
            fix="the output was tampered with or comes from another run: do not use it",
        )
        self.field = field


class DestinationRefused(BadInput):
    """``arz pull --dest`` names a folder arz may not replace (nothing was touched)."""


class RegistryError(ArzError):
    """The job registry cannot be read or written (corrupt, locked, read-only)."""

    exit_code = 2


class HomeError(ArzError):
    """``$ARZ_HOME`` (or the user data folder under ``$HOME``) is missing or not writable."""

    exit_code = 2
