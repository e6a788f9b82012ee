"""PNG figures of an evaluation: comparison, queues over time, time-space density, learning curves."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> None:
    """Lay out, write the PNG at 120 dpi and free the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _label(spec: str) -> str:
    """A controller's label: ``ppo (seed N)`` for a job's ``ppo_seed<N>.zip`` (as in the tables)."""
    if not spec.startswith("ppo:"):
        return spec
    path = Path(spec[4:])
    seed = re.fullmatch(r"ppo_seed(\d+)", path.stem)
    if seed:
        return f"ppo (seed {seed.group(1)})"
    return f"ppo ({path.parent.name}/{path.stem})" if path.parent.name else f"ppo ({path.stem})"


def write_figures(out_dir: Path, rows: list[dict], traces: dict, cfg, link: str, controllers: list[str]) -> list[Path]:
    """Write every figure that the data allow; returns their paths."""
    paths = [comparison(out_dir / "controller_comparison.png", rows),
             queues(out_dir / "queue_over_time.png", traces, cfg)]
    paths.append(time_space(out_dir / "time_space_density.png", traces, cfg, link, controllers))
    curve = learning_curves(out_dir / "learning_curve.png", controllers)
    return [p for p in paths + [curve] if p is not None]


def comparison(path: Path, rows: list[dict]) -> Path:
    """Mean delay per vehicle (all vehicles) per controller with 95 % CI error bars."""
    plt = _plt()
    chosen = [r for r in rows if r["metric"] == "delay_per_vehicle_s" and r["class"] == "total"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    err = [0.0 if np.isnan(r["ci95"]) else r["ci95"] for r in chosen]
    ax.bar([_label(r["controller"]) for r in chosen], [r["mean"] for r in chosen], yerr=err, capsize=4)
    ax.set_ylabel("mean delay per vehicle (s)")
    ax.set_title("Controller comparison (mean, 95% CI)")
    _save(plt, fig, path)
    return path


def queues(path: Path, traces: dict, cfg) -> Path:
    """Queue length summed over approaches (mean over episodes) against time, per controller."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for spec, tr in traces.items():
        q = np.asarray(tr.queue).sum(axis=2).mean(axis=1)  # (T,)
        t = cfg.decision_interval * np.arange(1, len(q) + 1)
        ax.plot(t / 60.0, q, label=_label(spec))
    ax.set_xlabel("time (min)")
    ax.set_ylabel("queue, all approaches (m)")
    ax.set_title("Queue length over time")
    ax.legend(fontsize=8)
    _save(plt, fig, path)
    return path


def time_space(path: Path, traces: dict, cfg, link: str, controllers: list[str]) -> Path | None:
    """Total density on one approach against time and position: PPO vs fixed-time (or the first two)."""
    ppo = [c for c in controllers if c.startswith("ppo:")]
    chosen = (ppo[:1] + ["fixed-time"]) if ppo and "fixed-time" in traces else list(traces)[:2]
    if not chosen:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 3.5), squeeze=False)
    top = max(float(np.max(traces[spec].density)) for spec in chosen) * 1000.0
    for ax, spec in zip(axes[0], chosen, strict=True):
        d = np.asarray(traces[spec].density) * 1000.0  # veh/km
        im = ax.imshow(d.T, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=top,
                       extent=(0, cfg.decision_interval * len(d) / 60.0, 0, d.shape[1]))
        ax.set_title(f"{_label(spec)}: {link}")
        ax.set_xlabel("time (min)")
        ax.set_ylabel("cell (stop line at top)")
        fig.colorbar(im, ax=ax, label="density (veh/km)")
    _save(plt, fig, path)
    return path


def learning_curves(path: Path, controllers: list[str]) -> Path | None:
    """Mean episode return (left) and the validation delay per vehicle (right, training-side draws)
    against timesteps, from each PPO model's ``train_metrics.csv``."""
    curves = {}
    for spec in (c for c in controllers if c.startswith("ppo:")):
        csv_path = Path(spec[4:]).parent / "train_metrics.csv"
        if csv_path.is_file():
            with csv_path.open() as fh:
                rows = list(csv.DictReader(fh))
            ret = [(float(r["timesteps"]), float(r["ep_rew_mean"])) for r in rows if r["ep_rew_mean"]]
            val = [(float(r["timesteps"]), float(r["eval_mean_delay"])) for r in rows if r.get("eval_mean_delay")]
            if ret:
                curves[_label(spec)] = (np.array(ret), np.array(val).reshape(-1, 2))
    if not curves:
        return None
    plt = _plt()
    fig, (ax, ax_val) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, (ret, val) in curves.items():
        ax.plot(ret[:, 0], ret[:, 1], label=name)
        ax_val.plot(val[:, 0], val[:, 1], marker="o", label=name)
    ax.set_xlabel("timesteps")
    ax.set_ylabel("mean episode return")
    ax.set_title("PPO learning curve (training episodes)")
    ax.legend(fontsize=8)
    ax_val.set_xlabel("timesteps")
    ax_val.set_ylabel("mean delay per vehicle (s)")
    ax_val.set_title("Validation delay (training-side draws)")
    _save(plt, fig, path)
    return path
