"""Background imports of later suites: which start, in which thread, and failures left to the suite."""

import importlib
import sys
import threading

import pytest

from kernel_payload import prewarm


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Two importable modules in a temp folder: one that records its importing thread, one that fails."""
    (tmp_path / "w13_heavy.py").write_text(
        "import threading\nTHREAD = threading.current_thread().name\n"
    )
    (tmp_path / "w13_broken.py").write_text("raise RuntimeError('broken at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(prewarm, "_THREADS", {})
    monkeypatch.setattr(prewarm, "MODULES", {"rl": ("w13_heavy",), "bench": ("w13_broken",)})
    yield
    for name in ("w13_heavy", "w13_broken"):
        sys.modules.pop(name, None)


def test_a_later_suite_is_imported_in_a_background_thread(modules):
    assert prewarm.start(["verify", "rl", "bench"]) == ["rl", "bench"]
    assert prewarm.wait("rl", timeout=30) and prewarm.wait("bench", timeout=30)
    assert sys.modules["w13_heavy"].THREAD == "arz-prewarm-rl"
    assert threading.current_thread().name != "arz-prewarm-rl"


def test_the_first_suite_has_nothing_to_overlap_with(modules):
    assert prewarm.start(["rl", "verify"]) == []
    assert prewarm.wait("rl") and "w13_heavy" not in sys.modules


def test_a_failed_background_import_is_raised_again_by_the_suite(modules):
    prewarm.start(["verify", "bench"])
    assert prewarm.wait("bench", timeout=30)
    assert "w13_broken" not in sys.modules
    with pytest.raises(RuntimeError, match="broken at import"):
        importlib.import_module("w13_broken")
