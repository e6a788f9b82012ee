"""Commit the code a job runs, refuse secrets, record the commit SHA and push when asked.

Only *tracked* changes are committed (``git add -u``; files already staged stay staged), with a
message naming the job. Before anything is staged, every file that would be committed is checked by
name (``kaggle.json``, ``.env``, ``*access_token*``, private keys) and every added line by content
(private-key blocks, cloud and API tokens, ``key = "..."`` assignments); the whole tracked tree is
checked by name too, since it is what the kernel clones. A hit raises :class:`SecretDetected`
naming the file, and the index is left as it was.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from orchestrator.errors import GitSyncError, NoRemote, PushRejected, SecretDetected

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
PUSH_TIMEOUT_S = 120

_SECRET_NAMES = {
    "kaggle.json": "Kaggle API credentials",
    "id_rsa": "SSH private key", "id_dsa": "SSH private key", "id_ecdsa": "SSH private key",
    "id_ed25519": "SSH private key", ".netrc": "login credentials",
    "credentials.json": "cloud credentials", ".pypirc": "package index credentials",
}  # fmt: skip
_SECRET_SUFFIXES = {".pem": "private key file", ".key": "private key file", ".p12": "key store",
                    ".pfx": "key store", ".jks": "key store"}  # fmt: skip
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist")
_SECRET_CONTENT = [
    (re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"), "a private key block"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "a GitHub token"),
    (re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\bKGAT_[0-9a-f]{32}\b"), "a Kaggle API token"),
    (re.compile(r"\"key\"\s*:\s*\"[0-9a-f]{32}\""), "a Kaggle API key"),
    (
        re.compile(
            r"(?i)\b[\w-]*(?:api[_-]?key|secret|token|password|passwd)[\w-]*\b[\"']?\s*[:=]\s*"
            r"[\"'][A-Za-z0-9_\-/+=.]{16,}[\"']"
        ),
        "a hard-coded key or token",
    ),
    (
        re.compile(r"(?m)^\s*(?:export\s+)?[A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD)[A-Z0-9_]*"
                   r"\s*=\s*[A-Za-z0-9_\-/+=.]{16,}\s*$"),
        "a key or token assignment",
    ),
]  # fmt: skip


@dataclass(frozen=True)
class SyncResult:
    """What :func:`sync_repository` did.

    Attributes:
        repo_root: the working tree's root folder.
        sha: the commit the kernel must check out (40 hex digits).
        branch: the checked-out branch (None when HEAD is detached).
        committed: whether a new commit was made.
        pushed: whether the branch was pushed.
        remote_url: the URL of the remote the branch tracks (or ``origin``), if any.
        untracked: untracked, non-ignored files (they are *not* part of the job).
    """

    repo_root: Path
    sha: str
    branch: str | None
    committed: bool
    pushed: bool
    remote_url: str | None
    untracked: list[str] = field(default_factory=list)


def sync_repository(path: Path, job_name: str, push: bool = False) -> SyncResult:
    """Commit tracked changes for ``job_name``, check for secrets, and push if asked.

    Args:
        path: any folder inside the working tree.
        job_name: named in the commit message.
        push: push the branch to its remote (always needed by Kaggle, optional for local runs).

    Raises:
        GitSyncError: not a repository, nothing committed yet, commit failed, or detached HEAD.
        SecretDetected: a file to commit or in the tree looks like a secret (names the file).
        NoRemote: ``push`` and the branch has no remote.
        PushRejected: ``push`` and the remote refused it.
    """
    repo = open_repository(path)
    root = Path(repo.working_tree_dir)
    check_tree_names(repo)
    changed = pending_changes(repo)
    check_changes(repo, changed)
    committed = bool(changed) and _commit(repo, job_name, changed)
    if not repo.head.is_valid():
        raise GitSyncError(
            "the repository has no commit yet, so there is nothing for the kernel to check out.",
            fix="git add the project files and commit once",
        )
    branch = None if repo.head.is_detached else repo.active_branch.name
    remote_name = _remote_name(repo)
    remote_url = repo.remote(remote_name).url if remote_name else None
    if push:
        push_branch(repo, branch, remote_name)
    untracked = list(repo.untracked_files)
    return SyncResult(root, repo.head.commit.hexsha, branch, committed, push, remote_url, untracked)


def open_repository(path: Path) -> Any:
    """The GitPython ``Repo`` of the working tree containing ``path``."""
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise GitSyncError(
            f"{path} is not inside a git repository; jobs run a committed version of the code.",
            fix="run arz from your clone of the project (or git init and commit)",
        ) from exc


def pending_changes(repo: Any) -> list[str]:
    """Tracked files (staged or not) that differ from HEAD, deletions left out."""
    base = "HEAD" if repo.head.is_valid() else EMPTY_TREE
    out = repo.git.diff("--name-only", "--no-renames", "--diff-filter=d", base)
    return [line for line in out.splitlines() if line]


def secret_reason(path: str) -> str | None:
    """Why the file name ``path`` looks like a secret, or None."""
    name = PurePosixPath(path).name.lower()
    if name in _SECRET_NAMES:
        return _SECRET_NAMES[name]
    if name == ".env" or (name.startswith(".env.") and not name.endswith(_ENV_TEMPLATES)):
        return "environment file with credentials"
    if "access_token" in name:
        return "access token file"
    suffix = PurePosixPath(name).suffix
    return _SECRET_SUFFIXES.get(suffix)


def check_tree_names(repo: Any) -> None:
    """Refuse when any tracked file (what the kernel clones) has a secret-like name."""
    for path in repo.git.ls_files().splitlines():
        why = secret_reason(path)
        if why:
            raise SecretDetected(path, f"{why}; it is tracked, so it would be pushed")


def check_changes(repo: Any, changed: list[str]) -> None:
    """Refuse when a file to commit has a secret-like name or an added line looks like a key."""
    for path in changed:
        why = secret_reason(path)
        if why:
            raise SecretDetected(path, why)
    if not changed:
        return
    base = "HEAD" if repo.head.is_valid() else EMPTY_TREE
    diff = repo.git.diff("-U0", "--no-color", "--no-renames", "--diff-filter=d", base)
    current = ""
    for line in diff.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("+"):
            for pattern, what in _SECRET_CONTENT:
                if pattern.search(line):
                    raise SecretDetected(current, f"an added line contains {what}")


def push_branch(repo: Any, branch: str | None, remote_name: str | None) -> None:
    """Push ``branch`` to ``remote_name``; clear errors for the usual failures."""
    import git

    if branch is None:
        raise GitSyncError("HEAD is detached, so there is no branch to push.",
                           fix="git switch to a branch, then submit again")  # fmt: skip
    if remote_name is None:
        raise NoRemote(
            f"cannot push branch '{branch}': the repository has no remote.",
            fix="git remote add origin <URL> (Kaggle clones from it), or submit without --push",
        )
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        repo.git.push(remote_name, f"HEAD:refs/heads/{branch}", env=env,
                      kill_after_timeout=PUSH_TIMEOUT_S)  # fmt: skip
    except git.GitCommandError as exc:
        stderr = (exc.stderr or "").strip().replace("\n", " ")
        if "rejected" in stderr or "non-fast-forward" in stderr or "fetch first" in stderr:
            raise PushRejected(
                f"the remote '{remote_name}' rejected the push of '{branch}': {stderr}",
                fix=f"git pull --rebase {remote_name} {branch}, then submit again",
            ) from exc
        raise GitSyncError(
            f"pushing '{branch}' to '{remote_name}' failed: {stderr or exc}",
            fix="check the remote URL and your credentials (git push by hand shows the details)",
        ) from exc


def _remote_name(repo: Any) -> str | None:
    if not repo.head.is_detached:
        tracking = repo.active_branch.tracking_branch()
        if tracking is not None and tracking.remote_name in [r.name for r in repo.remotes]:
            return tracking.remote_name
    names = [r.name for r in repo.remotes]
    if "origin" in names:
        return "origin"
    return names[0] if names else None


def _commit(repo: Any, job_name: str, changed: list[str]) -> bool:
    import git

    message = f"arz: job {job_name}\n\nCommitted by `arz submit` so the kernel runs this exact code.\n"
    try:
        repo.git.add(update=True)
        repo.git.commit("-m", message)
    except git.GitCommandError as exc:
        detail = (exc.stderr or str(exc)).strip().replace("\n", " ")
        raise GitSyncError(
            f"could not commit {len(changed)} changed file(s) for job '{job_name}': {detail}",
            fix="set git user.name/user.email, or commit by hand and submit again",
        ) from exc
    return True
