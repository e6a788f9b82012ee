"""Screen clone fits offline: refit the labels a warm start kept, run each fit on the screening draws.

On the arterial the rollout teacher's DAgger warm start labels for about half an hour per seed,
and fitting a policy to its labels takes a minute or two. With the labels kept
(``python -m scripts.ppo_screen --variant bcroll+dump ...`` writes ``warm_labels.npz`` into its run
folder, :func:`rl.imitation.dump_labels`), label weightings and caps are compared in minutes: each
candidate is ``--refits`` fresh fits of all the labels (torch seeds ``1..N``, the fit of the warm
start's refits: :func:`rl.imitation.refit_state`), each run on the same training-side screening
draws as ``scripts.ppo_screen`` and compared with its cached baselines (paired, against the best
classical controller). One CSV row per fit.

A proxy, not a warm start: the labels are the states the run's own clones reached, so a weighting
that wins here is then screened whole (``ppo_screen --variant bcroll+stk``), where its DAgger
rounds visit the states its own clones reach. Nothing here reads an evaluation draw.

Usage::

    python -m scripts.clone_screen RUN_DIR --env ARZ-Arterial-v0 --weighting none stakes \\
        --caps 5 20 --refits 3 --draws 10 --stratified --out /work/scr/art
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

COLUMNS = ("env", "run", "weighting", "cap", "refit", "ppo_delay", "best_classical", "best_delay", "rel_mean",
           "rel_ci95", "rel_upper", "throughput_ratio", "starved_draws", "top_delay")


def candidates(weightings: list[str], caps: list[float]) -> list[tuple[str, float | None]]:
    """(weighting, cap) pairs to screen: ``none`` once, every other weighting at every cap."""
    return [(w, None) for w in weightings if w == "none"] + [(w, c) for w in weightings if w != "none" for c in caps]


def main(argv: list[str] | None = None) -> int:
    """Refit a kept warm start's labels under each weighting, run every fit on the screening draws."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("run", type=Path, help="a ppo_screen run folder with warm_labels.npz and clone_model.zip")
    parser.add_argument("--env", default="ARZ-Arterial-v0")
    parser.add_argument("--variant", default="base", help="the run's variant (its env options, e.g. up2)")
    parser.add_argument("--weighting", nargs="+", default=["none", "stakes"],
                        help="label weightings (rl.imitation.WEIGHTINGS)")
    parser.add_argument("--caps", nargs="+", type=float, default=None,
                        help="caps of the stakes weights, in mean stakes (default: rl.imitation.STAKES_CAP)")
    parser.add_argument("--margins", nargs="+", type=float, default=None,
                        help="with an advisor: also fit labels whose deviations from the advisor's request worth "
                             "less than each margin (veh s) follow it (rl.imitation.follow_advisor_labels); "
                             "weighting none")
    parser.add_argument("--refits", type=int, default=3, help="fresh fits per weighting (torch seeds 1..N)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="the fit's minibatches are ROUNDS x 1000 (default: the batches in the labels)")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--stratified", action="store_true",
                        help="run the screening draws at the stratified multipliers of the env's range")
    parser.add_argument("--out", type=Path, default=Path("runs/screen"), help="where ppo_screen caches its baselines")
    parser.add_argument("--header", action="store_true")
    args = parser.parse_args(argv)

    labels_path, clone_path = args.run / "warm_labels.npz", args.run / "clone_model.zip"
    for path, how in ((labels_path, "run ppo_screen with the 'dump' lever"), (clone_path, "a run with a warm start")):
        if not path.is_file():
            raise SystemExit(f"{path}: not found; {how} writes it")
    from stable_baselines3 import PPO

    from rl.evaluation import PolicyController
    from rl.imitation import (
        STAKES_CAP,
        WEIGHTINGS,
        WarmStartConfig,
        follow_advisor_labels,
        label_weights,
        refit_state,
    )
    from scripts.ppo_screen import (
        baselines,
        compare,
        run_controller,
        screen_draws,
        variant_settings,
    )

    for w in args.weighting:
        if w not in WEIGHTINGS:
            raise SystemExit(f"--weighting {w!r}: use one of {WEIGHTINGS}")
    data = dict(np.load(labels_path))
    if "stakes" in args.weighting and "stakes" not in data:
        raise SystemExit(f"{labels_path}: no stakes in these labels (only the rollout teacher reports them); use --weighting none")
    _, env_kwargs = variant_settings(args.variant)
    draws = screen_draws(args.draws)
    base = baselines(args.env, draws, args.out, args.stratified)
    model = PPO.load(clone_path, device="cpu")
    ws = WarmStartConfig(rounds=args.rounds or int(data["batch"].max()) + 1)
    print(f"# {labels_path}: {len(data['obs']):,} labelled decisions, {ws.rounds} x {ws.steps} minibatches per fit",
          file=sys.stderr, flush=True)
    if args.header:
        print(",".join(COLUMNS), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        plan = [(w, c, data["labels"]) for w, c in candidates(args.weighting, args.caps or [STAKES_CAP])]
        if args.margins:
            from rl.vec_env import make_vec_env

            nvec = make_vec_env(args.env, 1, **{**env_kwargs, "device": "cpu"}).core.nvec
            plan += [(f"margin{m:g}", None, follow_advisor_labels(data, nvec, m)) for m in args.margins]
        for weighting, cap, labels in plan:
            weights = label_weights(data, "none" if weighting.startswith("margin") else weighting,
                                    **({} if cap is None else {"cap": cap}))
            for k in range(1, args.refits + 1):
                model.policy.load_state_dict(refit_state(model, [data["obs"], labels, data["mask"], weights], ws, k))
                path = Path(tmp) / f"fit_{weighting}_{cap}_{k}.zip"
                model.save(path)
                ppo = run_controller(PolicyController(path), args.env, draws, env_kwargs, args.stratified)
                tag = f"clone_screen_{weighting}{'' if cap is None else f'_cap{cap:g}'}_fit{k}.json"
                (args.run / tag).write_text(json.dumps({"draws": draws, "ppo": ppo}))
                row = {"env": args.env, "run": args.run.name, "weighting": weighting, "cap": "" if cap is None else cap,
                       "refit": k, "ppo_delay": float(np.mean(ppo["delay"])), **compare(ppo, base),
                       "top_delay": float(ppo["delay"][-1]) if args.stratified else ""}
                print(",".join(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in COLUMNS), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
