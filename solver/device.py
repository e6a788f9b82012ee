"""Which device runs the batched network solver: ``auto``, ``cpu`` or ``gpu``.

``device`` is offered wherever a network runs (solver, env, jobs): :func:`resolve_device` turns it
into ``cpu`` or ``gpu`` for this machine (:func:`gpu_status`: numba-cuda can compile and run a
kernel here), :func:`device_name` names the chosen device for the session summary.
:func:`solver.backends.make_batched_network` maps the resolved device to a backend of the
registry. numba-cuda is imported only when asked about.
"""

from __future__ import annotations

import os
import platform

from solver.errors import BackendError

DEVICES = ("auto", "cpu", "gpu")


_GPU_STATUS: list = []  # [(usable, reason)] once probed in this process


def _probe_gpu() -> None:
    """Compile and launch a one-thread kernel and check its result (raises on any failure).

    ``cuda.is_available()`` only asks the driver; a numba-cuda that cannot compile for this
    numpy (numba-cuda 0.30.4 with numpy 2.5 fails in its typing registry on first compile) or a
    missing NVVM only shows when a kernel is built, so the probe builds one.
    """
    import numpy as np
    from numba import cuda

    def twice_plus_one(x):  # one thread; no cuda.* inside, so the simulator runs it as is
        for i in range(x.size):
            x[i] = 2.0 * x[i] + 1.0

    data = cuda.to_device(np.ones(4, np.float64))
    cuda.jit(twice_plus_one)[1, 1](data)
    out = data.copy_to_host()
    if not np.all(out == 3.0):
        raise RuntimeError(f"probe kernel returned {out.tolist()} instead of [3.0, 3.0, 3.0, 3.0]")


def gpu_status() -> tuple[bool, str]:
    """Whether numba-cuda can run kernels here, and why not: ``(usable, reason)``.

    Probed once per process: numba-cuda importable, ``cuda.is_available()``, then a tiny kernel
    compiled, launched and checked (about a second on a real GPU; instant on the simulator).
    ``reason`` is ``""`` when usable, else one line naming the cause.
    """
    if not _GPU_STATUS:
        try:
            from numba import cuda
        except ImportError as exc:
            _GPU_STATUS.append((False, f"numba-cuda is not importable ({exc}); pip install numba-cuda"))
            return _GPU_STATUS[0]
        try:
            if not cuda.is_available():
                _GPU_STATUS.append((False, "numba-cuda finds no NVIDIA driver or device"))
                return _GPU_STATUS[0]
            _probe_gpu()
            _GPU_STATUS.append((True, ""))
        except Exception as exc:  # a broken install reports itself in many ways
            cause = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            _GPU_STATUS.append((False, f"a GPU is visible but numba-cuda cannot run a kernel ({cause})"))
    return _GPU_STATUS[0]


def gpu_available() -> bool:
    """True when numba-cuda can compile and run a kernel on a GPU here (or its simulator is on)."""
    return gpu_status()[0]


def resolve_device(device: str = "auto") -> str:
    """Resolve ``auto|cpu|gpu`` to ``cpu`` or ``gpu`` on this machine.

    ``auto`` picks the GPU when numba-cuda can run a kernel on one (:func:`gpu_status`), else
    the CPU.

    Raises:
        BackendError: an unknown name, or ``gpu`` where no GPU is usable.
    """
    if device not in DEVICES:
        raise BackendError(f"device {device!r} is not one of {', '.join(DEVICES)}: pick one of those")
    if device == "cpu":
        return "cpu"
    if gpu_available():
        return "gpu"
    if device == "gpu":
        usable, reason = gpu_status()
        why = reason if not usable else "no driver or device, or numba-cuda is not installed"
        raise BackendError(
            f"device 'gpu' was requested but numba-cuda finds no usable NVIDIA GPU ({why}); use "
            "device 'auto' or 'cpu', or run where a GPU is attached (on Kaggle: a GPU accelerator "
            "such as NvidiaTeslaT4)"
        )
    return "cpu"


def device_name(device: str = "auto") -> str:
    """Human-readable name of the device :func:`resolve_device` picks (for session summaries).

    Returns e.g. ``"Tesla T4"``, ``"CUDA simulator"`` or ``"x86_64 CPU (2 cores)"``.
    """
    if resolve_device(device) == "gpu":
        from numba import cuda

        if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            return "CUDA simulator"
        name = cuda.get_current_device().name
        return name.decode() if isinstance(name, bytes) else str(name)
    cpu = platform.processor() or platform.machine() or "unknown"
    return f"{cpu} CPU ({os.cpu_count() or 1} cores)"
