"""Taking in a kernel's output without trusting it: safe names, no links followed, a byte cap.

A kernel is code the orchestrator did not write; its output folder and its manifest are data from
outside. Everything here refuses rather than repairs:

- :func:`check_relative_path`: a manifest or listing name must be a relative, normalised POSIX
  path that stays inside the folder (no absolute path, ``..``, ``.``, empty part or backslash).
- :func:`copy_tree_safely`: copies a folder entry by entry with ``lstat`` semantics
  (``os.scandir``, ``follow_symlinks=False``, ``O_NOFOLLOW``); a symbolic link, device, FIFO or
  socket is refused without being followed or opened.
- :class:`ByteBudget`: the cap on bytes actually copied or downloaded, charged block by block
  while streaming, so a sparse or endless file is refused before it fills the disk.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from orchestrator.errors import OutputRefused

BLOCK = 1 << 20


class ByteBudget:
    """How many more bytes a pull may write.

    Args:
        max_bytes: the cap (``results.max_bytes`` of the job).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0

    @property
    def left(self) -> int:
        """Bytes still allowed."""
        return max(0, self.max_bytes - self.used)

    def check_size(self, name: str, size: int) -> None:
        """Refuse up front a file whose announced size alone exceeds what is left."""
        if size > self.left:
            self._refuse(name, self.used + size)

    def take(self, name: str, count: int) -> None:
        """Charge ``count`` bytes just read for ``name``; refuse once the cap is passed."""
        self.used += count
        if self.used > self.max_bytes:
            self._refuse(name, self.used)

    def _refuse(self, name: str, total: int) -> None:
        raise OutputRefused(
            f"the outputs exceed the results size cap at {name} ({total:,} bytes > "
            f"results.max_bytes {self.max_bytes:,}); nothing was kept.",
            fix="raise results.max_bytes in the job file if the outputs really are this large",
        )


def check_relative_path(name: str) -> str:
    """``name`` when it is a safe relative POSIX path inside the folder.

    Raises:
        OutputRefused: empty, absolute, with a backslash, a NUL, or a ``.``/``..``/empty part.
    """
    parts = name.split("/") if name else []
    bad = (
        not name or "\\" in name or "\0" in name or name.startswith("/")
        or PurePosixPath(name).is_absolute() or (len(parts[0]) == 2 and parts[0][1] == ":")
        or any(part in ("", ".", "..") for part in parts)
    )  # fmt: skip
    if bad:
        raise OutputRefused(
            f"the kernel's output names an unsafe path {name!r} (it must be relative, normalised "
            "and inside the results folder); nothing was kept.",
            fix="the output was tampered with or written by a buggy suite: inspect it, do not use it",
        )
    return name


def copy_tree_safely(src: Path, dest: Path, budget: ByteBudget) -> list[Path]:
    """Copy the regular files and folders under ``src`` into ``dest``; return the copies.

    ``dest`` is created; files are created exclusively (never through an existing link).

    Raises:
        OutputRefused: a link, device, FIFO or socket is found (named with its relative path),
            or the byte cap is passed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    _copy_folder(src, dest, "", budget, copied)
    return copied


def _copy_folder(src: Path, dest: Path, prefix: str, budget: ByteBudget, copied: list[Path]) -> None:
    with os.scandir(src) as entries:
        ordered = sorted(entries, key=lambda e: e.name)
    for entry in ordered:
        relative = f"{prefix}{entry.name}"
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            (dest / entry.name).mkdir()
            _copy_folder(Path(entry.path), dest / entry.name, relative + "/", budget, copied)
        elif stat.S_ISREG(info.st_mode):
            copied.append(copy_file_safely(Path(entry.path), dest / entry.name, relative, budget))
        else:
            raise OutputRefused(f"the kernel's output holds {_kind(info.st_mode, entry.path)} at "
                                f"{relative}; it was not followed and nothing was kept.",
                                fix="outputs must be regular files and folders; remove it from the "
                                "suite's output")  # fmt: skip


def copy_file_safely(src: Path, target: Path, relative: str, budget: ByteBudget) -> Path:
    """Copy one regular file (opened without following a link) to a new ``target``, charged to
    ``budget`` block by block; ``relative`` names it in errors.

    Raises:
        OutputRefused: ``src`` is not a regular file, or the cap is passed.
        OSError: ``src`` is a link (``O_NOFOLLOW``) or ``target`` already exists.
    """
    info = os.lstat(src)
    if not stat.S_ISREG(info.st_mode):
        raise OutputRefused(f"the kernel's output holds {_kind(info.st_mode, str(src))} at "
                            f"{relative}; it was not followed and nothing was kept.",
                            fix="outputs must be regular files and folders; remove it from the "
                            "suite's output")  # fmt: skip
    budget.check_size(relative, info.st_size)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    source = os.open(src, flags)
    try:
        if not stat.S_ISREG(os.fstat(source).st_mode):  # swapped after the scan
            raise OutputRefused(f"the kernel's output {relative} changed into a non-file while it "
                                "was copied; nothing was kept.", fix="pull again once it has ended")  # fmt: skip
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(out, "wb") as handle:
            while block := os.read(source, BLOCK):
                budget.take(relative, len(block))
                handle.write(block)
    finally:
        os.close(source)
    return target


def _kind(mode: int, path: str) -> str:
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link (-> {os.readlink(path)})"
        except OSError:
            return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"
