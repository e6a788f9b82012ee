"""What every numba-cpu kernel module shares: index and code constants, the fast-math flags, the
pointwise physics compiled once for the CPU, the two jit flavours and the parameter tuples.

Kernel modules import these from here (:mod:`solver.kernels.link` re-exports them under its own
name, where older callers find them). Its functions are inlined into the cached kernels of the
modules that list it among their sources (:mod:`solver.kernels.sources`).
"""

from __future__ import annotations

import numba

from solver import physics
from solver.params import GAMMA_C, GAMMA_M, N_PAR, PhysicsParams

# digest of the modules these kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "0b111f221e7c9f2b"

NG = 3
#: reconstruction codes: WENO5 uses WENO-Z weights, WENO5_JS the Jiang–Shu ones (for comparison)
FIRST_ORDER, WENO5, WENO5_JS = 0, 1, 2
CENTRAL_UPWIND, HLL = 0, 1
BC_OUTFLOW, BC_PERIODIC, BC_WALL, BC_INFLOW, BC_NODE = 0, 1, 2, 3, 4
VACUUM_FACE = 1e-3  # faces below this fraction of rho_jam get their marker bounded by neighbours'
ROUNDOFF_VACUUM = 1e-15  # fraction of rho_jam below zero that is round-off at a vacuum front
#: SSP-RK3 (Shu-Osher form), one row per stage s: ``(a, b, c, w)`` with
#: ``q_{s+1} = a q_0 + b (q_s + dt L(q_s))`` at stage time ``t + c dt``; ``w`` the stage's weight in
#: the step's time integral of the fluxes. ``a + b`` is exactly 1 in every row.
RK3 = ((0.0, 1.0, 0.0, 1.0 / 6.0), (0.75, 0.25, 1.0, 1.0 / 6.0), (1.0 - 2.0 / 3.0, 2.0 / 3.0, 0.5, 2.0 / 3.0))
# value-safe and reproducible fast-math: no nnan/ninf, so NaN and inf still propagate and can be
# detected; no reassoc/contract, whose results depend on how LLVM happened to inline and fuse: with
# them a kernel compiled in this process and the same kernel loaded from numba's disk cache gave
# different round-off (red_light: 1e-13 at t = 136 s, grown to 0.08 veh/m at a front and 4 more
# steps by 240 s), so a scenario's numbers changed between its first and second run.
FASTMATH = {"arcp", "nsz", "afn"}

#: pointwise functions (the physics, a face's limiter, a cell's clean-up): each compiled once per
#: argument types and inlined by LLVM at every call site (``alwaysinline``), where the caller's
#: constants fold into it and a loop over cells still vectorises. numba's own inlining
#: (``inline="always"``) re-ran the frontend and deep-copied the callee's IR at every call site
#: (numba#8989) and typed each copy again: half of a cold compile. numpy's error model, as in
#: :data:`jit_simd`: a check for division by zero in the callee would stop the vectoriser.
jit_point = numba.njit(cache=True, forceinline=True, fastmath=FASTMATH, error_model="numpy")

#: the pointwise physics compiled once for the CPU (every kernel module uses these)
PHYSICS = physics.compile_physics(jit_point)

#: the straight-line passes over contiguous cells that LLVM vectorises (AVX2: 4 cells per
#: instruction): numpy's error model, because python's checks every division for zero and the
#: branch to the exception stops the vectoriser; the passes index slices from 0 so LLVM knows
#: no index wraps around (a possibly negative index made it assume that rows of one array overlap
#: and keep the scalar loop).
jit_simd = numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")

#: a function with one caller of the same fast-math flags: inlined there (numba's IR) instead of
#: compiled on its own -- each compiled function is optimised and turned into machine code again
#: with everything it calls (~3 s of a cold compile per level)
jit_inline = numba.njit(cache=True, inline="always", fastmath=FASTMATH)


assert N_PAR == 12 and (GAMMA_M, GAMMA_C) == (2, 3), "par_tuple lists every packed parameter"
#: the calibrated pressure exponents (gamma_m, gamma_c), which :func:`default_gammas_tuple` makes
#: compile-time constants (it writes them as literals, which LLVM folds into the inlined physics)
DEFAULT_GAMMAS = (PhysicsParams.gamma_m, PhysicsParams.gamma_c)
assert DEFAULT_GAMMAS == (1.5, 2.0), "default_gammas_tuple writes the calibrated exponents"


def generic_paths(kind, par):
    """What the kernels' trailing ``generic`` argument gets from the host for a simulation of flux
    kind ``kind`` and packed parameters ``par`` (N_PAR,): ``None`` in the common case the
    vectorised passes handle (central-upwind and the calibrated pressure exponents), ``True``
    otherwise.

    numba drops a branch on ``generic is None`` when the argument's type is ``None`` (before typing:
    a literal ``True``/``False`` is not pruned), so with ``None`` the face-by-face paths for other
    flux kinds and exponents are not compiled at all (~7 s of a cold start); a kernel called without
    it (the CUDA port) keeps both paths and picks one at run time, as before.
    """
    common = int(kind) == CENTRAL_UPWIND and (float(par[GAMMA_M]), float(par[GAMMA_C])) == DEFAULT_GAMMAS
    return None if common else True


@jit_point
def calibrated(par):
    """True when the packed parameters ``par`` (N_PAR,) hold the calibrated pressure exponents
    DEFAULT_GAMMAS: the case the vectorised passes and the constant-exponent rules handle. A kernel
    writes ``generic is None or calibrated(par)``, so that numba can prune on ``generic``."""
    return par[GAMMA_M] == DEFAULT_GAMMAS[0] and par[GAMMA_C] == DEFAULT_GAMMAS[1]


@jit_point
def par_tuple(par):
    """The packed parameters ``par`` as a tuple of the same N_PAR numbers, for the physics inside
    loops over cells: the physics indexes it as it indexes the array, but its values stay in
    registers, whereas ``par[...]`` is read again after every store of a loop that writes an array
    (the compiler cannot rule out that the store changed ``par``). Flux loop: ~10 % faster."""
    return (par[0], par[1], par[2], par[3], par[4], par[5], par[6], par[7], par[8], par[9],
            par[10], par[11])


@jit_point
def default_gammas_tuple(par):
    """:func:`par_tuple` with the pressure exponents written as the constants DEFAULT_GAMMAS, for
    a caller that has checked ``par`` holds those values (the numbers are the same): the
    branches of :func:`solver.physics.power` on the exponent then fold away, and a loop over
    cells is straight-line code the compiler can vectorise."""
    return (par[0], par[1], 1.5, 2.0, par[4], par[5], par[6], par[7], par[8], par[9], par[10],
            par[11])
