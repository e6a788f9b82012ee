"""The solver's backend registry: one table of named backends, chosen by name (STYLE rule 3).

==============  ======  ===========================================  =========================
name            device  batched networks                             a single road
==============  ======  ===========================================  =========================
``numpy``       cpu     --                                           ``NumpyBackend`` (oracle)
``numba-cpu``   cpu     ``BatchedNetwork`` (float64)                 ``NumbaCpuBackend``
``numba-cuda``  gpu     ``CudaBatchedNetwork`` (float64, float32)    --
==============  ======  ===========================================  =========================

``BatchedNetwork`` is in :mod:`solver.network.batch`, ``CudaBatchedNetwork`` in
:mod:`solver.network.batch_cuda`, the road backends in :mod:`solver.road.backends`.

:func:`make_batched_network` builds every batched network that a caller picks by device
(``arz simulate`` on a network, the RL environments on CPU and GPU): it resolves
``device`` (``auto|cpu|gpu``, :mod:`solver.device`) to a backend of this table. (Tests and
benches that time or check one class at a chosen thread count build that class directly.) :func:`get_backend`
gives the link-level backend that advances a single road (:mod:`solver.road.backends`).

Why there is no numpy network backend: a network step is the link step of every link plus the
node fluxes (entries with their queues, exits, junctions with signals). The link step already has
its numpy oracle (:mod:`solver.road.oracle`, the ``numpy`` road backend, checked against
``numba-cpu`` to ~1e-12), and ``tests/solver/network_checks.py`` checks every step of a compiled
network independently in numpy (junction faces recomputed from the junction rule, measures
integrated from the state). A numpy network backend would be a second network step of several
hundred lines that only tests would run, and it would test the link step a second time.

Why ``numba-cuda`` runs no single road: a road is one link in one copy; the GPU pays off only with
thousands of copies, which only networks (RL, sweeps) have. Module paths are ``"module:class"``
strings imported on use, so asking for ``numba-cpu`` never imports numba-cuda.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from solver.errors import BackendError

DTYPES = ("float64", "float32")


class Backend(NamedTuple):
    """One row of the registry.

    Attributes:
        device: ``cpu`` or ``gpu`` (what :func:`solver.device.resolve_device` returns).
        network: ``"module:class"`` of the batched network stepper, or ``""`` (runs no network).
        road: ``"module:class"`` of the link-level backend of a single road, or ``""``.
        dtypes: state precisions the network stepper runs.
    """

    device: str
    network: str
    road: str
    dtypes: tuple[str, ...]


BACKENDS: dict[str, Backend] = {
    "numpy": Backend("cpu", "", "solver.road.backends:NumpyBackend", ("float64",)),
    "numba-cpu": Backend("cpu", "solver.network.batch:BatchedNetwork",
                         "solver.road.backends:NumbaCpuBackend", ("float64",)),
    "numba-cuda": Backend("gpu", "solver.network.batch_cuda:CudaBatchedNetwork", "", ("float64", "float32")),
}  # fmt: skip
#: the network backend of each resolved device
DEVICE_BACKEND = {"cpu": "numba-cpu", "gpu": "numba-cuda"}


def _load(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def _names(kind: str) -> str:
    return ", ".join(name for name, b in BACKENDS.items() if getattr(b, kind))


def get_backend(name: str):
    """The link-level backend that advances a single road (a fresh instance), by name.

    Returns:
        A :class:`solver.road.backends.KernelBackend` (``numpy`` or ``numba-cpu``).

    Raises:
        BackendError: unknown name, or a backend that runs no single road (the message lists the
            ones that do).
    """
    backend = BACKENDS.get(name)
    if backend is None:
        raise BackendError(f"unknown backend {name!r}: choose one of {_names('road')}")
    if not backend.road:
        raise BackendError(f"backend {name!r} runs no single road (it runs batched networks, device gpu): "
                           f"a single road runs on {_names('road')}")  # fmt: skip
    return _load(backend.road)()


def make_batched_network(net, batch: int = 1, device: str = "auto", dtype: str = "float64",
                         threads: int | None = None):
    """Build the batched stepping object for ``net`` on the resolved device.

    Args:
        net: compiled :class:`solver.network.compile.Network`.
        batch: number of independent copies.
        device: ``auto``, ``cpu`` or ``gpu``.
        dtype: state precision, ``float64`` or ``float32``. The CPU runs float64 only: with
            ``auto`` a float32 request runs float64 on a machine without a GPU.
        threads: CPU worker threads (default :func:`solver.threads.default_threads`: ``ARZ_THREADS``
            or the usable cores); ignored on the GPU.

    Returns:
        A :class:`solver.network.batch.BatchedNetwork` or
        :class:`solver.network.batch_cuda.CudaBatchedNetwork`.

    Raises:
        BackendError: no GPU for ``gpu``, an unknown dtype, or float32 with ``device="cpu"``.
    """
    from solver.device import resolve_device

    if dtype not in DTYPES:
        raise BackendError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    name = DEVICE_BACKEND[resolve_device(device)]
    backend = BACKENDS[name]
    if dtype not in backend.dtypes:
        if device != "auto":
            raise BackendError(f"the {name} backend runs {', '.join(backend.dtypes)} only (got dtype "
                               f"{dtype!r}); use dtype float64 or device gpu")  # fmt: skip
        dtype = backend.dtypes[0]
    factory = _load(backend.network)
    if backend.device == "gpu":
        return factory(net, batch=batch, dtype=dtype)
    return factory(net, batch=batch, threads=threads)
