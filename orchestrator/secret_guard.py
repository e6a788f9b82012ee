"""The secret guard: scan everything a push or an upload would publish, read from git objects.

What is scanned (see docs/orchestration.md, "Secret guard"):

* every commit a push would send: ``git rev-list TIP --not <what the remote has>``, where what the
  remote has is its advertised refs (``git ls-remote``, when pushing) or else its remote-tracking
  refs; with neither, the whole history. Each commit's new blobs come from
  ``git diff-tree -r -m --root -z`` (merges against every parent), so a secret committed and then
  ``git rm``'d in a later commit is still found;
* the whole tree of the commit the kernel will run (``git ls-tree -r -z``), names and contents,
  since an upload of the code (or the kernel's clone) publishes all of it;
* before committing, the tree ``git add -u`` *would* produce, built in a temporary index, so a
  refusal leaves HEAD, the index and the working tree untouched;
* files handed over as bytes (:meth:`SecretGuard.scan_files`): the members of the ``git archive``
  the ``inline`` code transport embeds in a kernel script, scanned as archived (``export-subst``
  output included).

Contents come from ``git cat-file --batch`` (the stored bytes: no ``.gitattributes``, diff driver,
textconv or encoding can hide them), names are raw ``-z`` paths. Each distinct blob is scanned once.
Rules live in :mod:`orchestrator.secret_rules`; the allowlist file :data:`ALLOWLIST_FILE` (path
globs and fingerprints) is read from the working tree's root.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from orchestrator.errors import GitSyncError, SecretDetected
from orchestrator.secret_rules import (
    Finding,
    decode_blob,
    fingerprint,
    name_rule,
    rules_version,
    scan_text,
)

ALLOWLIST_FILE = ".arz-secrets-allow"
MAX_TEXT_BYTES = 5_000_000
"""Larger blobs are scanned with the format-specific rules only (like binary files)."""
ZERO_SHA = "0" * 40
MESSAGE_PATH = "(commit message)"
GIT_TIMEOUT_S = 120
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Hit:
    """A finding located in what would be published.

    Attributes:
        where: the short commit sha, or a phrase such as ``the changes to commit``.
        path: the raw path (decoded as UTF-8), never quoted.
        rule: the rule that fired.
        line: 1-based line (0: a name rule or binary content).
        fingerprint: what :data:`ALLOWLIST_FILE` names to allow it.
    """

    where: str
    path: str
    rule: str
    line: int
    fingerprint: str


class Allowlist:
    """The project's allowlist file: ``path: <glob>`` and ``fingerprint: <16 hex>`` lines.

    ``#`` starts a comment. A glob matches the raw path; ``*`` and ``?`` stay within one folder,
    ``**`` crosses folders. A fingerprint is printed by every refusal.
    """

    def __init__(self, globs: list[str] | None = None, fingerprints: set[str] | None = None):
        self.globs = list(globs or [])
        self.fingerprints = set(fingerprints or ())
        self._patterns = [re.compile(_glob_regex(g + "**" if g.endswith("/") else g))
                          for g in self.globs]  # fmt: skip

    @classmethod
    def load(cls, root: Path) -> Allowlist:
        """Read ``root/.arz-secrets-allow`` (an empty allowlist when absent).

        Raises:
            GitSyncError: a line is neither ``path: ...`` nor ``fingerprint: <16 hex>``.
        """
        file = root / ALLOWLIST_FILE
        if not file.is_file():
            return cls()
        globs, prints = [], set()
        for number, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            key, _, value = line.partition(":")
            key, value = key.strip().lower(), value.strip()
            if not line:
                continue
            if key == "path" and value:
                globs.append(value)
            elif key == "fingerprint" and re.fullmatch(r"[0-9a-f]{16}", value):
                prints.add(value)
            else:
                raise GitSyncError(
                    f"{ALLOWLIST_FILE} line {number} is not understood: {raw.strip()!r}.",
                    fix="write `path: <glob>` or `fingerprint: <16 hex digits from the refusal>`",
                )
        return cls(globs, prints)

    def allows(self, path: str, finding: Finding) -> bool:
        """Whether ``finding`` in the file at ``path`` is allowed by this list."""
        return finding.fingerprint in self.fingerprints or any(
            p.fullmatch(path) for p in self._patterns
        )


class SecretGuard:
    """Scans commits and trees of one repository; caches each blob's findings by its sha.

    Use as a context manager (it keeps one ``git cat-file --batch`` process open). Blobs found
    clean are remembered in ``<git dir>/arz/secret-scan-clean-<rules version>`` (blob ids and file
    suffixes only, never content), so a repository's history is scanned in full only once.
    """

    def __init__(
        self, root: Path, allowlist: Allowlist | None = None, remember: bool = True
    ) -> None:
        """Args: ``root`` the working tree; ``allowlist`` (default: read ``.arz-secrets-allow``);
        ``remember`` whether to read and extend the clean-blob cache in the git dir."""
        self.root = Path(root)
        self.allowlist = allowlist if allowlist is not None else Allowlist.load(self.root)
        self._findings: dict[str, list[Finding]] = {}
        self._reader: subprocess.Popen[bytes] | None = None
        self._cache_file = _cache_file(self.root) if remember else None
        self._known_clean = _read_cache(self._cache_file)
        self._new_clean: list[str] = []

    def __enter__(self) -> SecretGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the ``cat-file`` process and remember the blobs found clean."""
        if self._new_clean and self._cache_file is not None:
            try:
                self._cache_file.parent.mkdir(exist_ok=True)
                with self._cache_file.open("a") as out:
                    out.write("".join(f"{key}\n" for key in self._new_clean))
            except OSError:
                pass  # a cache only: a read-only git dir just means scanning again next time
            self._new_clean = []
        if self._reader is not None:
            self._reader.stdin.close()  # type: ignore[union-attr]
            self._reader.wait(timeout=GIT_TIMEOUT_S)
            self._reader = None

    def scan_tree(self, tree: str, where: str) -> list[Hit]:
        """Every file of ``tree`` (a tree or commit), by name and content."""
        hits: list[Hit] = []
        out = _git(self.root, "ls-tree", "-r", "-z", "--full-tree", tree)
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, raw_path = entry.partition(b"\t")
            mode, kind, sha = meta.decode().split()
            if kind == "blob":
                hits += self._scan_blob(sha, _path(raw_path), where)
        return hits

    def scan_history(self, tip: str, published: list[str]) -> list[Hit]:
        """The new blobs of every commit reachable from ``tip`` but not from ``published``."""
        spec = "\n".join([tip, *(f"^{sha}" for sha in published)]) + "\n"
        commits = _git(self.root, "rev-list", "--reverse", "--stdin", stdin=spec.encode())
        if not commits.strip():
            return []
        hits = [hit for sha in commits.decode().split() for hit in self._scan_message(sha)]
        out = _git(self.root, "diff-tree", "--stdin", "-r", "-m", "--root", "-z", "--no-renames",
                   "--no-ext-diff", "--no-textconv", stdin=commits)  # fmt: skip
        tokens, commit, i = out.split(b"\0"), "", 0
        while i < len(tokens):
            token = tokens[i]
            if token.startswith(b":"):
                _old_mode, new_mode, _old, new_sha, _status = token[1:].decode().split()
                path = _path(tokens[i + 1])
                i += 2
                if new_sha != ZERO_SHA and not new_mode.startswith("16"):
                    hits += self._scan_blob(new_sha, path, f"commit {commit[:10]}")
                continue
            if _SHA.match(token.decode(errors="replace")):
                commit = token.decode()
            i += 1
        return hits

    def scan_files(self, files: list[tuple[str, bytes]], where: str) -> list[Hit]:
        """Files given as ``(path, bytes)`` -- e.g. the members of an archive about to be
        uploaded -- by name and by the very bytes given (a content already found clean under the
        same git blob id and file type is not scanned twice)."""
        hits: list[Hit] = []
        for path, data in files:
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's id
            hits += self._scan_blob(blob, path, where, data)
        return hits

    def _scan_message(self, sha: str) -> list[Hit]:
        """The commit message is published too (the header holds only names and ids)."""
        message = self._read(sha).partition(b"\n\n")[2]
        text, _ = decode_blob(message)
        return [Hit(f"commit {sha[:10]}", MESSAGE_PATH, f.rule, f.line, f.fingerprint)
                for f in scan_text(MESSAGE_PATH, text) if not self.allowlist.allows("", f)]  # fmt: skip

    def _scan_blob(self, sha: str, path: str, where: str, data: bytes | None = None) -> list[Hit]:
        findings = list(self._blob_findings(sha, path, data))
        why = name_rule(path)
        if why:
            findings.insert(0, Finding(f"file name: {why}", 0, fingerprint(f"name:{path}")))
        return [Hit(where, path, f.rule, f.line, f.fingerprint) for f in findings
                if not self.allowlist.allows(path, f)]  # fmt: skip

    def _blob_findings(self, sha: str, path: str, data: bytes | None = None) -> list[Finding]:
        key = f"{sha}{PurePosixPath(path.lower()).suffix}"  # the rules depend on the file type
        if key in self._known_clean:
            return []
        if key not in self._findings:
            data = self._read(sha) if data is None else data
            text, is_text = decode_blob(data)
            self._findings[key] = scan_text(path, text, is_text and len(data) <= MAX_TEXT_BYTES)
            if not self._findings[key]:
                self._new_clean.append(key)
        return self._findings[key]

    def _read(self, sha: str) -> bytes:
        if self._reader is None:
            self._reader = subprocess.Popen(
                ["git", "cat-file", "--batch"], cwd=self.root, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )  # fmt: skip
        stdin, stdout = self._reader.stdin, self._reader.stdout
        stdin.write(sha.encode() + b"\n")  # type: ignore[union-attr]
        stdin.flush()  # type: ignore[union-attr]
        header = stdout.readline().split()  # type: ignore[union-attr]
        if len(header) != 3:
            raise GitSyncError(f"git could not read object {sha} ({b' '.join(header).decode()}).",
                               fix="run git fsck; the repository may be damaged")  # fmt: skip
        data = stdout.read(int(header[2]))  # type: ignore[union-attr]
        stdout.read(1)  # type: ignore[union-attr]
        return data


def pending_tree(root: Path) -> str:
    """The tree ``git add -u`` followed by a commit would record, built in a temporary copy of the
    index (the real index and the working tree are not touched; new blobs are written to the object
    store, where ``git gc`` drops them if they are never committed)."""
    index = root / _git(root, "rev-parse", "--git-path", "index").decode().strip()
    with tempfile.TemporaryDirectory(prefix="arz-index-") as tmp:
        temp_index = Path(tmp) / "index"
        if index.exists():
            shutil.copy2(index, temp_index)  # keeps its mtime: git's racy-entry check
        env = {"GIT_INDEX_FILE": str(temp_index)}
        _git(root, "add", "-u", env=env)
        return _git(root, "write-tree", env=env).decode().strip()


def published_commits(root: Path, remote: str | None, probe: bool) -> list[str]:
    """Commits the remote already has (a push sends nothing reachable from them).

    With ``probe`` the remote is asked (``git ls-remote``: the refs it really advertises); otherwise,
    or when it cannot be reached, its remote-tracking refs stand in. No remote: an empty list, so the
    whole history counts as unpublished.
    """
    if remote is None:
        return []
    shas: list[str] | None = None
    if probe:
        try:
            out = _git(root, "ls-remote", remote, env={"GIT_TERMINAL_PROMPT": "0"})
            shas = [line.split()[0].decode() for line in out.splitlines() if line.strip()]
        except GitSyncError:
            shas = None
    if shas is None:
        out = _git(root, "for-each-ref", "--format=%(objectname)", f"refs/remotes/{remote}/")
        shas = out.decode().split()
    return _existing_commits(root, sorted(set(shas)))


def refuse(hits: list[Hit]) -> None:
    """Raise :class:`SecretDetected` naming the first hit (and how many others) if there is any."""
    if hits:
        first = hits[0]
        others = len({(h.path, h.rule, h.fingerprint) for h in hits}) - 1
        raise SecretDetected(first.path, first.rule, where=first.where, line=first.line,
                             fingerprint=first.fingerprint, others=others)  # fmt: skip


def _cache_file(root: Path) -> Path | None:
    try:
        common = _git(root, "rev-parse", "--git-common-dir")  # relative to root, or absolute
    except GitSyncError:
        return None
    return root / common.decode().strip() / "arz" / f"secret-scan-clean-{rules_version()}"


def _read_cache(file: Path | None) -> set[str]:
    try:
        return set(file.read_text().split()) if file is not None else set()
    except OSError:
        return set()


def _existing_commits(root: Path, shas: list[str]) -> list[str]:
    if not shas:
        return []
    query = "".join(f"{sha}^{{commit}}\n" for sha in shas).encode()
    out = _git(root, "cat-file", "--batch-check", stdin=query)
    fields = [line.split() for line in out.splitlines()]
    found = [f[0].decode() for f in fields if len(f) == 3 and f[1] == b"commit"]
    return [sha for sha in found if _SHA.match(sha)]


def _path(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")  # printable, even for non-UTF-8 names


def _glob_regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(glob[i], re.escape(glob[i])))
            i += 1
    return "".join(out)


def _git(root: Path, *args: str, stdin: bytes | None = None, env: dict | None = None) -> bytes:
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True,
                              env=full_env, timeout=GIT_TIMEOUT_S, check=False)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise GitSyncError(
            f"git {args[0]} took over {GIT_TIMEOUT_S} s.",
            fix="check the repository and the remote, then submit again",
        ) from exc
    if proc.returncode != 0:
        from orchestrator.urls import redact_text

        detail = redact_text(proc.stderr.decode(errors="replace").strip().replace("\n", " "))
        raise GitSyncError(f"git {args[0]} failed: {detail}",
                           fix="run the same git command by hand to see the details")  # fmt: skip
    return proc.stdout
