"""Compiled kernels reused between jobs (kernel_payload/kernel_cache.py), never stale ones.

The end-to-end cases run real numba in subprocesses on a miniature project (a cached kernel that
inlines a callee module, as solver's kernels inline solver.physics) cloned to several paths, the
way the bootstrap clones each job into a fresh temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_payload import kernel_cache
from orchestrator import kernel_bootstrap
from solver.kernels import sources as fingerprint

REPO = Path(__file__).resolve().parents[2]

TINY_FINGERPRINT = 'DEPENDENCIES = {"solver/kernels_tiny.py": ("solver/physics_tiny.py",)}\n'
TINY_PHYSICS = "import numba\n\n\n@numba.njit(inline='always')\ndef speed(x):\n    return x + OFFSET\n"
TINY_KERNELS = ("import numba\n\nfrom solver import physics_tiny\n\n\n"
                "@numba.njit(cache=True)\ndef step(x):\n    return 2.0 * physics_tiny.speed(x)\n")  # fmt: skip
CACHED_JIT = re.compile(r"^(\s*@|\w+\s*=\s*)(numba\.)?njit\([^)]*cache=True", re.M)
PROBE = """
import json
from kernel_payload.kernel_cache import install_from_env
state, status = install_from_env()
from solver import kernels_tiny
value = kernels_tiny.step(1.0)
stats = kernels_tiny.step.stats
print(json.dumps({"state": state, "status": status, "value": value, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
"""


def tiny_clone(folder: Path, offset: float = 1.0, kernel_extra: str = "") -> Path:
    """A miniature project tree: the real kernel_cache module, a cached kernel and its callee."""
    (folder / "kernel_payload").mkdir(parents=True)
    (folder / "kernel_payload" / "__init__.py").write_text("")
    shutil.copy2(REPO / "kernel_payload" / "kernel_cache.py", folder / "kernel_payload")
    (folder / "solver").mkdir()
    (folder / "solver" / "__init__.py").write_text("")
    (folder / "solver" / "kernels").mkdir()
    (folder / "solver" / "kernels" / "__init__.py").write_text("")
    (folder / "solver" / "kernels" / "sources.py").write_text(TINY_FINGERPRINT)
    (folder / "solver" / "physics_tiny.py").write_text(f"OFFSET = {offset!r}\n" + TINY_PHYSICS)
    (folder / "solver" / "kernels_tiny.py").write_text(TINY_KERNELS + kernel_extra)
    return folder


def probe(clone: Path, cache: Path) -> dict:
    """Import and call the tiny kernel in a fresh interpreter run from ``clone``."""
    env = {**os.environ, "PYTHONPATH": str(clone), kernel_cache.CACHE_ENV: str(cache)}
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_second_clone_elsewhere_loads_what_the_first_compiled_and_an_edit_never_runs_stale(tmp_path):
    cache = tmp_path / "cache"
    first = probe(tiny_clone(tmp_path / "job-1" / "src"), cache)
    assert (first["value"], first["hits"], first["misses"]) == (4.0, 0, 1)
    assert first["state"] == "cold" and "cold" in first["status"]
    again = probe(tiny_clone(tmp_path / "job-2" / "elsewhere" / "src"), cache)  # new path, new mtimes
    assert (again["value"], again["hits"], again["misses"]) == (4.0, 1, 0)
    assert again["state"] == "warm" and "warm, 1 compiled kernels" in again["status"]
    # the callee changed, the kernel's own file did not: numba alone would load the old code
    callee = probe(tiny_clone(tmp_path / "job-3" / "src", offset=2.0), cache)
    assert (callee["value"], callee["hits"], callee["misses"]) == (6.0, 0, 1)
    # the kernel's own file changed
    own = probe(tiny_clone(tmp_path / "job-4" / "src", kernel_extra="# edited\n"), cache)
    assert (own["value"], own["hits"], own["misses"]) == (4.0, 0, 1)
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 3  # one key folder per callee source
    for job in tmp_path.glob("job-*"):  # nothing compiled lands in the clones
        assert not list(job.rglob("*.nbi")) and not list(job.rglob("*.nbc"))


def test_the_source_stamp_is_the_content_not_the_path_or_mtime(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    shutil.copy(a, b)
    os.utime(b, (1e9, 1e9))
    assert kernel_cache.source_stamp(str(a)) == kernel_cache.source_stamp(str(b))
    b.write_text("x = 2\n")
    assert kernel_cache.source_stamp(str(a)) != kernel_cache.source_stamp(str(b))


def test_the_key_follows_every_kernel_source_and_not_the_clone_path(tmp_path):
    files = kernel_cache.kernel_source_files()
    assert set(fingerprint.DEPENDENCIES) <= set(files) and "solver/physics.py" in files
    for root in (tmp_path / "a", tmp_path / "b"):
        for name in files:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, root / name)
    key = kernel_cache.kernel_key(REPO)
    assert kernel_cache.kernel_key(tmp_path / "a") == kernel_cache.kernel_key(tmp_path / "b") == key
    for name in files:
        original = (tmp_path / "b" / name).read_bytes()
        (tmp_path / "b" / name).write_bytes(original + b"\n")
        assert kernel_cache.kernel_key(tmp_path / "b") != key, name
        (tmp_path / "b" / name).write_bytes(original)


def test_every_module_with_cached_kernels_is_covered_by_the_key():
    cached = set()
    for package in kernel_cache.PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if CACHED_JIT.search(path.read_text()):
                cached.add(path.relative_to(REPO).as_posix())
    assert cached and cached <= set(fingerprint.DEPENDENCIES), (
        f"{sorted(cached - set(fingerprint.DEPENDENCIES))} hold cached kernels: list them and the "
        "files they call into in solver/kernels/sources.py DEPENDENCIES"
    )


def test_old_key_folders_are_pruned_newest_kept(tmp_path):
    for age in range(kernel_cache.KEEP + 2):
        folder = tmp_path / f"key{age}"
        folder.mkdir()
        os.utime(folder, (1e9 - age, 1e9 - age))
    removed = kernel_cache.prune(tmp_path, kernel_cache.KEEP)
    assert sorted(p.name for p in removed) == [f"key{kernel_cache.KEEP}", f"key{kernel_cache.KEEP + 1}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"key{i}" for i in range(kernel_cache.KEEP)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "home"), ("off", None), ("OFF", None), ("relative/cache", None), ("out", None),
     ("out/deeper", None), ("elsewhere", "elsewhere")],
)  # fmt: skip
def test_the_bootstrap_keeps_the_cache_out_of_the_output_folder(tmp_path, monkeypatch, value, expected):
    out = (tmp_path / "out").resolve()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    if value in ("out", "out/deeper", "elsewhere"):
        value = str(tmp_path / value)
    monkeypatch.setenv(kernel_bootstrap.CACHE_ENV, value)
    got = kernel_bootstrap.kernel_cache_dir(out)
    if expected == "home":
        assert got == (tmp_path / "home" / ".cache" / "arz" / "kernels").resolve()
    elif expected is None:
        assert got is None
    else:
        assert got == (tmp_path / expected).resolve()
    env = kernel_bootstrap.payload_env(tmp_path / "src", out)
    assert env[kernel_bootstrap.CACHE_ENV] == (str(got) if got else "off")


def test_a_kernel_module_imported_before_the_cache_is_named(tmp_path):
    """The warning names the cached modules of solver/kernels/sources.py that were imported too early."""
    code = ("import sys; from pathlib import Path\n"
            "import solver.kernels.link, solver.physics\n"
            "from kernel_payload.kernel_cache import install\n"
            "install(Path(sys.argv[1]))\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cache")], cwd=REPO, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "solver.kernels.link imported before the cache was installed" in proc.stderr
    assert "solver.physics" not in proc.stderr  # not a module with cached kernels
    quiet = subprocess.run([sys.executable, "-c", code.replace("import solver.kernels.link, solver.physics\n", ""),
                            str(tmp_path / "cache")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "imported before" not in quiet.stderr, quiet.stderr
