"""Commit the code a job runs, refuse secrets, record the commit SHA and push when asked.

Only *tracked* changes are committed (``git add -u``; files already staged stay staged), with a
message naming the job. Before anything is committed, :mod:`orchestrator.secret_guard` scans what
would be published: the tree the commit would record (built in a temporary index) and every commit
the remote does not have yet, from git objects. A hit raises :class:`SecretDetected` naming the
commit, the file and the rule, and HEAD, the index and the working tree are left as they were. The
pinned commit is scanned once more before the push; if that scan or the push fails, the commit made
here is undone (HEAD and the index restored byte for byte), so retries do not pile up commits.
Remote URLs leave this module without credentials (:mod:`orchestrator.urls`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator.errors import ArzError, GitSyncError, NoRemote, PushRejected
from orchestrator.secret_guard import SecretGuard, pending_tree, published_commits, refuse
from orchestrator.secret_rules import name_rule
from orchestrator.urls import redact_text, remote_credentials_check, strip_credentials

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
PUSH_TIMEOUT_S = 120


@dataclass(frozen=True)
class SyncResult:
    """What :func:`sync_repository` did.

    Attributes:
        repo_root: the working tree's root folder.
        sha: the commit the kernel must check out (40 hex digits).
        branch: the checked-out branch (None when HEAD is detached).
        committed: whether a new commit was made.
        pushed: whether the branch was pushed.
        remote_url: the URL of the remote the branch tracks (or ``origin``), if any, without
            credentials.
        untracked: untracked, non-ignored files (they are *not* part of the job).
    """

    repo_root: Path
    sha: str
    branch: str | None
    committed: bool
    pushed: bool
    remote_url: str | None
    untracked: list[str] = field(default_factory=list)


def sync_repository(
    path: Path, job_name: str, push: bool | Callable[[SyncResult], bool] = False,
    before_push: Callable[[SyncResult], None] | None = None,
) -> SyncResult:  # fmt: skip
    """Scan for secrets, commit tracked changes for ``job_name``, and push if asked.

    Args:
        path: any folder inside the working tree.
        job_name: named in the commit message.
        push: push the branch to its remote (the ``git`` code transport needs it), or a function
            of the pinned (not yet pushed) result that decides, called after ``before_push`` (the
            ``auto`` transport knows only then whether the kernel clones); a repository without a
            remote is fine whenever nothing is pushed.
        before_push: called with the (not yet pushed) result once the commit is pinned and
            scanned, before anything leaves the machine; the job is recorded there, so no push
            happens unrecorded. If it raises, the commit made here is undone and nothing is pushed.

    Raises:
        GitSyncError: not a repository, nothing committed yet, commit failed, or detached HEAD.
        SecretDetected: something that would be published looks like a secret (names the commit,
            the file and the rule); nothing was committed.
        NoRemote: ``push`` and the branch has no remote (the commit made here is undone).
        PushRejected: ``push`` and the remote refused it (the commit made here is undone).
    """
    repo = open_repository(path)
    root = Path(repo.working_tree_dir)
    remote_name = _remote_name(repo)
    previous = repo.head.commit.hexsha if repo.head.is_valid() else None
    with SecretGuard(root) as guard:
        published = published_commits(root, remote_name, probe=bool(push) and remote_name is not None)
        if previous:
            refuse(guard.scan_history(previous, published))
        tree = pending_tree(root)
        refuse(guard.scan_tree(tree, "the changes to commit"))
        saved_index = _read_index(repo)
        changed = tree != (repo.head.commit.tree.hexsha if previous else EMPTY_TREE)
        committed = changed and _commit(repo, job_name)
        if not repo.head.is_valid():
            raise GitSyncError(
                "the repository has no commit yet, so there is nothing for the kernel to check out.",
                fix="git add the project files and commit once",
            )
        sha = repo.head.commit.hexsha
        branch = None if repo.head.is_detached else repo.active_branch.name
        pinned = SyncResult(root, sha, branch, committed, False, remote_url(repo, remote_name),
                            list(repo.untracked_files))  # fmt: skip
        try:
            refuse(guard.scan_history(sha, published) + guard.scan_tree(sha, f"commit {sha[:10]}"))
            if before_push is not None:
                before_push(pinned)
            push = push(pinned) if callable(push) else push
            if push:
                push_branch(repo, branch, remote_name)
        except ArzError:
            if committed:
                undo_commit(repo, previous, sha, saved_index)
            raise
    return replace(pinned, pushed=bool(push))


def remote_url(repo: Any, remote_name: str | None) -> str | None:
    """The URL of ``remote_name`` without credentials (None without a remote)."""
    return strip_credentials(repo.remote(remote_name).url) if remote_name else None


def undo_commit(repo: Any, previous: str | None, made: str, index: SavedIndex | None) -> None:
    """Take back the commit ``made`` (HEAD back to ``previous``, the index file restored to the
    bytes and modification time it had before); only when HEAD is still ``made``."""
    if previous is None:
        ref = repo.git.symbolic_ref("-q", "HEAD")
        repo.git.update_ref("-d", ref, made)
    else:
        repo.git.update_ref("-m", "arz: undo the commit of a failed submit", "HEAD", previous, made)
    path = _index_path(repo)
    if index is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(index.data)
        # the old mtime too: git trusts an entry whose file is older than the index file, so a
        # fresh mtime would hide a change made in the same second as the last commit
        os.utime(path, ns=(index.mtime_ns, index.mtime_ns))


def refuse_embedded_credentials(path: Path) -> None:
    """Refuse (exit 2) when the remote a kernel would clone from embeds credentials in its URL.

    Raises:
        GitSyncError: the URL has ``user:token@`` (the message shows it redacted, with the fix).
    """
    repo = open_repository(path)
    name = _remote_name(repo)
    ok, message, fix = remote_credentials_check(repo.remote(name).url if name else None)
    if not ok:
        raise GitSyncError(message + ".", fix=fix)


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


def secret_reason(path: str) -> str | None:
    """Why the file name ``path`` looks like a secret, or None (see :func:`secret_rules.name_rule`)."""
    return name_rule(path)


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
        stderr = redact_text((exc.stderr or "").strip().replace("\n", " "))
        if "rejected" in stderr or "non-fast-forward" in stderr or "fetch first" in stderr:
            raise PushRejected(
                f"the remote '{remote_name}' rejected the push of '{branch}': {stderr}",
                fix=f"git pull --rebase {remote_name} {branch}, then submit again",
            ) from exc
        raise GitSyncError(
            f"pushing '{branch}' to '{remote_name}' failed: {stderr or redact_text(str(exc))}",
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


def _commit(repo: Any, job_name: str) -> bool:
    import git

    message = (
        f"arz: job {job_name}\n\nCommitted by `arz submit` so the kernel runs this exact code.\n"
    )
    try:
        repo.git.add(update=True)
        repo.git.commit("-m", message)
    except git.GitCommandError as exc:
        detail = redact_text((exc.stderr or str(exc)).strip().replace("\n", " "))
        raise GitSyncError(
            f"could not commit the changes for job '{job_name}': {detail}",
            fix="set git user.name/user.email, or commit by hand and submit again",
        ) from exc
    return True


@dataclass(frozen=True)
class SavedIndex:
    """The index file's bytes and modification time, to put back after a failed submit."""

    data: bytes
    mtime_ns: int


def _index_path(repo: Any) -> Path:
    return Path(repo.working_tree_dir) / repo.git.rev_parse("--git-path", "index")


def _read_index(repo: Any) -> SavedIndex | None:
    path = _index_path(repo)
    if not path.exists():
        return None
    return SavedIndex(path.read_bytes(), path.stat().st_mtime_ns)
