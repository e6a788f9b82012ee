"""Find a member's kernel by its slug, for a member an earlier process recorded as ``submitting``.

The backends answer only about a run they returned a :class:`KernelRef` for; a process killed
between recording a member and storing the reference leaves the slug alone. These lookups ask
the backend, by slug, whether the push landed after all, and rebuild the reference (and, on
Kaggle, the run's local state) exactly as ``push`` would have, so the member is watched instead
of pushed a second time.
"""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator.backends.base import ExecutionBackend, KernelRef


def find_run(backend: ExecutionBackend, slug: str, gpu: bool, deadline_s: float | None) -> KernelRef | None:
    """The run of ``slug`` if it was started, else None (then it is safe to push it).

    Args:
        backend: the sweep's backend.
        slug: the member's recorded slug.
        gpu: whether the member asked for a GPU (kept in the Kaggle run's state).
        deadline_s: the member's deadline (None: the backend's default).
    """
    if backend.name == "local":
        return _find_local(backend, slug)
    if backend.name == "kaggle":
        return _find_kaggle(backend, slug, gpu, deadline_s)
    return None


def _find_local(backend: ExecutionBackend, slug: str) -> KernelRef | None:
    workdir = backend.root / slug  # type: ignore[attr-defined]
    if not (workdir / "pid").is_file():  # the launcher writes pid right after starting the run
        return None
    return KernelRef(backend="local", slug=slug, owner="local", workdir=str(workdir))


def _find_kaggle(backend: ExecutionBackend, slug: str, gpu: bool,
                 deadline_s: float | None) -> KernelRef | None:  # fmt: skip
    from orchestrator.backends.kaggle.errors import translate
    from orchestrator.backends.kaggle.http import HTTP_ERRORS
    from orchestrator.backends.kaggle.state import KernelState

    owner = backend.connection.owner  # type: ignore[attr-defined]
    try:  # GetKernel, as push itself does before a re-push
        version = backend._current_version(owner, slug)  # type: ignore[attr-defined]
    except HTTP_ERRORS as err:
        raise translate(err, f"say whether kernel {owner}/{slug} exists") from err
    if version is None:
        return None
    workdir = Path(backend._workdir(owner, slug))  # type: ignore[attr-defined]
    state_file = workdir / "state.json"
    if not state_file.is_file():  # killed before push() saved it: save what push would have
        deadline = float(deadline_s or backend.config.default_deadline_s)  # type: ignore[attr-defined]
        now = time.time()
        KernelState(owner, slug, version, now, now + deadline, gpu).save(workdir)
    return KernelRef("kaggle", slug, owner, version, str(workdir))
