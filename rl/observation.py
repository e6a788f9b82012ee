"""Observations of B network copies at once, written once for the single env and the VecEnv.

The layout (:class:`ObservationLayout`) is built from the compiled network; the features are
computed per copy by :func:`rl.features.copy_observation` (the same function on the CPU and, in
the readout kernel, on the GPU); :func:`observe` returns them for a CPU
:class:`solver.network.batch.BatchedNetwork` as a ``(B, D)`` float32 array in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rl.features import QUEUE_HALF_VEH, VACUUM_WEIGHT  # noqa: F401  (re-exported: the documented constants)
from solver.params import EPS_VAC, RHO_JAM

N_BINS = 3  # bins near the stop line per approach
NEAR_STOP_M = 150.0  # length covered by the bins, m
OCCUPIED = 0.1  # detector zone (bin 0, nearest the stop line) occupied above this density / rho_jam


def detector_occupied(obs: np.ndarray, n_approaches: int) -> np.ndarray:
    """Whether each approach's detector zone (its bin 0) holds more than :data:`OCCUPIED` x
    rho_jam (both classes): the call of an actuated controller. Shapes: obs (B, D) -> (B, A) bool."""
    near = obs[:, 0:2 * N_BINS * n_approaches:2 * N_BINS] + obs[:, 1:2 * N_BINS * n_approaches:2 * N_BINS]
    return near > OCCUPIED


class ObservationArrays(NamedTuple):
    """What :func:`rl.features.copy_observation` reads besides the state, in the state's precision.

    Shapes: idx (M,) int64 flat cells; fptr (n_feat + 1,) int64; wt (M,); n_phases (S,) int64;
    max_green (S,) s; prior, rho_jam (veh/m) and eps (the vacuum threshold) scalars; horizon (s)
    the episode length the clock feature divides by (0: no clock feature).
    """

    idx: np.ndarray
    fptr: np.ndarray
    wt: np.ndarray
    n_phases: np.ndarray
    max_green: np.ndarray
    prior: float
    rho_jam: float
    eps: float
    horizon: float


@dataclass(frozen=True)
class ObservationLayout:
    """Which cells feed which feature, and the name of every feature.

    Attributes:
        idx: flat cell indices read per step, grouped by feature. Shapes: (M,).
        fptr: feature f reads ``idx[fptr[f]:fptr[f + 1]]`` (bins, then observed cells). Shapes: (n_feat + 1,).
        wt: weight of each read cell in its feature's average. Shapes: (M,).
        n_phases: phases per signal; max_green: per signal, s.
        names: feature names in observation order (length D).
        clock_s: the episode length the last feature (``clock``) divides the solver's clock by, s;
            0: no clock feature.
    """

    idx: np.ndarray
    fptr: np.ndarray
    wt: np.ndarray
    n_phases: tuple[int, ...]
    max_green: np.ndarray
    names: tuple[str, ...]
    clock_s: float = 0.0

    @property
    def size(self) -> int:
        """Observation length D."""
        return len(self.names)

    @property
    def n_feat(self) -> int:
        """Number of cell groups (bins and observed cells); each gives a density and a speed per class."""
        return len(self.fptr) - 1

    def arrays(self, par: np.ndarray, dtype: str = "float64") -> ObservationArrays:
        """The kernel's view of the layout, reals in ``dtype``, for physics parameters ``par``."""
        real = np.dtype(dtype).type
        return ObservationArrays(self.idx, self.fptr, self.wt.astype(dtype), np.asarray(self.n_phases, np.int64),
                                 self.max_green.astype(dtype), real(VACUUM_WEIGHT * par[RHO_JAM]),
                                 real(par[RHO_JAM]), real(par[EPS_VAC]), real(self.clock_s))


def build_layout(net, observed_cells=(), observe_link: str | None = None, upstream_bins: int = 0,
                 clock_s: float = 0.0) -> ObservationLayout:
    """Lay out the observation of a compiled network.

    Args:
        net: :class:`solver.network.compile.Network`.
        observed_cells: interior cell indices of ``observe_link`` observed one by one.
        observe_link: link of ``observed_cells`` (default: the first approach's link).
        upstream_bins: bins per approach over the rest of its link, upstream of the near-stop
            bins (after every approach's near bins, bin 0 nearest the junction): where queues
            longer than ~150 m end and where arrivals come from.
        clock_s: > 0: a last feature ``clock``, the solver's clock / ``clock_s`` (s; the episode
            length), clipped to [0, 1]: where the scenario's demand profile stands.
    """
    if clock_s < 0:
        raise ValueError(f"clock_s must be >= 0 s, got {clock_s}")
    idx, cols, feats = [], [], []
    upstream = []
    for a in net.approaches:
        sl = net.link_slice(a.link)
        dx = float(net.lk_dx[net.links.index(a.link)])
        n_near = int(min(sl.stop - sl.start, max(N_BINS, round(NEAR_STOP_M / dx))))
        near = np.arange(sl.stop - 1, sl.stop - 1 - n_near, -1)  # stop line first
        _add_bins(feats, idx, cols, [f"{a.link} bin {i}" for i in range(N_BINS)], np.array_split(near, N_BINS))
        rest = np.arange(sl.stop - 1 - n_near, sl.start - 1, -1)
        if upstream_bins and len(rest) >= upstream_bins:
            upstream.append(([f"{a.link} upstream {i}" for i in range(upstream_bins)],
                             np.array_split(rest, upstream_bins)))
    for names, groups in upstream:
        _add_bins(feats, idx, cols, names, groups)
    link = observe_link or net.approaches[0].link
    sl = net.link_slice(link)
    for c in observed_cells:
        if not 0 <= c < sl.stop - sl.start:
            from rl.errors import EnvConfigError
            raise EnvConfigError("observed_cells", c, f"link {link!r} has cells 0..{sl.stop - sl.start - 1}")
        feats.append(f"{link} cell {c}")
        idx.append(sl.start + int(c))
        cols.append((len(feats) - 1, 1.0))
    owner = np.array([f for f, _ in cols], np.int64)  # cells come grouped by feature, in order
    fptr = np.searchsorted(owner, np.arange(len(feats) + 1)).astype(np.int64)
    wt = np.array([w for _, w in cols], np.float64)
    return ObservationLayout(np.asarray(idx, np.int64), fptr, wt, tuple(net.n_phases),
                             _max_greens(net), _names(net, feats) + (("clock",) if clock_s > 0 else ()),
                             float(clock_s))


def _add_bins(feats: list, idx: list, cols: list, names: list[str], groups: list[np.ndarray]) -> None:
    """Append one feature per cell group (equal weights) to the layout being built."""
    for name, cells in zip(names, groups, strict=True):
        feats.append(name)
        for c in cells:
            idx.append(int(c))
            cols.append((len(feats) - 1, 1.0 / len(cells)))


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
    """Observation of every copy of a batch, read anew (:func:`rl.readout.make_readout`).

    Args:
        sim: :class:`solver.network.batch.BatchedNetwork` or ``CudaBatchedNetwork``.
        layout: from :func:`build_layout` on the same network.

    Returns:
        Features in [0, 1]. Shapes: (B, D) float32.
    """
    from rl.readout import make_readout

    return make_readout(sim, layout).read(adopt=False).obs
