"""Datasets of the fake Kaggle server: the calls the real ``kaggle`` client makes for them.

kaggle 2.2.5 / kagglesdk uploads a dataset file in two steps -- ``blobs.BlobApiService/
StartBlobUpload`` answers a token and an upload URL, then the bytes are PUT to that URL -- and
names the tokens in ``datasets.DatasetApiService/CreateDataset`` or ``CreateDatasetVersion``.
``GetDatasetStatus``, ``ListDatasetFiles``, ``GetDataset`` and ``DownloadDataset`` read them back.
A new version is *processing* for :attr:`DatasetFaults.processing_s`: meanwhile its status is
``BLOBS_RECEIVED`` and listing its files, or saving a kernel that attaches it, answers 403, as on
Kaggle. A kernel's ``datasetDataSources`` are copied, read-only, into its session's input folder
(``<session>/input/<slug>/``, passed to the script as ``$ARZ_INPUT_DIR``).
"""

from __future__ import annotations

import io
import secrets
import stat
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.kaggle_faults import ApiError

UPLOADS = "/_upload/"
METHODS = ("StartBlobUpload", "CreateDataset", "CreateDatasetVersion", "GetDatasetStatus",
           "ListDatasetFiles", "GetDataset", "DownloadDataset")  # fmt: skip


@dataclass
class DatasetFaults:
    """Dataset behaviour and faults; counters count down as they fire.

    Attributes:
        processing_s: how long each new version stays processing, in seconds.
        upload_drops: the next N blob PUTs are dropped: the connection closes after the bytes
            arrived, before anything is stored or answered.
        version_lost_reply: the next N CreateDataset / CreateDatasetVersion calls create the
            version, then answer 500 (the answer is lost).
    """

    processing_s: float = 0.0
    upload_drops: int = 0
    version_lost_reply: int = 0


@dataclass
class FakeVersion:
    """One version of a dataset: its files, notes and when it is ready (monotonic seconds)."""

    number: int
    files: dict[str, bytes]
    notes: str
    ready_at: float

    def ready(self) -> bool:
        """True once Kaggle would have processed it."""
        return time.monotonic() >= self.ready_at


@dataclass
class FakeDataset:
    """A dataset: owner, slug, visibility and its versions (the last one is current)."""

    owner: str
    slug: str
    title: str
    private: bool
    versions: list[FakeVersion] = field(default_factory=list)


class FakeDatasets:
    """The datasets, blobs and upload counters of one fake server.

    Attributes:
        datasets: ``(owner, slug)`` -> dataset.
        blobs: upload token -> the bytes PUT for it (None until they arrive).
        uploads: blob PUTs that stored bytes.
        faults: processing delay and injected faults.
    """

    def __init__(self) -> None:
        self.datasets: dict[tuple[str, str], FakeDataset] = {}
        self.blobs: dict[str, bytes | None] = {}
        self.names: dict[str, str] = {}
        self.uploads = 0
        self.faults = DatasetFaults()

    def versions(self, owner: str, slug: str) -> list[FakeVersion]:
        """Every version of ``owner/slug`` (empty when it does not exist)."""
        found = self.datasets.get((owner, slug))
        return list(found.versions) if found else []

    # ---- API ---------------------------------------------------------------------------------
    def handle(self, method: str, body: dict, user: str, host: str) -> dict | bytes:
        """Answer one dataset or blob API call (a JSON object, or a file's bytes)."""
        if method == "StartBlobUpload":
            token = secrets.token_hex(8)
            self.blobs[token], self.names[token] = None, body.get("name") or "file"
            return {"token": token, "createUrl": f"http://{host}{UPLOADS}{token}"}
        if method == "CreateDataset":
            return self._create(body, user, body.get("ownerSlug", ""), body.get("slug", ""), True)
        if method == "CreateDatasetVersion":
            return self._create(body.get("body") or {}, user, body.get("ownerSlug", ""),
                                body.get("datasetSlug", ""), False)  # fmt: skip
        dataset = self._dataset(body.get("ownerSlug", ""), body.get("datasetSlug", ""), user)
        current = dataset.versions[-1]
        if method == "GetDatasetStatus":
            return {"status": "READY" if current.ready() else "BLOBS_RECEIVED"}
        if method == "GetDataset":
            return {"ref": f"{dataset.owner}/{dataset.slug}", "title": dataset.title,
                    "isPrivate": dataset.private, "currentVersionNumber": current.number}
        if not current.ready():
            raise ApiError(403, f"Dataset {dataset.owner}/{dataset.slug} is still being processed")
        if method == "ListDatasetFiles":
            return {"datasetFiles": [{"ref": name, "name": name, "totalBytes": len(data)}
                                     for name, data in sorted(current.files.items())]}
        return _zip(current.files)  # DownloadDataset: the whole version as one zip

    def put_blob(self, token: str, data: bytes) -> bool:
        """Store the bytes of an upload; False when the drop fault fires (nothing stored)."""
        if token not in self.blobs:
            raise ApiError(404, "No such upload")
        if self.faults.upload_drops > 0:
            self.faults.upload_drops -= 1
            return False
        self.blobs[token] = data
        self.uploads += 1
        return True

    def mount(self, sources: list[str], input_dir: Path, user: str) -> None:
        """Copy the current version of each ``owner/slug`` source, read-only, to
        ``input_dir/<slug>/``; 403 while a version is processing, 404 for an unknown one."""
        input_dir.mkdir(parents=True, exist_ok=True)
        for source in sources:
            owner, _, slug = source.partition("/")
            current = self._dataset(owner, slug, user).versions[-1]
            if not current.ready():
                raise ApiError(403, f"Dataset {source} is still being processed")
            folder = input_dir / slug
            folder.mkdir()
            for name, data in current.files.items():
                (folder / name).write_bytes(data)
                (folder / name).chmod(stat.S_IRUSR | stat.S_IRGRP)
            folder.chmod(stat.S_IRUSR | stat.S_IXUSR)

    # ---- helpers -----------------------------------------------------------------------------
    def _dataset(self, owner: str, slug: str, user: str) -> FakeDataset:
        found = self.datasets.get((owner, slug))
        if found is None or (found.private and owner != user):  # a private one is not shown
            raise ApiError(404, f"Dataset {owner}/{slug} not found")
        return found

    def _create(self, body: dict, user: str, owner: str, slug: str, new: bool) -> dict:
        if owner != user:
            raise ApiError(403, f"Permission denied: {user} cannot write to {owner}/{slug}")
        if new and (owner, slug) in self.datasets:
            return {"status": "error", "error": f"The requested slug \"{slug}\" is already in use"}
        dataset = self.datasets.get((owner, slug)) if not new else \
            FakeDataset(owner, slug, body.get("title") or slug, bool(body.get("isPrivate")))  # fmt: skip
        if dataset is None:
            raise ApiError(404, f"Dataset {owner}/{slug} not found")
        files = {}
        for entry in body.get("files") or []:
            data = self.blobs.get(entry.get("token") or "")
            if data is None:
                return {"status": "error", "error": "Upload token is invalid or the file never arrived"}
            files[self.names[entry["token"]]] = data
        if not files:
            return {"status": "error", "error": "A dataset version needs at least one file"}
        self.datasets[(owner, slug)] = dataset
        ready_at = time.monotonic() + self.faults.processing_s
        dataset.versions.append(FakeVersion(len(dataset.versions) + 1, files,
                                            body.get("versionNotes") or body.get("description") or "",
                                            ready_at))  # fmt: skip
        if self.faults.version_lost_reply > 0:
            self.faults.version_lost_reply -= 1
            raise ApiError(500, "Internal error")
        return {"ref": f"{owner}/{slug}", "url": f"https://www.kaggle.com/datasets/{owner}/{slug}",
                "status": "ok"}


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return buffer.getvalue()


def do_put(handler) -> None:
    """``PUT /_upload/<token>``: a blob's bytes (a dropped upload closes without an answer)."""
    import urllib.parse

    path = urllib.parse.urlsplit(handler.path).path
    length = int(handler.headers.get("Content-Length") or 0)
    data = handler.rfile.read(length) if length else b""
    handler.fake.calls.append("upload")
    try:
        if not path.startswith(UPLOADS):
            raise ApiError(404, f"No route {path}")
        if not handler.fake.datasets.put_blob(path[len(UPLOADS):], data):
            handler.close_connection = True
            return
        handler._send_json(200, {})
    except ApiError as err:
        handler._send_json(err.code, {"code": err.code, "message": err.message}, err.headers)

