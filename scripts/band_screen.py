"""Screen saved arterial policies in one band of the demand range, with their breakdowns counted (issue 17).

The held-out evaluation draws its multipliers uniformly over the environment's range, so 20 draws
may hold few of the top band where the arterial's policies break down (the published 20 held two
above x1.10), and the 10-point stratified screen of :mod:`scripts.ppo_screen` has two points
there: one breakdown more or less moves a seed's figure by ten points. This screen runs
``--draws`` training-side draws (the screening draws of :mod:`scripts.ppo_screen` from index
``--first-draw``, 100 by default; never an evaluation draw) at the stratified midpoints of
``--band`` (default x1.10-x1.20), and prints per policy the delay per vehicle per draw, the paired
mean against gap-out with the advisor's parameters (the environment's best classical controller
there) and the **breakdowns**: draws where the policy's delay per vehicle exceeds
``--breakdown`` (1.5) times gap-out's.

Each policy runs as saved (behind the advisor gate it was trained with, if any: :mod:`rl.decoding`),
and behind each ``--gate P``: a signal follows the policy's most likely phase only where its
probability is at least P, else the advisor's request (tuned gap-out's, the last features of the
observation); ``--gate 0`` is the policy's most likely action. ``--teacher`` adds the warm
start's rollout teacher (clairvoyant, the look-ahead over gap-out: what the clone imitates;
minutes).

Usage::

    python -m scripts.band_screen MODEL.zip [MODEL.zip ...] --gate 0.85 [--band 1.1 1.2] [--teacher]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ENV = "ARZ-Arterial-v0"
#: the first screening draw of this screen (``SCREEN_SEED_BASE + BAND_DRAW_OFFSET + i``): after the
#: stratified screen's draws (indices 0 to 31 at most)
BAND_DRAW_OFFSET = 100


def band_scales(lo: float, hi: float, n: int) -> np.ndarray:
    """Midpoints of ``n`` equal strata of ``[lo, hi]`` (demand multipliers). Shape (n,)."""
    return lo + (np.arange(n) + 0.5) * (hi - lo) / n


def gated(path: str | Path, p: float):
    """A saved policy read behind an advisor gate of ``p`` at every demand (:mod:`rl.decoding`; 0:
    its most likely action), whatever gate or heavy gate it was saved with."""
    from rl.decoding import check_advisor_gate
    from rl.evaluation import PolicyController

    ctl = PolicyController(path)
    ctl.model.arz_advisor_gate = check_advisor_gate(p, "--gate")
    ctl.model.arz_advisor_gate_heavy = 0.0
    ctl.name = f"{Path(path).name} gated {p:g}"
    return ctl


def run_label(path: Path) -> str:
    """A policy's row label: the run folder of a job's model (``<run>/rl/data/models/ppo_seed0.zip``:
    ``<run>/ppo_seed0``), else ``<folder>/<file>``."""
    parents = [p for p in path.parents if p.name and p.name not in ("models", "data", "rl")]
    return f"{parents[0].name}/{path.stem}" if parents else path.name


def arterial_config() -> tuple:
    """The registered arterial's (config, scenario) on the CPU (:func:`rl.config.resolve_config`)."""
    from rl import ENV_IDS
    from rl.config import resolve_config

    return resolve_config(**{**ENV_IDS[ENV], "device": "cpu"})


def run_band(ctl, scales: np.ndarray, draws: list[int], config: tuple | None = None) -> np.ndarray:
    """Delay per vehicle (s) of ``ctl`` on CPU copies of the arterial (``config``: its
    :func:`arterial_config`, resolved here if None), copy i drawn from ``draws[i]`` at the
    multiplier ``scales[i]``. Shapes: scales (n,); returns (n,)."""
    from rl.evaluation import episode_metrics, run_episodes
    from rl.simulation import ControlledNetwork

    cfg, sc = config or arterial_config()
    core = ControlledNetwork(cfg, sc, batch=len(draws))
    core.fixed_scale = np.asarray(scales, float)
    trace = run_episodes(ctl, core, draws)
    return np.asarray(episode_metrics(trace, cfg.episode_length)[("delay_per_vehicle_s", "total")], float)


def main(argv: list[str] | None = None) -> int:
    """Run gap-out, the teacher (optional) and every policy (plain and gated) in the band; print one
    markdown row each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("models", nargs="+", type=Path, help="saved ARZ-Arterial-v0 policies (model.zip)")
    parser.add_argument("--band", nargs=2, type=float, default=(1.1, 1.2), metavar=("LO", "HI"),
                        help="demand multipliers (default 1.1 1.2)")
    parser.add_argument("--draws", type=int, default=16, help="draws in the band (default 16)")
    parser.add_argument("--gate", nargs="*", type=float, default=[], metavar="P",
                        help="advisor gates to run each policy behind: 0 (off) or 0.5 <= P <= 1")
    parser.add_argument("--first-draw", type=int, default=BAND_DRAW_OFFSET,
                        help=f"index of the first screening draw (default {BAND_DRAW_OFFSET}; 0 with --band 0.8 1.2 "
                             "--draws 10: the 10-point stratified screen of scripts.ppo_screen)")
    parser.add_argument("--breakdown", type=float, default=1.5,
                        help="a draw is a breakdown above this multiple of gap-out's delay (default 1.5)")
    parser.add_argument("--teacher", action="store_true", help="also run the clairvoyant rollout teacher")
    args = parser.parse_args(argv)
    lo, hi = args.band
    if not 0 < lo < hi or args.draws < 2 or not args.breakdown > 1 or args.first_draw < 0:
        parser.error("give 0 < LO < HI, --draws >= 2, --first-draw >= 0 and --breakdown > 1")
    from rl.decoding import check_advisor_gate
    from rl.errors import EnvConfigError

    try:
        for p in args.gate:
            check_advisor_gate(p, "--gate")
    except EnvConfigError as err:
        parser.error(str(err))
    for path in args.models:
        if not path.is_file():
            parser.error(f"{path}: no such file (a model.zip of ARZ-Arterial-v0)")

    from rl.controllers import make_controller
    from rl.evaluation import PolicyController, paired_relative_difference
    from rl.imitation import adopt_advisor
    from scripts.ppo_screen import SCREEN_SEED_BASE

    scales = band_scales(lo, hi, args.draws)
    draws = [SCREEN_SEED_BASE + args.first_draw + i for i in range(args.draws)]
    config = arterial_config()

    def gap_out():  # tuned gap-out with the advisor's parameters (rl.imitation.adopt_advisor)
        gap = make_controller("actuated-gap")
        adopt_advisor(gap, config[0])
        return gap

    g = run_band(gap_out(), scales, draws, config)
    print(f"{ENV}, {args.draws} training-side draws at x{scales[0]:.3f} ... x{scales[-1]:.3f}; "
          f"breakdown: delay > {args.breakdown:g} x gap-out's\n")
    print("| controller | delay/veh (s) | vs gap-out (paired, %) | breakdowns | per draw (s) |")
    print("|---|---:|---:|---:|---|")

    def row(label: str, d: np.ndarray) -> None:
        mean, half = paired_relative_difference(d, g)
        print(f"| {label} | {d.mean():.1f} | {100 * mean:+.1f} % [{100 * (mean - half):+.1f}, {100 * (mean + half):+.1f}] "
              f"| {int(np.sum(d > args.breakdown * g))}/{len(d)} | {' '.join(f'{v:.0f}' for v in d)} |", flush=True)

    row("actuated-gap (the advisor's parameters)", g)
    if args.teacher:
        from rl.rollout import RolloutController

        row("rollout teacher (clairvoyant)", run_band(RolloutController(gap_out(), candidates="single"), scales, draws,
                                                          config))
    for path in args.models:
        label = run_label(path)
        row(label, run_band(PolicyController(path), scales, draws, config))
        for p in args.gate:
            row(f"{label}, gate {p:g}", run_band(gated(path, p), scales, draws, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
