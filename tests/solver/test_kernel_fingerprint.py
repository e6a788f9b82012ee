"""numba's cache must not run stale kernels after a callee module changed (scripts/kernel_fingerprint.py)."""

from scripts import kernel_fingerprint as fingerprint


def test_cached_kernel_modules_record_the_digest_of_their_callees():
    stale = fingerprint.stale()
    assert not stale, (
        "a module that cached kernels call into changed; run `python -m scripts.kernel_fingerprint --update` "
        f"so numba recompiles them: {stale}"
    )


def test_a_changed_dependency_is_detected(tmp_path, monkeypatch):
    deps = fingerprint.DEPENDENCIES["solver/kernels/link.py"]
    assert "solver/physics.py" in deps
    for name in ("solver/kernels/link.py", *deps):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((fingerprint.ROOT / name).read_bytes())
    monkeypatch.setattr(fingerprint, "ROOT", tmp_path)
    monkeypatch.setattr(fingerprint, "DEPENDENCIES", {"solver/kernels/link.py": deps})
    assert fingerprint.stale() == []
    (tmp_path / "solver/physics.py").write_text("# edited\n")
    assert [m for m, _, _ in fingerprint.stale()] == ["solver/kernels/link.py"]
    assert fingerprint.update() == ["solver/kernels/link.py"]
    assert fingerprint.stale() == []
