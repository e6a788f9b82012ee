"""Downloading a Kaggle kernel's outputs, verified against the payload's manifest.

``ListKernelSessionOutput`` (paged, through the ``kaggle`` client) returns each output file's name
and a URL to fetch it, plus the session log. Files are fetched with ``httpx``
(:func:`~orchestrator.backends.kaggle.http.open_client`), with timeouts and retries, checked against ``Content-Length``
and written atomically; then every file the manifest in ``session_summary.json`` lists is checked
(size and sha256), and the ones that do not match are fetched again (the listing is re-read,
since file URLs may be short-lived signed links). Nothing is ever invented: a file that cannot be
fetched intact is an error naming it.

Nothing from the kernel is trusted: listed names and manifest paths must be safe relative paths
(:func:`~orchestrator.output_guard.check_relative_path`), and every byte fetched is charged to the
pull's :class:`~orchestrator.output_guard.ByteBudget` while it streams.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import httpx

from kernel_payload.schema import SUMMARY_FILE, SessionSummary
from orchestrator.backends.base import KernelRef
from orchestrator.backends.kaggle.connection import KaggleConnection
from orchestrator.backends.kaggle.errors import KaggleError
from orchestrator.backends.kaggle.http import open_client, retrying
from orchestrator.backends.kaggle.logformat import log_lines, parse_log_blob, version_label
from orchestrator.errors import ManifestMismatch
from orchestrator.output_guard import ByteBudget, check_relative_path, copy_file_safely

log = logging.getLogger(__name__)
MAX_PAGES = 1000
SUMMARY_MAX_BYTES = 16 * 2**20
"""Cap when only ``session_summary.json`` is fetched to read the verdict."""
_KAGGLE_FILE = re.compile(r"^__[A-Za-z0-9_]+__(\.[A-Za-z0-9]+|_files/.*)$")


def is_kaggle_file(name: str) -> bool:
    """True for files Kaggle adds to a kernel's output itself (``__results__.html``, ...)."""
    return bool(_KAGGLE_FILE.match(name))


def safe_target(dest: Path, name: str) -> Path:
    """``dest/name``, refusing names that would escape ``dest`` (absolute, ``..``, backslash...).

    Raises:
        OutputRefused: the name is not a safe relative path.
    """
    return dest.joinpath(*check_relative_path(name).split("/"))


class OutputFetcher:
    """Lists and downloads the outputs of one pinned kernel version.

    Args:
        connection: the authenticated client.
        attempts: how many times a file failing the manifest is fetched in all.
    """

    def __init__(self, connection: KaggleConnection, attempts: int = 3):
        self.connection = connection
        self.policy = connection.policy
        self.attempts = attempts

    def listing(self, ref: KernelRef) -> tuple[dict[str, str], list[dict]]:
        """Every output file (name -> URL) and the log events, across all pages."""
        files: dict[str, str] = {}
        events: list[dict] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = retrying(lambda t=token: self._page(ref, t), self.policy)
            files.update({f.file_name: f.url for f in page.files or []
                          if f.file_name and f.url and not is_kaggle_file(f.file_name)})
            if page.log and not events:
                events = parse_log_blob(page.log)
            token = page.next_page_token
            if not token:
                return files, events
        raise KaggleError(f"output listing of {ref.owner}/{ref.slug} has over {MAX_PAGES} pages.")

    def _page(self, ref: KernelRef, token: str | None) -> Any:
        request = self.connection.kernel_types().ApiListKernelSessionOutputRequest()
        request.user_name, request.kernel_slug = ref.owner, ref.slug
        request.version_label = version_label(ref)
        request.page_size = 100
        request.page_token = token or ""
        with self.connection.client() as kaggle:
            return kaggle.kernels.kernels_api_client.list_kernel_session_output(request)

    def fetch(self, url: str, target: Path, budget: ByteBudget | None = None) -> None:
        """Download one URL to ``target`` (atomically), with timeouts, retries, length check.

        Args:
            url: the file's URL from the listing.
            target: where to write it.
            budget: byte cap charged while streaming (refused past it, never retried).
        """
        retrying(lambda: self._fetch_once(url, target, budget), self.policy)

    def _fetch_once(self, url: str, target: Path, budget: ByteBudget | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        with open_client(self.policy, self.policy.download_read_timeout_s) as client, \
                client.stream("GET", url) as response:  # fmt: skip
            response.raise_for_status()
            expected = response.headers.get("Content-Length")
            try:
                with open(part, "wb") as out:
                    if budget is not None and expected is not None and expected.isdigit():
                        budget.check_size(target.name, int(expected))
                    for block in response.iter_bytes(1 << 20):
                        if budget is not None:
                            budget.take(target.name, len(block))
                        out.write(block)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
        size = part.stat().st_size
        if expected is not None and int(expected) != size:
            part.unlink()
            raise httpx.RemoteProtocolError(f"{target.name}: got {size} of {expected} bytes")
        os.replace(part, target)

    def download(self, ref: KernelRef, dest: Path, verify: bool = True,
                 budget: ByteBudget | None = None) -> list[Path]:  # fmt: skip
        """Fetch every output file and the log into ``dest``; verify against the manifest.

        Args:
            ref: the pinned kernel version.
            dest: staging folder (created if missing).
            verify: check the manifest and re-fetch damaged files (off when salvaging a run
                that had not finished, whose manifest cannot exist yet).
            budget: byte cap for everything fetched (None: the default results cap).

        Returns:
            The written paths (outputs first, the ``<slug>.log`` last).

        Raises:
            ManifestMismatch: a listed file is still missing or damaged after every attempt.
        """
        from kernel_payload.schema import DEFAULT_MAX_RESULT_BYTES

        budget = budget or ByteBudget(DEFAULT_MAX_RESULT_BYTES)
        dest.mkdir(parents=True, exist_ok=True)
        files, events = self.listing(ref)
        for name in files:
            check_relative_path(name)  # every name is checked before anything is written
        written: list[Path] = []
        try:
            for name, url in sorted(files.items()):
                written.append(self._fetch_named(dest, name, url, budget))
            if verify:
                self._repair(ref, dest, files, budget)
        except BaseException:
            for path in written:  # leave no half download behind
                path.unlink(missing_ok=True)
            raise
        log_path = dest / f"{ref.slug}.log"
        lines = log_lines(events)
        log_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return [*written, log_path]

    def fetch_summary(self, ref: KernelRef, dest: Path) -> Path | None:
        """Fetch only the top-level ``session_summary.json`` into ``dest``; None if not listed."""
        files, _ = self.listing(ref)
        if SUMMARY_FILE not in files:
            return None
        return self._fetch_named(dest, SUMMARY_FILE, files[SUMMARY_FILE],
                                 ByteBudget(SUMMARY_MAX_BYTES))  # fmt: skip

    def _fetch_named(self, dest: Path, name: str, url: str, budget: ByteBudget) -> Path:
        target = safe_target(dest, name)
        self.fetch(url, target, budget)
        return target

    def _repair(self, ref: KernelRef, dest: Path, files: dict[str, str], budget: ByteBudget) -> None:
        for attempt in range(1, self.attempts + 1):
            damaged = self._damaged(dest, files)
            if not damaged:
                return
            if attempt == self.attempts:
                name, problem = damaged[0]
                raise ManifestMismatch(name, f"{problem} after {self.attempts} downloads", ref.slug)
            log.warning("re-downloading %d damaged file(s): %s", len(damaged),
                        ", ".join(n for n, _ in damaged))
            files, _ = self.listing(ref)
            for name, _problem in damaged:
                if name in files:
                    self._fetch_named(dest, name, files[name], budget)

    def _damaged(self, dest: Path, files: dict[str, str]) -> list[tuple[str, str]]:
        """Files that do not match the manifest: (name, problem); the summary itself first."""
        if SUMMARY_FILE not in files:
            return []
        try:
            summary = SessionSummary.read(dest)
        except (OSError, ValueError) as err:
            return [(SUMMARY_FILE, f"unreadable ({type(err).__name__})")]
        problems = [(e.path, e.problem(dest)) for e in summary.artifacts
                    if check_relative_path(e.path)]  # an unsafe path is refused, never read
        return [(name, problem) for name, problem in problems if problem]


def salvaged_summary(salvage: str | None, dest: Path) -> Path | None:
    """Copy ``session_summary.json`` from a salvage folder (regular file, capped) into ``dest``."""
    source = Path(salvage or "") / SUMMARY_FILE
    if not salvage or source.is_symlink() or not source.is_file():
        return None
    dest.mkdir(parents=True, exist_ok=True)
    return copy_file_safely(source, dest / SUMMARY_FILE, SUMMARY_FILE, ByteBudget(SUMMARY_MAX_BYTES))
