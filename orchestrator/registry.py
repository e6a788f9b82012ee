"""The job registry: one SQLite table in ``$ARZ_HOME/registry.sqlite`` that survives restarts.

It remembers every submitted job (its kernel reference, commit, where to put results and the last
known status), so ``arz watch``, ``status``, ``logs``, ``pull`` and ``cancel`` work from a new shell.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

from orchestrator.backends.base import JobStatus, KernelRef
from orchestrator.errors import UnknownJob
from orchestrator.home import arz_home

DB_FILE = "registry.sqlite"


@dataclass(frozen=True)
class JobRecord:
    """One submitted job.

    Attributes:
        id: job id (the kernel slug, unique per run).
        name: the job's name from its YAML.
        backend, owner, slug, version, workdir: the :class:`KernelRef` fields.
        commit_sha: the commit the kernel runs.
        repo_root: working tree the job was submitted from (results go under it).
        spec_json: the :class:`~kernel_payload.schema.KernelSpec` as JSON.
        submitted_at: ISO time (UTC).
        status: last known :class:`JobStatus` value.
        message: last status message from the backend.
        result: the summary's status after a pull (``succeeded|failed|partial``), or "".
        results_dir: where the verified results are, or "".
    """

    id: str
    name: str
    backend: str
    owner: str
    slug: str
    version: int | None
    workdir: str
    commit_sha: str
    repo_root: str
    spec_json: str
    submitted_at: str
    status: str = JobStatus.QUEUED.value
    message: str = ""
    result: str = ""
    results_dir: str = ""

    @property
    def ref(self) -> KernelRef:
        """The kernel reference the backend needs."""
        return KernelRef(self.backend, self.slug, self.owner, self.version, self.workdir)

    @property
    def job_status(self) -> JobStatus:
        """``status`` as the enum."""
        return JobStatus(self.status)

    @classmethod
    def new(cls, ref: KernelRef, name: str, commit_sha: str, repo_root: Path, spec_json: str) -> JobRecord:
        """A record for a kernel that was just pushed."""
        return cls(
            id=ref.slug, name=name, backend=ref.backend, owner=ref.owner, slug=ref.slug,
            version=ref.version, workdir=ref.workdir, commit_sha=commit_sha,
            repo_root=str(repo_root), spec_json=spec_json,
            submitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )  # fmt: skip


_COLUMNS = [f.name for f in fields(JobRecord)]
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jobs ("
    + ", ".join(f"{c} {'TEXT PRIMARY KEY' if c == 'id' else 'TEXT'}" for c in _COLUMNS)
    + ")"
)


class Registry:
    """Jobs stored in SQLite.

    Args:
        path: database file; defaults to ``$ARZ_HOME/registry.sqlite``.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or arz_home() / DB_FILE

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is always closed."""
        connection = sqlite3.connect(self.path, timeout=10)
        connection.row_factory = sqlite3.Row
        try:
            with connection:
                connection.execute(_SCHEMA)
                yield connection
        finally:
            connection.close()

    def add(self, record: JobRecord) -> None:
        """Insert a new job."""
        with self._connect() as db:
            marks = ", ".join("?" for _ in _COLUMNS)
            db.execute(f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({marks})",
                       [_to_sql(v) for v in asdict(record).values()])  # fmt: skip

    def update(self, record: JobRecord, **changes: str) -> JobRecord:
        """Store changed fields (``status``, ``message``, ``result``, ``results_dir``)."""
        updated = replace(record, **changes)
        with self._connect() as db:
            sets = ", ".join(f"{key} = ?" for key in changes)
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*changes.values(), record.id])
        return updated

    def get(self, job_id: str) -> JobRecord:
        """The job with this id, or the only one whose id starts with it.

        Raises:
            UnknownJob: no job, or several, match.
        """
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs WHERE id = ?", [job_id]).fetchall()
            if not rows:
                rows = db.execute("SELECT * FROM jobs WHERE id LIKE ? ESCAPE '\\'",
                                  [_like_prefix(job_id)]).fetchall()  # fmt: skip
        if len(rows) == 1:
            return _from_row(rows[0])
        if not rows:
            raise UnknownJob(f"no job '{job_id}' in the registry ({self.path}).",
                             fix="see `arz list` for the job ids")  # fmt: skip
        ids = ", ".join(r["id"] for r in rows[:5])
        raise UnknownJob(f"'{job_id}' matches several jobs ({ids}).", fix="give more of the id")

    def latest(self) -> JobRecord:
        """The most recently submitted job.

        Raises:
            UnknownJob: the registry is empty.
        """
        jobs = self.list(limit=1)
        if not jobs:
            raise UnknownJob("no job has been submitted yet.", fix="arz submit jobs/quickstart.yml")
        return jobs[0]

    def list(self, limit: int = 50) -> list[JobRecord]:
        """Jobs, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY submitted_at DESC, rowid DESC LIMIT ?",
                              [limit]).fetchall()  # fmt: skip
        return [_from_row(row) for row in rows]


def _to_sql(value: object) -> object:
    return None if value is None else str(value)


def _from_row(row: sqlite3.Row) -> JobRecord:
    data = {key: row[key] for key in row.keys() if key in _COLUMNS}
    data["version"] = int(data["version"]) if data.get("version") not in (None, "") else None
    data.update({k: v or "" for k, v in data.items() if k != "version" and v is None})
    return JobRecord(**data)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
