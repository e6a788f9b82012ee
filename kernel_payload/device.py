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


def _solver_gpu_status() -> tuple[bool, str]:
    """:func:`solver.device.gpu_status`, or ``(False, why)`` when the solver is not importable."""
    try:
        from solver.device import gpu_status
    except ImportError as exc:
        return False, f"the solver's device module is not importable ({exc})"
    return gpu_status()


def detect_device(requested: str) -> DeviceInfo:
    """Resolve the job's ``device`` setting (``auto|cpu|gpu``) against this machine.

    ``kind`` is what the solver will really use: ``gpu`` only when numba-cuda can compile and run
    a kernel (:func:`solver.device.gpu_status`), not merely when ``nvidia-smi`` lists a GPU. A GPU
    that is visible but unusable under ``auto`` gives ``kind: cpu`` and says why in ``note``.
    numba is imported only when ``nvidia-smi`` lists a GPU (or ``gpu`` is requested).

    Raises:
        DeviceUnavailable: ``gpu`` was requested and numba-cuda cannot use a GPU here.
    """
    gpu, note = gpu_name(), ""
    usable, reason = False, ""
    if requested == "gpu" or (requested == "auto" and gpu is not None):
        usable, reason = _solver_gpu_status()
    if requested == "gpu" and not usable:
        raise DeviceUnavailable(
            f"device: gpu was requested but no GPU is usable here ({reason or 'nvidia-smi found none'}); "
            "on Kaggle keep kaggle.accelerator: NvidiaTeslaT4, elsewhere use device: auto or cpu"
        )
    if requested == "auto" and gpu is not None and not usable:
        note = f"{gpu} is visible but the solver runs on the CPU: {reason}"
    kind = "gpu" if usable and requested in ("gpu", "auto") else "cpu"
    if kind == "gpu" and gpu is None:  # numba-cuda sees a GPU that nvidia-smi did not list
        from solver.device import device_name

        gpu = device_name("gpu")
    cpu = cpu_name()
    return DeviceInfo(
        requested=requested, kind=kind, name=gpu if kind == "gpu" else cpu, cpu=cpu,
        cpu_count=os.cpu_count() or 1, gpu=gpu, python=platform.python_version(),
        platform=platform.platform(), note=note,
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
