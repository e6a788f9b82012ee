"""The orchestrator's exception hierarchy.

Library code raises these; only :mod:`orchestrator.cli` turns them into exit codes, through the
funnel shared with the lab commands (:mod:`kernel_payload.schema.errors`: ``ArzError``,
``BadInput``, ``exit_code_for``, ``error_line``). Every message says what happened, the likely
cause and the fix, on one line.
"""

from __future__ import annotations

from kernel_payload.schema.errors import ArzError, BadInput

__all__ = [
    "ArzError", "BackendError", "BadInput", "GitSyncError", "JobFailed", "JobSpecError",
    "ManifestMismatch", "NoRemote", "PullError", "PushRejected", "SecretDetected",
    "UnknownBackend", "UnknownJob",
]


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
    """Something a push or an upload would publish looks like a secret.

    Attributes:
        path: the file (raw path, as committed).
        rule: the rule that fired.
        where: the short commit sha, or a phrase such as ``the changes to commit``.
        line: the 1-based line in the file (0 for a file-name rule).
        fingerprint: what ``.arz-secrets-allow`` names to allow this finding.
    """

    def __init__(self, path: str, rule: str, where: str = "the changes to commit", line: int = 0,
                 fingerprint: str = "", others: int = 0) -> None:  # fmt: skip
        at = f"{path}:{line}" if line else path
        more = f"; {others} more finding(s) after this one" if others else ""
        super().__init__(
            f"refusing to publish: '{at}' in {where} looks like a secret (rule: {rule}){more}. "
            "Nothing was committed or pushed.",
            fix=f"remove it from every unpushed commit (git rm --cached '{path}', git commit "
            "--amend or git rebase -i), add it to .gitignore and keep credentials in ~/.kaggle or "
            "environment variables; if it is not a secret, end the line with "
            f"`pragma: allowlist secret` or add `fingerprint: {fingerprint}` to .arz-secrets-allow",
        )
        self.path, self.rule, self.where, self.line = path, rule, where, line
        self.fingerprint = fingerprint


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

    def __init__(self, path: str, problem: str, job_id: str = "ID") -> None:
        super().__init__(
            f"downloaded results failed verification: {path}: {problem}.",
            fix=f"download again with `arz pull {job_id}`; if it persists the output was damaged in "
            f"the kernel (see `arz logs {job_id}`)",
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
