"""The wheelhouse: the wheels a Kaggle kernel lacks, as one private dataset keyed by what it holds.

A kernel pushed with ``kaggle.internet: false`` cannot pip-install from an index. For such a job
the submit names a wheelhouse (:class:`WheelhouseSpec`): the job's requirements minus what the
Kaggle image already has (:data:`KAGGLE_IMAGE`), for the image's Python and platform. Its key is
the sha256 of the requirements and that target, and it lives in the private dataset
``<owner>/arz-wheels-<key[:16]>`` as one file ``arz-wheels-<key>.arzpack`` -- built and uploaded
only when that dataset does not hold it yet (:mod:`orchestrator.backends.kaggle.datasets`), so
unchanged requirements upload nothing.

:func:`build_wheelhouse` resolves the requirements for the target with pip's resolver
(``pip install --dry-run --report`` with ``--only-binary :all: --platform ... --python-version
...``; it reads the metadata of the whole closure, as any pip install does), keeps the closure
of the requirements the image lacks without descending into what the image has (no torch, no
CUDA wheels), downloads exactly those pins with ``pip download --no-deps``
and packs them into a tar with a ``manifest.json`` (key, target, each wheel's sha256). pip reads
its usual configuration (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``pip.conf``), so a private
mirror works. The kernel checks the manifest and installs, with ``--no-index --no-deps``, only the
wheels whose distribution is not installed (``kernel_bootstrap.install_wheels``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.errors import BadInput

WHEELS_PREFIX = "arz-wheels-"
PIP_TIMEOUT_S = 900


@dataclass(frozen=True)
class KaggleImage:
    """What the wheelhouse targets: the Kaggle image's interpreter and what it ships.

    Attributes:
        python: ``major.minor`` of the image's Python.
        platforms: wheel platform tags the image accepts, most specific first.
        implementation: the interpreter (``cp``).
        preinstalled: distributions the image has (normalised names); never put in a wheelhouse,
            and the resolver does not descend into their dependencies.
    """

    python: str = "3.11"
    platforms: tuple[str, ...] = ("manylinux_2_35_x86_64", "manylinux_2_28_x86_64",
                                  "manylinux2014_x86_64", "linux_x86_64")  # fmt: skip
    implementation: str = "cp"
    preinstalled: frozenset[str] = field(default_factory=lambda: frozenset({
        "numpy", "scipy", "pandas", "numba", "llvmlite", "torch", "torchvision", "torchaudio",
        "matplotlib", "pyyaml", "pydantic", "pydantic-core", "tensorboard", "typer", "rich",
        "gitpython", "tenacity", "httpx", "platformdirs", "six", "requests", "packaging",
        "typing-extensions", "pillow", "jinja2", "markupsafe", "cloudpickle", "kaggle",
    }))  # fmt: skip

    def as_dict(self) -> dict:
        """The target as recorded in the key and the manifest."""
        return {"python": self.python, "platforms": list(self.platforms),
                "implementation": self.implementation, "preinstalled": sorted(self.preinstalled)}


KAGGLE_IMAGE = KaggleImage()
"""Kaggle's Python image (``gcr.io/kaggle-images/python``, Ubuntu 22.04, Python 3.11), recorded by
hand from its published requirements: Kaggle answers no API call about it and this project has no
account to learn it from a kernel. A kernel that finds a requirement missing after the wheelhouse
says which; add it to a job's requirements or correct this record."""


def normalise(name: str) -> str:
    """A distribution name in PEP 503 form (``Typing_Extensions`` -> ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement string."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return normalise(match.group(1)) if match else ""


@dataclass(frozen=True)
class WheelhouseSpec:
    """Which wheels a job's kernel needs, and where they live.

    Attributes:
        requirements: the job's requirements the image lacks, sorted.
        image: the target image.
    """

    requirements: tuple[str, ...]
    image: KaggleImage = KAGGLE_IMAGE

    @classmethod
    def for_requirements(cls, requirements: list[str], image: KaggleImage = KAGGLE_IMAGE
                         ) -> WheelhouseSpec | None:  # fmt: skip
        """The spec for ``requirements`` minus what ``image`` has; None when nothing is missing."""
        missing = sorted({r.strip() for r in requirements
                          if requirement_name(r) not in image.preinstalled})  # fmt: skip
        return cls(tuple(missing), image) if missing else None

    @property
    def key(self) -> str:
        """sha256 of the requirements and the target (hex)."""
        text = json.dumps({"requirements": list(self.requirements), "target": self.image.as_dict()},
                          sort_keys=True)  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def dataset(self) -> str:
        """The slug of its private dataset: ``arz-wheels-<key[:16]>``."""
        return f"{WHEELS_PREFIX}{self.key[:16]}"

    @property
    def file_name(self) -> str:
        """The one file of that dataset: ``arz-wheels-<key>.arzpack``."""
        return f"{WHEELS_PREFIX}{self.key}.arzpack"

    def kernel_config(self) -> dict:
        """What the kernel script needs to find and check it."""
        return {"dataset": self.dataset, "file": self.file_name, "key": self.key,
                "requirements": list(self.requirements)}  # fmt: skip


def wheelhouse_for(kaggle, requirements: list[str]) -> WheelhouseSpec | None:
    """The wheelhouse a job's kernel needs: with ``kaggle.internet`` off and ``kaggle.wheels`` on,
    the requirements the image lacks; None otherwise (or when the image has them all)."""
    if kaggle.internet or not kaggle.wheels:
        return None
    return WheelhouseSpec.for_requirements(requirements)


def build_wheelhouse(spec: WheelhouseSpec) -> bytes:
    """Resolve, download and pack the wheels of ``spec`` (an uncompressed tar: wheels compress
    badly); the tar holds ``manifest.json`` and ``wheels/*.whl``.

    Raises:
        BadInput: pip could not resolve or download a requirement for the target (no wheel for
            that platform, an unknown name, no index reachable); names the requirement.
    """
    with tempfile.TemporaryDirectory(prefix="arz-wheels-") as tmp:
        folder = Path(tmp)
        pins = resolve(spec, folder / "report.json")
        wheels = folder / "wheels"
        if pins:
            _pip(["download", "--no-deps", "-d", str(wheels), *target_args(spec.image), *pins],
                 spec)  # fmt: skip
        files = sorted(wheels.glob("*.whl")) if wheels.is_dir() else []
        manifest = {"key": spec.key, "target": spec.image.as_dict(),
                    "requirements": list(spec.requirements),
                    "wheels": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}}
        return _tar(manifest, files)


def resolve(spec: WheelhouseSpec, report: Path) -> list[str]:
    """``name==version`` of every wheel the kernel needs: the closure of ``spec.requirements``
    for the target, not descending into what the image has."""
    _pip(["install", "--dry-run", "--ignore-installed", "--report", str(report),
          *target_args(spec.image), *spec.requirements], spec)  # fmt: skip
    items = json.loads(report.read_text())["install"]
    by_name = {normalise(i["metadata"]["name"]): i["metadata"] for i in items}
    wanted, todo = set(), [requirement_name(r) for r in spec.requirements]
    while todo:
        name = todo.pop()
        if name in wanted or name in spec.image.preinstalled or name not in by_name:
            continue
        wanted.add(name)
        for dep in by_name[name].get("requires_dist") or []:
            if not re.search(r"\bextra\s*==", dep):  # an extra's dependency is not needed
                todo.append(requirement_name(dep))
    return sorted(f"{by_name[n]['name']}=={by_name[n]['version']}" for n in wanted)


def target_args(image: KaggleImage) -> list[str]:
    """pip options that select wheels for ``image`` (never a source build)."""
    platforms = [arg for tag in image.platforms for arg in ("--platform", tag)]
    return ["--only-binary", ":all:", *platforms, "--python-version", image.python,
            "--implementation", image.implementation]  # fmt: skip


def _pip(args: list[str], spec: WheelhouseSpec) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise BadInput(f"pip {args[0]} for the wheelhouse took over {PIP_TIMEOUT_S} s.",
                       fix="check your network or pip index, then submit again") from exc
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        detail = (errors or proc.stderr.strip().splitlines() or ["no output"])[0]
        raise BadInput(f"the wheelhouse for {', '.join(spec.requirements)} (Python "
                       f"{spec.image.python}, {spec.image.platforms[0]}) cannot be built: {detail}",
                       fix="use requirements with wheels for Kaggle's platform, or set "
                       "kaggle.internet: true so the kernel pip-installs them")  # fmt: skip


def _tar(manifest: dict, wheels: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = json.dumps(manifest, indent=1, sort_keys=True).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for path in wheels:
            info = tarfile.TarInfo(f"wheels/{path.name}")
            info.size = path.stat().st_size
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()
