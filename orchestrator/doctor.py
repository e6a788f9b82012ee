"""``arz doctor``: is this machine ready to run jobs (locally, and optionally on Kaggle), and what
to fix if not.

The checks are small functions of a :class:`DoctorContext`, each returning one :class:`Check`, in
two lists: :data:`orchestrator.doctor_local.LOCAL_CHECKS` (python, solver and RL packages, ARZ_HOME,
the git repository: what ``--backend local`` needs) and :data:`KAGGLE_CHECKS` (client packages,
credentials, quota, code transport -- which one a job uses and why --, git remote when the kernel
clones, kernel settings). Add a check by appending a function to a list.
:func:`doctor_checks` returns the data; :func:`run_doctor` prints a table and returns the exit
code: 0 when the local backend is ready -- Kaggle is optional and shows "optional: not configured"
without credentials -- unless the job file given runs on Kaggle, which makes its checks required.
Credentials are located and their file permissions checked, but never printed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.markup import escape

from orchestrator.backends.kaggle.connection import TOKEN_URL, find_credentials
from orchestrator.errors import ArzError
from orchestrator.urls import redact_text, redact_url, remote_credentials_check

OK, WARN, FAIL, SKIP, OPTIONAL = "ok", "warn", "fail", "skip", "optional"
GIT_TIMEOUT_S = 20
KAGGLE_MAX_SESSION_H = 12.0


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report.

    Attributes:
        name: topic (``python``, ``rl stack``, ``credentials``, ``quota``, ``git remote``, ...).
        state: ``ok``, ``warn``, ``fail``, ``skip`` or ``optional`` (not configured, not needed).
        detail: what was found (never a secret).
        fix: what to do about it ("" when nothing).
        section: ``local`` (needed for any job) or ``kaggle`` (needed for ``--backend kaggle``).
    """

    name: str
    state: str
    detail: str
    fix: str = ""
    section: str = "kaggle"


@dataclass
class DoctorContext:
    """What the checks look at, and what earlier checks found.

    Attributes:
        job_file: a job whose settings to check, or None (defaults).
        repo_path: the project folder.
        backend: the Kaggle backend (built on first use when None).
        found: checks already run, by name (e.g. the quota check reads ``credentials``).
    """

    job_file: Path | None = None
    repo_path: Path = field(default_factory=Path.cwd)
    backend: Any = None
    found: dict[str, Check] = field(default_factory=dict)

    def kaggle_settings(self) -> tuple[Any, str]:
        """The job file's Kaggle settings (the defaults without one) and where they come from."""
        from kernel_payload.schema import KaggleSettings

        if self.job_file is None:
            return KaggleSettings(), "defaults"
        from orchestrator.jobspec import load_jobspec

        return load_jobspec(self.job_file).kaggle, str(self.job_file)

    def kaggle_backend(self) -> Any:
        """The Kaggle backend (imports the Kaggle adapter only when a check needs it)."""
        if self.backend is None:
            from orchestrator.backends.kaggle.backend import KaggleBackend

            self.backend = KaggleBackend()
        return self.backend


def check_kaggle_client(ctx: DoctorContext) -> Check:
    """The Kaggle client, its undeclared ``six`` dependency, and git."""
    missing, found = [], []
    for dist in ("kaggle", "kagglesdk", "six", "requests", "httpx", "tenacity", "GitPython"):
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            missing.append(dist)
    if shutil.which("git") is None:
        missing.append("git (executable)")
    if missing:
        return Check("kaggle client", FAIL, f"missing: {', '.join(missing)}",
                     "pip install -e . (installs kaggle==2.2.5 and six); install git")
    return Check("kaggle client", OK, ", ".join(found))


def check_credentials(ctx: DoctorContext) -> Check:
    """Where the Kaggle credentials are (never their value) and whether others can read them;
    none at all is ``optional`` (the local backend needs none)."""
    found = find_credentials()
    if not found:
        return Check("credentials", OPTIONAL, "not configured: no Kaggle credentials (only "
                     "--backend kaggle needs them)", f"to run on Kaggle: create a token at {TOKEN_URL}, "
                     "save it to ~/.kaggle/access_token and chmod 600 it")  # fmt: skip
    first = found[0]
    detail = f"{first.kind} in {first.where}"
    if len(found) > 1:
        detail += f" (also {len(found) - 1} more, unused)"
    if first.readable_by_others:
        return Check("credentials", WARN, detail + "; readable by other users",
                     f"chmod 600 {first.where}")
    return Check("credentials", OK, detail)


def check_quota(ctx: DoctorContext) -> Check:
    """Weekly GPU hours left, asked of Kaggle (needs working credentials and network)."""
    credentials = ctx.found.get("credentials")
    if credentials is None or credentials.state in (FAIL, OPTIONAL):
        return Check("quota", SKIP, "no credentials, so Kaggle was not asked")
    backend = ctx.kaggle_backend()
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


def check_code_transport(ctx: DoctorContext) -> Check:
    """Which code transport (``kaggle.code``) a Kaggle job uses, and why (HEAD's archive size;
    for ``dataset``, the private dataset it goes to)."""
    from orchestrator.code_transport import archive_size, plan_transport

    requested = ctx.kaggle_settings()[0].code
    try:
        import git

        repo = git.Repo(ctx.repo_path, search_parent_directories=True)
        names = [r.name for r in repo.remotes]
        remote = repo.remote("origin") if "origin" in names else next(iter(repo.remotes), None)
        url = next(iter(remote.urls), None) if remote is not None else None
        root = Path(repo.working_tree_dir)
        size = None if requested == "git" else archive_size(root)
        plan = plan_transport(requested, None, url, size=size, root=root)
    except ArzError as err:
        return Check("code transport", FAIL, err.message, err.fix)
    except Exception as err:  # noqa: BLE001 - not a repository: the git checks say so
        return Check("code transport", SKIP, f"not known ({type(err).__name__})")
    return Check("code transport", OK, f"{plan.transport}: {plan.reason}")


def _inline(ctx: DoctorContext) -> bool:
    """Whether the code travels without git (``inline`` or ``dataset``): no remote, no clone."""
    found = ctx.found.get("code transport")
    return found is not None and found.detail.startswith(("inline:", "dataset:"))


def check_git_remote(ctx: DoctorContext) -> Check:
    """The remote the kernel clones from: present, reachable, and cloneable by a kernel (not
    needed when the code travels inline)."""
    if _inline(ctx):
        how = ctx.found["code transport"].detail.split(":", 1)[0]
        where = "in the kernel script" if how == "inline" else "as a private dataset version"
        return Check("git remote", SKIP, f"not needed: the code travels {how} {where} "
                     "(nothing is pushed)")  # fmt: skip
    try:
        import git

        repo = git.Repo(ctx.repo_path, search_parent_directories=True)
    except Exception as err:  # noqa: BLE001 - any failure here means "not a usable repository"
        return Check("git remote", FAIL, f"{ctx.repo_path} is not a git repository ({type(err).__name__})",
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
        return Check("git remote", FAIL, f"{shown} is not reachable: {redact_text(reason[0])[:120]}",
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


def check_kernel_settings(ctx: DoctorContext) -> Check:
    """The Kaggle kernel settings of the job file (or the defaults), and what would break."""
    settings, where = ctx.kaggle_settings()
    shape = settings.accelerator or "CPU (no accelerator)"
    deadline_h = (settings.deadline or 11.5 * 3600) / 3600
    detail = (f"{where}: {shape}, {'private' if settings.private else 'PUBLIC'}, internet "
              f"{'on' if settings.internet else 'off'}, deadline {deadline_h:.1f} h")
    if not settings.internet and _inline(ctx) and settings.wheels:
        return Check("kernel", OK, detail + ": the code travels without git; a wheelhouse dataset "
                     "brings the requirements the image lacks")  # fmt: skip
    if not settings.internet and _inline(ctx):
        return Check("kernel", WARN, detail + ": the code travels without git, but the kernel cannot "
                     "pip-install what the image lacks (kaggle.wheels: false)", "set "
                     "kaggle.wheels: true, unless the Kaggle image has every requirement")  # fmt: skip
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


KAGGLE_CHECKS: list[Callable[[DoctorContext], Check]] = [
    check_kaggle_client, check_credentials, check_quota, check_code_transport, check_git_remote,
    check_kernel_settings,
]
"""What ``--backend kaggle`` needs, in order (optional unless the job file runs on Kaggle)."""


def doctor_checks(job_file: Path | None = None, repo_path: Path | None = None,
                  backend: Any = None) -> list[Check]:
    """Every check, in order: the local stack, then Kaggle.

    Args:
        job_file: a job whose settings to check (defaults when None); validated first, so a bad
            file is a ``JobSpecError`` (exit 2) before anything else runs.
        repo_path: the project folder (default: the current folder).
        backend: the Kaggle backend to ask for the quota (built when needed if None).
    """
    from orchestrator.doctor_local import LOCAL_CHECKS

    if job_file is not None:
        from orchestrator.jobspec import load_jobspec

        load_jobspec(job_file)
    ctx = DoctorContext(job_file, repo_path or Path.cwd(), backend)
    for check in [*LOCAL_CHECKS, *KAGGLE_CHECKS]:
        result = check(ctx)
        ctx.found[result.name] = result
    return list(ctx.found.values())


def kaggle_required(job_file: Path | None) -> bool:
    """Whether the job file runs on Kaggle (its checks then decide the exit code too)."""
    if job_file is None:
        return False
    from orchestrator.jobspec import load_jobspec

    return load_jobspec(job_file).backend == "kaggle"


def verdict(checks: list[Check], kaggle_needed: bool = False) -> tuple[int, str]:
    """The exit code and the closing line: 0 when the local backend is ready (and Kaggle, when needed)."""
    local_failed = [c.name for c in checks if c.section == "local" and c.state == FAIL]
    kaggle_failed = [c.name for c in checks if c.section == "kaggle" and c.state == FAIL]
    not_configured = any(c.section == "kaggle" and c.state == OPTIONAL for c in checks)
    if local_failed:
        return 1, f"not ready: fix {', '.join(local_failed)} (needed for any job)"
    if kaggle_needed and (kaggle_failed or not_configured):
        missing = (["credentials"] if not_configured else []) + kaggle_failed
        return 1, f"ready for --backend local; this job runs on Kaggle: fix {', '.join(missing)}"
    if not_configured:
        return 0, "ready for --backend local (arz submit jobs/quickstart.yml); Kaggle: optional, not configured"
    if kaggle_failed:
        return 0, f"ready for --backend local; Kaggle not ready: fix {', '.join(kaggle_failed)}"
    return 0, "ready: --backend local, and --backend kaggle will run on Kaggle"


def run_doctor(job_file: Path | None = None, console: Any = None, repo_path: Path | None = None,
               backend: Any = None) -> int:
    """Print the checks as a table; return 0 when the local backend is ready (see :func:`verdict`)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    checks = doctor_checks(job_file, repo_path, backend)
    styles = {OK: "green", WARN: "yellow", FAIL: "bold red", SKIP: "dim", OPTIONAL: "cyan"}
    table = Table(title="arz doctor: ready to run jobs?", show_lines=False)
    for column in ("", "check", "state", "found", "fix"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(check.section, check.name, f"[{styles[check.state]}]{check.state}[/]",
                      escape(check.detail), escape(check.fix))  # fmt: skip
    console.print(table)
    code, line = verdict(checks, kaggle_required(job_file))
    console.print(line)
    return code
