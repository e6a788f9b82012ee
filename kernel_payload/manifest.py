"""The artifact manifest: every output file with its size and sha256."""

from __future__ import annotations

from pathlib import Path

from kernel_payload.schema import SUMMARY_FILE, ArtifactEntry

EXCLUDED = (SUMMARY_FILE, f".{SUMMARY_FILE}.tmp")
"""Top-level files that describe the manifest rather than belong to it (a suite file of the same
name in a subfolder is an ordinary artifact)."""


def output_files(root: Path, under: str = "") -> list[Path]:
    """Regular files under ``root`` (or ``root/under``), sorted, without the summary itself."""
    base = root / under if under else root
    if not base.is_dir():
        return []
    return sorted(
        p for p in base.rglob("*")
        if p.is_file() and not p.is_symlink() and p.relative_to(root).as_posix() not in EXCLUDED
    )  # fmt: skip


def build_manifest(root: Path) -> list[ArtifactEntry]:
    """Describe every output file under ``root`` (path relative to ``root``, bytes, sha256)."""
    return [ArtifactEntry.from_file(root, path) for path in output_files(root)]
