"""``arz doctor``: is this machine ready to run jobs on Kaggle, and what to fix if not.

:func:`doctor_checks` returns data (one :class:`Check` per topic: packages, credentials, quota, git
remote, kernel settings); :func:`run_doctor` prints it as a table and returns the exit code.
Credentials are located and their file permissions checked, but never printed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from orchestrator.backends.kaggle_connection import TOKEN_URL, find_credentials
from orchestrator.errors import ArzError
from orchestrator.urls import redact_url, remote_credentials_check

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
GIT_TIMEOUT_S = 20
KAGGLE_MAX_SESSION_H = 12.0


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report.

    Attributes:
        name: topic (``packages``, ``credentials``, ``quota``, ``git remote``, ``kernel``).
        state: ``ok``, ``warn``, ``fail`` or ``skip``.
        detail: what was found (never a secret).
        fix: what to do about it ("" when nothing).
    """

    name: str
    state: str
    detail: str
    fix: str = ""


def check_packages() -> Check:
    """The Kaggle client, its undeclared ``six`` dependency, and git."""
    missing, found = [], []
    for dist in ("kaggle", "kagglesdk", "six", "requests", "tenacity", "GitPython"):
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            missing.append(dist)
    if shutil.which("git") is None:
        missing.append("git (executable)")
    if missing:
        return Check("packages", FAIL, f"missing: {', '.join(missing)}",
                     "pip install -e . (installs kaggle==2.2.5 and six); install git")
    return Check("packages", OK, ", ".join(found))


def check_credentials() -> Check:
    """Where the Kaggle credentials are (never their value) and whether others can read them."""
    found = find_credentials()
    if not found:
        return Check("credentials", FAIL, "no Kaggle credentials found",
                     f"create a token at {TOKEN_URL}, save it to ~/.kaggle/access_token and "
                     "chmod 600 it (not needed for --backend local)")
    first = found[0]
    detail = f"{first.kind} in {first.where}"
    if len(found) > 1:
        detail += f" (also {len(found) - 1} more, unused)"
    if first.readable_by_others:
        return Check("credentials", WARN, detail + "; readable by other users",
                     f"chmod 600 {first.where}")
    return Check("credentials", OK, detail)


def check_quota(backend: Any, credentials: Check) -> Check:
    """Weekly GPU hours left, asked of Kaggle (needs working credentials and network)."""
    if credentials.state == FAIL:
        return Check("quota", SKIP, "no credentials, so Kaggle was not asked")
    try:
        quota = backend.quota()
    except ArzError as err:
        return Check("quota", FAIL, err.message, err.fix)
    if quota is None:
        return Check("quota", WARN, "Kaggle reported no GPU quota for this account",
                     "verify your phone number on kaggle.com (Settings) to get GPU and internet")
    when = f", resets {quota.refresh_at:%Y-%m-%d %H:%M} UTC" if quota.refresh_at else ""
    detail = f"{quota.left_h:.1f} h of {quota.total_h:.0f} h GPU left this week{when}"
    if quota.left_h < backend.config.min_gpu_quota_h:
        return Check("quota", WARN, detail, "wait for the reset, or run on CPU / --backend local")
    return Check("quota", OK, detail)


def check_git_remote(repo_path: Path) -> Check:
    """The remote the kernel clones from: present, reachable, and cloneable by a kernel."""
    try:
        import git

        repo = git.Repo(repo_path, search_parent_directories=True)
    except Exception as err:  # noqa: BLE001 - any failure here means "not a usable repository"
        return Check("git remote", FAIL, f"{repo_path} is not a git repository ({type(err).__name__})",
                     "run arz from the project's git clone")
    if not repo.remotes:
        return Check("git remote", FAIL, "the repository has no remote; Kaggle clones from it",
                     "git remote add origin https://github.com/<you>/<repo>.git && git push -u "
                     "origin HEAD")
    remote = repo.remotes.origin if "origin" in [r.name for r in repo.remotes] else repo.remotes[0]
    url = next(iter(remote.urls), "")
    shown = f"{remote.name} {redact_url(url)}"
    credentials_ok, message, fix = remote_credentials_check(url)
    if not credentials_ok:
        return Check("git remote", FAIL, message, fix)
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}
    try:
        repo.git.ls_remote("--heads", remote.name, env={**os.environ, **env},
                           kill_after_timeout=GIT_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 - GitCommandError or a timeout kill
        reason = (getattr(err, "stderr", "") or str(err)).strip().splitlines()[-1:] or ["?"]
        return Check("git remote", FAIL, f"{shown} is not reachable: {reason[0][:120]}",
                     "check the URL (git remote -v), your network and your git credentials")
    return _kernel_reach(shown, url)


def _kernel_reach(shown: str, url: str) -> Check:
    """Whether a Kaggle kernel (no SSH key, no stored credentials) can clone ``url``."""
    if url.startswith(("git@", "ssh://")):
        return Check("git remote", WARN, f"{shown} is reachable, but it is an SSH URL: a kernel "
                     "has no SSH key", "git remote set-url origin https://github.com/<you>/<repo>.git")
    if "://" not in url:
        return Check("git remote", WARN, f"{shown} is a local path: fine for --backend local, "
                     "but a Kaggle kernel cannot reach it", "push to a public HTTPS remote")
    return Check("git remote", OK, f"{shown} is reachable (the kernel clones it over HTTPS: "
                 "keep the repository public)")


def check_kernel_settings(job_file: Path | None) -> Check:
    """The Kaggle kernel settings of ``job_file`` (or the defaults), and what would break."""
    from kernel_payload.schema import KaggleSettings

    settings = KaggleSettings()
    where = "defaults"
    if job_file is not None:
        from orchestrator.jobspec import load_jobspec

        settings, where = load_jobspec(job_file).kaggle, str(job_file)
    shape = settings.accelerator or "CPU (no accelerator)"
    deadline_h = (settings.deadline or 11.5 * 3600) / 3600
    detail = (f"{where}: {shape}, {'private' if settings.private else 'PUBLIC'}, internet "
              f"{'on' if settings.internet else 'off'}, deadline {deadline_h:.1f} h")
    if not settings.internet:
        return Check("kernel", FAIL, detail + ": the kernel cannot clone the repository",
                     "set kaggle.internet: true (needs a phone-verified Kaggle account)")
    if deadline_h > KAGGLE_MAX_SESSION_H:
        return Check("kernel", WARN, detail + ": Kaggle stops sessions at 12 h",
                     "set kaggle.deadline to 11h or less")
    if not settings.private:
        return Check("kernel", WARN, detail + ": the kernel and its outputs are visible to all",
                     "set kaggle.private: true unless you mean to publish")
    return Check("kernel", OK, detail)


def doctor_checks(job_file: Path | None = None, repo_path: Path | None = None,
                  backend: Any = None) -> list[Check]:
    """Every check, in order: packages, credentials, quota, git remote, kernel settings.

    Args:
        job_file: a job whose Kaggle settings to check (defaults when None).
        repo_path: the project folder (default: the current folder).
        backend: the Kaggle backend to ask for the quota (built when None).
    """
    if backend is None:
        from orchestrator.backends.kaggle import KaggleBackend

        backend = KaggleBackend()
    packages = check_packages()
    credentials = check_credentials()
    return [
        packages,
        credentials,
        check_quota(backend, credentials),
        check_git_remote(repo_path or Path.cwd()),
        check_kernel_settings(job_file),
    ]


def run_doctor(job_file: Path | None = None, console: Any = None) -> int:
    """Print the checks as a table; return 0 when nothing fails, 1 otherwise."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    checks = doctor_checks(job_file)
    styles = {OK: "green", WARN: "yellow", FAIL: "bold red", SKIP: "dim"}
    table = Table(title="arz doctor: ready for Kaggle?", show_lines=False)
    for column in ("check", "state", "found", "fix"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(check.name, f"[{styles[check.state]}]{check.state}[/]", check.detail,
                      check.fix)
    console.print(table)
    failed = [c.name for c in checks if c.state == FAIL]
    if failed:
        console.print(f"not ready: fix {', '.join(failed)} (--backend local needs none of this)")
        return 1
    console.print("ready: `arz submit JOB.yml --backend kaggle` will run on Kaggle")
    return 0
