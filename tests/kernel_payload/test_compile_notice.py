"""The "compiling kernels" notice: cold-cache detection from numba's index files, shown once."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_payload import compile_notice
from kernel_payload.compile_notice import NOTICE, is_cold, notice_if_cold


def _source(tmp_path):
    package = tmp_path / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    source = package / "kernels.py"
    source.write_text("x = 1\n")
    return source


def test_cold_without_an_index_or_with_an_index_older_than_the_source(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    source = _source(tmp_path)
    assert is_cold(source)
    index = source.parent / "__pycache__" / "kernels.advance-12.py311.nbi"
    index.write_bytes(b"")
    os.utime(index, (source.stat().st_mtime + 10,) * 2)
    assert not is_cold(source)
    os.utime(source, (index.stat().st_mtime + 10,) * 2)  # the module was edited after the compile
    assert is_cold(source)


def test_numba_cache_dir_is_the_only_place_looked_at_when_set(tmp_path, monkeypatch):
    source = _source(tmp_path)
    stale = source.parent / "__pycache__" / "kernels.advance-12.py311.nbi"
    stale.write_bytes(b"")
    os.utime(stale, (source.stat().st_mtime + 10,) * 2)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    assert is_cold(source)
    folder = str(source.parent.resolve())
    index = tmp_path / "cache" / f"pkg_{hashlib.sha1(folder.encode()).hexdigest()}" / "kernels.advance-12.py311.nbi"
    index.parent.mkdir(parents=True)
    index.write_bytes(b"")
    os.utime(index, (source.stat().st_mtime + 10,) * 2)
    assert not is_cold(source)


def _warm_cache(cache, modules):
    """Index files newer than each module's source, laid out as numba does under NUMBA_CACHE_DIR."""
    for name in modules:
        source = Path(importlib.util.find_spec(name).origin)
        sub = f"{source.parent.name}_{hashlib.sha1(str(source.parent).encode()).hexdigest()}"
        index = cache / sub / f"{source.stem}.kernel-1.py311.nbi"
        index.parent.mkdir(parents=True, exist_ok=True)
        index.write_bytes(b"")
        os.utime(index, (source.stat().st_mtime + 10,) * 2)


def test_the_notice_is_printed_once_per_process_and_only_when_cold(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compile_notice, "_shown", False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    _warm_cache(tmp_path / "cache", compile_notice.ROAD)
    assert notice_if_cold(compile_notice.ROAD) is False
    assert capsys.readouterr().err == ""
    assert notice_if_cold(compile_notice.NETWORK) is True  # solver.kernels.network has no index yet
    assert notice_if_cold(compile_notice.RL) is True
    assert capsys.readouterr().err == NOTICE + "\n"


@pytest.mark.slow
def test_arz_simulate_says_it_compiles_on_a_cold_cache_only(tmp_path):
    """A real cold compile (an empty NUMBA_CACHE_DIR): the notice, then none on the second run."""
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "riemann_shock.yml"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", "from orchestrator.cli import main; main()", "simulate",
                            str(scenario), "--out", str(tmp_path / "o.npz"), "--json"],
                           env=env, capture_output=True, text=True, timeout=600) for _ in range(2)]  # fmt: skip
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert NOTICE in runs[0].stderr and NOTICE not in runs[1].stderr


def test_the_shipped_kernel_modules_are_found():
    # every module named in the lists exists, so a rename cannot silently turn the notice off
    for name in {*compile_notice.ROAD, *compile_notice.NETWORK, *compile_notice.RL}:
        assert compile_notice.importlib.util.find_spec(name) is not None, name
