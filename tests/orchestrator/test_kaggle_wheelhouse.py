"""The wheelhouse (issue 13, item 2), built by real pip from a folder of hand-made wheels (no
network: ``PIP_NO_INDEX`` + ``PIP_FIND_LINKS``), and installed by the real kernel bootstrap
without an index, never over what is already installed."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile

import pytest

from orchestrator import kernel_bootstrap
from orchestrator.errors import BadInput
from orchestrator.wheelhouse import KaggleImage, WheelhouseSpec, build_wheelhouse, wheelhouse_for
from tests.fakes.wheels import make_wheel

IMAGE = KaggleImage(python=f"{sys.version_info.major}.{sys.version_info.minor}",
                    preinstalled=frozenset({"arz-big", "numpy"}))  # fmt: skip


@pytest.fixture
def index(tmp_path, monkeypatch):
    """A folder of wheels as pip's only source."""
    folder = tmp_path / "index"
    make_wheel(folder, "arz-probe", "1.0", ("arz-dep>=0.1", "arz-big", "arz-docs; extra == 'docs'"))
    make_wheel(folder, "arz-dep", "0.2")
    make_wheel(folder, "arz-big", "9.0", ("arz-huge",))  # the image has it: its closure is resolved
    make_wheel(folder, "arz-huge", "1.0")  # (pip reads its metadata) but never downloaded
    make_wheel(folder, "numpy", "0.0.1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def members(data: bytes) -> tuple[dict, list[str]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        return manifest, sorted(tar.getnames())


def test_the_spec_leaves_out_what_the_image_has_and_is_keyed_by_requirements_and_target():
    spec = WheelhouseSpec.for_requirements(["numpy>=1.26", "arz-probe==1.0", "Arz_Big"], IMAGE)
    assert spec.requirements == ("arz-probe==1.0",)
    assert WheelhouseSpec.for_requirements(["numpy", "arz-big"], IMAGE) is None  # nothing missing
    same = WheelhouseSpec.for_requirements(["arz-probe==1.0"], IMAGE)
    assert same.key == spec.key and spec.file_name == f"arz-wheels-{spec.key}.arzpack"
    assert spec.dataset == f"arz-wheels-{spec.key[:16]}"
    assert WheelhouseSpec(("arz-probe==1.1",), IMAGE).key != spec.key
    assert WheelhouseSpec(spec.requirements, KaggleImage(python="3.12")).key != spec.key


def test_wheelhouse_for_follows_internet_and_wheels():
    from kernel_payload.schema.job import KaggleSettings

    requirements = ["numpy", "stable-baselines3>=2.3"]
    assert wheelhouse_for(KaggleSettings(), requirements) is None  # internet on: pip from the index
    assert wheelhouse_for(KaggleSettings(internet=False, wheels=False), requirements) is None
    spec = wheelhouse_for(KaggleSettings(internet=False), requirements)
    assert spec.requirements == ("stable-baselines3>=2.3",)


def test_build_keeps_the_closure_the_image_lacks(index):
    spec = WheelhouseSpec.for_requirements(["arz-probe==1.0", "numpy"], IMAGE)
    manifest, names = members(build_wheelhouse(spec))
    assert names == ["manifest.json", "wheels/arz_dep-0.2-py3-none-any.whl",
                     "wheels/arz_probe-1.0-py3-none-any.whl"]  # no arz-big, arz-huge, arz-docs
    assert manifest["key"] == spec.key and manifest["requirements"] == ["arz-probe==1.0"]
    wheel = (index / "arz_dep-0.2-py3-none-any.whl").read_bytes()
    assert manifest["wheels"]["arz_dep-0.2-py3-none-any.whl"] == hashlib.sha256(wheel).hexdigest()


def test_a_requirement_without_a_wheel_is_one_clear_error(index):
    spec = WheelhouseSpec(("arz-missing==1.0",), IMAGE)
    with pytest.raises(BadInput) as caught:
        build_wheelhouse(spec)
    assert "arz-missing==1.0" in caught.value.message and "cannot be built" in caught.value.message
    assert "kaggle.internet: true" in caught.value.fix


def test_the_kernel_installs_only_what_is_missing_without_an_index(index, tmp_path, monkeypatch):
    make_wheel(index, "arz-extra", "1.0", ("numpy",))
    spec = WheelhouseSpec(("arz-probe==1.0", "arz-extra==1.0"), KaggleImage(
        python=IMAGE.python, preinstalled=frozenset({"arz-big"})))  # numpy goes in the wheelhouse
    data = build_wheelhouse(spec)
    assert "wheels/numpy-0.0.1-py3-none-any.whl" in members(data)[1]
    mounted = tmp_path / "input" / spec.dataset
    mounted.mkdir(parents=True)
    (mounted / spec.file_name).write_bytes(data)
    monkeypatch.setenv("ARZ_INPUT_DIR", str(tmp_path / "input"))
    monkeypatch.setattr(kernel_bootstrap, "SITE", [])
    monkeypatch.setattr(sys, "path", list(sys.path))
    src = tmp_path / "src"
    src.mkdir()

    left = kernel_bootstrap.install_wheels(spec.kernel_config(), ["arz-probe==1.0", "numpy"], src)
    assert left == []
    site = src / ".arz_site"
    assert kernel_bootstrap.SITE == [str(site)]
    assert (site / "arz_probe.py").is_file() and (site / "arz_dep.py").is_file()
    assert not (site / "numpy").exists() and not list(site.glob("numpy-*"))  # installed: kept
    import numpy

    assert numpy.__version__ != "0.0.1"


def test_the_kernel_refuses_a_wheelhouse_of_another_key(index, tmp_path, monkeypatch):
    spec = WheelhouseSpec(("arz-dep==0.2",), IMAGE)
    other = WheelhouseSpec(("arz-dep==0.1",), IMAGE)
    mounted = tmp_path / "input" / "w"
    mounted.mkdir(parents=True)
    (mounted / other.file_name).write_bytes(build_wheelhouse(spec))
    monkeypatch.setenv("ARZ_INPUT_DIR", str(tmp_path / "input"))
    with pytest.raises(kernel_bootstrap.BootstrapError, match="is keyed"):
        kernel_bootstrap.install_wheels(other.kernel_config(), ["arz-dep"], tmp_path)
