"""Screen a queue shield over a saved arterial policy on training-side draws (issue 17).

The shield lets the policy choose until a queue grows past ``theta`` m, then hands signals to
the advisor observed by the environment (tuned gap-out's request, the last features of the
observation): ``--mode signal`` hands a signal over while one of its approaches' queue exceeds
``theta`` and back once all are below ``release`` m; ``--mode latch`` hands every signal of the
copy over for the rest of the episode once any queue exceeds ``theta``. A queue is the length of
the approach's cells, counted from the stop line, whose vehicles move slower than
:data:`rl.controllers_tuned.MOVING`.

The draws are the screening draws of :mod:`scripts.ppo_screen` at the stratified multipliers of
the environment's range (x0.82 ... x1.18): training-side, no evaluation draw is read. Prints the
delay per vehicle per draw of the policy, of gap-out with the advisor's parameters, and of each
shield, with the paired mean against gap-out and the throughput ratio.

Usage::

    python -m scripts.shield_screen MODEL.zip --shield 120,60 --shield 200,100 --mode signal
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


class QueueShield:
    """A controller that follows ``inner`` except where a queue has grown past ``theta`` m (see the
    module docstring); ``fired`` counts the signal-decisions handed to the advisor."""

    def __init__(self, inner, theta: float, release: float, latch: bool):
        self.inner, self.theta, self.release, self.latch = inner, float(theta), float(release), latch
        self.name = f"shield {'latch' if latch else 'signal'} {theta:g}/{release:g} m"

    def reset(self, core, seed=None) -> None:
        """Reset the policy and the hand-over state of every copy and signal."""
        from rl.controllers_tuned import ApproachCells

        self.inner.reset(core, seed)
        self.cells = ApproachCells(core.net)
        self.signal_of = np.array([a.signal for a in core.net.approaches])
        self.on = np.zeros((core.B, len(core.nvec)), bool)
        self.fired = 0

    def act(self, obs: np.ndarray, core) -> np.ndarray:
        """The policy's phases, or the advisor's for the signals handed over. Shapes: obs (B, D);
        returns (B, S) int."""
        from rl.controllers_tuned import MOVING
        from rl.simulation import advisor_requests

        requests = np.asarray(self.inner.act(obs, core)).reshape(core.B, -1)
        advice = advisor_requests(obs[:, -int(np.sum(core.nvec)):], core.nvec)
        vehicles, speed = self.cells.state(core.sim)
        for s in range(len(core.nvec)):
            longest = np.zeros(core.B)
            for a in np.flatnonzero(self.signal_of == s):
                c = self.cells.cells[a]
                queued = (speed[:, c] < MOVING) & (vehicles[:, c] > 0.05)
                longest = np.maximum(longest, queued.sum(axis=1) * self.cells.dx[a])
            if self.latch:
                self.on |= (longest > self.theta)[:, None]
            else:
                self.on[:, s] = np.where(longest > self.theta, True,
                                         np.where(longest < self.release, False, self.on[:, s]))
        self.fired += int(self.on.sum())
        return np.where(self.on, advice, requests)


def main(argv: list[str] | None = None) -> int:
    """Run the policy, gap-out and each shield on the screening draws; print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a saved policy (model.zip) of ARZ-Arterial-v0 with the advisor observed")
    parser.add_argument("--shield", action="append", default=[], metavar="THETA,RELEASE",
                        help="hand-over and release queue lengths, m (repeatable)")
    parser.add_argument("--mode", choices=("signal", "latch"), default="signal")
    parser.add_argument("--draws", type=int, default=10, help="screening draws (default 10)")
    args = parser.parse_args(argv)

    from rl.controllers import make_controller
    from rl.evaluation import PolicyController, paired_relative_difference
    from rl.imitation import adopt_advisor
    from scripts.band_screen import arterial_config
    from scripts.ppo_screen import run_controller, screen_draws

    env = "ARZ-Arterial-v0"
    draws = screen_draws(args.draws)
    gap = make_controller("actuated-gap")
    if not adopt_advisor(gap, arterial_config()[0]):
        raise SystemExit(f"{env} does not observe actuated-gap's request; this screen needs the advisor")
    base = run_controller(gap, env, draws, {}, True)
    g = np.array(base["delay"])
    print(f"{'actuated-gap (advisor)':32s}", np.round(g, 1))
    rows = [("policy", PolicyController(args.model))]
    for spec in args.shield:
        theta, release = (float(x) for x in spec.split(","))
        rows.append((None, QueueShield(PolicyController(args.model), theta, release, args.mode == "latch")))
    for label, ctl in rows:
        r = run_controller(ctl, env, draws, {}, True)
        d = np.array(r["delay"])
        fired = f" handed over {ctl.fired} signal-decisions" if isinstance(ctl, QueueShield) else ""
        mean, _ = paired_relative_difference(d, g)
        print(f"{label or ctl.name:32s}", np.round(d, 1), f"paired mean vs gap-out {100 * mean:+.1f} %",
              f"throughput x{np.sum(r['throughput']) / np.sum(base['throughput']):.4f}{fired}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
