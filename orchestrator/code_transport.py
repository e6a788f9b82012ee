"""How a Kaggle kernel gets the pinned commit's code: ``inline``, ``dataset`` or ``git`` (``kaggle.code``).

* ``inline``: the commit's tracked tree, exactly as ``git archive <sha>`` writes it (a tar whose
  pax header carries the commit id), gzip-compressed and embedded base64 in the kernel script.
  Every file of that archive is scanned by the secret guard *on the archive's own bytes* (what
  ``export-subst`` or any other attribute produced is what gets scanned) before the script is
  built. No remote and no push are needed; nothing but the kernel script leaves the machine.
* ``dataset``: the same archive (same guard), uploaded as a new version of one private dataset per
  repository, ``<owner>/arz-code-<repo-slug>`` (:func:`code_dataset_slug`), attached to the kernel
  with ``dataset_sources``; the file is named after the archive's digest (:func:`dataset_file_name`),
  so unchanged code uploads nothing and the kernel finds and checks exactly its archive
  (:mod:`orchestrator.backends.kaggle.datasets` uploads it). No remote and no push are needed.
* ``git``: the kernel clones the pushed commit anonymously from a public HTTPS remote (needs a
  remote, a push and ``internet: true``).
* ``auto``: ``inline`` when the compressed archive is at most :data:`INLINE_MAX_BYTES`, else
  ``dataset``.

``inline`` and ``dataset`` send what ``git archive`` writes, so ``.gitattributes`` shapes it: files marked
``export-ignore`` (this project: ``docs/``) are not sent, and ``export-subst`` expands in the
bytes the guard scans.

The local backend is not concerned: it clones the local repository folder.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import GitSyncError, NoRemote
from orchestrator.secret_guard import SecretGuard, refuse

INLINE_MAX_BYTES = 1_000_000
"""Largest compressed archive sent inline (its base64 text is 4/3 of it, ~1.3 MB of script).

Kaggle documents no limit on a kernel's source: kaggle 2.2.5 checks none before SaveKernel
(``KaggleApi.kernels_push`` in ``kaggle/api/kaggle_api_extended.py`` only checks the title, the
code file and the slug), kagglesdk's ``ApiSaveKernelRequest.text`` states none, and
Kaggle/kaggle-api ``docs/kernels_metadata.md`` lists none. The runners that embed code (kagglex,
docs "Datasets and Large Payloads": "approximately 5 MB for the main script and inline payload")
switch to a dataset above ~5 MB. 1 MB compressed keeps the script near a quarter of that; this
project's own archive is ~0.6 MB compressed (4a3e283), ``docs/`` left out by ``.gitattributes``
(``export-ignore``: a job never reads it; with it the archive was just over 1 MB).
"""
GIT_TIMEOUT_S = 120
DATASET_PREFIX = "arz-code-"
DATASET_SLUG_MAX = 50  # Kaggle: a dataset slug has 6 to 50 characters


@dataclass(frozen=True)
class CodeArchive:
    """The pinned commit's tracked tree, ready to embed.

    Attributes:
        sha: the commit the archive was made from (its pax header carries it too).
        data: the gzip-compressed tar, as ``git archive --format=tar <sha>`` wrote it.
        digest: sha256 of ``data`` (hex); the bootstrap checks it before unpacking.
        files: how many files the archive holds.
    """

    sha: str
    data: bytes
    digest: str
    files: int

    @property
    def size(self) -> int:
        """Compressed bytes."""
        return len(self.data)

    def base64(self) -> str:
        """``data`` as base64 text (what the kernel script embeds)."""
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True)
class TransportPlan:
    """Which transport a job uses, and why.

    Attributes:
        requested: the job's ``kaggle.code`` (``auto``, ``inline``, ``dataset`` or ``git``).
        transport: ``inline``, ``dataset`` or ``git``.
        reason: one phrase for the submit output and ``arz doctor``.
        archive: the archive when ``transport`` is ``inline`` or ``dataset`` (and it was built).
        dataset: the code dataset's slug (without owner) when ``transport`` is ``dataset``.
    """

    requested: str
    transport: str
    reason: str
    archive: CodeArchive | None = None
    dataset: str | None = None

    @property
    def needs_push(self) -> bool:
        """Whether the commit must be pushed to the remote (the ``git`` transport)."""
        return self.transport == "git"


def build_archive(root: Path, sha: str, guard: SecretGuard) -> CodeArchive:
    """``git archive`` of commit ``sha``, refused if any of its files looks like a secret.

    Raises:
        SecretDetected: a file of the archive (by name or content) looks like a secret; names the
            file and the rule. Nothing is built.
        GitSyncError: git could not write the archive.
    """
    try:
        proc = subprocess.run(["git", "archive", "--format=tar", sha], cwd=root,
                              capture_output=True, timeout=GIT_TIMEOUT_S, check=False)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise GitSyncError(f"git archive {sha[:10]} took over {GIT_TIMEOUT_S} s.",
                           fix="check the repository, then submit again") from exc  # fmt: skip
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().replace("\n", " ")
        raise GitSyncError(f"git archive {sha[:10]} failed: {detail}",
                           fix="run `git archive HEAD > /dev/null` by hand to see why")  # fmt: skip
    files = archive_files(proc.stdout)
    refuse(guard.scan_files(files, f"the code archive of {sha[:10]}"))
    data = gzip.compress(proc.stdout, compresslevel=9, mtime=0)
    return CodeArchive(sha, data, hashlib.sha256(data).hexdigest(), len(files))


def code_dataset_slug(root: Path) -> str:
    """The slug of the repository's private code dataset: ``arz-code-<repo-slug>``.

    ``<repo-slug>`` is the repository folder's name in lower case, every run of other characters
    than letters and digits turned into one hyphen, cut to fit Kaggle's 50 characters.
    """
    name = re.sub(r"[^a-z0-9]+", "-", root.resolve().name.lower()).strip("-") or "repo"
    return (DATASET_PREFIX + name)[:DATASET_SLUG_MAX].rstrip("-")


def dataset_file_name(digest: str) -> str:
    """Name of the archive inside a code-dataset version: ``arz-code-<sha256>.arzpack``.

    The digest in the name is how an unchanged archive is recognised (no new version) and how the
    kernel finds its own archive under the input folder. The extension is one Kaggle does not
    know: Kaggle may unpack archives it recognises (zip, tar.gz) when it processes a version,
    which would leave no bytes to check.
    """
    return f"{DATASET_PREFIX}{digest}.arzpack"


def archive_size(root: Path, rev: str = "HEAD") -> int:
    """Compressed bytes of ``git archive <rev>`` (no secret scan: an estimate for ``arz doctor``).

    Raises:
        GitSyncError: git could not write the archive (e.g. no commit yet).
    """
    proc = subprocess.run(["git", "archive", "--format=tar", rev], cwd=root, capture_output=True,
                          timeout=GIT_TIMEOUT_S, check=False)  # fmt: skip
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().replace("\n", " ")
        raise GitSyncError(f"git archive {rev} failed: {detail}", fix="commit once, then retry")
    return len(gzip.compress(proc.stdout, compresslevel=9, mtime=0))


def archive_files(tar_bytes: bytes) -> list[tuple[str, bytes]]:
    """``(path, content)`` of every member of a tar; a link's content is its target."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                out.append((member.name, tar.extractfile(member).read()))  # type: ignore[union-attr]
            elif member.issym() or member.islnk():
                out.append((member.name, member.linkname.encode()))
    return out


def plan_transport(requested: str, archive: CodeArchive | None, remote_url: str | None,
                   size: int | None = None, root: Path | None = None) -> TransportPlan:  # fmt: skip
    """Resolve ``kaggle.code`` into ``inline``, ``dataset`` or ``git``, with the reason.

    Args:
        requested: ``auto``, ``inline``, ``dataset`` or ``git``.
        archive: the commit's archive (None for ``git``, or when only ``size`` is known).
        remote_url: the remote the kernel would clone (None: no remote).
        size: the compressed archive size when ``archive`` is None (``arz doctor``'s estimate).
        root: the repository (names the code dataset; default: the current folder).

    Raises:
        NoRemote: ``git`` asked and the repository has no remote.
        BadInput: ``inline`` asked and the archive is over the limit.
    """
    from orchestrator.errors import BadInput

    size = archive.size if archive is not None else size
    limit = f"{INLINE_MAX_BYTES / 1e6:.1f} MB"
    shown = f"{(size or 0) / 1e6:.2f} MB"
    if requested == "git":
        if not remote_url:
            raise NoRemote("kaggle.code is git: the kernel clones your git remote, but the "
                           "repository has none.", fix="git remote add origin <https URL>, or "
                           "set kaggle.code: inline or dataset (no remote needed)")  # fmt: skip
        return TransportPlan(requested, "git", "kaggle.code: git, the kernel clones the pushed "
                             "commit from the remote (it must be public)")  # fmt: skip
    if requested == "inline" or (requested == "auto" and size is not None
                                 and size <= INLINE_MAX_BYTES):  # fmt: skip
        if size is not None and size > INLINE_MAX_BYTES:
            raise BadInput(f"kaggle.code is inline, but the commit's archive is {shown}, over the "
                           f"{limit} inline limit.", fix="set kaggle.code: dataset (or auto), or "
                           "git rm --cached large files you do not need in the kernel")  # fmt: skip
        why = "kaggle.code: inline" if requested == "inline" else \
            f"kaggle.code: auto and the archive ({shown}) is under the {limit} inline limit"  # fmt: skip
        return TransportPlan(requested, "inline", why + "; no remote or push needed", archive)
    slug = code_dataset_slug(root or Path.cwd())
    why = "kaggle.code: dataset" if requested == "dataset" else \
        f"kaggle.code: auto and the archive ({shown}) is over the {limit} inline limit"  # fmt: skip
    return TransportPlan(requested, "dataset", f"{why}; uploaded to the private dataset {slug} "
                         "(a version per new archive), no remote or push needed", archive, slug)
