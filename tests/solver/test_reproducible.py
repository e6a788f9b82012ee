"""A scenario's numbers do not depend on whether its kernels were just compiled or loaded from
numba's disk cache (with reassoc/contract fast-math they did: solver/kernels/link.py FASTMATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cold_and_warm_kernels_give_bitwise_equal_results(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    env.pop("ARZ_KERNEL_CACHE_DIR", None)
    outs = []
    for run in ("cold", "warm"):
        out = tmp_path / f"{run}.npz"
        proc = subprocess.run([str(Path(sys.executable).with_name("arz")), "simulate", "scenarios/red_light.yml",
                               "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=900)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(np.load(out))
    assert any((tmp_path / "numba-cache").rglob("*.nbc"))  # the second run did load from the cache
    cold, warm = outs
    assert cold.files == warm.files
    for key in cold.files:
        assert np.array_equal(cold[key], warm[key]), key
