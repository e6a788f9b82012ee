"""The solver's one backend registry (solver/backends.py): names, what each runs, clear refusals."""

import importlib
from pathlib import Path

import pytest

from solver.backends import BACKENDS, DEVICE_BACKEND, get_backend, make_batched_network
from solver.errors import BackendError
from solver.network.batch import BatchedNetwork
from solver.network.compile import build_network
from solver.road.backends import NumbaCpuBackend, NumpyBackend
from solver.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_every_registered_class_exists_and_each_device_has_a_network_backend():
    for name, backend in BACKENDS.items():
        assert backend.network or backend.road, name
        for target in filter(None, (backend.network, backend.road)):
            module, cls = target.split(":")
            assert isinstance(getattr(importlib.import_module(module), cls), type), target
    assert {BACKENDS[n].device for n in DEVICE_BACKEND.values()} == set(DEVICE_BACKEND)
    assert all(BACKENDS[n].network for n in DEVICE_BACKEND.values())


def test_a_single_road_runs_on_numpy_and_numba_cpu_only():
    assert isinstance(get_backend("numpy"), NumpyBackend)
    assert isinstance(get_backend("numba-cpu"), NumbaCpuBackend)
    with pytest.raises(BackendError, match="runs no single road .* numpy, numba-cpu"):
        get_backend("numba-cuda")
    with pytest.raises(BackendError, match="unknown backend 'gpu': choose one of numpy, numba-cpu"):
        get_backend("gpu")


def test_a_cpu_network_is_built_by_the_registry_with_its_threads():
    net = build_network(load_scenario(SCENARIOS / "red_light.yml"))
    sim = make_batched_network(net, batch=3, device="cpu", threads=2)
    assert type(sim) is BatchedNetwork and sim.B == 3 and sim.threads == 2
    with pytest.raises(BackendError, match="dtype 'float16' is not one of float64, float32"):
        make_batched_network(net, device="cpu", dtype="float16")
