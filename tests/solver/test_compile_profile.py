"""What a cold start compiles (scripts/compile_profile.py): each shared pass once, no fused sweep on the CPU.

A constant ``0`` or ``False`` at one call site made numba compile a second copy of the vectorised
flux pass (22 s of a cold start), the CPU readout compiled the fused face-by-face sweep that
nothing else on the CPU runs (34 s), and the face-by-face paths for other flux kinds and
exponents were compiled as branches the common case never takes (~7 s). Counts, not times: the times belong to the profile's output.
Slow (~2 min: everything compiles into an empty cache), so opt-in: ``pytest -m slow``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_cold_start_compiles_each_shared_pass_once(tmp_path):
    out = tmp_path / "profile.json"
    proc = subprocess.run([sys.executable, "-m", "scripts.compile_profile", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    compiles = {
        row["function"]: row["compiles"] for row in json.loads(out.read_text())["functions"]
    }
    for shared in ("capped_cu_fluxes", "relax_pass", "weno5_pass", "limit_pass", "copy_faces",
                   "copy_fluxes", "face_fluxes"):  # fmt: skip  (the readout's; the step's is pruned)
        assert compiles.get(shared) == 1, (shared, compiles.get(shared))
    for generic in ("called_flux", "interface_fluxes", "link_faces"):  # HLL, other exponents, 1st order
        assert generic not in compiles, generic  # the common case (generic_paths -> None) prunes them
    assert "link_sweep" not in compiles  # the GPU readout's fused sweep: not compiled for the CPU
    for inlined in ("read_copy", "network_rk3", "interior_fluxes"):  # into their one caller
        assert inlined not in compiles, inlined
