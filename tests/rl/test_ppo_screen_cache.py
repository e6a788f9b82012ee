"""``scripts.ppo_screen`` caches its classical baselines per version of the code they ran on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import scripts.ppo_screen as screen

REPO = Path(__file__).resolve().parents[2]


def test_the_digest_follows_the_sources_and_scenarios(tmp_path):
    for folder in ("solver", "rl", "scenarios"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    before = screen.code_digest(tmp_path)
    assert screen.code_digest(tmp_path) == before
    (tmp_path / "README.txt").write_text("not code")
    assert screen.code_digest(tmp_path) == before
    scenario = next((tmp_path / "scenarios").rglob("*.yml"))
    scenario.write_text(scenario.read_text() + "\n# demand edited\n")
    assert screen.code_digest(tmp_path) != before


def test_a_cache_from_other_code_is_computed_again(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(screen, "BASELINES", ("fixed-time",))
    monkeypatch.setattr(screen, "run_controller", lambda *a, **k: calls.append(a[0]) or {"delay": [1.0]})
    cache = tmp_path / "baselines_ARZ-Intersection-v0_1.json"
    cache.write_text(json.dumps({"fixed-time": {"delay": [99.0], "params": {}}, "_code": "other"}))
    fresh = screen.baselines("ARZ-Intersection-v0", [5], tmp_path)
    assert fresh == {"fixed-time": {"delay": [1.0], "params": {}}} and len(calls) == 1
    assert screen.baselines("ARZ-Intersection-v0", [5], tmp_path) == fresh and len(calls) == 1  # cached now
