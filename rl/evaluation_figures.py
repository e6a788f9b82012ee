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
    """``ppo (seed 0)`` for ``.../seed0/model.zip`` or ``ppo_seed0.zip`` (as the payload's tables say),
    ``ppo (<folder>/<name>)`` for another model, the name itself for a classical controller."""
    if not spec.startswith("ppo:"):
        return spec
    path = Path(spec[4:])
    seed = re.fullmatch(r"seed(\d+)", path.parent.name) or re.fullmatch(r"ppo_seed(\d+)", path.stem)
    if seed:
        return f"ppo (seed {seed.group(1)})"
    return f"ppo ({path.parent.name}/{path.stem})" if path.parent.name else f"ppo ({path.stem})"


def write_figures(out_dir: Path, rows: list[dict], traces: dict, cfg, link: str, controllers: list[str],
                  positions: dict | None = None, draws: list[dict] | None = None) -> list[Path]:
    """Write every figure that the data allow; returns their paths.

    ``positions``: cell centres (m) per traced link, for time-space diagrams in metres;
    ``draws``: per-draw values (controller, draw, metric, class, value), drawn as points.
    """
    paths = [comparison(out_dir / "controller_comparison.png", rows, draws),
             queues(out_dir / "queue_over_time.png", traces, cfg)]
    paths.append(time_space(out_dir / "time_space_density.png", traces, cfg, link, controllers, positions))
    curve = learning_curves(out_dir / "learning_curve.png", controllers)
    return [p for p in paths + [curve] if p is not None]


def comparison(path: Path, rows: list[dict], draws: list[dict] | None = None) -> Path:
    """Mean delay per vehicle (all vehicles) per controller: horizontal bars, 95 % CI, draws as dots.

    Delay cannot be negative, so an interval reaching below 0 is drawn clipped at 0, and the figure
    says so; every demand draw is shown as a dot, so a 2-draw interval is read for what it is.
    """
    plt = _plt()
    chosen = [r for r in rows if r["metric"] == "delay_per_vehicle_s" and r["class"] == "total"]
    labels = [_label(r["controller"]) for r in chosen]
    means = np.array([r["mean"] for r in chosen], float)
    half = np.array([0.0 if np.isnan(r["ci95"]) else r["ci95"] for r in chosen], float)
    low = np.minimum(half, means)  # the drawn interval stops at 0 delay
    clipped = bool(np.any(half > means))
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.55 * len(chosen)))
    y = np.arange(len(chosen))
    ax.barh(y, means, color="tab:blue", alpha=0.75, label="mean")
    ax.errorbar(means, y, xerr=[low, half], fmt="none", ecolor="black", capsize=4, label="95% CI")
    n = 0
    for k, r in enumerate(chosen):
        vals = [d["value"] for d in draws or [] if d["controller"] == r["controller"]
                and d["metric"] == "delay_per_vehicle_s" and d["class"] == "total"]
        n = max(n, len(vals))
        ax.plot(vals, [k] * len(vals), "o", color="tab:orange", markersize=4,
                label="demand draws" if k == 0 and vals else None)
    ax.set_yticks(y, labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    ax.set_xlabel("mean delay per vehicle (s)")
    note = f"{n} draws per controller" if n else ""
    if clipped:
        note += ("; " if note else "") + "CI clipped at 0 (delay >= 0)"
    ax.set_title("Controller comparison (mean, 95% CI)" + (f"\n{note}" if note else ""), fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
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


def time_space(path: Path, traces: dict, cfg, link: str, controllers: list[str],
               positions: dict | None = None) -> Path | None:
    """Total density on every approach against time and position (m): PPO vs fixed-time (or the
    first two controllers), one row per controller and one column per approach."""
    ppo = [c for c in controllers if c.startswith("ppo:")]
    chosen = (ppo[:1] + ["fixed-time"]) if ppo and "fixed-time" in traces else list(traces)[:2]
    if not chosen:
        return None
    links = list(traces[chosen[0]].densities) or [link]
    plt = _plt()
    fig, axes = plt.subplots(len(chosen), len(links), figsize=(3.2 * len(links) + 1.2, 2.8 * len(chosen)),
                             squeeze=False, sharex=True, layout="constrained")
    series = {(s, lk): np.asarray(traces[s].densities.get(lk) or traces[s].density) * 1000.0
              for s in chosen for lk in links}  # veh/km, (T, n)
    top = max(float(d.max()) for d in series.values())
    minutes = cfg.decision_interval * len(next(iter(series.values()))) / 60.0
    for r, spec in enumerate(chosen):
        for c, lk in enumerate(links):
            ax, d = axes[r][c], series[(spec, lk)]
            x = np.asarray(positions[lk]) if positions and lk in positions else np.arange(d.shape[1]) + 0.5
            im = ax.imshow(d.T, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=top,
                           extent=(0, minutes, 0, float(x[-1] + (x[0] if positions else 0.5))))
            ax.set_title(f"{_label(spec)}: {lk}", fontsize=9)
            if r == len(chosen) - 1:
                ax.set_xlabel("time (min)")
            if c == 0:
                ax.set_ylabel("position (m), stop line at top" if positions else "cell (stop line at top)",
                              fontsize=8)
    fig.colorbar(im, ax=axes.ravel().tolist(), label="density (veh/km)")
    fig.savefig(path, dpi=120)
    plt.close(fig)
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
