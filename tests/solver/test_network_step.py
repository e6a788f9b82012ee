"""The one network step's pieces: the RK3 table, the Topology, phase requests, the CUDA entry."""

from __future__ import annotations

import inspect
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from solver.kernels import network as kernels_network
from solver.kernels.link import RK3
from solver.network.batch import BatchedNetwork, checked_requests
from solver.network.compile import Topology, build_network, max_degree
from solver.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_rk3_table_is_third_order_and_convex():
    """Shu-Osher rows (a, b, c, w): a + b = 1 exactly; the quadrature weights w at the stage
    times c integrate 1, t and t^2 exactly (third order); every coefficient is non-negative (SSP)."""
    assert all(a + b == 1.0 and min(a, b, c, w) >= 0.0 for a, b, c, w in RK3)
    w = [Fraction(row[3]).limit_denominator(100) for row in RK3]
    c = [Fraction(row[2]).limit_denominator(100) for row in RK3]
    assert sum(w) == 1
    assert sum(wi * ci for wi, ci in zip(w, c, strict=True)) == Fraction(1, 2)
    assert sum(wi * ci**2 for wi, ci in zip(w, c, strict=True)) == Fraction(1, 3)


def test_topology_is_named_and_max_degree_counts_the_busiest_junction():
    net = build_network(load_scenario(SCENARIOS / "intersection_4arm.yml"))
    assert isinstance(net.topo, Topology)
    assert net.topo.lk is net.lk
    assert max_degree(net.topo) == max(np.diff(net.topo.jn_in_ptr).max(), np.diff(net.topo.jn_out_ptr).max())
    assert max_degree(net.topo) >= 2


def test_unknown_requested_phase_is_refused_before_stepping():
    net = build_network(load_scenario(SCENARIOS / "intersection_4arm.yml"))
    sim = BatchedNetwork(net, batch=2, threads=1)
    bad = np.full((2, len(net.signals)), net.n_phases[0])
    with pytest.raises(ValueError, match=r"outside 0..n_phases-1"):
        sim.advance(5.0, bad)
    assert sim.T.max() == 0.0  # nothing advanced
    assert checked_requests(net, 2, np.zeros((2, len(net.signals)))).dtype == np.int64


def test_the_cuda_module_holds_no_copy_of_the_step():
    """The GPU compiles solver.kernels.network's step from its py_func: solver.kernels.cuda defines only its
    kernel entry and helpers, and the kernel calls the CPU module's advance_network."""
    pytest.importorskip("numba.cuda")
    from solver.kernels import cuda as kernels_cuda

    own = {name for name, fn in vars(kernels_cuda).items()
           if inspect.isfunction(fn) and fn.__module__ == kernels_cuda.__name__}
    assert not own & {"network_rk3", "advance_network", "copy_cells", "copy_queues", "queue_stage"}
    assert kernels_cuda.advance_network is kernels_network.advance_network


def test_cpu_and_gpu_batches_allocate_one_state_layout():
    """Every per-copy array of both batches comes from state_layout: batch first on the CPU,
    batch last (the GPU's layout), reals in the requested precision, time and counters not."""
    from solver.network.batch import state_arrays, state_layout

    net = build_network(load_scenario(SCENARIOS / "intersection_4arm.yml"))
    sim = BatchedNetwork(net, batch=3, threads=1)
    last = state_arrays(net, 3, "float32", batch_last=True)
    for name, (shape, kind) in state_layout(net).items():
        assert getattr(sim, name).shape == (3, *shape), name
        assert last[name].shape == (*shape, 3), name
        want = {"real": np.float32, "f64": np.float64, "i64": np.int64}[kind]
        assert last[name].dtype == want, name
    assert state_layout(net)["SCR"][0] == (6, max_degree(net.topo))


def test_stored_vehicles_are_the_per_link_sums():
    """stored() (one matrix product over cell lengths) equals the sum link by link."""
    net = build_network(load_scenario(SCENARIOS / "intersection_4arm.yml"))
    sim = BatchedNetwork(net, batch=2, threads=1)
    sim.advance(60.0, np.array([[0], [1]]))
    by_link = np.zeros((2, 2))
    for l, (off, n) in enumerate(net.lk):
        by_link += sim.Q[:, [0, 2], off + 3: off + 3 + n].sum(axis=2) * net.lk_dx[l]
    assert np.abs(by_link).min() > 1.0  # vehicles on the links
    np.testing.assert_allclose(sim.stored(), by_link, rtol=1e-13)
    assert np.abs(sim.ledger()["residual"]).max() < 1e-9


def test_a_non_finite_state_names_its_copy():
    """The step kernel counts non-finite values into FAIL (no numpy pass over Q per decision):
    a NaN planted in one copy is reported for that copy only, as a NumericalError."""
    from solver.errors import NumericalError

    net = build_network(load_scenario(SCENARIOS / "intersection_4arm.yml"))
    sim = BatchedNetwork(net, batch=3, threads=1)
    sim.advance(5.0, np.zeros((3, 1), np.int64))
    sim.Q[1, 2, int(net.lk[0, 0]) + 5] = np.nan
    with pytest.raises(NumericalError, match=r"copies \[1\]"):
        sim.advance(5.0)
    assert sim.FAIL[0] == 0 and sim.FAIL[2] == 0 and sim.FAIL[1] > 0
