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

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(
            f"downloaded results failed verification: {path}: {problem}.",
            fix="download again with `arz pull ID`; if it persists the output was damaged in the "
            "kernel (see `arz logs ID`)",
        )
        self.path = path


class JobFailed(ArzError):
    """The job ran but its result is not ``succeeded`` (failed or partial)."""
