"""numba-cuda kernels for B copies of one road network: one GPU thread per copy (DESIGN §3, §4).

The same batched network step as :func:`solver.kernels.network.advance_network_range`: each
thread advances its copy through the whole interval (every substep, signal and ledger update)
inside one launch; the state never leaves the device within a decision interval.

Layout: the batch axis is LAST (``Q[var, cell, b]``, ``W[k, var, cell, b]``, ``SP[s, b]`` ...),
so the 32 threads of a warp, which hold neighbouring copies, read neighbouring addresses for the
same (var, cell) (coalesced). Inside a thread a copy is seen through strided views
(``Q[:, :, b]`` has the CPU kernels' ``q[var, cell]`` shape), so the CPU network step, which
allocates nothing, is compiled here unchanged: :func:`compile_kernels` follows the calls of
:func:`advance_kernel` into ``solver.kernels.network``/``solver.kernels.link`` and compiles every numba function
it meets from its ``py_func`` -- :func:`solver.kernels.network.advance_network`, the SSP-RK3 step
:func:`solver.kernels.network.network_rk3` and the link sweep included. This module keeps only
the kernel entry (one thread per copy, strided views, a final non-finite check) and the
compilation per precision; the launch and device memory are :mod:`solver.network.batch_cuda`'s.

Precision: ``compile_kernels("float32")`` rewrites every float literal of the compiled code to
``float32`` (so arithmetic stays in single precision); the step casts its time step and RK
coefficients to the dtype of ``Numerics.par``, and ``Numerics.flush`` flushes round-off negatives
down to ``-1e-10 rho_jam`` to vacuum (float64: ``-1e-15 rho_jam``; anything more negative is
retried with half the dt, as on the CPU) -- see :data:`VACUUM_FLUSH`. Time (T, ST, dt) and the
accumulators (ACC, AQ, AQMAX) stay float64. WENO's smoothness indicators are divided by each
variable's scale squared and its epsilon is dimensionless (``1e-6``, WENO-Z and WENO-JS alike),
so it neither underflows
nor drowns the indicators in float32. The pointwise physics is
:func:`solver.physics.compile_physics` compiled for ``cuda.jit(device=True)``.

Arguments: the read-only ones travel grouped (a :class:`solver.network.compile.Topology` and a
:class:`solver.network.compile.Numerics` NamedTuple, the signal and observation tuples); numba-cuda
passes tuples and NamedTuples of device arrays to a kernel as it does single arrays.
"""

from __future__ import annotations

import types

import numpy as np
from numba import cuda
from numba.core.registry import CPUDispatcher

from solver import physics
from solver.kernels.common import FIRST_ORDER
from solver.kernels.link import ROUNDOFF_VACUUM
from solver.kernels.network import advance_network, count_nonfinite
from solver.kernels.sweep import fill_link_ghosts, link_sweep

#: round-off below zero flushed to vacuum, as a fraction of rho_jam, per precision
VACUUM_FLUSH = {"float64": ROUNDOFF_VACUUM, "float32": 1e-10}
# One warp per block: the kernel needs ~255 registers per thread (<= 8 warps per SM), so larger
# blocks only leave SMs idle at moderate batches (4,096 copies in blocks of 128 would use 32 of an
# H100's 132 SMs; in blocks of 32 they use all of them).
THREADS_PER_BLOCK = 32


def advance_kernel(duration, max_steps, Q, QU, T, DSCALE, SP, SS, ST, SN, REQ, W, QW, SCR, GREEN, ACC,
                   AQ, AQMAX, STEPS, FAIL, topo, sig_static, obs, num):
    """Advance copy b = thread index by ``duration`` s from its own time T[b]
    (arguments as in ``solver.kernels.network.advance_network_range``: ``topo`` a ``Topology``,
    ``sig_static = (sig_times, app_sig, app_pos, sig_green)``, ``obs = (app_link, thresh)``,
    ``num`` a ``Numerics``).

    Shapes (batch last): Q (4, Ncells, B); QU (E, 2, B); T (B,); DSCALE (E, B); SP SS SN REQ
    (S, B) int64; ST (S, B); W (N_WORK, 4, Ncells, B); QW (N_QWORK, E, 2, B);
    SCR (6, maxdeg, B); GREEN (A, B); ACC (2, N_ACC, B); AQ AQMAX (A, B); STEPS FAIL (B,) int64
    (FAIL also counts non-finite values left in the copy).
    """
    b = cuda.grid(1)
    if b >= T.shape[0]:
        return
    sig_times, app_sig, app_pos, sig_green = sig_static
    sigs = (SP[:, b], SS[:, b], ST[:, b], SN[:, b], REQ[:, b], sig_times, app_sig, app_pos, sig_green)
    q, qu = Q[:, :, b], QU[:, :, b]
    t, s, f = advance_network(q, qu, T[b], T[b] + duration, max_steps, topo, DSCALE[:, b], sigs, obs,
                              num, W[:, :, :, b], QW[:, :, :, b], SCR[:, :, b], GREEN[:, b],
                              ACC[:, :, b], AQ[:, b], AQMAX[:, b])
    T[b] = t
    STEPS[b] = s
    FAIL[b] = f + count_nonfinite(q, qu, topo.lk)


def fused_interior_fluxes(q, qm, qp, F, vmax, lk, num, generic=True):
    """The GPU's :func:`solver.kernels.network.copy_interior_fluxes`: the ghosts filled as
    :func:`solver.kernels.sweep.copy_faces` fills them, then :func:`solver.kernels.sweep.link_sweep`
    per link, each face computed in registers where it is used (``qm``, ``qp`` and ``generic``
    unused). The passes keep two face arrays per copy in device memory, written and read back at
    every stage; on the H200 the advance kernel ran at 78,758 decisions/s (4,096 copies, float32)
    with them against 143,736 with the fused sweep before the step was shared with the CPU
    (docs/gpu.md). The fluxes are bitwise those of the passes (tests/solver/test_vector_passes.py);
    the slots between links, which only ghost cells read with a zero dt/dx, keep their values.

    Shapes: q, F (4, Ncells); vmax (2, Ncells); lk (L, 2).
    """
    if num.order != FIRST_ORDER:
        fill_link_ghosts(q, lk)
    for l in range(lk.shape[0]):
        link_sweep(q, F, vmax, lk[l, 0], lk[l, 1], num.order, num.kind, num.scales, num.par, num.supply_cap)


_COMPILED: dict[str, types.SimpleNamespace] = {}


def _retyped(fn, dtype: str):
    """``fn`` with its float literals as ``float32`` when dtype is float32 (else unchanged)."""
    if dtype == "float64":
        return fn
    code = fn.__code__
    consts = tuple(np.float32(c) if type(c) is float else c for c in code.co_consts)
    return types.FunctionType(code.replace(co_consts=consts), fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _rebound(fn, scope: dict):
    """``fn`` whose global names resolve to ``scope`` first (compiled callees, precision)."""
    new = types.FunctionType(fn.__code__, {**fn.__globals__, **scope}, fn.__name__,
                             fn.__defaults__, fn.__closure__)
    new.__qualname__, new.__module__ = fn.__qualname__, fn.__module__
    return new


def _port_callees(fn, scope: dict, device) -> None:
    """Compile for the device, callees first, every numba CPU function that ``fn`` calls by a
    global name not yet in ``scope`` (the CPU kernels reused unchanged)."""
    for name in fn.__code__.co_names:
        target = fn.__globals__.get(name)
        if name in scope or not isinstance(target, CPUDispatcher):
            continue
        _port_callees(target.py_func, scope, device)
        scope[name] = device(_rebound(target.py_func, scope))


def _device_scope(dtype: str):
    """``(scope, device)``: the pointwise physics compiled for the device in ``dtype`` (under its own
    and its ``_`` names) and the decorator that compiles one more function for the same target."""
    device = lambda fn: cuda.jit(device=True)(_retyped(fn, dtype))  # noqa: E731
    P = physics.compile_physics(device)
    scope: dict = {}
    for name in physics.POINTWISE:
        scope[name] = scope["_" + name] = getattr(P, name)
    return scope, device


def compile_entry(entry, dtype: str = "float64", extra: dict | None = None):
    """Compile a kernel entry written in Python for the device, with every numba CPU function it
    calls (and their callees) ported from their ``py_func`` and the float literals in ``dtype``.

    The way :func:`compile_kernels` builds the advance kernel, open to kernels next to the step
    (the RL readout of observations and rewards, ``rl.readout_cuda``) so that they reuse the CPU
    functions unchanged. Cached per (entry, dtype).

    Args:
        entry: a plain Python function using ``cuda.grid``; dtype: ``"float64"`` or ``"float32"``.
        extra: plain Python functions that replace, by global name, what the entry or its callees
            would call (a CPU function's device form), compiled for the device here with their
            own callees ported.

    Raises:
        ValueError: an unsupported dtype.
    """
    if dtype not in VACUUM_FLUSH:
        raise ValueError(f"dtype {dtype!r} is not supported on the GPU: use float64 or float32")
    key = (entry.__module__, entry.__qualname__, dtype)
    if key not in _ENTRIES:
        scope, device = _device_scope(dtype)
        for name, fn in (extra or {}).items():
            _port_callees(fn, scope, device)
            scope[name] = device(_rebound(fn, scope))
        _port_callees(entry, scope, device)
        _ENTRIES[key] = cuda.jit(_retyped(_rebound(entry, scope), dtype))
    return _ENTRIES[key]


_ENTRIES: dict[tuple, object] = {}


def compile_kernels(dtype: str = "float64") -> types.SimpleNamespace:
    """Compile the device functions and kernels for one precision (cached per dtype).

    Args:
        dtype: ``"float64"`` or ``"float32"``: the dtype of the state arrays on the device.

    Returns:
        A namespace with the ``advance`` kernel and ``dtype``.

    Raises:
        ValueError: an unsupported dtype.
    """
    if dtype not in VACUUM_FLUSH:
        raise ValueError(f"dtype {dtype!r} is not supported on the GPU: use float64 or float32")
    if dtype not in _COMPILED:
        advance = compile_entry(advance_kernel, dtype, extra={"copy_interior_fluxes": fused_interior_fluxes})
        _COMPILED[dtype] = types.SimpleNamespace(advance=advance, dtype=dtype)
    return _COMPILED[dtype]
