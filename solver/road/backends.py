"""Link-level backends of a single road behind one small protocol (chosen by name in
:data:`solver.backends.BACKENDS`, the solver's one registry; :func:`solver.backends.get_backend`).

* ``numpy``: the slow oracle (:mod:`solver.road.oracle`), one link at a time.
* ``numba-cpu``: compiled kernels (:mod:`solver.kernels.link`), threaded over a batch.

Networks run on their own batched steppers (:mod:`solver.network.batch`,
:mod:`solver.network.batch_cuda`), built by :func:`solver.backends.make_batched_network`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, eq=False)
class LinkSetup:
    """Everything a kernel needs to advance one link (arrays are read-only inputs).

    Attributes:
        n: interior cells; dx: cell size (m); cfl: Courant number.
        bc: boundary codes (left, right), ``solver.kernels.link.BC_*``. Shapes: (2,) int64.
        bstate: prescribed inflow states per side. Shapes: (2, 4).
        order: ``FIRST_ORDER``, ``WENO5`` (WENO-Z weights) or ``WENO5_JS``; kind: ``CENTRAL_UPWIND`` or ``HLL``.
        scales: magnitudes of (rho_m, y_m, rho_c, y_c) for WENO's epsilon. Shapes: (4,).
        par: packed physics parameters. Shapes: (N_PAR,).
        vmax: free speeds per class and interior cell (m/s). Shapes: (2, n).
    """

    n: int
    dx: float
    cfl: float
    bc: np.ndarray
    bstate: np.ndarray
    order: int
    kind: int
    scales: np.ndarray
    par: np.ndarray
    vmax: np.ndarray


class KernelBackend(Protocol):
    """Advance a batch of independent copies of one link in place."""

    name: str

    def advance_links(self, setup: LinkSetup, Q: np.ndarray, T: np.ndarray, t_end: float,
                      max_steps: int, BF: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every copy to ``t_end`` s (or ``max_steps`` steps).

        Shapes: Q (B, 4, n + 2 NG) updated; T (B,) updated; BF (B, 2, 4) boundary transfers,
        accumulated. Returns (steps, failures), each (B,) int64.
        """


class NumpyBackend:
    """The oracle: vectorised numpy, a Python loop over the batch."""

    name = "numpy"

    def advance_links(self, setup, Q, T, t_end, max_steps, BF):
        from solver.road import oracle

        steps = np.zeros(Q.shape[0], dtype=np.int64)
        fails = np.zeros_like(steps)
        for b in range(Q.shape[0]):
            T[b], steps[b], fails[b] = oracle.advance_link(Q[b], T[b], t_end, max_steps, setup, BF[b])
        return steps, fails


class NumbaCpuBackend:
    """numba ``@njit(cache=True)`` kernels, a thread per core over the batch (:mod:`solver.threads`)."""

    name = "numba-cpu"

    def __init__(self) -> None:
        self._work: np.ndarray | None = None

    def advance_links(self, setup, Q, T, t_end, max_steps, BF):
        from solver.kernels import link as K

        shape = (Q.shape[0], 7, 4, Q.shape[2])
        if self._work is None or self._work.shape != shape:
            self._work = np.zeros(shape)
        steps = np.zeros(Q.shape[0], dtype=np.int64)
        fails = np.zeros_like(steps)
        K.advance_links_batch(Q, T, float(t_end), int(max_steps), setup.dx, setup.cfl, setup.bc,
                              setup.bstate, setup.order, setup.kind, setup.scales, setup.par,
                              setup.vmax, self._work, BF, steps, fails)
        return steps, fails
