"""Road networks: compile a :class:`NetworkScenario` into the flat arrays the kernels run.

:func:`build_network` gives a :class:`Network`: its :class:`Topology` (links, entries, exits,
junctions and demand as index and value arrays), its :class:`Numerics`, signal phases, approaches
and the initial state. The batched steppers (:mod:`solver.network.batch` on the CPU,
:mod:`solver.network.batch_cuda` on the GPU, built by :func:`solver.backends.make_batched_network`)
advance B copies of it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from solver.initial import cell_averages, quality_per_cell, road_grid
from solver.kernels import link as K
from solver.params import PhysicsParams
from solver.scenario.network import NetworkScenario

_FLUX = {"central_upwind": K.CENTRAL_UPWIND, "hll": K.HLL}


@dataclass(frozen=True)
class Approach:
    """A signal-controlled (or plain) incoming link of a junction."""

    index: int
    link: str
    junction: str
    signal: int  # -1 when the junction has no signal


class Topology(NamedTuple):
    """The read-only arrays of one network's layout and demand (see :mod:`solver.kernels.network`).

    Shapes: lk (L, 2) int64 (offset, n); lk_dx (L,) m; vmax (2, Ncells) m/s; en_link (E,);
    dem_t dem_v (E, 2, P) s, veh/s; dem_np (E, 2); dem_lin (E,); ex_link (X,); jn_in_ptr
    jn_out_ptr jn_beta_ptr (J+1,); jn_in (A,); jn_out (.,); beta (.,). Index arrays int64, the
    rest in the state's precision (dem_t in float64).
    """

    lk: np.ndarray
    lk_dx: np.ndarray
    vmax: np.ndarray
    en_link: np.ndarray
    dem_t: np.ndarray
    dem_v: np.ndarray
    dem_np: np.ndarray
    dem_lin: np.ndarray
    ex_link: np.ndarray
    jn_in_ptr: np.ndarray
    jn_in: np.ndarray
    jn_out_ptr: np.ndarray
    jn_out: np.ndarray
    jn_beta_ptr: np.ndarray
    beta: np.ndarray


class Numerics(NamedTuple):
    """Scheme choices and parameters of a network run, passed to the kernels as one argument.

    ``order`` (``FIRST_ORDER``/``WENO5``), ``kind`` (flux), ``cfl``, ``scales`` (4,) the
    variables' scales, ``par`` the packed physics parameters (:meth:`PhysicsParams.packed`),
    ``supply_cap`` (bool), ``flush``: the fraction of rho_jam below zero that is round-off at a
    vacuum front and becomes vacuum (per precision: ``solver.kernels.link.ROUNDOFF_VACUUM`` in float64,
    ``solver.kernels.cuda.VACUUM_FLUSH``). The state's precision is ``par``'s dtype: the step casts its
    time step and RK coefficients to it.
    """

    order: int
    kind: int
    cfl: float
    scales: np.ndarray
    par: np.ndarray
    supply_cap: bool
    flush: float


def max_degree(topo: Topology) -> int:
    """Largest number of links into or out of one junction (>= 1): the scratch's width."""
    return max(int(np.diff(topo.jn_in_ptr).max(initial=1)), int(np.diff(topo.jn_out_ptr).max(initial=1)))


@dataclass(eq=False)
class Network:
    """Compiled topology and parameters of one network (see :mod:`solver.kernels.network`).

    Attributes:
        links: link ids in order; lk (L, 2) (offset, n); lk_dx (L,) m; centres[l] (n_l,) m.
        approaches: every junction approach; signals: ids of signalised junctions.
        q0: initial state (4, Ncells); topo (:class:`Topology`), sig_static,
        obs: kernel arguments.
    """

    scenario: NetworkScenario
    params: PhysicsParams
    links: list[str]
    lk: np.ndarray
    lk_dx: np.ndarray
    centres: list[np.ndarray]
    vmax: np.ndarray
    entries: list[str]
    exits: list[str]
    approaches: list[Approach]
    signals: list[str]
    n_phases: list[int]
    q0: np.ndarray
    topo: Topology
    sig_static: tuple
    obs: tuple
    order: int
    kind: int
    cfl: float
    scales: np.ndarray
    par: np.ndarray
    supply_cap: bool = True

    def numerics(self, dtype: str = "float64", flush: float = K.ROUNDOFF_VACUUM) -> Numerics:
        """The kernels' :class:`Numerics` with ``scales`` and ``par`` in
        ``dtype`` (the state's precision) and ``flush`` the round-off flushed to vacuum."""
        return Numerics(self.order, self.kind, float(self.cfl), self.scales.astype(dtype),
                        self.par.astype(dtype), bool(self.supply_cap), float(flush))

    @property
    def n_cells(self) -> int:
        """Length of the flat cell axis (ghosts included)."""
        return int(self.q0.shape[1])

    def link_slice(self, link: str) -> slice:
        """Interior cells of a link on the flat axis."""
        l = self.links.index(link)
        off, n = self.lk[l]
        return slice(int(off) + K.NG, int(off) + K.NG + int(n))


def _demand_arrays(nodes):
    P = max(max(len(n.demand.m), len(n.demand.c)) for n in nodes) if nodes else 1
    E = len(nodes)
    t, v = np.zeros((E, 2, P)), np.zeros((E, 2, P))
    npts, lin = np.zeros((E, 2), np.int64), np.zeros(E, np.int64)
    for e, node in enumerate(nodes):
        lin[e] = node.demand.interpolation == "linear"
        for k, prof in enumerate((node.demand.m, node.demand.c)):
            npts[e, k] = len(prof)
            t[e, k, : len(prof)] = [p[0] for p in prof]
            v[e, k, : len(prof)] = [p[1] for p in prof]
    return t, v, npts, lin


def build_network(sc: NetworkScenario) -> Network:
    """Compile a network scenario: flat cells, node tables, signals, initial state."""
    params = sc.physics.to_params()
    links = [lk.id for lk in sc.links]
    sizes = [lk.cells + 2 * K.NG for lk in sc.links]
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    lk_arr = np.stack([offs, [lk.cells for lk in sc.links]], axis=1).astype(np.int64)
    ncell = int(sum(sizes))
    q0 = np.zeros((4, ncell))
    vmax = np.zeros((2, ncell))
    lk_dx, centres = [], []
    for l, spec in enumerate(sc.links):
        edges, x, dx = road_grid(spec.length, spec.cells)
        quality = quality_per_cell(spec.quality, x)
        sl = slice(int(offs[l]) + K.NG, int(offs[l]) + K.NG + spec.cells)
        vm = params.vmax_cells(quality)
        vmax[:, sl] = vm
        vmax[:, int(offs[l]) : sl.start] = vm[:, :1]
        vmax[:, sl.stop : sl.stop + K.NG] = vm[:, -1:]
        if sc.initial is not None:
            q0[:, sl] = cell_averages(sc.initial, edges, quality, params)
        lk_dx.append(dx)
        centres.append(x)
    entries = [n for n in sc.nodes if n.kind == "entry"]
    exits = [n for n in sc.nodes if n.kind == "exit"]
    junctions = [n for n in sc.nodes if n.kind == "junction"]
    en_link = np.array([links.index(next(lk.id for lk in sc.links if lk.start == n.id)) for n in entries], np.int64)
    ex_link = np.array([links.index(next(lk.id for lk in sc.links if lk.end == n.id)) for n in exits], np.int64)
    dem_t, dem_v, dem_np, dem_lin = _demand_arrays(entries)
    in_ptr, ins, out_ptr, outs, beta_ptr, beta = [0], [], [0], [], [0], []
    approaches, signals, n_phases, greens, times = [], [], [], [], []
    for j in junctions:
        j_in = [lk.id for lk in sc.links if lk.end == j.id]
        j_out = [lk.id for lk in sc.links if lk.start == j.id]
        sig = -1
        if j.signal is not None:
            sig = len(signals)
            signals.append(j.id)
            n_phases.append(len(j.signal.phases))
            greens.append([[1.0 if a in ph.green else 0.0 for a in j_in] for ph in j.signal.phases])
            s = j.signal
            times.append([s.yellow, s.all_red, s.min_green, s.max_green])
        for a in j_in:
            approaches.append(Approach(len(approaches), a, j.id, sig))
            row = (j.turning or {}).get(a, {j_out[0]: 1.0} if len(j_out) == 1 else {})
            beta.extend(row.get(o, 0.0) for o in j_out)
        ins += [links.index(a) for a in j_in]
        outs += [links.index(o) for o in j_out]
        in_ptr.append(len(ins))
        out_ptr.append(len(outs))
        beta_ptr.append(len(beta))
    S = len(signals)
    pmax = max(n_phases, default=1)
    imax = max((in_ptr[i + 1] - in_ptr[i] for i in range(len(junctions))), default=1)
    sig_green = np.zeros((max(S, 1), pmax, imax))
    for s, g in enumerate(greens):
        for p, row in enumerate(g):
            sig_green[s, p, : len(row)] = row
    sig_times = np.array(times, float).reshape(-1, 4) if S else np.zeros((0, 4))
    app_sig = np.array([a.signal for a in approaches], np.int64)
    app_pos = np.array([ins[in_ptr[[j.id for j in junctions].index(a.junction)]:].index(links.index(a.link))
                        for a in approaches], np.int64)
    app_link = np.array([links.index(a.link) for a in approaches], np.int64)
    i64 = lambda v: np.asarray(v, np.int64)  # noqa: E731
    topo = Topology(lk_arr, np.asarray(lk_dx), vmax, en_link, dem_t, dem_v, dem_np, dem_lin, ex_link,
            i64(in_ptr), i64(ins), i64(out_ptr), i64(outs), i64(beta_ptr), np.asarray(beta, float))
    obs = (app_link, sc.queue_threshold * params.rho_jam)
    return Network(
        scenario=sc, params=params, links=links, lk=lk_arr, lk_dx=np.asarray(lk_dx), centres=centres,
        vmax=vmax, entries=[n.id for n in entries], exits=[n.id for n in exits],
        approaches=approaches, signals=signals, n_phases=n_phases, q0=q0, topo=topo,
        sig_static=(sig_times, app_sig, app_pos, sig_green), obs=obs,
        order=K.order_code(sc.numerics.reconstruction, sc.numerics.weno_weights),
        kind=_FLUX[sc.numerics.flux], cfl=sc.numerics.cfl,
        scales=params.variable_scales(), par=params.packed(), supply_cap=sc.supply_limited_links,
    )
