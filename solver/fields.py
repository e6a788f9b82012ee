"""What a run returns: output times, primitive fields per cell, and the result of a scenario run.

Shared by the single road (:mod:`solver.road.simulate`) and the network
(:mod:`solver.network.run`), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from solver import physics


@dataclass
class SimulationResult:
    """Output of a scenario run (:func:`solver.road.simulate.simulate` or
    :func:`solver.network.run.simulate_network`).

    Attributes:
        t: output times, s. Shapes: (nt,).
        fields: ``rho_m rho_c`` (veh/m), ``v_m v_c w_m w_c`` (m/s); a network's keys are
            ``LINK/<name>``. Shapes: each (nt, n) with n the cells of the road or of that link.
        ledger: per class ``{entered, exited, stored, queued, residual}`` in vehicles.
        steps: time steps taken; wall_s: wall-clock seconds.
        x: cell centres of a single road, m, shapes (nx,); ``None`` for a network.
        link_x: cell centres of each link of a network, m, shapes (n,) each; empty for a road.
        measures: a network's measures (delay, throughput, queues, ...); empty for a road.
    """

    t: np.ndarray
    fields: dict[str, np.ndarray]
    ledger: dict[str, dict[str, float]]
    steps: int
    wall_s: float
    x: np.ndarray | None = None
    link_x: dict[str, np.ndarray] = field(default_factory=dict)
    measures: dict = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        """Interior cells of the road, or of all links of the network together."""
        return int(self.x.size) if self.x is not None else sum(int(x.size) for x in self.link_x.values())

    def coordinates(self) -> dict[str, np.ndarray]:
        """Cell centres keyed like :attr:`fields`: ``x`` for a road, ``LINK/x`` for each link."""
        if self.x is not None:
            return {"x": self.x}
        return {f"{link}/x": x for link, x in self.link_x.items()}


def primitive_fields(q: np.ndarray, par: np.ndarray) -> dict[str, np.ndarray]:
    """Densities, speeds and markers of interior cells. Shapes: q (4, n) -> each (n,)."""
    eps = par[physics.EPS_VAC]
    w_m = np.array([physics.marker(r, y, eps) for r, y in zip(q[0], q[1], strict=True)])
    w_c = np.array([physics.marker(r, y, eps) for r, y in zip(q[2], q[3], strict=True)])
    p = np.array([physics.pressures(a, b, par) for a, b in zip(q[0], q[2], strict=True)]).reshape(-1, 2)
    return {"rho_m": q[0].copy(), "v_m": w_m - p[:, 0], "rho_c": q[2].copy(), "v_c": w_c - p[:, 1],
            "w_m": w_m, "w_c": w_c}


def output_times(end: float, every: float | None) -> np.ndarray:
    """Output times from 0 to ``end`` inclusive (s); without ``every``, 100 frames."""
    every = every or end / 100.0
    count = int(np.floor(end / every + 1e-9))
    times = every * np.arange(count + 1)
    return times if abs(times[-1] - end) < 1e-9 * end else np.append(times, end)
