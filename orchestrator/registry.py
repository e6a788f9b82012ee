"""The job registry: one SQLite table in ``$ARZ_HOME/registry.sqlite`` that survives restarts.

It remembers every submitted job (its kernel reference, commit, where to put results and the last
known status), so ``arz watch``, ``status``, ``logs``, ``pull`` and ``cancel`` work from a new shell.
A job is recorded (status ``submitting``) before its kernel is pushed, so no kernel ever runs
unrecorded. A database that cannot be used (corrupt, locked, read-only) is a :class:`RegistryError`
naming the file and the fix, never a traceback.
"""

from __future__ import annotations

import contextlib
import enum
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orchestrator.backends.base import JobStatus, KernelRef
from orchestrator.errors import RegistryError, UnknownJob
from orchestrator.home import arz_home

DB_FILE = "registry.sqlite"
LOCK_TIMEOUT_S = 10.0


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
        status: last known :class:`JobStatus` value (the kernel's lifecycle).
        message: last status message from the backend (or the summary's reason).
        result: the job's verdict from its summary (``succeeded|failed|partial|unknown``), known
            as soon as the kernel has ended; "" before.
        results_dir: where the verified results are, or "".
        sweep_id: the sweep the job is a member of, or "" (added later: a migration adds the
            column to older registries).
        member_id: the job's member id inside its sweep (``m01``), or "".
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
    sweep_id: str = ""
    member_id: str = ""

    @property
    def ref(self) -> KernelRef:
        """The kernel reference the backend needs."""
        return KernelRef(self.backend, self.slug, self.owner, self.version, self.workdir)

    @property
    def job_status(self) -> JobStatus:
        """``status`` as the enum."""
        return JobStatus(self.status)

    @classmethod
    def new(cls, ref: KernelRef, name: str, commit_sha: str, repo_root: Path, spec_json: str,
            status: JobStatus = JobStatus.QUEUED) -> JobRecord:  # fmt: skip
        """A record for a kernel about to be pushed (``submitting``) or just pushed."""
        return cls(
            id=ref.slug, name=name, backend=ref.backend, owner=ref.owner, slug=ref.slug,
            version=ref.version, workdir=ref.workdir, commit_sha=commit_sha,
            repo_root=str(repo_root), spec_json=spec_json,
            submitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            status=status.value,
        )  # fmt: skip


@dataclass(frozen=True)
class SweepRecord:
    """One sweep (``arz sweep``): a base job fanned out into member jobs (rows of ``jobs`` with
    this ``sweep_id``).

    Attributes:
        id: sweep id (``<name>-<sha8>-<rand>``), also the results folder's slug.
        name: the sweep's name from its file.
        backend: where every member runs.
        owner: the account the members run under (``local`` for the local backend).
        commit_sha: the one commit every member runs.
        repo_root: working tree the sweep was started from.
        plan_json: the members as JSON: ``[{member_id, matrix, job}]`` (``job`` is the validated
            job), so a resumed sweep needs neither the sweep file nor the working tree.
        max_parallel: members running at once.
        created_at: ISO time (UTC).
        status: ``running`` until aggregated, then the sweep's verdict (``succeeded``,
            ``partial``, ``failed``); ``cancelled`` after ``arz sweep cancel``.
        out_dir: the aggregated results folder, once written.
    """

    id: str
    name: str
    backend: str
    owner: str
    commit_sha: str
    repo_root: str
    plan_json: str
    max_parallel: int
    created_at: str
    status: str = "running"
    out_dir: str = ""


_COLUMNS = [f.name for f in fields(JobRecord)]
_SWEEP_COLUMNS = [f.name for f in fields(SweepRecord)]
_SWEEP_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sweeps ("
    + ", ".join(f"{c} {'TEXT PRIMARY KEY' if c == 'id' else 'TEXT'}" for c in _SWEEP_COLUMNS)
    + ")"
)
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
        """A connection that commits on success and is always closed.

        Raises:
            RegistryError: the database is corrupt, locked, read-only or cannot be opened.
        """
        try:
            connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        connection.row_factory = sqlite3.Row
        try:
            with connection:
                connection.execute(_SCHEMA)
                _migrate(connection)
                yield connection
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        finally:
            connection.close()

    def check(self) -> None:
        """Open the database once, so a broken registry stops a submit before anything else.

        Raises:
            RegistryError: as for every other call.
        """
        with self._connect() as db:
            db.execute("SELECT COUNT(*) FROM jobs").fetchone()

    def _error(self, exc: sqlite3.Error) -> RegistryError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return RegistryError(
                f"the job registry {self.path} is locked by another arz command (waited "
                f"{LOCK_TIMEOUT_S:g} s).", fix="let the other arz command finish, then run this again")
        if "readonly" in text or "unable to open" in text or "full" in text:
            return RegistryError(
                f"the job registry {self.path} cannot be written ({text}).",
                fix=f"make room on / make {self.path.parent} writable, or point ARZ_HOME at a "
                "writable folder")
        return RegistryError(
            f"the job registry {self.path} is not a readable SQLite database ({text}).",
            fix=f"move it aside (mv {self.path} {self.path}.broken); arz then starts an empty "
            "registry and forgets the jobs recorded in the old one")

    def _insert(self, table: str, columns: list[str], record: Any) -> None:
        """Insert one record (a dataclass whose fields are ``columns``) into ``table``."""
        with self._connect() as db:
            marks = ", ".join("?" for _ in columns)
            db.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                       [_to_sql(v) for v in asdict(record).values()])  # fmt: skip

    def _update(self, table: str, record: Any, changes: dict[str, object]) -> Any:
        """Store ``changes`` of the row of ``record.id`` in ``table``; return the changed record.

        An enum member (``status=JobStatus.ERROR``) is stored, and kept in the returned record,
        as its value (``"error"``), the word existing registries hold.
        """
        changes = {k: v.value if isinstance(v, enum.Enum) else v for k, v in changes.items()}
        updated = replace(record, **changes)
        with self._connect() as db:
            sets = ", ".join(f"{key} = ?" for key in changes)
            db.execute(f"UPDATE {table} SET {sets} WHERE id = ?",
                       [*(_to_sql(v) for v in changes.values()), record.id])  # fmt: skip
        return updated

    def add(self, record: JobRecord) -> None:
        """Insert a new job."""
        self._insert("jobs", _COLUMNS, record)

    def update(self, record: JobRecord, **changes: object) -> JobRecord:
        """Store changed fields (``status``, ``message``, ``result``, ``results_dir``, ref fields)."""
        return self._update("jobs", record, changes)

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

    # ------------------------------------------------------------------------------- sweeps
    def add_sweep(self, record: SweepRecord) -> None:
        """Insert a new sweep (before any of its members is pushed)."""
        self._insert("sweeps", _SWEEP_COLUMNS, record)

    def update_sweep(self, record: SweepRecord, **changes: object) -> SweepRecord:
        """Store changed sweep fields (``status``, ``out_dir``)."""
        return self._update("sweeps", record, changes)

    def get_sweep(self, sweep_id: str | None = None) -> SweepRecord:
        """The sweep with this id, the only one whose id starts with it, or (None) the latest.

        Raises:
            UnknownJob: no sweep, or several, match.
        """
        with self._connect() as db:
            if sweep_id is None:
                rows = db.execute("SELECT * FROM sweeps ORDER BY created_at DESC, rowid DESC "
                                  "LIMIT 1").fetchall()  # fmt: skip
            else:
                rows = db.execute("SELECT * FROM sweeps WHERE id = ?", [sweep_id]).fetchall() or \
                    db.execute("SELECT * FROM sweeps WHERE id LIKE ? ESCAPE '\\'",
                               [_like_prefix(sweep_id)]).fetchall()  # fmt: skip
        if len(rows) == 1:
            data = {key: rows[0][key] or "" for key in rows[0].keys() if key in _SWEEP_COLUMNS}
            return SweepRecord(**{**data, "max_parallel": int(data["max_parallel"] or 1)})
        if not rows:
            what = f"no sweep '{sweep_id}'" if sweep_id else "no sweep"
            raise UnknownJob(f"{what} in the registry ({self.path}).",
                             fix="start one with `arz sweep SWEEP.yml`; `arz list` shows the sweeps")  # fmt: skip
        ids = ", ".join(r["id"] for r in rows[:5])
        raise UnknownJob(f"'{sweep_id}' matches several sweeps ({ids}).", fix="give more of the id")

    def members(self, sweep_id: str) -> list[JobRecord]:
        """The member jobs of a sweep, in member order."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs WHERE sweep_id = ? ORDER BY member_id, rowid",
                              [sweep_id]).fetchall()  # fmt: skip
        return [_from_row(row) for row in rows]


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an older registry up to date: add the job columns it lacks and the sweeps table."""
    present = {row[1] for row in db.execute("PRAGMA table_info(jobs)").fetchall()}
    for column in _COLUMNS:
        if column not in present:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {column} TEXT")
    db.execute(_SWEEP_SCHEMA)


def _to_sql(value: object) -> object:
    if isinstance(value, enum.Enum):
        value = value.value
    return None if value is None else str(value)


def _from_row(row: sqlite3.Row) -> JobRecord:
    data = {key: row[key] for key in row.keys() if key in _COLUMNS}
    data["version"] = int(data["version"]) if data.get("version") not in (None, "") else None
    data.update({k: v or "" for k, v in data.items() if k != "version" and v is None})
    return JobRecord(**data)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
