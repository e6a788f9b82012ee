"""``arz train`` and ``arz evaluate``: PPO training and the controller comparison (issue 4).

Thin commands over :func:`rl.training.train` and :func:`rl.evaluation.evaluate`; registered on
the lab app by :mod:`kernel_payload.cli.app`. Progress bars go to stderr, results to stdout.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kernel_payload import compile_notice, inputs
from kernel_payload.cli.common import exit_codes, progress_bar, table_console

ENV_HELP = "Environment id: ARZ-Intersection-v0, ARZ-Arterial-v0 or ARZ-SeedCorridor-v0."


def train(
    env: str = typer.Option("ARZ-Intersection-v0", "--env", help=ENV_HELP),
    timesteps: int = typer.Option(100_000, "--timesteps", min=1, help="Environment steps in total (all copies)."),
    n_envs: int = typer.Option(None, "--n-envs", min=1, help="Copies stepped together in one batched call (default: the preset's, 8 on the CPU, 4096 on the GPU)."),
    device: str = typer.Option("auto", "--device", help="auto (the GPU when numba-cuda can use one), cpu or gpu."),
    preset: str = typer.Option("auto", "--preset", help="PPO preset: auto (the device's), cpu or gpu (rl/presets.py)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the policy and the training demand draws."),
    warm_start: str = typer.Option(None, "--warm-start", help="Clone a teacher into the policy before PPO: auto (the best classical one on training-side draws), a classical controller (actuated, max-pressure, ...), rollout (a clairvoyant 120 s look-ahead over tuned actuated-gap: a stronger teacher, slower to label) or none (a random start); default: the preset's (rl/presets.py: rollout on ARZ-Intersection-v0 and ARZ-Arterial-v0, auto elsewhere)."),
    warm_start_rounds: int = typer.Option(None, "--warm-start-rounds", min=1, help="DAgger rounds of the warm start, 8 labelled episodes each (round 0 driven by the teacher, the others by the clone); default: the teacher's (9 for rollout, 3 otherwise; rl/imitation.py)."),
    demand_stretch: float = typer.Option(None, "--demand-stretch", min=0.0, help="Demand curriculum: training copies draw multipliers up to hi + STRETCH x (hi - lo) of the environment's range (0.25: 0.8-1.2 becomes 0.8-1.3); validation stays on the range; default: the preset's (0)."),
    advisor_gate: float = typer.Option(None, "--advisor-gate", help="Read the trained policy behind the observed advisor: a signal takes the policy's most likely phase only where its probability is at least P, else the advisor's request (tuned gap-out's); 0: off; default: the preset's (0.7 on ARZ-Arterial-v0, 0 elsewhere; rl/decoding.py)."),
    advisor_gate_heavy: float = typer.Option(None, "--advisor-gate-heavy", help="The gate that replaces --advisor-gate for a copy whose measured demand (vehicles counted arriving at the entries over the scenario's profile) is at least --heavy-demand times nominal; 0: none; default: the preset's (0.85 on ARZ-Arterial-v0, none elsewhere)."),
    heavy_demand: float = typer.Option(None, "--heavy-demand", help="The measured demand multiplier from which --advisor-gate-heavy applies (default: the preset's, 1.1)."),
    out: Path = typer.Option(Path("runs/ppo"), "--out", help="Output folder (model.zip, train_metrics.csv, tb/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a PPO signal controller (stable-baselines3) on the batched environment."""
    with exit_codes():
        inputs.check_env_id(env)
        inputs.check_seed(seed)
        from rl.presets import plan_training

        plan = plan_training(device, preset, n_envs, warm_start, demand_stretch, env_id=env,
                             warm_start_rounds=warm_start_rounds, advisor_gate=advisor_gate,
                             advisor_gate_heavy=advisor_gate_heavy, heavy_demand=heavy_demand)
        inputs.check_output_folder(out)
        from rl.training import train as run_train

        compile_notice.notice_if_cold(compile_notice.RL)

        start = time.perf_counter()
        with progress_bar("train", quiet=as_json) as update:
            result = run_train(env, timesteps, plan.n_envs, seed, out, train_config=plan.config,
                               ppo_device=plan.ppo_device, device=plan.device,
                               progress=lambda stage, done, total: update(done, total, f"{stage} {done:,}/{total:,} steps"))  # fmt: skip
        wall = time.perf_counter() - start
    rate = result.warm_steps_per_s
    summary = {"env": env, "timesteps": result.timesteps, "device": plan.device, "ppo_device": result.ppo_device,
               "preset": plan.preset, "n_envs": plan.n_envs, "steps_per_s_excl_compile": rate,
               "steps_per_s_incl_compile": result.steps_per_s, "wall_s": wall, "split": result.split,
               "model": str(result.model_path), "metrics_csv": str(result.metrics_csv),
               "selected_timesteps": result.selected_timesteps, "warm_start": result.warm_start}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    shown = (f"{rate:,.0f} steps/s after warm-up" if rate is not None else
             f"{result.steps_per_s:,.0f} steps/s incl. the kernel compile")  # fmt: skip
    Console().print(f"[bold]{env}[/] ({plan.preset} preset, {plan.n_envs:,} envs on {plan.device}, "
                    f"policy on {result.ppo_device}): {result.timesteps:,} steps at {shown} "
                    f"({wall:.0f} s) -> {result.model_path} (learning curve: {result.metrics_csv})")  # fmt: skip
    warm = result.warm_start
    if warm:
        clone = f", clone validated at {warm['validation_delay']:.1f} s/veh" if "validation_delay" in warm else ""
        if "clone_chosen" in warm:
            clone += f" ({warm['clone_chosen']}, the best of {len(warm['clone_scores'])} fits)"
        Console().print(f"warm start: cloned {warm['teacher']} in {warm['rounds']} rounds ({warm['agreement']:.0%} agreement with it on the last round's "
                        f"states{clone}); model.zip is the policy validated best, at step "
                        f"{result.selected_timesteps:,} (0: the clone itself)")  # fmt: skip


def evaluate(
    controllers: list[str] = typer.Argument(..., help="e.g. ppo:runs/ppo/model.zip fixed-time actuated max-pressure random"),
    env: str = typer.Option("ARZ-Intersection-v0", "--env", help=ENV_HELP),
    episodes: int = typer.Option(2, "--episodes", min=1, help="Episodes per seed (held-out demand draws)."),
    seeds: str = typer.Option("100,101,102,103,104", "--seeds", help="Comma-separated evaluation seeds."),
    out: Path = typer.Option(Path("runs/evaluation"), "--out", help="Output folder (evaluation.csv, figures)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary rows as JSON."),
) -> None:
    """Compare controllers on demand draws never used in training (95 % confidence intervals)."""
    with exit_codes():
        inputs.check_controllers(controllers)
        inputs.check_env_id(env)
        seed_list = inputs.parse_seeds(seeds)
        inputs.check_output_folder(out)
        inputs.check_models_match_env(controllers, env)
        from rl.evaluation import evaluate as run_evaluate

        compile_notice.notice_if_cold(compile_notice.RL)

        with progress_bar("evaluate", quiet=as_json) as update:
            result = run_evaluate(env, controllers, episodes, seed_list, out,
                                  progress=lambda stage, done, total: update(done, total, stage))  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result.rows, indent=2))
        return
    _print_evaluation(result, env, episodes, len(seed_list), controllers)


def _count(n: int, noun: str) -> str:
    """``1 episode``, ``2 episodes``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _print_evaluation(result, env: str, episodes: int, n_seeds: int, controllers: list[str]) -> None:
    """Per-controller table (mean ± 95 % CI) and one line per paired comparison."""
    table = Table("controller", "delay/veh (s)", "p95 delay (s)", "longest red wait (s)", "throughput (veh)",
                  "mean queue (m)", "max queue (m)", title=f"{env}: {_count(episodes, 'episode')} x {_count(n_seeds, 'seed')}, mean ± 95 % CI")  # fmt: skip
    cell = {(r["controller"], r["metric"], r["class"]): r for r in result.rows}

    def fmt(ctl: str, metric: str, cls: str = "total") -> str:
        r = cell.get((ctl, metric, cls))
        return "-" if r is None else f"{r['mean']:.4g} ± {r['ci95']:.2g}"

    for ctl in controllers:
        table.add_row(ctl, fmt(ctl, "delay_per_vehicle_s"), fmt(ctl, "p95_delay_s"), fmt(ctl, "longest_wait_s"),
                      fmt(ctl, "throughput_veh"), fmt(ctl, "mean_queue_m"), fmt(ctl, "max_queue_m"))  # fmt: skip
    console = table_console()
    console.print(table)
    for pc in result.paired:
        console.print(f"paired delay/veh, {pc.controller} vs {pc.baseline}: {100 * pc.mean:+.1f} % "
                      f"(95 % CI {100 * (pc.mean - pc.ci95):+.1f} to {100 * pc.upper:+.1f} %, {pc.n} draws)")
    console.print(f"metrics: {result.summary_csv}; figures: {', '.join(str(f) for f in result.figures)}")
