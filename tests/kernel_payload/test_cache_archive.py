"""The kernel cache as one archive: written by the payload, unpacked by the bootstrap; a bad or
foreign archive only means a cold cache."""

import io
import tarfile

from kernel_payload import cache_archive
from orchestrator import kernel_bootstrap

KEY = "0123456789abcdef"


def _key_folder(tmp_path):
    folder = tmp_path / "cache" / KEY
    (folder / "solver" / "kernels").mkdir(parents=True)
    (folder / "solver" / "kernels" / "link.advance-404.py311.nbi").write_bytes(b"index")
    (folder / "solver" / "kernels" / "link.advance-404.py311.1.nbc").write_bytes(b"\x00code")
    return folder


def test_an_exported_cache_is_restored_byte_for_byte_into_an_empty_cache(tmp_path, monkeypatch):
    folder = _key_folder(tmp_path)
    path = cache_archive.export(folder, tmp_path / "out", cpu="skylake +avx2")
    assert path.name == f"arz-kcache-{cache_archive.archive_key(KEY, 'skylake +avx2')}.tar"
    assert path.parent == tmp_path / "out" / "kernel_cache"
    assert cache_archive.archive_name(KEY, "znver3 +avx2") != path.name  # another CPU, another name
    mounted = tmp_path / "input" / "arz-kcache-x"
    mounted.mkdir(parents=True)
    (mounted / path.name).write_bytes(path.read_bytes())
    monkeypatch.setenv(kernel_bootstrap.INPUT_ENV, str(tmp_path / "input"))
    fresh = tmp_path / "fresh"
    assert kernel_bootstrap.restore_kernel_cache(fresh) == 2
    for old in folder.rglob("*.nb*"):
        assert (fresh / old.relative_to(folder.parent)).read_bytes() == old.read_bytes()


def test_unsafe_members_and_a_damaged_archive_are_skipped_without_error(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("../evil.nbi", f"{KEY}/../../evil.nbi", "not-a-key/x.nbi", f"{KEY}/ok.nbi"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"ok"))
        link = tarfile.TarInfo(f"{KEY}/link.nbi")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    mounted = tmp_path / "input" / "d"
    mounted.mkdir(parents=True)
    (mounted / "arz-kcache-a.tar").write_bytes(buffer.getvalue())
    (mounted / "arz-kcache-b.tar").write_bytes(b"not a tar at all")
    monkeypatch.setenv(kernel_bootstrap.INPUT_ENV, str(tmp_path / "input"))
    cache = tmp_path / "sub" / "cache"
    assert kernel_bootstrap.restore_kernel_cache(cache) == 1
    assert [p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()] == [
        f"{KEY}/ok.nbi"
    ]
    assert not (tmp_path / "sub" / "evil.nbi").exists() and not (tmp_path / "evil.nbi").exists()


def test_the_payload_exports_only_when_asked_and_something_compiled(tmp_path, monkeypatch):
    folder = _key_folder(tmp_path)
    out = tmp_path / "out"
    monkeypatch.delenv(cache_archive.EXPORT_ENV, raising=False)
    assert cache_archive.export_from_env(folder, 3, out) is None
    monkeypatch.setenv(cache_archive.EXPORT_ENV, "1")
    assert "nothing compiled" in cache_archive.export_from_env(folder, 0, out)
    assert not out.exists()
    line = cache_archive.export_from_env(folder, 3, out)
    assert line.startswith("kernel cache archive: kernel_cache/arz-kcache-")
    assert len(list((out / "kernel_cache").glob("arz-kcache-*.tar"))) == 1
