"""numba's cache must not run stale kernels after a callee module changed (solver/fingerprint.py)."""

from solver import fingerprint


def test_cached_kernel_modules_record_the_digest_of_their_callees():
    stale = fingerprint.stale()
    assert not stale, (
        "a module that cached kernels call into changed; run `python -m solver.fingerprint --update` "
        f"so numba recompiles them: {stale}"
    )


def test_a_changed_dependency_is_detected(tmp_path, monkeypatch):
    for name in ("solver/physics.py", "solver/params.py", "solver/kernels_cpu.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((fingerprint.ROOT / name).read_bytes())
    monkeypatch.setattr(fingerprint, "ROOT", tmp_path)
    monkeypatch.setattr(fingerprint, "DEPENDENCIES", {"solver/kernels_cpu.py": ("solver/physics.py", "solver/params.py")})
    assert fingerprint.stale() == []
    (tmp_path / "solver/physics.py").write_text("# edited\n")
    assert [m for m, _, _ in fingerprint.stale()] == ["solver/kernels_cpu.py"]
    assert fingerprint.update() == ["solver/kernels_cpu.py"]
    assert fingerprint.stale() == []
