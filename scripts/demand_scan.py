"""Can a network rank controllers? Classical controllers at several demand scales, side by side.

Usage: ``python -m scripts.demand_scan ENV_ID SCALES [--draws N]`` (SCALES: comma-separated
multipliers of the scenario's demand, e.g. ``1.0,0.8,0.65``). For each scale, every classical
controller (default parameters, no tuning) runs one episode per training-side demand draw
(:func:`rl.tuning.tuning_draws`; the env's usual per-episode multiplier range 0.8-1.2 times the
scale) and one line is printed: mean delay per vehicle (s), the share of decisions in which some
approach's mean queue exceeded 90 % of its link (a saturated network cannot rank controllers),
the mean over draws of the longest queue (m) and of the longest red wait (s).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv: list[str] | None = None) -> None:
    """Print one line per scale and controller (see the module docstring)."""
    from rl import ENV_IDS
    from rl.config import resolve_config
    from rl.controllers import CONTROLLERS, make_controller
    from rl.evaluation import approach_lengths, run_episodes
    from rl.simulation import ControlledNetwork
    from rl.tuning import tuning_draws

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("env", choices=sorted(ENV_IDS))
    ap.add_argument("scales", help="comma-separated demand multipliers, e.g. 1.0,0.65")
    ap.add_argument("--draws", type=int, default=4, help="training-side demand draws per scale (default 4)")
    args = ap.parse_args(argv)
    for scale in (float(x) for x in args.scales.split(",")):
        cfg, sc = resolve_config(**{**ENV_IDS[args.env], "demand_scale": (0.8 * scale, 1.2 * scale)})
        core = ControlledNetwork(cfg, sc, batch=args.draws)
        lengths = approach_lengths(core.net)
        for name in (n for n in CONTROLLERS if n != "random"):
            start = time.perf_counter()
            trace = run_episodes(make_controller(name), core, tuning_draws(7, args.draws))
            m, queue = trace.measures, np.array(trace.queue)  # queue: (T, B, A) m
            full = (queue >= 0.9 * lengths[None, None, :]).any(axis=2).mean()
            delay = (m["delay"].sum(1) / m["entered"].sum(1)).mean()
            print(f"{args.env} scale {scale:.2f} {name:22s} delay {delay:7.1f} s  full-queue share {full:.2f}  "
                  f"longest queue {m['queue_max_m'].max(1).mean():4.0f} m  longest red wait "
                  f"{trace.longest_wait.max(1).mean():5.0f} s  ({time.perf_counter() - start:.0f} s wall)", flush=True)


if __name__ == "__main__":
    main()
