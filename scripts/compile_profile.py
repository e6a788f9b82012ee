"""Where a cold start's numba compile time goes: the quickstart's kernels compiled into an empty cache.

Usage::

    python -m scripts.compile_profile [--top 20] [--json out.json]

Compiles, in a fresh temporary numba cache and in the quickstart's order, the road kernel that
``verify`` runs (one ``riemann_shock`` simulation) and the kernels of one ``ARZ-Intersection-v0``
step (the RL readout and the network step), and prints the wall seconds of each part and, per
numba function, its compile time without that of the functions it called ("self") and with them
("incl"), largest first. A function listed twice was compiled for two argument types. Run it on a
quiet machine: compiles are single-threaded and the times scale with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _listener(rows: list):
    from numba.core import event

    class Recorder(event.Listener):
        """Each compile's (function, start, seconds), nesting by time on the one compiling thread."""

        def __init__(self) -> None:
            self.open: list[tuple[str, float]] = []

        def on_start(self, ev) -> None:
            self.open.append((ev.data["dispatcher"].py_func.__qualname__, time.perf_counter()))

        def on_end(self, ev) -> None:
            name, start = self.open.pop()
            rows.append((name, start, time.perf_counter() - start, len(self.open)))

    event.register("numba:compile", Recorder())


def self_times(rows: list) -> list[dict]:
    """Per function: compiles, seconds including its callees' compiles, and without them."""
    incl, own, count = Counter(), Counter(), Counter()
    for name, start, seconds, depth in rows:
        incl[name] += seconds
        own[name] += seconds
        count[name] += 1
        parents = [
            r
            for r in rows
            if r[3] == depth - 1 and r[1] <= start and start + seconds <= r[1] + r[2]
        ]
        if parents:
            own[parents[0][0]] -= seconds
    return [
        {
            "function": k,
            "compiles": count[k],
            "self_s": round(own[k], 2),
            "incl_s": round(incl[k], 2),
        }
        for k, _ in own.most_common()
    ]


def main(argv: list[str] | None = None) -> int:
    """Profile the cold compile (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.compile_profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--top", type=int, default=20, help="functions to list (default 20)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if "numba" in sys.modules:
        parser.error("numba was imported before the cache folder could be set")
    with tempfile.TemporaryDirectory(prefix="arz-compile-profile-") as cache:
        os.environ["NUMBA_CACHE_DIR"] = cache
        rows: list = []
        _listener(rows)
        from solver.road.simulate import simulate
        from solver.scenario.loader import load_scenario

        begin = time.perf_counter()
        simulate(load_scenario(ROOT / "scenarios" / "riemann_shock.yml"))
        road_s = time.perf_counter() - begin
        import gymnasium as gym

        import rl  # noqa: F401  (registers the ARZ-* ids)

        begin = time.perf_counter()
        env = gym.make("ARZ-Intersection-v0")
        env.reset(seed=0)
        env.step(env.action_space.sample())
        env_s = time.perf_counter() - begin
    table = self_times(rows)
    print(
        f"road kernel (verify) {road_s:.1f} s, ARZ-Intersection-v0 first step {env_s:.1f} s, "
        f"total {road_s + env_s:.1f} s; {sum(r['compiles'] for r in table)} functions compiled"
    )
    print(f"{'self s':>7} {'incl s':>7} {'n':>2}  function")
    for row in table[: args.top]:
        print(f"{row['self_s']:7.1f} {row['incl_s']:7.1f} {row['compiles']:2d}  {row['function']}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"road_s": round(road_s, 1), "env_s": round(env_s, 1), "functions": table}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
