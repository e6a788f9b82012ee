"""Device detection for the session summary: what the solver really uses, and why not a GPU."""

from __future__ import annotations

import pytest

from kernel_payload import device as payload_device
from kernel_payload.errors import DeviceUnavailable
from solver import device as solver_device


@pytest.fixture
def machine(monkeypatch):
    """Fake the two sources: nvidia-smi's GPU name and numba-cuda's (usable, reason)."""

    def set_machine(smi: str | None, status: tuple[bool, str]):
        monkeypatch.setattr(payload_device, "gpu_name", lambda: smi)
        monkeypatch.setattr(solver_device, "gpu_status", lambda: status)

    return set_machine


def test_cpu_machine_auto_is_cpu(machine):
    machine(None, (False, "numba-cuda finds no NVIDIA driver or device"))
    info = payload_device.detect_device("auto")
    assert info.kind == "cpu" and info.gpu is None and info.note == ""
    assert info.name == info.cpu


def test_usable_gpu_auto_records_its_name(machine):
    machine("Tesla T4", (True, ""))
    info = payload_device.detect_device("auto")
    assert (info.kind, info.name, info.gpu, info.note) == ("gpu", "Tesla T4", "Tesla T4", "")


def test_visible_but_unusable_gpu_runs_cpu_and_says_why(machine):
    why = "a GPU is visible but numba-cuda cannot run a kernel (AttributeError: ... 'row_stack')"
    machine("NVIDIA H200", (False, why))
    info = payload_device.detect_device("auto")
    assert info.kind == "cpu" and info.gpu == "NVIDIA H200"
    assert "NVIDIA H200 is visible" in info.note and "row_stack" in info.note


def test_gpu_requested_but_unusable_is_a_clear_error(machine):
    machine("NVIDIA H200", (False, "a GPU is visible but numba-cuda cannot run a kernel (boom)"))
    with pytest.raises(DeviceUnavailable, match=r"boom.*device: auto or cpu"):
        payload_device.detect_device("gpu")


def test_cpu_requested_never_probes_the_gpu(machine, monkeypatch):
    machine("Tesla T4", (True, ""))
    monkeypatch.setattr(solver_device, "gpu_status", lambda: pytest.fail("probed the GPU"))
    info = payload_device.detect_device("cpu")
    assert info.kind == "cpu" and info.gpu == "Tesla T4"


def test_solver_probe_failure_makes_auto_cpu_and_gpu_an_error(monkeypatch):
    """A driver that answers but a numba-cuda that cannot compile (seen: numba-cuda 0.30.4 with
    numpy 2.5) must not be reported as a usable GPU."""
    from numba import cuda

    def broken():
        raise AttributeError("module 'numpy' has no attribute 'row_stack'")

    monkeypatch.setattr(solver_device, "_GPU_STATUS", [])
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(solver_device, "_probe_gpu", broken)
    assert solver_device.gpu_status() == (
        False, "a GPU is visible but numba-cuda cannot run a kernel "
        "(AttributeError: module 'numpy' has no attribute 'row_stack')")  # fmt: skip
    assert solver_device.resolve_device("auto") == "cpu"
    with pytest.raises(solver_device.BackendError, match="row_stack"):
        solver_device.resolve_device("gpu")
