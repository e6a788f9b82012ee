"""Keep numba's on-disk cache honest across edits of the modules a kernel calls into.

numba's ``cache=True`` checks only the modification stamp of the file that *defines* a kernel: a
change in a callee module (``physics.py``, ``kernels_cpu.py``) leaves the caller's cached machine
code in place, so an edited scheme silently runs the old one (this happened once here). Every
module with cached kernels therefore carries ``KERNEL_SOURCES_DIGEST``, a digest of the files it
calls into: editing a dependency makes the digest stale, a test fails, and
``python -m solver.fingerprint --update`` rewrites the constants (which changes the caller's file,
so numba recompiles it).
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: module with cached kernels -> the files its kernels call into (in update order)
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "solver/kernels_cpu.py": ("solver/physics.py", "solver/params.py"),
    "solver/kernels_network.py": ("solver/physics.py", "solver/params.py", "solver/kernels_cpu.py",
                                  "solver/kernels_signals.py"),
    "solver/speeds.py": ("solver/physics.py", "solver/params.py", "solver/kernels_cpu.py",
                         "solver/kernels_signals.py", "solver/kernels_network.py"),
}
_LINE = re.compile(r'^KERNEL_SOURCES_DIGEST = "([0-9a-f]*)"', re.M)


def digest(files: tuple[str, ...]) -> str:
    """First 16 hex digits of the sha256 of the files' bytes, in order."""
    h = hashlib.sha256()
    for name in files:
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()[:16]


def stale() -> list[tuple[str, str, str]]:
    """Modules whose digest is out of date: ``(module, recorded, expected)``."""
    out = []
    for module, deps in DEPENDENCIES.items():
        match = _LINE.search((ROOT / module).read_text())
        recorded = match.group(1) if match else ""
        expected = digest(deps)
        if recorded != expected:
            out.append((module, recorded, expected))
    return out


def update() -> list[str]:
    """Rewrite every stale digest (dependencies first); return the modules changed."""
    changed = []
    for module, deps in DEPENDENCIES.items():
        path = ROOT / module
        text = path.read_text()
        new = f'KERNEL_SOURCES_DIGEST = "{digest(deps)}"'
        if _LINE.search(text) is None:
            raise SystemExit(f"{module}: add a line KERNEL_SOURCES_DIGEST = \"\" near the top")
        updated = _LINE.sub(new, text, count=1)
        if updated != text:
            path.write_text(updated)
            changed.append(module)
    return changed


if __name__ == "__main__":
    if "--update" in sys.argv:
        print("\n".join(update()) or "up to date")
    else:
        bad = stale()
        print("\n".join(f"{m}: {r or '-'} != {e}" for m, r, e in bad) or "up to date")
        sys.exit(1 if bad else 0)
