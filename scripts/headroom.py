"""How far below tuned actuated-gap control can go: the clairvoyant rollout bound of one environment.

Usage: ``python -m scripts.headroom --env ARZ-Intersection-v0 [--points 10] [--horizon 120]``

Actuated-gap is tuned on the tuning draws (:func:`rl.tuning.tuning_draws`, as the evaluation
tunes it), then it and :class:`rl.rollout.RolloutController` over it (look-ahead of ``--horizon``
s from exact copies of the state, so it knows the draw's future demand) each run one episode at
the ``--points`` stratified demand multipliers of the environment's range, on the screening draws
of :mod:`scripts.ppo_screen` (training-side: no evaluation draw is read). Printed (markdown):
delay per vehicle per multiplier, the paired relative difference (mean and 95 % CI over the
points), the throughput ratio and the starved episodes. The bound says what a ``>= 10 %`` target
asks of a controller that sees only its observation.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    """Print the headroom table of one environment."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="ARZ-Intersection-v0", help="a registered ARZ-* environment id")
    ap.add_argument("--points", type=int, default=10, help="stratified demand multipliers (default 10)")
    ap.add_argument("--horizon", type=float, default=120.0, help="look-ahead, s (default 120)")
    ap.add_argument("--candidates", choices=("all", "single"), default="all",
                    help="look-ahead candidates: every phase combination (all, the bound) or the base's "
                         "request and its one-signal deviations (single: cheaper with several signals)")
    args = ap.parse_args(argv)
    from rl import ENV_IDS

    if args.env not in ENV_IDS:
        print(f"headroom: --env {args.env}: use one of {sorted(ENV_IDS)}", file=sys.stderr)
        return 2
    if args.points < 2 or not args.horizon > 0:
        print("headroom: give --points >= 2 and a positive --horizon", file=sys.stderr)
        return 2
    from rl.config import resolve_config, stratified_scales
    from rl.controllers_tuned import GapActuated
    from rl.evaluation import _tune, paired_relative_difference
    from rl.rollout import RolloutController
    from scripts.ppo_screen import run_controller, screen_draws

    cfg, sc = resolve_config(**{**ENV_IDS[args.env], "device": "cpu"})
    params = _tune(GapActuated(), cfg, sc, 0, 8, None).best
    draws = screen_draws(args.points)
    start = time.perf_counter()
    gap = run_controller(GapActuated(**params), args.env, draws, {}, stratified=True)
    bound = run_controller(RolloutController(GapActuated(**params), args.horizon, args.candidates), args.env, draws, {},
                           stratified=True)
    wall = time.perf_counter() - start
    g, r = np.asarray(gap["delay"]), np.asarray(bound["delay"])
    mean, hw = paired_relative_difference(r, g)
    scales = stratified_scales(cfg.demand_scale, args.points)
    print(f"#### {args.env}: rollout bound ({args.horizon:g} s) against actuated-gap {params}\n")
    print("| controller | " + " | ".join(f"x{s:.2f}" for s in scales) + " |")
    print("|" + "---|" * (len(scales) + 1))
    print("| actuated-gap | " + " | ".join(f"{v:.1f}" for v in g) + " |")
    print(f"| rollout bound ({args.horizon:g} s) | " + " | ".join(f"{v:.1f}" for v in r) + " |")
    print(f"\nrollout bound vs actuated-gap: {100 * mean:+.1f} % [{100 * (mean - hw):+.1f}, {100 * (mean + hw):+.1f}] "
          f"(paired over {args.points} multipliers); throughput ratio "
          f"{np.sum(bound['throughput']) / np.sum(gap['throughput']):.3f}; starved episodes "
          f"{int(np.sum(bound['starved']))}; {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
