"""The private datasets a kernel attaches: code (``kaggle.code: dataset``) and the wheelhouse.

Code: one private dataset per repository, ``<owner>/arz-code-<repo-slug>``, created on first use;
each new archive becomes a new version holding one file named after the archive's sha256
(:func:`~orchestrator.code_transport.dataset_file_name`). Wheels: one private dataset per
wheelhouse key (:mod:`orchestrator.wheelhouse`). :meth:`CodeDatasets.publish` makes sure the
current version holds the named file and is ready, then returns the reference the kernel attaches
with ``dataset_sources``:

1. ListDatasetFiles: no dataset (404) -> create it; the file already there -> nothing to build or
   upload (unchanged code or requirements make no new version).
2. Otherwise upload as the ``kaggle`` client does (StartBlobUpload, then a PUT of the bytes to the
   URL it returns -- through ``httpx``), then CreateDataset (private) or CreateDatasetVersion with
   the blob's token. A retry after a lost answer first lists the files again: a version that
   landed is not created twice.
3. Wait until GetDatasetStatus says READY (tenacity, bounded by :attr:`DatasetPolicy.ready_s`):
   a version still processing answers 403 on Kaggle, so 403 means "not yet" until the deadline.
4. List the files once more: the version must hold this archive (another submit may have
   replaced it in between).

The version Kaggle attaches is the dataset's latest at the time the kernel is saved; the kernel
checks the archive's sha256 and commit id before it runs anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import tenacity

from orchestrator.backends.kaggle.connection import KaggleConnection
from orchestrator.backends.kaggle.errors import KaggleError
from orchestrator.backends.kaggle.http import HttpPolicy, http_status, open_client, retrying
from orchestrator.code_transport import TransportPlan, dataset_file_name

log = logging.getLogger(__name__)
LICENSE = "unknown"  # a private dataset of one's own code: no licence is granted
BUSY = (403, 409)  # what Kaggle answers about a version still being processed


@dataclass(frozen=True)
class DatasetPolicy:
    """How long to wait for a code-dataset version (seconds).

    Attributes:
        ready_s: longest wait for a new version to become READY (Kaggle processes it first).
        poll_s: pause between two status questions while it is processing.
        upload_read_s: read timeout of the archive's upload (the PUT).
    """

    ready_s: float = 900.0
    poll_s: float = 5.0
    upload_read_s: float = 300.0


class KaggleDatasetError(KaggleError):
    """The code dataset could not be created, versioned or made ready."""


class CodeDatasets:
    """Creates, versions and waits for the repositories' private code datasets.

    Args:
        connection: the authenticated client.
        policy: timeouts and retries of each HTTP call.
        datasets: how long to wait for a version.
        sleep: pause function (injected in tests).
    """

    def __init__(self, connection: KaggleConnection, policy: HttpPolicy,
                 datasets: DatasetPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):  # fmt: skip
        self.connection, self.policy = connection, policy
        self.datasets = datasets or DatasetPolicy()
        self._sleep = sleep

    def attach(self, extra: dict) -> list[str]:
        """``dataset_sources`` for a kernel, each published first: the code dataset of a
        ``dataset`` transport plan (``extra["code_plan"]``) and the wheelhouse
        (``extra["wheelhouse"]``, a :class:`~orchestrator.wheelhouse.WheelhouseSpec`)."""
        sources = []
        plan: TransportPlan | None = extra.get("code_plan")
        if plan is not None and plan.transport == "dataset" and plan.archive and plan.dataset:
            archive = plan.archive
            notes = f"arz code {archive.sha} sha256 {archive.digest}"
            sources.append(self.publish(plan.dataset, dataset_file_name(archive.digest),
                                        lambda: archive.data, notes))  # fmt: skip
        wheels = extra.get("wheelhouse")
        if wheels is not None:
            from orchestrator.wheelhouse import build_wheelhouse

            sources.append(self.publish(wheels.dataset, wheels.file_name,
                                        lambda: build_wheelhouse(wheels),
                                        f"arz wheelhouse {wheels.key}"))  # fmt: skip
        return sources

    def publish(self, slug: str, name: str, make: Callable[[], bytes], notes: str) -> str:
        """Make the dataset's ready version hold the file ``name``; return ``owner/slug``.

        ``make`` gives the file's bytes; it is called only when the dataset does not hold that
        file yet (the name carries the digest or key of what it holds).

        Raises:
            KaggleDatasetError: Kaggle failed the version, it did not become ready in time, or
                it holds another file.
            requests/httpx errors: a call failed after its retries (the backend translates them).
        """
        owner = self.connection.owner
        files = self._ready_files(owner, slug)
        if files is not None and name in files:
            log.info("dataset %s/%s already holds %s; nothing uploaded", owner, slug, name)
        else:
            self._create_version(owner, slug, name, make(), notes, exists=files is not None)
            files = self._ready_files(owner, slug) or []
        if name not in files:
            raise KaggleDatasetError(
                f"the ready version of dataset {owner}/{slug} holds {', '.join(files) or 'nothing'}"
                f", not {name} (another submit replaced it meanwhile?).",
                fix="submit again; submits of different commits of one repository with "
                "kaggle.code: dataset must not overlap")  # fmt: skip
        return f"{owner}/{slug}"

    # ---- listing and waiting -------------------------------------------------------------
    def ready_files_now(self, slug: str) -> list[str] | None:
        """File names of the owner's dataset ``slug`` if its version is ready now; None: no
        dataset. One look, no waiting: a version still processing raises (HTTP 403/409 or
        ``_Processing``), as does any failed call."""
        owner = self.connection.owner
        try:
            names = self._list_files(owner, slug)
        except requests.HTTPError as err:
            if http_status(err) == 404:
                return None
            raise
        self._check_ready(owner, slug)
        return names

    def _ready_files(self, owner: str, slug: str) -> list[str] | None:
        """File names of the dataset's current version once it is ready; None: no dataset."""
        try:
            names = self._busy_retrying(lambda: self._list_files(owner, slug))
        except requests.HTTPError as err:
            if http_status(err) == 404:
                return None
            raise
        self._busy_retrying(lambda: self._check_ready(owner, slug))
        return names

    def _busy_retrying(self, call: Callable[[], Any]) -> Any:
        """``call`` again every ``poll_s`` while Kaggle says the version is processing."""

        def busy(err: BaseException) -> bool:
            return isinstance(err, _Processing) or http_status(err) in BUSY

        controller = tenacity.Retrying(
            stop=tenacity.stop_after_delay(self.datasets.ready_s),
            wait=tenacity.wait_fixed(self.datasets.poll_s),
            retry=tenacity.retry_if_exception(busy), sleep=self._sleep, reraise=True,
        )  # fmt: skip
        waited = f"{self.datasets.ready_s:g} s"
        try:
            return controller(call)
        except _Processing as err:
            raise KaggleDatasetError(
                f"dataset {err.ref} is still {err.status} after {waited}.",
                fix="look at the dataset on kaggle.com, then submit again (an unchanged "
                "file is not uploaded twice)") from None  # fmt: skip
        except requests.HTTPError as err:
            if http_status(err) not in BUSY:
                raise
            raise KaggleDatasetError(
                f"Kaggle still refuses to list the dataset after {waited} (HTTP "
                f"{http_status(err)}): its version is still processing, or the API token "
                "may not read datasets.", fix="look at the dataset on kaggle.com; if it is "
                "ready, create a token with dataset access; then submit again") from err  # fmt: skip

    def _list_files(self, owner: str, slug: str) -> list[str]:
        types = self._types()
        request = types.ApiListDatasetFilesRequest()
        request.owner_slug, request.dataset_slug, request.page_size = owner, slug, 200
        answer = self._call(lambda k: k.datasets.dataset_api_client.list_dataset_files(request))
        if answer.error_message:
            raise KaggleDatasetError(f"Kaggle could not list dataset {owner}/{slug}: "
                                     f"{answer.error_message}")  # fmt: skip
        return [f.name for f in answer.dataset_files or []]

    def _check_ready(self, owner: str, slug: str) -> None:
        request = self._types().ApiGetDatasetStatusRequest()
        request.owner_slug, request.dataset_slug = owner, slug
        answer = self._call(lambda k: k.datasets.dataset_api_client.get_dataset_status(request))
        status = getattr(answer.status, "name", str(answer.status))
        if status in ("FAILED", "DELETED"):
            raise KaggleDatasetError(f"Kaggle could not process dataset {owner}/{slug} ({status}).",
                                     fix="look at the dataset on kaggle.com; submit again")
        if status != "READY":
            raise _Processing(f"{owner}/{slug}", status.lower())

    # ---- uploading -----------------------------------------------------------------------
    def _create_version(self, owner: str, slug: str, name: str, data: bytes, notes: str,
                        exists: bool) -> None:  # fmt: skip
        """Upload the file and create the version (or the dataset) exactly once."""
        tried = False

        def attempt() -> None:
            nonlocal tried, exists
            if tried:  # the last answer was lost: did the version land after all?
                files = self._ready_files(owner, slug)
                if files is not None and name in files:
                    log.warning("the version of %s/%s had landed after all", owner, slug)
                    return
                exists = files is not None
            tried = True
            token = self._upload(name, data)
            self._create(owner, slug, token, notes, exists)

        retrying(attempt, self.policy)

    def _upload(self, name: str, data: bytes) -> str:
        """StartBlobUpload, then PUT the bytes; the blob's token (one new blob per try)."""
        from kagglesdk.blobs.types.blob_api_service import ApiBlobType, ApiStartBlobUploadRequest

        start = ApiStartBlobUploadRequest()
        start.type, start.name, start.content_length = ApiBlobType.DATASET, name, len(data)
        start.content_type = "application/octet-stream"
        answer = self._call(lambda k: k.blobs.blob_api_client.start_blob_upload(start))
        with open_client(self.policy, self.datasets.upload_read_s) as http:
            put = http.put(answer.create_url, content=data,
                           headers={"Content-Type": "application/octet-stream"})  # fmt: skip
            put.raise_for_status()
        log.info("uploaded %s (%d bytes)", name, len(data))
        return answer.token

    def _create(self, owner: str, slug: str, token: str, notes: str, exists: bool) -> None:
        types = self._types()
        new_file = types.ApiDatasetNewFile()
        new_file.token = token
        if exists:
            request = types.ApiCreateDatasetVersionRequest()
            request.owner_slug, request.dataset_slug = owner, slug
            request.body = types.ApiCreateDatasetVersionRequestBody()
            request.body.version_notes, request.body.files = notes, [new_file]
            answer = self._call(lambda k: k.datasets.dataset_api_client.create_dataset_version(
                request), retry=False)  # a retry must first check whether it landed
        else:
            request = types.ApiCreateDatasetRequest()
            request.owner_slug, request.slug, request.title = owner, slug, slug
            request.license_name, request.is_private, request.files = LICENSE, True, [new_file]
            request.description = f"Made by arz for its Kaggle jobs ({notes})."
            answer = self._call(lambda k: k.datasets.dataset_api_client.create_dataset(request),
                                retry=False)
        if answer.error:
            raise KaggleDatasetError(f"Kaggle refused the code dataset {owner}/{slug}: {answer.error}",
                                     fix="read the message; fix the dataset on kaggle.com or "
                                     "delete it, then submit again")  # fmt: skip

    # ---- plumbing ------------------------------------------------------------------------
    def _types(self) -> Any:
        self.connection.api()  # the client is imported under the connection's lock first
        from kagglesdk.datasets.types import dataset_api_service

        return dataset_api_service

    def _call(self, work: Callable[[Any], Any], retry: bool = True) -> Any:
        """One API call through the client, retried on transient failures when ``retry``."""

        def once() -> Any:
            with self.connection.client() as kaggle:
                return work(kaggle)

        return retrying(once, self.policy) if retry else once()


class _Processing(Exception):
    """The dataset's current version is not ready yet."""

    def __init__(self, ref: str, status: str):
        super().__init__(f"{ref} is {status}")
        self.ref, self.status = ref, status
