r"""Exact Riemann solver for the homogeneous single-class ARZ system (no relaxation).

Model (SI: rho in veh/m, speeds in m/s, x in m, t in s)::

    rho_t + (rho v)_x = 0,      y_t + (y v)_x = 0,      y = rho w,
    w = v + p(rho),             p(rho) = K (rho / rho_jam)^gamma,   gamma > 1.

With only motorcycles this is the multi-class model of DESIGN §2 with ``rho_eff = rho_m``.
Eigenvalues: ``lambda1 = v - rho p'(rho) = w - (1 + gamma) p`` (genuinely nonlinear: shock or
rarefaction, w constant across it) and ``lambda2 = v`` (linearly degenerate: contact, v constant
across it). The intermediate state is ``v* = v_R``, ``w* = w_L``, i.e. ``p(rho*) = w_L - v_R``.
``p`` is a power law without a singularity at rho_jam, so ``rho*`` may exceed rho_jam; the solution
is still the exact one of the model.

Wave diagram in the (x, t) plane; the solution depends on ``xi = (x - x0) / t`` only (a shock
replaces the fan by one ray ``xi = s``; the contact carries ``v`` unchanged)::

         t ^    lam1(L)   lam1(*)      v_R
           |         \     |           /
           |  L       \ fan|   *     /    R
           |           \   | rho*  /   rho_R
           |            \  | v_R /    v_R
           |             \ |   /   2-contact
           |              \| /
           +---------------x0-----------------> x

Regions, indexed left to right in xi (``RiemannSolution.regions``); a region owns
``lo <= xi < hi``::

    case                       | region 0    | region 1          | region 2        | region 3
    ---------------------------+-------------+-------------------+-----------------+-----------
    rho* > rho_L (shock)       | L  (-inf,s) | *  (s, v_R)       | R  (v_R, inf)   |
    0 < rho* < rho_L (fan)     | L  (-inf,l1)| fan (l1, lam1(*)) | *  (.., v_R)    | R (v_R, inf)
    w_L <= v_R (vacuum middle) | L  (-inf,l1)| fan (l1, w_L)     | vac (w_L, v_R)  | R (v_R, inf)
    rho_R = 0 (right vacuum)   | L  (-inf,l1)| fan (l1, w_L)     | vac (w_L, inf)  |
    rho_L = 0 (left vacuum)    | vac (-inf, v_R)                  | R  (v_R, inf)   |

with ``l1 = lam1(L) = v_L - gamma p(rho_L)``. Zero-strength waves are dropped (and the regions
they separate merged). Inside a fan ``p = (w_L - xi)/(1 + gamma)``, ``v = w_L - p``. The
velocity of a vacuum state is undefined (``v_R`` is ignored when ``rho_R = 0``, ``v_L`` when
``rho_L = 0``); :meth:`RiemannSolution.sample` reports ``v = xi`` clipped to the finite edge
speeds of the vacuum region (``v = 0`` in an all-vacuum problem), which is continuous and never NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INF = math.inf
_SNAP = 8.0 * np.finfo(float).eps  # relative round-off under which two pressures are equal


class RiemannInputError(ValueError):
    """Invalid input to the exact Riemann solver.

    Attributes:
        argument: name of the offending argument.
        value: the value that was passed.
    """

    def __init__(self, argument: str, value: object, reason: str, fix: str):
        self.argument, self.value = argument, value
        super().__init__(f"{argument}={value!r}: {reason}; fix: {fix}")


def _require(ok: bool, argument: str, value: object, reason: str, fix: str) -> None:
    if not ok:
        raise RiemannInputError(argument, value, reason, fix)


@dataclass(frozen=True)
class ARZParams1:
    """Parameters of the single-class pressure ``p(rho) = K (rho / rho_jam)^gamma``.

    Attributes:
        K: pressure scale, m/s (> 0).
        gamma: pressure exponent (> 1).
        rho_jam: jam density, veh/m (> 0).
    """

    K: float
    gamma: float
    rho_jam: float

    def __post_init__(self) -> None:
        _require(math.isfinite(self.K) and self.K > 0, "K", self.K,
                 "the pressure scale must be a finite positive speed", "pass K > 0 in m/s")
        _require(math.isfinite(self.gamma) and self.gamma > 1, "gamma", self.gamma,
                 "the 1-field is genuinely nonlinear only for gamma > 1", "pass gamma > 1")
        _require(math.isfinite(self.rho_jam) and self.rho_jam > 0, "rho_jam", self.rho_jam,
                 "the jam density must be finite and positive", "pass rho_jam > 0 in veh/m")

    def pressure(self, rho):
        """Pressure ``p(rho)`` in m/s for rho >= 0 in veh/m (float or array, same shape)."""
        return self.K * (np.maximum(rho, 0.0) / self.rho_jam) ** self.gamma

    def density(self, p):
        """Inverse of :meth:`pressure`: density in veh/m for p >= 0 in m/s (negative p -> 0)."""
        return self.rho_jam * (np.maximum(p, 0.0) / self.K) ** (1.0 / self.gamma)


@dataclass(frozen=True)
class Wave:
    """One wave of the solution.

    Attributes:
        kind: ``'shock'``, ``'rarefaction'``, ``'contact'`` or ``'vacuum'`` (a vacuum region).
        speeds: ``(slowest, fastest)`` speed in m/s; equal for shocks and contacts, the edge
            speeds for a fan or a vacuum region (possibly infinite for an unbounded vacuum).
    """

    kind: str
    speeds: tuple[float, float]


@dataclass(frozen=True)
class Region:
    """A region ``lo <= xi < hi`` of the self-similar solution.

    Attributes:
        kind: ``'state'`` (constant ``rho``, ``v``), ``'fan'`` (1-rarefaction) or ``'vacuum'``.
        lo, hi: edge speeds in m/s.
        rho, v: density (veh/m) and speed (m/s) of a constant state.
        w: Lagrangian marker ``w = v + p`` of a fan, m/s.
    """

    kind: str
    lo: float
    hi: float
    rho: float = 0.0
    v: float = 0.0
    w: float = 0.0


@dataclass(frozen=True)
class RiemannSolution:
    """Exact self-similar solution of one Riemann problem.

    Attributes:
        waves: the waves, left to right.
        regions: the regions between them, left to right (see the module docstring).
        rho_star: density of the intermediate state, veh/m (0 when it is vacuum).
        v_star: speed of the intermediate state, m/s (``v_R``; ``w_L`` when ``rho_R = 0``; 0 when
            both states are vacuum).
        params: the pressure parameters.
    """

    waves: tuple[Wave, ...]
    regions: tuple[Region, ...]
    rho_star: float
    v_star: float
    params: ARZParams1

    @property
    def kind(self) -> str:
        """Summary such as ``'shock+contact'`` or ``'rarefaction+vacuum+contact'``."""
        return "+".join(w.kind for w in self.waves) or "constant"

    def sample(self, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Density and speed at similarity coordinates ``xi = (x - x0)/t`` (m/s, ±inf allowed).

        Shapes:
            xi: any shape; returns ``(rho, v)`` of the same shape, veh/m and m/s.
        """
        xi = np.asarray(xi, dtype=float)
        _require(not np.isnan(xi).any(), "xi", "NaN", "xi contains NaN", "pass finite or ±inf xi")
        lows = np.array([r.lo for r in self.regions])
        index = np.searchsorted(lows, xi, side="right") - 1
        rho, v = np.zeros_like(xi), np.zeros_like(xi)
        for i, region in enumerate(self.regions):
            mask = index == i
            if mask.any():
                rho[mask], v[mask] = _sample_region(region, xi[mask], self.params)
        return rho, v


def _sample_region(region: Region, xi: np.ndarray, prm: ARZParams1):
    if region.kind == "state":
        return np.full_like(xi, region.rho), np.full_like(xi, region.v)
    if region.kind == "fan":
        p = np.maximum((region.w - xi) / (1.0 + prm.gamma), 0.0)
        return prm.density(p), region.w - p
    edges = [s for s in (region.lo, region.hi) if math.isfinite(s)] or [0.0]  # vacuum
    return np.zeros_like(xi), np.clip(xi, min(edges), max(edges))


def _validate_states(rho_l, v_l, rho_r, v_r, params) -> None:
    for name, rho in (("rho_l", rho_l), ("rho_r", rho_r)):
        _require(math.isfinite(rho) and rho >= 0, name, rho, "a density must be finite and >= 0",
                 "pass a density in veh/m (0 for vacuum)")
    for name, v in (("v_l", v_l), ("v_r", v_r)):
        _require(math.isfinite(v), name, v, "a speed must be finite", "pass a speed in m/s")
    _require(isinstance(params, ARZParams1), "params", type(params).__name__,
             "expected ARZParams1", "build ARZParams1(K=..., gamma=..., rho_jam=...)")


def _star_density(p_star: float, scale: float, rho_l: float, rho_r: float, prm) -> float:
    """Density with pressure ``p_star``, snapped to rho_L or rho_R within round-off.

    ``p_star = w_L - v_R`` carries an absolute error of a few ``eps * scale`` (the cancellation
    of ``w_L - v_R``); a 1-wave or contact weaker than that is dropped, not made spurious.
    """
    tol = _SNAP * scale
    for rho in (rho_l, rho_r):
        if abs(p_star - float(prm.pressure(rho))) <= tol:
            return rho
    return float(prm.density(p_star))


def _shock_speed(rho_l: float, v_l: float, rho_s: float, v_s: float, prm: ARZParams1) -> float:
    """Shock speed ``(rho* v* - rho_L v_L)/(rho* - rho_L)`` written without cancellation.

    With w constant, ``v* - v_L = -(p* - p_L)`` so ``s = v* - rho_L (p* - p_L)/(rho* - rho_L)``;
    the divided difference of the power law is ``K rho_L^(g-1)/rho_jam^g (r^g - 1)/(r - 1)``.
    """
    d = (rho_s - rho_l) / rho_l
    ratio = math.expm1(prm.gamma * math.log1p(d)) / d
    slope = prm.K * rho_l ** (prm.gamma - 1.0) / prm.rho_jam**prm.gamma * ratio
    return v_s - rho_l * slope


def _one_wave(rho_l: float, v_l: float, rho_s: float, v_s: float, prm: ARZParams1):
    """Waves and regions of the 1-wave from L to the non-vacuum state ``(rho_s, v_s)``.

    Returns:
        ``(waves, regions, start)``: lists, and the speed where the star region begins.
    """
    left_lam = v_l - prm.gamma * float(prm.pressure(rho_l))
    if rho_s > rho_l:
        s = _shock_speed(rho_l, v_l, rho_s, v_s, prm)
        return [Wave("shock", (s, s))], [Region("state", -INF, s, rho_l, v_l)], s
    if rho_s < rho_l:
        star_lam = v_s - prm.gamma * float(prm.pressure(rho_s))
        w_l = v_l + float(prm.pressure(rho_l))
        regions = [Region("state", -INF, left_lam, rho_l, v_l),
                   Region("fan", left_lam, star_lam, w=w_l)]
        return [Wave("rarefaction", (left_lam, star_lam))], regions, star_lam
    return [], [], -INF


def _solve_regular(rho_l, v_l, rho_r, v_r, prm: ARZParams1) -> RiemannSolution:
    w_l = v_l + float(prm.pressure(rho_l))
    rho_s = _star_density(w_l - v_r, abs(w_l) + abs(v_r), rho_l, rho_r, prm)
    waves, regions, start = _one_wave(rho_l, v_l, rho_s, v_r, prm)
    if rho_s == rho_r:
        regions.append(Region("state", start, INF, rho_r, v_r))
    else:
        waves.append(Wave("contact", (v_r, v_r)))
        regions += [Region("state", start, v_r, rho_s, v_r), Region("state", v_r, INF, rho_r, v_r)]
    return RiemannSolution(tuple(waves), tuple(regions), rho_s, v_r, prm)


def _fan_to_vacuum(rho_l, v_l, prm: ARZParams1):
    """Waves and regions of the 1-rarefaction from L to vacuum (tail speed ``w_L``)."""
    p_l = float(prm.pressure(rho_l))
    left_lam, w_l = v_l - prm.gamma * p_l, v_l + p_l
    waves = [Wave("rarefaction", (left_lam, w_l))]
    regions = [Region("state", -INF, left_lam, rho_l, v_l), Region("fan", left_lam, w_l, w=w_l)]
    return waves, regions, w_l


def _solve_vacuum(rho_l, v_l, rho_r, v_r, prm: ARZParams1) -> RiemannSolution:
    """Cases with a vacuum initial state or a vacuum intermediate state."""
    if rho_l == 0.0 and rho_r == 0.0:
        return RiemannSolution((Wave("vacuum", (-INF, INF)),), (Region("vacuum", -INF, INF),),
                               0.0, 0.0, prm)
    if rho_l == 0.0:
        waves = (Wave("vacuum", (-INF, v_r)), Wave("contact", (v_r, v_r)))
        regions = (Region("vacuum", -INF, v_r), Region("state", v_r, INF, rho_r, v_r))
        return RiemannSolution(waves, regions, 0.0, v_r, prm)
    waves, regions, w_l = _fan_to_vacuum(rho_l, v_l, prm)
    if rho_r == 0.0:
        waves.append(Wave("vacuum", (w_l, INF)))
        regions.append(Region("vacuum", w_l, INF))
        return RiemannSolution(tuple(waves), tuple(regions), 0.0, w_l, prm)
    waves += [Wave("vacuum", (w_l, v_r)), Wave("contact", (v_r, v_r))]
    regions += [Region("vacuum", w_l, v_r), Region("state", v_r, INF, rho_r, v_r)]
    return RiemannSolution(tuple(waves), tuple(regions), 0.0, v_r, prm)


def solve_riemann(rho_l: float, v_l: float, rho_r: float, v_r: float,
                  params: ARZParams1) -> RiemannSolution:
    """Solve the Riemann problem of the homogeneous single-class ARZ system exactly.

    Args:
        rho_l, rho_r: left and right densities, veh/m (>= 0; 0 is vacuum).
        v_l, v_r: left and right speeds, m/s (ignored for a vacuum state).
        params: pressure parameters.

    Returns:
        The self-similar solution; see the module docstring for its waves and regions.

    Raises:
        RiemannInputError: (a ValueError) naming the argument that is invalid.
    """
    _validate_states(rho_l, v_l, rho_r, v_r, params)
    rho_l, v_l, rho_r, v_r = float(rho_l), float(v_l), float(rho_r), float(v_r)
    if rho_l == 0.0 or rho_r == 0.0 or v_l + float(params.pressure(rho_l)) <= v_r:
        return _solve_vacuum(rho_l, v_l, rho_r, v_r, params)  # vacuum initial or middle state
    return _solve_regular(rho_l, v_l, rho_r, v_r, params)


def _validate_time(t: float, x0: float) -> None:
    _require(math.isfinite(t) and t >= 0, "t", t, "time must be finite and >= 0", "pass t >= 0 s")
    _require(math.isfinite(x0), "x0", x0, "the split position must be finite", "pass x0 in m")


def sample_exact(rho_l: float, v_l: float, rho_r: float, v_r: float, params: ARZParams1,
                 x: np.ndarray, t: float, x0: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact density and speed at positions ``x`` and time ``t`` (initial split at ``x0``).

    At ``t = 0`` this is the initial data (left state for ``x < x0``, right state otherwise).

    Shapes:
        x: any shape, m; returns ``(rho, v)`` of the same shape, veh/m and m/s.
    """
    _validate_time(t, x0)
    x = np.asarray(x, dtype=float)
    _require(bool(np.isfinite(x).all()), "x", "non-finite", "positions must be finite",
             "pass finite positions in m")
    solution = solve_riemann(rho_l, v_l, rho_r, v_r, params)
    xi = np.where(x < x0, -INF, INF) if t == 0 else (x - x0) / t
    return solution.sample(xi)


def _fan_integral(region: Region, lo: np.ndarray, hi: np.ndarray, t: float, x0: float,
                  prm: ARZParams1) -> np.ndarray:
    """Exact ``∫ rho dx`` over ``[lo, hi]`` inside a fan, in veh.

    ``rho = c (w - xi)^(1/g)`` with ``c = rho_jam ((1+g) K)^(-1/g)``, so the integral is
    ``t c/a (A^a - B^a)``, ``a = 1 + 1/g``, ``A = w - xi_lo``, ``B = w - xi_hi``; written as
    ``B^a expm1(a log1p((A - B)/B))`` so that tiny cells keep full relative accuracy.
    """
    a = 1.0 + 1.0 / prm.gamma
    c = prm.rho_jam * ((1.0 + prm.gamma) * prm.K) ** (-1.0 / prm.gamma)
    xi_lo = np.clip((lo - x0) / t, region.lo, region.hi)
    xi_hi = np.clip((hi - x0) / t, region.lo, region.hi)
    big, small = region.w - xi_lo, np.maximum(region.w - xi_hi, 0.0)
    gap = (hi - lo) / t  # exact difference of nearby edges, better than xi_hi - xi_lo
    safe = np.where(small > 0, small, 1.0)
    diff = np.where(small > 0, safe**a * np.expm1(a * np.log1p(gap / safe)), big**a)
    return t * c / a * diff


def _region_edge(speed: float, t: float, x0: float) -> float:
    return speed if math.isinf(speed) else x0 + speed * t


def exact_cell_averages(rho_l: float, v_l: float, rho_r: float, v_r: float, params: ARZParams1,
                        edges: np.ndarray, t: float, x0: float,
                        sub: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Exact cell averages of ``rho`` and ``y = rho w`` at time ``t``.

    Each cell is split at the wave positions ``x0 + speed t``; constant states are integrated
    exactly and fans in closed form (``∫ (w - xi)^(1/gamma) dxi``), so the result is exact to
    round-off and total mass and ``y`` are conserved to round-off.

    Args:
        rho_l, v_l, rho_r, v_r, params: as in :func:`solve_riemann`.
        edges: strictly increasing finite cell edges, m.
        t: time, s (>= 0; 0 gives the averages of the initial data).
        x0: initial split position, m.
        sub: quadrature points per fan, kept for API compatibility (>= 1); unused: closed form.

    Returns:
        ``(rho_avg, y_avg)`` in veh/m and veh/s.

    Shapes:
        edges: ``(n + 1,)``; returns two arrays of shape ``(n,)``.
    """
    _validate_time(t, x0)
    _require(int(sub) >= 1, "sub", sub, "at least one quadrature point is needed", "pass sub >= 1")
    edges = np.asarray(edges, dtype=float)
    _require(edges.ndim == 1 and edges.size >= 2 and bool(np.isfinite(edges).all())
             and bool((np.diff(edges) > 0).all()), "edges", f"shape {edges.shape}",
             "cell edges must be a finite, strictly increasing 1-D array of >= 2 points",
             "pass e.g. np.linspace(0, length, cells + 1)")
    solution = solve_riemann(rho_l, v_l, rho_r, v_r, params)
    left, right = edges[:-1], edges[1:]
    mass, y_mass = np.zeros(left.size), np.zeros(left.size)
    for region in solution.regions:
        lo = np.maximum(left, _region_edge(region.lo, t, x0))
        hi = np.minimum(right, _region_edge(region.hi, t, x0))
        m = hi > lo
        if region.kind == "vacuum" or not m.any():
            continue
        if region.kind == "state":
            y_state = region.rho * (region.v + float(params.pressure(region.rho)))
            mass[m] += region.rho * (hi[m] - lo[m])
            y_mass[m] += y_state * (hi[m] - lo[m])
        else:
            fan = _fan_integral(region, lo[m], hi[m], t, x0, params)
            mass[m] += fan
            y_mass[m] += region.w * fan
    width = right - left
    return mass / width, y_mass / width
