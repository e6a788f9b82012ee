"""Delay per vehicle against the demand multiplier: where in the demand range controllers differ.

Usage: ``python -m scripts.demand_response RESULTS [--points N] [--plot FILE]`` where RESULTS is a
job's pulled results folder (``validation_output/results/<owner>_<slug>``) whose ``rl`` suite
trained PPO. The environment, the tuned parameters (``rl/data/metrics/tuning.csv``, the chosen
row per controller) and the PPO policies (``rl/data/models/ppo_seed*.zip``) come from the folder.

Every controller runs one episode at each of ``N`` fixed demand multipliers, the midpoints of
``N`` equal strata of the environment's range (:func:`rl.config.stratified_scales`; 0.8-1.2 x
the scenario's demand): no random draw, so none of the evaluation draws either. The demand of a
draw is the scenario's profile times one multiplier, so these points trace the whole response.

Printed (markdown): delay per vehicle (s) per controller and multiplier; then per controller the
mean over the points of ``d / d_best - 1`` against the best classical controller over the points
(a midpoint-rule estimate of the paired difference expected over the uniform multiplier range;
the held-out draws of the job give the same estimate with their own sampling error), and the same
for the per-point best of every controller (the headroom). ``--plot``: the curves as a PNG.

``--rollout H``: also the clairvoyant rollout controller (:mod:`rl.rollout`: look-ahead of ``H`` s
from exact copies of the state, over the folder's tuned actuated-gap), labelled ``rollout bound``:
a bound on what control can reach at each point, never a baseline.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from scripts.results_table import is_classical, suite_metrics

CLASSICAL = ("fixed-time", "actuated", "actuated-gap", "max-pressure", "max-pressure-advanced")


class ResponseError(Exception):
    """A results folder this script cannot read; the message names it and the fix."""


def _env_of(folder: Path) -> str:
    env = suite_metrics(folder).get("rl_env")
    if env is None:
        raise ResponseError(f"{folder}: no rl suite with rl_env in session_summary.json; give a job's pulled "
                            "results folder that ran the rl suite")
    return str(env)


def tuned_params(folder: Path) -> dict[str, dict[str, float]]:
    """Controller -> its chosen parameters from ``rl/data/metrics/tuning.csv`` (empty without it)."""
    path = folder / "rl" / "data" / "metrics" / "tuning.csv"
    if not path.is_file():
        return {}
    out = {}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if row.get("chosen") == "1":
                out[row["controller"]] = {k: float(v) for k, v in (p.split("=") for p in row["params"].split())}
    return out


def controllers(folder: Path, rollout_s: float | None = None) -> dict[str, object]:
    """Label -> controller: the classical ones (tuned where the job tuned them), each PPO seed,
    then with ``rollout_s`` the rollout bound over the tuned actuated-gap."""
    from rl.controllers import make_controller
    from rl.evaluation import PolicyController

    tuned = tuned_params(folder)
    out = {}
    for name in CLASSICAL:
        ctl = make_controller(name)
        out[name] = type(ctl)(**tuned[name]) if name in tuned else ctl
    for model in sorted((folder / "rl" / "data" / "models").glob("ppo_seed*.zip")):
        out[f"ppo (seed {model.stem.removeprefix('ppo_seed')})"] = PolicyController(str(model))
    if rollout_s is not None:
        from rl.rollout import RolloutController

        gap = out["actuated-gap"]
        out[f"rollout bound ({rollout_s:g} s)"] = RolloutController(type(gap)(**gap.params()), rollout_s)
    return out


def response(env_id: str, ctls: dict[str, object], points: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Delay per vehicle (s) of every controller at the ``points`` stratified multipliers.

    Returns: multipliers (points,) and label -> delays (points,).
    """
    from rl import ENV_IDS
    from rl.config import resolve_config, stratified_scales
    from rl.evaluation import episode_metrics, run_episodes
    from rl.simulation import ControlledNetwork

    cfg, sc = resolve_config(**{**ENV_IDS[env_id], "device": "cpu"})
    scales = stratified_scales(cfg.demand_scale, points)
    core = ControlledNetwork(cfg, sc, batch=points)  # run_episodes resets every copy for each controller
    core.fixed_scale = scales
    for ctl in ctls.values():  # a policy trained on another observation fails here, before any run
        ctl.reset(core)
    out = {}
    for label, ctl in ctls.items():
        trace = run_episodes(ctl, core, list(range(points)))
        out[label] = np.asarray(episode_metrics(trace, cfg.episode_length)[("delay_per_vehicle_s", "total")], float)
        print(f"  {label}: done", file=sys.stderr, flush=True)
    return scales, out


def summary_lines(scales: np.ndarray, delays: dict[str, np.ndarray]) -> list[str]:
    """The markdown table and the paired means against the best classical controller."""
    classical = [c for c in delays if is_classical(c)]
    best = min(classical, key=lambda c: float(delays[c].mean()))
    base = np.maximum(delays[best], 1e-12)
    lines = ["| controller | " + " | ".join(f"x{s:.3f}" for s in scales) + f" | vs {best} (mean of d/d_best - 1) |",
             "|" + "---|" * (len(scales) + 2)]
    for label, d in delays.items():
        rel = "-" if label == best else f"{100 * float((d / base - 1).mean()):+.1f} %"
        lines.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in d) + f" | {rel} |")
    every = np.minimum.reduce(list(delays.values()))
    only = np.minimum.reduce([delays[c] for c in classical])
    lines += ["", f"Per-point best (an oracle that knows the demand): of the classical controllers "
              f"{100 * float((only / base - 1).mean()):+.1f} %, of every controller "
              f"{100 * float((every / base - 1).mean()):+.1f} % against {best}."]
    return lines


def plot(path: Path, env_id: str, scales: np.ndarray, delays: dict[str, np.ndarray]) -> Path:
    """Delay per vehicle against the multiplier, one curve per controller (PPO dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, d in delays.items():
        style = "--o" if label.startswith("ppo") else ":k^" if label.startswith("rollout") else "-s"
        ax.plot(scales, d, style, ms=3, lw=1.2, label=label)
    ax.set_xlabel("demand multiplier (x scenario demand)")
    ax.set_ylabel("delay per vehicle (s)")
    ax.set_yscale("log")
    ax.set_title(f"{env_id}: delay against demand, one episode per multiplier")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Print the response table of one results folder; exit 2 with one line when it has none."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="a job's pulled results folder (rl suite with PPO)")
    ap.add_argument("--points", type=int, default=9, help="demand multipliers (strata midpoints; default 9)")
    ap.add_argument("--plot", type=Path, help="also write the curves to this PNG")
    ap.add_argument("--rollout", type=float, metavar="H", help="also the clairvoyant rollout bound with a "
                    "look-ahead of H s (e.g. 120; slow: 2 to 8 look-ahead copies per copy)")
    args = ap.parse_args(argv)
    if args.points < 2:
        print(f"demand_response: --points {args.points}: give at least 2", file=sys.stderr)
        return 2
    try:
        env_id = _env_of(args.results)
    except ResponseError as err:
        print(f"demand_response: {err}", file=sys.stderr)
        return 2
    from rl.errors import RLError

    try:
        scales, delays = response(env_id, controllers(args.results, args.rollout), args.points)
    except RLError as err:
        print(f"demand_response: {err}", file=sys.stderr)
        return 2
    print(f"#### {env_id}: delay per vehicle (s) at {args.points} demand multipliers "
          f"(`{args.results.name}`)\n")
    print("\n".join(summary_lines(scales, delays)))
    if args.plot:
        print(f"\nplot: {plot(args.plot, env_id, scales, delays)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
