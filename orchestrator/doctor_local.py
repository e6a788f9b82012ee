"""``arz doctor``'s checks of the local stack: what ``--backend local`` needs on this machine.

Each check is a small function of a :class:`~orchestrator.doctor.DoctorContext` returning one
:class:`~orchestrator.doctor.Check`. Packages are found with ``importlib.util.find_spec`` and their
versions read from the installed metadata: nothing heavy (numba, torch) is imported, so the doctor
stays fast. No C compiler is checked: numba compiles through its bundled LLVM, and every
dependency installs from wheels, so none is needed to run the lab.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.doctor import Check, DoctorContext

MIN_PYTHON = (3, 10)
INSTALL_FIX = "make .venv/.installed (or: pip install -e .) from the project folder"
TORCH_CPU_FIX = ("pip install torch --index-url https://download.pytorch.org/whl/cpu, then pip install -e . "
                 "(or: make quickstart TORCH_INDEX=cpu)")  # fmt: skip


def _check(name: str, state: str, detail: str, fix: str = "") -> Check:
    from orchestrator.doctor import Check

    return Check(name, state, detail, fix, section="local")


def _versions(modules: dict[str, str]) -> tuple[list[str], list[str]]:
    """(``name version`` found, names missing) for module -> distribution names."""
    found, missing = [], []
    for module, dist in modules.items():
        if importlib.util.find_spec(module) is None:
            missing.append(dist)
            continue
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            found.append(f"{dist} (version unknown)")
    return found, missing


def check_python(ctx: DoctorContext) -> Check:
    """The interpreter version (the project needs Python >= 3.10)."""
    from orchestrator.doctor import FAIL, OK

    version = platform.python_version()
    if sys.version_info[:2] < MIN_PYTHON:
        return _check("python", FAIL, f"Python {version} at {sys.executable}",
                      "use Python 3.10 or newer (e.g. make quickstart PY=python3.11)")
    return _check("python", OK, f"Python {version} at {sys.executable}")


def check_numerics(ctx: DoctorContext) -> Check:
    """numpy, numba, pydantic and yaml: what the solver needs."""
    from orchestrator.doctor import FAIL, OK

    found, missing = _versions({"numpy": "numpy", "numba": "numba", "pydantic": "pydantic", "yaml": "PyYAML"})
    if missing:
        return _check("solver stack", FAIL, f"missing: {', '.join(missing)}", INSTALL_FIX)
    return _check("solver stack", OK, ", ".join(found))


def check_rl_stack(ctx: DoctorContext) -> Check:
    """torch, stable-baselines3, gymnasium and matplotlib: what training, evaluation and reports need."""
    from orchestrator.doctor import FAIL, OK

    found, missing = _versions({"torch": "torch", "stable_baselines3": "stable-baselines3",
                                "gymnasium": "gymnasium", "matplotlib": "matplotlib"})  # fmt: skip
    if missing:
        fix = TORCH_CPU_FIX if missing == ["torch"] else INSTALL_FIX
        return _check("rl stack", FAIL, f"missing: {', '.join(missing)}", fix)
    return _check("rl stack", OK, ", ".join(found))


def home_folder() -> Path:
    """The folder :func:`orchestrator.home.arz_home` would use, without creating it."""
    from orchestrator.home import HOME_ENV

    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("arz", appauthor=False))


def check_home(ctx: DoctorContext) -> Check:
    """ARZ_HOME (the job registry and local kernels' folders) exists or can be made, and is writable."""
    from orchestrator.doctor import FAIL, OK
    from orchestrator.home import HOME_ENV

    home = home_folder()
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    fix = f"make it writable, or point {HOME_ENV} at a writable folder (export {HOME_ENV}=~/arz-home)"
    if not probe.is_dir():
        return _check("arz home", FAIL, f"{home}: {probe} is a file, not a folder", fix)
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".arz-doctor-"):
            pass
    except OSError as err:
        return _check("arz home", FAIL, f"{home} is not writable ({err.strerror or err})", fix)
    from orchestrator.registry import DB_FILE

    registry = home / DB_FILE
    if registry.exists() and not os.access(registry, os.W_OK):
        return _check("arz home", FAIL, f"job registry {registry} is read-only", f"chmod u+w {registry}")
    state = "exists" if home.is_dir() else "will be created on first use"
    return _check("arz home", OK, f"{home} ({state}, writable)")


def check_git_repo(ctx: DoctorContext) -> Check:
    """A git repository with a commit: every job runs a commit of this repository."""
    from orchestrator.doctor import FAIL, OK

    try:
        import git

        repo = git.Repo(ctx.repo_path, search_parent_directories=True)
        head = repo.head.commit.hexsha[:10]
    except Exception as err:  # noqa: BLE001 - not a repository, or no commit yet
        return _check("git repo", FAIL, f"{ctx.repo_path} is not a git repository with a commit "
                      f"({type(err).__name__})", "run arz from the project's git clone (git clone URL; cd repo)")
    branch = "detached HEAD" if repo.head.is_detached else repo.active_branch.name
    return _check("git repo", OK, f"{repo.working_tree_dir} on {branch} at {head}")


LOCAL_CHECKS = [check_python, check_numerics, check_rl_stack, check_home, check_git_repo]
"""The local stack, in order: a failure here means ``--backend local`` cannot run (exit 1)."""
