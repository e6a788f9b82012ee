"""Time-space diagrams of density from a simulation result (one panel per link)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _links(fields: dict[str, np.ndarray]) -> list[str]:
    names = sorted({k.split("/")[0] for k in fields if "/" in k})
    return names or [""]


def plot_time_space(t: np.ndarray, x: dict[str, np.ndarray] | np.ndarray, fields: dict[str, np.ndarray],
                    out: Path, title: str, links: list[str] | None = None) -> Path:
    """Draw total density (veh/km) against position and time for each link; write a PNG.

    Args:
        t: output times, s. Shapes: (nt,).
        x: cell centres per link (m), or one array for a single road. Shapes: (n,) each.
        fields: ``rho_m``/``rho_c`` (single road) or ``LINK/rho_m``/``LINK/rho_c``, (nt, n) veh/m.
        out: PNG path.
        title: figure title.
        links: links to draw (default: all).

    Returns:
        The PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = links or _links(fields)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names) + 1, 4.5), squeeze=False)
    vmax = max(float((fields[_key(n, "rho_m")] + fields[_key(n, "rho_c")]).max()) * 1000 for n in names)
    mesh = None
    for ax, name in zip(axes[0], names, strict=True):
        rho = (fields[_key(name, "rho_m")] + fields[_key(name, "rho_c")]) * 1000.0
        xs = x[name] if isinstance(x, dict) else x
        mesh = ax.pcolormesh(xs, t, rho, shading="nearest", cmap="viridis", vmin=0, vmax=max(vmax, 1e-9))
        ax.set_xlabel("position on link (m)")
        ax.set_title(name or "road")
    axes[0][0].set_ylabel("time (s)")
    fig.colorbar(mesh, ax=axes[0].tolist(), label="total density (veh/km)")
    fig.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _key(link: str, var: str) -> str:
    return f"{link}/{var}" if link else var
