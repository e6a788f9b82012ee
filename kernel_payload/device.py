"""What machine the payload runs on: CPU/GPU names and package versions (no heavy imports)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata

from kernel_payload.errors import DeviceUnavailable
from kernel_payload.schema import DeviceInfo

PACKAGES = (
    "arz-lab", "numpy", "numba", "numba-cuda", "scipy", "torch", "gymnasium",
    "stable-baselines3", "pydantic", "matplotlib", "pyyaml",
)  # fmt: skip


def gpu_name() -> str | None:
    """Name of the first NVIDIA GPU according to ``nvidia-smi``, or None when there is none."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=15, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.splitlines() if line.strip()]
    return names[0] if names else None


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux) or :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def detect_device(requested: str) -> DeviceInfo:
    """Resolve the job's ``device`` setting (``auto|cpu|gpu``) against this machine.

    Raises:
        DeviceUnavailable: ``gpu`` was requested and no NVIDIA GPU is visible.
    """
    gpu = gpu_name()
    if requested == "gpu" and gpu is None:
        raise DeviceUnavailable(
            "device: gpu was requested but no NVIDIA GPU is visible (nvidia-smi found none); "
            "on Kaggle keep kaggle.accelerator: NvidiaTeslaT4, elsewhere use device: auto or cpu"
        )
    kind = "gpu" if gpu is not None and requested in ("gpu", "auto") else "cpu"
    cpu = cpu_name()
    return DeviceInfo(
        requested=requested, kind=kind, name=gpu if kind == "gpu" and gpu else cpu, cpu=cpu,
        cpu_count=os.cpu_count() or 1, gpu=gpu, python=platform.python_version(),
        platform=platform.platform(),
    )  # fmt: skip


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results (missing ones are left out)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
