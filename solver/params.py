"""Physical parameters of the multi-class ARZ model (SI units) and their packed kernel form.

Kernels take parameters as one float64 vector ``par`` indexed by the constants below, so every
backend (numpy, numba-cpu, numba-cuda) receives the same plain array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KMH = 1000.0 / 3600.0

# indices into the packed parameter vector
ALPHA, RHO_JAM, GAMMA_M, GAMMA_C, K_M, K_C, TAU_M, TAU_C, V_CREEP, RELAX, EPS_VAC, INV_RHO_JAM = range(12)
N_PAR = 12

#: road quality R -> (Vmax motorcycles, Vmax cars) in km/h (DESIGN §2)
DEFAULT_VMAX_KMH: dict[int, tuple[float, float]] = {
    1: (85.0, 75.0),
    2: (70.0, 60.0),
    3: (50.0, 35.0),
    4: (45.0, 25.0),
    5: (30.0, 10.0),
}


@dataclass(frozen=True)
class PhysicsParams:
    """Multi-class ARZ parameters, SI units.

    Attributes:
        alpha: gap-filling coefficient (cars' weight in the motorcycles' effective density), 1.
        rho_jam: jam density, veh/m.
        gamma_m, gamma_c: pressure exponents (> 1).
        K_m, K_c: pressure scales, m/s.
        tau_m, tau_c: relaxation times, s.
        v_creep: motorcycles' creeping speed through jammed cars, m/s.
        relaxation: False gives the homogeneous ARZ system.
        vmax: road quality R -> (Vmax_m, Vmax_c) in m/s.
    """

    alpha: float = 0.4
    rho_jam: float = 0.25
    gamma_m: float = 1.5
    gamma_c: float = 2.0
    K_m: float = 5.0 * KMH
    K_c: float = 7.5 * KMH
    tau_m: float = 5.0
    tau_c: float = 10.0
    v_creep: float = 5.0 * KMH
    relaxation: bool = True
    vmax: dict[int, tuple[float, float]] = field(
        default_factory=lambda: {r: (m * KMH, c * KMH) for r, (m, c) in DEFAULT_VMAX_KMH.items()}
    )

    def __post_init__(self) -> None:
        for name in ("gamma_m", "gamma_c"):
            if getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be > 1 (got {getattr(self, name)})")
        for name in ("rho_jam", "tau_m", "tau_c"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")

    @property
    def eps_vacuum(self) -> float:
        """Density (veh/m) below which w is desingularised (1e-6 of the jam density)."""
        return 1e-6 * self.rho_jam

    def variable_scales(self) -> np.ndarray:
        """Magnitudes of (rho_m, y_m, rho_c, y_c) used to make WENO's epsilon dimensionless.

        Shapes: (4,): veh/m and veh/s (the markers' scale is rho_jam times the largest free
        speed plus the largest pressure scale).
        """
        vtop = max(max(v) for v in self.vmax.values()) + max(self.K_m, self.K_c)
        return np.array([self.rho_jam, self.rho_jam * vtop, self.rho_jam, self.rho_jam * vtop])

    def packed(self) -> np.ndarray:
        """The parameter vector ``par`` for kernels. Shapes: (N_PAR,) float64."""
        par = np.zeros(N_PAR)
        par[ALPHA], par[RHO_JAM] = self.alpha, self.rho_jam
        par[GAMMA_M], par[GAMMA_C] = self.gamma_m, self.gamma_c
        par[K_M], par[K_C] = self.K_m, self.K_c
        par[TAU_M], par[TAU_C] = self.tau_m, self.tau_c
        par[V_CREEP], par[RELAX] = self.v_creep, float(self.relaxation)
        par[EPS_VAC] = self.eps_vacuum
        par[INV_RHO_JAM] = 1.0 / self.rho_jam
        return par

    def vmax_cells(self, quality: np.ndarray) -> np.ndarray:
        """Free speeds per cell from road quality.

        Args:
            quality: integer road category R per cell. Shapes: (n,).

        Returns:
            ``vmax[k, cell]`` in m/s, k = 0 motorcycles, 1 cars. Shapes: (2, n).
        """
        missing = sorted(set(int(r) for r in np.unique(quality)) - set(self.vmax))
        if missing:
            raise ValueError(f"road quality {missing} has no vmax entry (known: {sorted(self.vmax)})")
        table = np.array([self.vmax[int(r)] for r in quality]).reshape(-1, 2)
        return np.ascontiguousarray(table.T)
