"""The ``rl`` suite: train PPO per seed, then compare it with the classical controllers.

Calls :func:`rl.training.train` once per training seed and :func:`rl.evaluation.evaluate` once,
and writes ``data/models/ppo_seed<N>.zip``, ``data/metrics/training_seed<N>.csv``,
``data/metrics/evaluation.csv`` (long format), ``data/metrics/evaluation_draws.csv`` (one value per
controller, demand draw, metric and class: the frame the report's pivot tables are computed from),
``figures/learning_curve.png``, the evaluation's own figures (or, when it draws none,
``figures/evaluation.png``), ``latex/evaluation.tex`` (controllers x metrics, mean +- 95 % CI),
``latex/evaluation_paired.tex`` (paired difference vs PPO), ``latex/evaluation_vs_baselines.tex``
(each PPO model's delay relative to each classical controller, paired, in %),
``latex/evaluation_long.tex`` and, when
a tuned classical controller was compared, ``data/metrics/tuning.csv`` (its candidates and scores);
``data/metrics/service.csv`` holds per controller and approach the longest red wait, the draws in
which it starved the approach (:mod:`rl.service`), the 95th-percentile vehicle delay
(:mod:`rl.ncurves`) and the vehicles served, also as ``latex/service.tex``. Until
the first count of training and of evaluation, a heartbeat says what is happening (building envs,
compiling kernels). When the ``rl`` package is not there yet the suite is skipped with that reason,
which makes the job ``partial``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from kernel_payload import figures, latex, precompile, prewarm, rl_tables, startup
from kernel_payload.errors import SuiteSkipped
from kernel_payload.events import emit
from kernel_payload.liveness import StartupWatch
from kernel_payload.schema import ProgressEvent
from kernel_payload.suites import SuiteContext
from kernel_payload.tables import read_csv, to_float, write_csv

_RL_MODULES = ("rl", "rl.training", "rl.evaluation")


def run(ctx: SuiteContext) -> None:
    """Train, evaluate and write the artifacts of the job's RL settings."""
    emit(ProgressEvent(stage="rl/train", done=0, total=ctx.job.rl.timesteps, unit="steps",
                       message="importing torch and stable-baselines3…"))  # fmt: skip
    prewarm.wait("rl")  # the runner may be importing these already (kernel_payload.prewarm)
    try:
        from rl.evaluation import evaluate
        from rl.training import train
    except ModuleNotFoundError as exc:
        if exc.name in _RL_MODULES:
            raise SuiteSkipped(f"rl package not available yet ({exc.name} is missing)") from exc
        raise
    settings = ctx.job.rl
    env_kwargs = precompile.env_options(ctx.job)
    plan, timesteps = _plan(settings, env_kwargs.pop("device", settings.device or ctx.job.device))
    env_kwargs["device"] = plan.device  # training's; the evaluation runs on CPU copies (float64), as the
    # acceptance of issue 16 asks, and a few copies are faster on CPU cores than on GPU threads
    ctx.metrics.update({"rl_env": settings.env, "rl_device": plan.device, "rl_preset": plan.preset,
                        "rl_n_envs": plan.n_envs,
                        "rl_ppo_device": plan.ppo_device, "rl_timesteps": timesteps})
    with tempfile.TemporaryDirectory(prefix="arz-rl-") as tmp:
        work = Path(tmp)
        models: dict[str, Path] = {}
        curves: dict[str, tuple[list[float], list[float]]] = {}
        if precompile.running():
            emit(ProgressEvent(stage="rl/train", done=0, total=timesteps, unit="steps",
                               message="compiling the rl kernels (part of them in the background)…"))  # fmt: skip
        precompile.compile_local()  # the parts no worker took, now that this core is free
        startup.times().precompile.update(precompile.wait())  # its kernels are cached: loaded, not compiled
        for seed in ctx.job.training_seeds:
            first = "building envs" if len(ctx.job.training_seeds) == 1 else f"seed {seed}: building envs"
            with StartupWatch("rl/train", timesteps, first) as live:
                result = train(
                    settings.env, timesteps, plan.n_envs, seed, work / f"seed{seed}",
                    progress=live.wrap(ctx.progress), train_config=plan.config,
                    ppo_device=plan.ppo_device, **env_kwargs,
                )  # fmt: skip
            model = ctx.models_dir / f"ppo_seed{seed}.zip"
            shutil.copy2(result.model_path, model)
            curve_csv = shutil.copy2(
                result.metrics_csv, ctx.metrics_dir / f"training_seed{seed}.csv"
            )
            models[f"ppo (seed {seed})"] = model
            curves[f"seed {seed}"] = _learning_curve(Path(curve_csv))
            ctx.metrics.update(_rate_metric(result, seed))
            ctx.metrics.update(_selection_metrics(result, seed))
        controllers = _controllers(settings.controllers, models)
        runs = len(controllers) * len(settings.eval_seeds)
        with StartupWatch("rl/evaluate", runs, "loading the models, running the first controller") as live:
            evaluation = evaluate(
                settings.env, controllers, settings.eval_episodes, settings.eval_seeds,
                work / "eval", progress=live.wrap(ctx.progress), **{**env_kwargs, "device": "cpu"},
            )  # fmt: skip
        for figure in evaluation.figures:
            shutil.copy2(figure, ctx.figures_dir / Path(figure).name)
        tuning = work / "eval" / "tuning.csv"  # tuned classical controllers: every candidate's score
        if tuning.is_file():
            shutil.copy2(tuning, ctx.metrics_dir / "tuning.csv")
        service = work / "eval" / "service.csv"  # per approach: longest red waits, starvation
        if service.is_file():
            header, body = read_csv(service)
            per_approach = [_relabel(dict(zip(header, r, strict=False)), models) for r in body]
            write_csv(ctx.metrics_dir / "service.csv", per_approach, header)
            _write_service_table(ctx, per_approach)
    rows = [_relabel(row, models) for row in evaluation.rows]
    draws = [_relabel(row, models) for row in getattr(evaluation, "draws", [])]
    ctx.metrics["ppo_timesteps"] = int(timesteps)  # per seed; the report's smoke caveat
    _write_outputs(ctx, rows, curves, comparison_figure=not evaluation.figures)
    if draws:
        _write_pivots(ctx, draws)


def _plan(settings: Any, device: str) -> tuple[Any, int]:
    """The training plan (device, preset, copies) and timesteps per seed: ``rl.gpu``'s values
    where the GPU preset was picked, else ``rl.timesteps`` and ``rl.n_envs``."""
    from rl.presets import plan_training

    gpu = settings.preset == "gpu" or (settings.preset == "auto" and plan_training(device, "cpu", 1).device == "gpu")
    n_envs = (settings.gpu.n_envs if gpu else settings.n_envs)
    timesteps = (settings.gpu.timesteps or settings.timesteps) if gpu else settings.timesteps
    return plan_training(device, settings.preset, n_envs, settings.warm_start,
                         settings.demand_stretch, env_id=settings.env,
                         warm_start_rounds=settings.warm_start_rounds,
                         advisor_gate=settings.advisor_gate, advisor_gate_heavy=settings.advisor_gate_heavy,
                         heavy_demand=settings.heavy_demand), int(timesteps)


def _rate_metric(result: Any, seed: int) -> dict[str, float]:
    """Training throughput with the one-time kernel compile excluded (measured from the second
    rollout on); a one-rollout run has no such figure and reports the rate including it."""
    warm = getattr(result, "warm_steps_per_s", None)
    if warm is not None:
        return {f"train_steps_per_s_excl_compile_seed{seed}": round(float(warm), 1)}
    return {f"train_steps_per_s_incl_compile_seed{seed}": round(float(result.steps_per_s), 1)}


def _selection_metrics(result: Any, seed: int) -> dict[str, Any]:
    """Where the delivered policy came from: the timesteps of the selected policy (0: the
    warm-start clone itself) and, with a warm start, its teacher, the clone's validation delay and
    which of the candidate fits became the clone (``round<r>``/``refit<k>``, when they were scored)."""
    out: dict[str, Any] = {}
    selected = getattr(result, "selected_timesteps", None)
    if selected is not None:
        out[f"rl_selected_timesteps_seed{seed}"] = int(selected)
    warm = getattr(result, "warm_start", None) or {}
    if warm:
        out[f"rl_warm_start_teacher_seed{seed}"] = str(warm["teacher"])
        if "validation_delay" in warm:
            out[f"rl_warm_start_clone_delay_s_seed{seed}"] = round(float(warm["validation_delay"]), 2)
        if "clone_chosen" in warm:
            out[f"rl_warm_start_clone_chosen_seed{seed}"] = str(warm["clone_chosen"])
    return out


def _controllers(requested: list[str], models: dict[str, Path]) -> list[str]:
    """Replace ``ppo`` with one ``ppo:<model.zip>`` per trained model."""
    out: list[str] = []
    for name in requested:
        if name == "ppo":
            out.extend(f"ppo:{path}" for path in models.values())
        else:
            out.append(name)
    return out


def _relabel(row: dict, models: dict[str, Path]) -> dict:
    """Show trained models as ``ppo (seed N)`` rather than by their temporary path."""
    row = dict(row)
    for label, path in models.items():
        if str(row.get("controller", "")) == f"ppo:{path}":
            row["controller"] = label
    return row


def _learning_curve(path: Path) -> tuple[list[float], list[float]]:
    header, rows = read_csv(path)
    if "timesteps" not in header or "ep_rew_mean" not in header:
        return [], []
    it, ir = header.index("timesteps"), header.index("ep_rew_mean")
    points = [(to_float(r[it]), to_float(r[ir])) for r in rows if len(r) > max(it, ir)]
    kept = [(t, v) for t, v in points if t is not None and v is not None]
    return [t for t, _ in kept], [v for _, v in kept]


def _write_outputs(
    ctx: SuiteContext, rows: list[dict], curves: dict, comparison_figure: bool
) -> None:
    """CSV, LaTeX, the learning curve, the headline metrics and (when the evaluation drew none)
    a controller-comparison bar chart."""
    columns = ["controller", "metric", "class", "mean", "ci95"]
    write_csv(ctx.metrics_dir / "evaluation.csv", rows, columns)
    latex.write_table(
        ctx.latex_dir / "evaluation_long.tex",
        ["controller", "metric", "class", "mean", "95% CI"],
        [[r.get(c) for c in columns] for r in rows],
        caption=f"Controller comparison on {ctx.job.rl.env} (long format)",
        label="tab:rl-evaluation-long",
    )
    figures.plot_curves(
        curves, ctx.figures_dir / "learning_curve.png", "timesteps", "mean episode reward",
        "PPO learning curve",
    )  # fmt: skip
    headline = _headline(rows)
    if headline:
        metric, klass, chosen = headline
        for r in chosen:
            ctx.metrics[f"{metric}[{r['controller']}]"] = float(r["mean"])
    if headline and comparison_figure:
        figures.plot_bars(
            [str(r["controller"]) for r in chosen], [float(r["mean"]) for r in chosen],
            ctx.figures_dir / "evaluation.png", xlabel=f"{metric} ({klass})",
            title="Controller comparison (mean, 95% CI)",
            errors=[float(r.get("ci95") or 0.0) for r in chosen],
        )  # fmt: skip


def _write_pivots(ctx: SuiteContext, draws: list[dict]) -> None:
    """The per-draw frame (CSV) and its pivot tables (LaTeX): controllers x metrics, mean +- 95 %
    CI, and each controller minus PPO on the same draws."""
    write_csv(ctx.metrics_dir / "evaluation_draws.csv", draws,
              ["controller", "draw", "metric", "class", "value"])  # fmt: skip
    table = rl_tables.pivot(draws)
    headers = [h for _, _, h in rl_tables.METRICS if any(h in row for row in table.values())]
    caveat = rl_tables.smoke_caveat(ctx.job.rl.timesteps) or ""
    note = " ".join(n for n in (rl_tables.ceiling_note(table), rl_tables.starvation_note(table),
                                rl_tables.draws_note(table)) if n)
    latex.write_table(
        ctx.latex_dir / "evaluation.tex", ["controller", *headers],
        [[c, *(latex.Raw(latex.mean_ci(row[h]) if h in row else "--") for h in headers)]
         for c, row in table.items()],
        caption=f"Controllers on {ctx.job.rl.env}: mean and 95% CI over "
                f"{max((x.n for r in table.values() for x in r.values()), default=0)} demand draws. "
                f"{note} {caveat}".strip(),
        label="tab:rl-evaluation",
    )  # fmt: skip
    relative = rl_tables.relative_vs_baselines(draws)
    if relative:
        baselines = list(next(iter(relative.values())))
        latex.write_table(
            ctx.latex_dir / "evaluation_vs_baselines.tex", ["controller", *(f"vs {b}" for b in baselines)],
            [[c, *(rl_tables.percent(row[b]) for b in baselines)] for c, row in relative.items()],
            caption=f"Delay per vehicle relative to each classical controller on the same demand draws: mean "
                    f"of (d / d_baseline - 1) in % and its 95% CI in brackets (entirely below 0: less delay "
                    f"with confidence). {caveat}".strip(),
            label="tab:rl-vs-baselines",
        )  # fmt: skip
    for reference in rl_tables.references(draws)[:1]:
        diff = rl_tables.paired_differences(draws, reference)
        latex.write_table(
            ctx.latex_dir / "evaluation_paired.tex", ["controller", *headers],
            [[f"{c} - {reference}", *(latex.Raw(latex.mean_ci(row[h]) if h in row else "--")
                                      for h in headers)] for c, row in diff.items()],
            caption=f"Paired difference (controller minus {reference}) on the same demand draws: "
                    f"mean and 95% CI. {caveat}".strip(),
            label="tab:rl-paired",
        )  # fmt: skip


def _write_service_table(ctx: SuiteContext, service: list[dict]) -> None:
    """``latex/service.tex``: per controller and approach, p95 vehicle delay, longest red wait,
    starved draws and vehicles served (:func:`kernel_payload.rl_tables.approach_rows`)."""
    latex.write_table(
        ctx.latex_dir / "service.tex", list(rl_tables.APPROACH_HEADERS), rl_tables.approach_rows(service),
        caption=f"Service per approach on {ctx.job.rl.env}: 95th-percentile vehicle delay and longest red "
                "wait of a queue (means over the demand draws), draws in which the wait passed the "
                "starvation threshold (the larger of twice the signal's longest Webster red and one "
                "max-green cycle), vehicles served (mean).",
        label="tab:rl-service",
    )  # fmt: skip


def _headline(rows: list[dict]) -> tuple[str, str, list[dict]] | None:
    """The first metric's rows for the ``total`` class (or the first class listed)."""
    if not rows:
        return None
    metric = rows[0].get("metric")
    classes = [r.get("class") for r in rows if r.get("metric") == metric]
    klass = "total" if "total" in classes else classes[0]
    chosen = [r for r in rows if r.get("metric") == metric and r.get("class") == klass]
    return str(metric), str(klass), [r for r in chosen if r.get("mean") is not None]
