"""Observations of B network copies at once, written once for the single env and the VecEnv.

The layout (:class:`ObservationLayout`) is built from the compiled network; :func:`observe`
turns a :class:`solver.network.batch.BatchedNetwork` state into a ``(B, D)`` float32 array in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solver.network.speeds import transport_speeds
from solver.params import RHO_JAM

N_BINS = 3  # bins near the stop line per approach
NEAR_STOP_M = 150.0  # length covered by the bins, m
QUEUE_HALF_VEH = 50.0  # entry queue that maps to 0.5, veh
VACUUM_WEIGHT = 1e-3  # free-speed prior weight in the bin speed average, fraction of rho_jam


@dataclass(frozen=True)
class ObservationLayout:
    """Which cells feed which feature, and the name of every feature.

    Attributes:
        idx: flat cell indices read per step. Shapes: (M,).
        avg: averaging matrix from read cells to features (bins, then observed cells). Shapes: (M, F).
        vmax: free speeds of the read cells, m/s. Shapes: (2, M).
        n_phases: phases per signal; max_green: per signal, s.
        names: feature names in observation order (length D).
    """

    idx: np.ndarray
    avg: np.ndarray
    vmax: np.ndarray
    n_phases: tuple[int, ...]
    max_green: np.ndarray
    names: tuple[str, ...]

    @property
    def size(self) -> int:
        """Observation length D."""
        return len(self.names)


def build_layout(net, observed_cells=(), observe_link: str | None = None) -> ObservationLayout:
    """Lay out the observation of a compiled network.

    Args:
        net: :class:`solver.network.compile.Network`.
        observed_cells: interior cell indices of ``observe_link`` observed one by one.
        observe_link: link of ``observed_cells`` (default: the first approach's link).
    """
    idx, cols, feats = [], [], []
    for a in net.approaches:
        sl = net.link_slice(a.link)
        dx = float(net.lk_dx[net.links.index(a.link)])
        n_near = int(min(sl.stop - sl.start, max(N_BINS, round(NEAR_STOP_M / dx))))
        near = np.arange(sl.stop - 1, sl.stop - 1 - n_near, -1)  # stop line first
        for i, cells in enumerate(np.array_split(near, N_BINS)):
            feats.append(f"{a.link} bin {i}")
            for c in cells:
                idx.append(int(c))
                cols.append((len(feats) - 1, 1.0 / len(cells)))
    link = observe_link or net.approaches[0].link
    sl = net.link_slice(link)
    for c in observed_cells:
        if not 0 <= c < sl.stop - sl.start:
            from rl.errors import EnvConfigError
            raise EnvConfigError("observed_cells", c, f"link {link!r} has cells 0..{sl.stop - sl.start - 1}")
        feats.append(f"{link} cell {c}")
        idx.append(sl.start + int(c))
        cols.append((len(feats) - 1, 1.0))
    avg = np.zeros((len(idx), len(feats)))
    for j, (f, w) in enumerate(cols):
        avg[j, f] = w
    idx = np.asarray(idx, np.int64)
    return ObservationLayout(idx, avg, net.vmax[:, idx].copy(), tuple(net.n_phases),
                             _max_greens(net), _names(net, feats))


def _max_greens(net) -> np.ndarray:
    nodes = {n.id: n for n in net.scenario.nodes}
    return np.array([float(nodes[s].signal.max_green) for s in net.signals])


def _names(net, feats) -> tuple[str, ...]:
    names = [f"density {k} {f}" for f in feats for k in ("m", "c")]
    names += [f"speed {k} {f}" for f in feats for k in ("m", "c")]
    names += [f"entry queue {k} {e}" for e in net.entries for k in ("m", "c")]
    names += [f"phase {p} {s}" for s, n in zip(net.signals, net.n_phases, strict=True) for p in range(n)]
    names += [f"clearance {s}" for s in net.signals]
    names += [f"time in stage {s}" for s in net.signals]
    return tuple(names)


def observe(sim, layout: ObservationLayout) -> np.ndarray:
    """Observation of every copy.

    Args:
        sim: :class:`solver.network.batch.BatchedNetwork`.
        layout: from :func:`build_layout` on the same network.

    Returns:
        Features in [0, 1]. Shapes: (B, D) float32.
    """
    par = sim.net.par
    rho = sim.Q[:, [0, 2]][:, :, layout.idx]  # (B, 2, M) veh/m
    v = transport_speeds(sim)[:, :, layout.idx]  # the fluxes' speeds: 0 in a standing queue
    vn = np.clip(v / layout.vmax, 0.0, 1.0)
    prior = VACUUM_WEIGHT * par[RHO_JAM]
    dens = (rho @ layout.avg) / par[RHO_JAM]
    speed = (((rho * vn) @ layout.avg) + prior * layout.avg.sum(0)) / (rho @ layout.avg + prior * layout.avg.sum(0))
    B = sim.B
    queue = sim.QU / (sim.QU + QUEUE_HALF_VEH)
    phases = [np.eye(n)[sim.SP[:, s]] for s, n in enumerate(layout.n_phases)]
    parts = [dens.transpose(0, 2, 1).reshape(B, -1), speed.transpose(0, 2, 1).reshape(B, -1),
             queue.reshape(B, -1), *phases, (sim.SS > 0).astype(float),
             np.minimum(sim.ST / layout.max_green, 1.0)]
    return np.clip(np.concatenate(parts, axis=1), 0.0, 1.0).astype(np.float32)
