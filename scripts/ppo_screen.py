"""Screen a PPO recipe variant on training-side draws: train, then compare with the best classical.

One run trains variant ``--variant`` (levers joined by ``+``, see :data:`LEVERS`) for one training
seed and ``--timesteps`` steps, then runs the selected policy (``model.zip``), the final one
(``last_model.zip``), the warm start's clone (``clone_model.zip``, with a warm start) and the
classical baselines on the same ``--draws`` demand draws seeded
:data:`SCREEN_SEED_BASE` ``+ i`` and prints one CSV row per policy (header with ``--header``).

The screening draws are training-side: disjoint from the training episodes (``seed + i``), from
training's model-selection copies (``seed + 1_000_000 + i``), from the tuning draws
(``10**12 + 1000 seed + i``, seeds below 10**5) and from the held-out evaluation draws
(``2_000_000 + 1000 seed + e``). Nothing here reads an evaluation draw.

Baselines are computed once per env, draw count and version of the code (:func:`code_digest`)
and cached in ``OUT/baselines_<env>_<n>.json``;
the tunable ones (``actuated-gap``, ``max-pressure-advanced``) are first tuned on
``rl.tuning.tuning_draws(0, 8)``.

Usage::

    python -m scripts.ppo_screen --env ARZ-Intersection-v0 --variant switch+lin --seed 0 \\
        --timesteps 100000 --out runs/screen --header
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

SCREEN_SEED_BASE = 10**12 + 10**9  # training-side screening draws (see the module docstring)
BASELINES = ("actuated", "actuated-gap", "max-pressure", "max-pressure-advanced")
COLUMNS = ("env", "variant", "seed", "timesteps", "policy", "at_step", "ppo_delay", "best_classical",
           "best_delay", "rel_mean", "rel_ci95", "rel_upper", "throughput_ratio", "starved_draws",
           "train_wall_s")

#: lever -> (TrainConfig overrides, env keyword arguments)
LEVERS: dict[str, tuple[dict, dict]] = {
    "base": ({}, {}),
    "phase": ({}, {"action": "phase"}),
    "switch": ({}, {"action": "switch"}),
    "lin": ({"lr_schedule": "linear", "lr_final_fraction": 0.1}, {}),
    "ent": ({"ent_coef": 0.01}, {}),
    "g995": ({"gamma": 0.995}, {}),
    "g98": ({"gamma": 0.98}, {}),
    "e15": ({"eval_every": 15_000}, {}),
    "nosel": ({"select_best": False}, {}),
    "up2": ({}, {"upstream_bins": 2}),
    "up0": ({}, {"upstream_bins": 0}),
    "up1": ({}, {"upstream_bins": 1}),
    "clk": ({}, {"clock": True}),
    # tuned gap-out's request observed (its parameters on the arterial's tuning draws, as the screen's
    # baselines tune it: training-side)
    "adv": ({}, {"advisor": "actuated-gap", "advisor_params": {"gap_s": 1.5, "max_out": 0.75}}),
    "heavy": ({}, {"demand_scale": (0.9, 1.25)}),
    "wide": ({"train_demand_stretch": 0.25}, {}),
    "wider": ({"train_demand_stretch": 0.5}, {}),
    "rand": ({"validation": "random"}, {}),
    "kl": ({"target_kl": 0.02}, {}),
    "kl01": ({"target_kl": 0.01}, {}),
    "bc": ({"warm_start": "actuated"}, {}),
    "bcgap": ({"warm_start": "actuated-gap"}, {}),
    "bcmp": ({"warm_start": "max-pressure"}, {}),
    "bcauto": ({"warm_start": "auto"}, {}),
    "bcroll": ({"warm_start": "rollout"}, {}),
    "lr1": ({"learning_rate": 1e-4}, {}),
    "lr05": ({"learning_rate": 5e-5}, {}),
    "ratio": ({"selection": "ratio"}, {}),
    "ck25": ({"checkpoint_every": 25_000}, {}),
    "r3": ({"warm_start_rounds": 3}, {}),
    "r6": ({"warm_start_rounds": 6}, {}),
    "r10": ({"warm_start_rounds": 10}, {}),
    "stk": ({"warm_start_weighting": "stakes"}, {}),
    "dump": ({"warm_start_dump": True}, {}),
    "mg30": ({"warm_start_margin": 30.0}, {}),
    "mg100": ({"warm_start_margin": 100.0}, {}),
}


def variant_settings(variant: str) -> tuple[dict, dict]:
    """TrainConfig overrides and env kwargs of ``a+b+c`` (later levers win)."""
    cfg, env = {}, {}
    for lever in variant.split("+"):
        if lever not in LEVERS:
            raise SystemExit(f"--variant: unknown lever {lever!r}; use {sorted(LEVERS)} joined by '+'")
        cfg.update(LEVERS[lever][0])
        env.update(LEVERS[lever][1])
    return cfg, env


def screen_draws(n: int) -> list[int]:
    """The training-side screening draws."""
    return [SCREEN_SEED_BASE + i for i in range(n)]


def run_controller(ctl, env_id: str, draws: list[int], env_kwargs: dict, stratified: bool = False) -> dict:
    """Per-draw delay per vehicle (s), throughput (veh) and starvation (0/1) of one controller.

    ``stratified``: draw i runs at the fixed demand multiplier of the midpoint of stratum i of the
    environment's range (:func:`rl.config.stratified_scales`) instead of the one it draws.
    """
    from rl import ENV_IDS
    from rl.config import resolve_config, stratified_scales
    from rl.evaluation import episode_metrics, run_episodes
    from rl.service import starvation_thresholds
    from rl.simulation import ControlledNetwork

    cfg, sc = resolve_config(**{**ENV_IDS[env_id], **env_kwargs, "device": "cpu"})
    core = ControlledNetwork(cfg, sc, batch=len(draws))
    if stratified:
        core.fixed_scale = stratified_scales(cfg.demand_scale, len(draws))
    trace = run_episodes(ctl, core, draws)
    m = episode_metrics(trace, cfg.episode_length, thresholds=starvation_thresholds(core))
    return {"delay": m[("delay_per_vehicle_s", "total")].tolist(),
            "throughput": m[("throughput_veh", "total")].tolist(),
            "starved": m[("starved", "total")].tolist()}


def code_digest(root: Path = Path(__file__).resolve().parents[1]) -> str:
    """sha256 (16 hex) of what a baseline's figures depend on: the sources of ``solver/`` and
    ``rl/`` and the scenario files (``*.py``, ``*.yml``, ``*.yaml``, ``*.json``)."""
    import hashlib

    digest = hashlib.sha256()
    for folder in ("solver", "rl", "scenarios"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in {".py", ".yml", ".yaml", ".json"} and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def baselines(env_id: str, draws: list[int], out: Path, stratified: bool = False) -> dict:
    """Every classical baseline on ``draws`` (tuned ones tuned first), cached in ``out`` and
    recomputed when the code they ran on (:func:`code_digest`) has changed since."""
    cache = out / f"baselines_{env_id}_{len(draws)}{'_strat' if stratified else ''}.json"
    code = code_digest()
    if cache.is_file():
        cached = json.loads(cache.read_text())
        if cached.pop("_code", None) == code:
            return cached
        print(f"{cache}: computed on other code; computing the baselines again", file=sys.stderr)
    from rl import ENV_IDS
    from rl.config import resolve_config
    from rl.controllers import make_controller
    from rl.evaluation import _tune
    from rl.tuning import is_tunable

    cfg, sc = resolve_config(**{**ENV_IDS[env_id], "device": "cpu"})
    result = {}
    for name in BASELINES:
        ctl = make_controller(name)
        params = {}
        if is_tunable(ctl):
            params = _tune(ctl, cfg, sc, 0, 8, None).best
        result[name] = {**run_controller(ctl, env_id, draws, {}, stratified), "params": params}
    out.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({**result, "_code": code}, indent=1))
    return result


def compare(ppo: dict, base: dict) -> dict:
    """PPO against the best classical controller (lowest mean delay per vehicle) on the same draws."""
    from rl.evaluation import paired_relative_difference

    name = min(base, key=lambda k: float(np.mean(base[k]["delay"])))
    mean, hw = paired_relative_difference(np.array(ppo["delay"]), np.array(base[name]["delay"]))
    ratio = float(np.sum(ppo["throughput"]) / np.sum(base[name]["throughput"]))
    return {"best_classical": name, "best_delay": float(np.mean(base[name]["delay"])), "rel_mean": mean,
            "rel_ci95": hw, "rel_upper": mean + hw, "throughput_ratio": ratio,
            "starved_draws": int(np.sum(ppo["starved"]))}


def main(argv: list[str] | None = None) -> int:
    """Train one variant for one seed, compare it on the screening draws, print CSV rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="ARZ-Intersection-v0")
    parser.add_argument("--variant", default="base")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("runs/screen"))
    parser.add_argument("--header", action="store_true")
    parser.add_argument("--baselines-only", action="store_true")
    parser.add_argument("--stratified", action="store_true",
                        help="run the screening draws at the stratified multipliers of the env's range")
    args = parser.parse_args(argv)
    cfg_over, env_kwargs = variant_settings(args.variant)
    draws = screen_draws(args.draws)
    if args.header:
        print(",".join(COLUMNS), flush=True)
    if args.baselines_only:
        base = baselines(args.env, draws, args.out, args.stratified)
        for name, res in base.items():
            print(f"# {name}: {np.mean(res['delay']):.1f} s/veh {res['params']}", flush=True)
        return 0
    from rl.evaluation import PolicyController
    from rl.training import TrainConfig, train

    run_dir = args.out / f"{args.env}_{args.variant}_s{args.seed}_{args.timesteps}"
    start = time.perf_counter()
    result = train(args.env, args.timesteps, args.n_envs, args.seed, run_dir,
                   train_config=replace(TrainConfig(tensorboard=False), **cfg_over), **env_kwargs)
    wall = time.perf_counter() - start
    base = baselines(args.env, draws, args.out, args.stratified)  # after training: a parallel run may have cached them
    policies = [("selected", result.model_path, result.selected_timesteps),
                ("last", run_dir / "last_model.zip", result.timesteps)]
    if (run_dir / "clone_model.zip").exists():  # the warm start's clone, before PPO
        policies.append(("clone", run_dir / "clone_model.zip", 0))
    for label, path, step in policies:
        ppo = run_controller(PolicyController(path), args.env, draws, env_kwargs, args.stratified)
        (run_dir / f"screen_{label}.json").write_text(json.dumps({"draws": draws, "ppo": ppo}))
        row = {"env": args.env, "variant": args.variant, "seed": args.seed, "timesteps": args.timesteps,
               "policy": label, "at_step": step, "ppo_delay": float(np.mean(ppo["delay"])),
               **compare(ppo, base), "train_wall_s": round(wall)}
        print(",".join(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in COLUMNS),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
