"""Evaluate controllers (PPO models and classical ones) by one loop on held-out demand draws.

``evaluate`` is the library call the kernel payload makes (``rl.evaluation.evaluate``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gymnasium.utils import seeding

from rl.config import resolve_config
from rl.controllers import make_controller
from rl.ncurves import ApproachCounts
from rl.service import WaitTracker, approach_green, starvation_thresholds
from rl.simulation import ControlledNetwork
from rl.tuning import is_tunable, tune_controller, tuning_draws

EVAL_SEED_BASE = 2_000_000  # evaluation draws: EVAL_SEED_BASE + 1000 seed + episode (training uses seed + i)
CLASSES = ("m", "c", "total")
SUMMARY_COLUMNS = ("controller", "metric", "class", "mean", "ci95")
PAIRED_METRIC = "delay_per_vehicle_s"  # the metric compared draw by draw
TUNE_DRAWS = 8  # training-side draws a tunable classical controller is tuned on
PAIRED_PREFIX = "delay_rel_diff_vs_"  # paired rows: metric = PAIRED_PREFIX + baseline name


@dataclass(frozen=True)
class PairedComparison:
    """One controller against a baseline on the same demand draws (delay per vehicle, all vehicles).

    Attributes:
        controller, baseline: controller specs.
        n: paired draws; mean: mean of ``d_controller / d_baseline - 1`` over the draws (a
            fraction, -0.1 = 10 % less delay); ci95: its Student-t 95 % half-width.
    """

    controller: str
    baseline: str
    n: int
    mean: float
    ci95: float

    @property
    def upper(self) -> float:
        """Upper end of the 95 % interval (below -0.1: at least 10 % less delay, with confidence)."""
        return self.mean + self.ci95


@dataclass(frozen=True)
class EvalResult:
    """What :func:`evaluate` produced (rows: controller, metric, class, mean, ci95; paired comparisons;
    draws: one row per controller, demand draw, metric and class with its ``value``; tuning: one
    :class:`rl.tuning.TuningResult` per tuned classical controller)."""

    summary_csv: Path
    figures: list[Path]
    rows: list[dict]
    paired: list[PairedComparison] = field(default_factory=list)
    draws: list[dict] = field(default_factory=list)
    tuning: list = field(default_factory=list)


class PolicyController:
    """A saved SB3 policy behind the :class:`rl.controllers.Controller` protocol."""

    def __init__(self, path: str | Path):
        from stable_baselines3 import PPO

        self.name = f"ppo:{path}"
        self.path = Path(path)
        self.model = PPO.load(self.path, device="cpu")

    def reset(self, core, seed=None) -> None:
        """Policies keep no state between episodes; checks that the policy reads this
        environment's observation (raises :class:`rl.errors.RLError` naming both sizes) and, for a
        policy read behind the advisor gate, that the environment observes an advisor."""
        from rl.decoding import describe_gate, is_gated
        from rl.errors import RLError

        expected = self.model.observation_space.shape
        if expected != (core.obs_size,):
            raise RLError(f"{self.path}: the policy reads observations of shape {expected}, the environment gives "
                          f"({core.obs_size},): it was trained on another observation of this environment "
                          "(e.g. ARZ-Arterial-v0 before its upstream bins, 1104da4, or before it observed "
                          "gap-out's request: advisor=None, advisor_params={}) or on another environment; "
                          "train it again, or evaluate it with the env options it was trained with")
        if is_gated(self.model) and core.advisor is None:
            raise RLError(f"{self.path}: the policy is read behind the advisor gate ({describe_gate(self.model)}, "
                          "rl.decoding) and this environment observes no advisor: evaluate it with the advisor it "
                          "was trained with")

    def act(self, obs, core) -> np.ndarray:
        """Deterministic action of the policy (:func:`rl.decoding.deterministic_actions`: behind
        its advisor gate where it was trained with one, per copy where that gate depends on the
        copies' measured demand). Shapes: obs (B, D); returns (B, S)."""
        from rl.decoding import demand_for, deterministic_actions
        from rl.env import phase_requests

        actions = deterministic_actions(self.model, obs, demand_for(self.model, core))  # behind its gate, if any
        return phase_requests(core, actions, getattr(self.model, "arz_action", "phase"))  # before arz_action: phases


def controller_from_spec(spec: str):
    """``ppo:<model.zip>`` or a classical controller name."""
    if spec.startswith("ppo:"):
        return PolicyController(spec[4:])
    return make_controller(spec)


@dataclass
class Trace:
    """What one batch of episodes recorded. Shapes: queue (T, B, A) m; density (T, n) veh/m of copy 0
    on the first traced link; densities: the same per traced link (link -> (T, n_link));
    longest_wait: per copy and approach, the longest red wait of a queue, s ((B, A), :mod:`rl.service`);
    p95_delay: per copy and approach, the 95th-percentile vehicle delay, s ((B, A), :mod:`rl.ncurves`);
    served: per copy and approach, vehicles over the stop line in the episode ((B, A))."""

    measures: dict
    queue: list = field(default_factory=list)
    density: list = field(default_factory=list)
    densities: dict = field(default_factory=dict)
    longest_wait: np.ndarray | None = None
    p95_delay: np.ndarray | None = None
    served: np.ndarray | None = None


def run_episodes(controller, core: ControlledNetwork, seeds: list[int],
                 trace_link: str | list[str] | None = None) -> Trace:
    """Run one episode per copy of ``core`` (copy i drawn from ``seeds[i]``) under ``controller``.

    ``trace_link``: a link (or links) whose density of copy 0 is recorded at every decision.
    """
    core.reset(np.arange(core.B), [seeding.np_random(s)[0] for s in seeds])
    controller.reset(core, seed=seeds[0])
    links = [trace_link] if isinstance(trace_link, str) else list(trace_link or [])
    trace = Trace(measures={}, densities={link: [] for link in links})
    obs = core.observe()
    waits = WaitTracker(core.B, len(core.net.approaches))
    counts = ApproachCounts(core)  # N-curves per approach, sampled at every decision
    counts.sample()
    for _ in range(core.cfg.n_decisions):
        green = approach_green(core)  # the lights at the start of the interval
        _, _, info = core.step(controller.act(obs, core))
        obs = core.observe()
        waits.update(info["queue"], green, core.cfg.decision_interval)
        counts.sample()
        trace.queue.append(info["queue"])
        for link in links:
            trace.densities[link].append(core.sim.link_density(link)[0].sum(axis=0))
    if links:
        trace.density = trace.densities[links[0]]
    trace.measures = {**core.sim.measures(), "entered": core.sim.ledger()["entered"]}
    trace.longest_wait = waits.longest
    trace.p95_delay = counts.p95()
    trace.served = counts.served()
    return trace


def approach_lengths(net) -> np.ndarray:
    """Length of every approach's link (m), in approach order. Shapes: (A,)."""
    index = [net.links.index(a.link) for a in net.approaches]
    return np.array([net.lk_dx[i] * net.lk[i, 1] for i in index], float)


def episode_metrics(trace: Trace, episode_length: float, lengths: np.ndarray | None = None,
                    thresholds: np.ndarray | None = None) -> dict[tuple[str, str], np.ndarray]:
    """Per-episode metrics, keyed (metric, class). Each (B,).

    With the approaches' link ``lengths`` (m, (A,)), ``max_queue_full`` is 1 for an episode in
    which some approach's queue filled its whole link: ``max_queue_m`` is then a ceiling (the true
    queue, spilling back upstream, is longer). ``longest_wait_s`` is the longest red wait of a
    queue over the approaches (:mod:`rl.service`); with the starvation ``thresholds`` (s, (A,)),
    ``starved`` is 1 for an episode in which some approach waited longer than its threshold.
    ``p95_delay_s`` is the largest over the approaches of their 95th-percentile vehicle delay
    (:mod:`rl.ncurves`).
    """
    m = trace.measures
    out = {}
    for k, cls in enumerate(CLASSES):
        pick = (lambda a: a.sum(axis=1)) if cls == "total" else (lambda a, k=k: a[:, k])
        out[("delay_per_vehicle_s", cls)] = pick(m["delay"]) / np.maximum(pick(m["entered"]), 1e-9)
        out[("throughput_veh", cls)] = pick(m["throughput"])
        out[("tts_veh_h", cls)] = pick(m["tts"]) / 3600.0
    out[("mean_queue_m", "total")] = m["queue_ms"].mean(axis=1) / episode_length
    out[("max_queue_m", "total")] = m["queue_max_m"].max(axis=1)
    if lengths is not None:  # a queue counts whole cells: at the ceiling it equals the length
        full = m["queue_max_m"] >= np.asarray(lengths)[None, :] * (1.0 - 1e-6)
        out[("max_queue_full", "total")] = full.any(axis=1).astype(float)
    if trace.longest_wait is not None:
        out[("longest_wait_s", "total")] = trace.longest_wait.max(axis=1)
        if thresholds is not None:
            out[("starved", "total")] = (trace.longest_wait > np.asarray(thresholds)[None, :]).any(axis=1).astype(float)
    if trace.p95_delay is not None:
        out[("p95_delay_s", "total")] = trace.p95_delay.max(axis=1)
    return out


def ci95(values: np.ndarray) -> float:
    """Half-width of the 95 % confidence interval of the mean (Student t)."""
    n = len(values)
    if n < 2:
        return float("nan")
    try:
        from scipy.stats import t

        q = float(t.ppf(0.975, n - 1))
    except ImportError:
        q = 1.96
    return float(q * np.std(values, ddof=1) / np.sqrt(n))


def paired_relative_difference(values: np.ndarray, baseline: np.ndarray) -> tuple[float, float]:
    """Mean relative difference of paired draws and its 95 % t-interval half-width.

    ``r_i = values_i / baseline_i - 1`` per draw i (the same demand draw under two controllers);
    returns ``(mean(r), ci95(r))``. A paired interval removes the draw-to-draw spread of demand
    that both controllers share, which dominates the per-controller intervals.

    Shapes: values (n,), baseline (n,), both in the same units and draw order.
    """
    values, baseline = np.asarray(values, float), np.asarray(baseline, float)
    if values.shape != baseline.shape:
        raise ValueError(f"paired draws differ in number: {values.shape} vs {baseline.shape}")
    rel = values / np.maximum(baseline, 1e-12) - 1.0
    return float(rel.mean()), ci95(rel)


def paired_rows(per_draw: dict[str, dict], controllers: list[str]) -> tuple[list[dict], list[PairedComparison]]:
    """Every ``ppo:`` controller against every classical one, draw by draw.

    Args:
        per_draw: controller -> {(metric, class): per-draw values (n,)}, draws in the same order.
        controllers: specs in the evaluation's order.

    Returns:
        Summary rows (metric ``delay_rel_diff_vs_<baseline>``, classes m, c, total; mean and ci95 are
        fractions) and the ``total`` comparisons.
    """
    rows, paired = [], []
    for spec in (c for c in controllers if c.startswith("ppo:")):
        for base in (c for c in controllers if not c.startswith("ppo:")):
            for cls in CLASSES:
                mean, hw = paired_relative_difference(per_draw[spec][(PAIRED_METRIC, cls)],
                                                      per_draw[base][(PAIRED_METRIC, cls)])
                rows.append({"controller": spec, "metric": PAIRED_PREFIX + base, "class": cls,
                             "mean": mean, "ci95": hw})
                if cls == "total":
                    paired.append(PairedComparison(spec, base, len(per_draw[spec][(PAIRED_METRIC, cls)]),
                                                   mean, hw))
    return rows, paired


def evaluate(env_id: str, controllers: list[str], episodes: int, seeds: list[int], out_dir: Path,
             progress: Callable[[str, int, int], None] | None = None, tune_draws: int = TUNE_DRAWS,
             **env_kwargs) -> EvalResult:
    """Compare controllers on ``episodes`` held-out demand draws per seed.

    A classical controller with a parameter grid (``max-pressure-advanced``, ``actuated-gap``) is
    first tuned on ``tune_draws`` training-side draws (:mod:`rl.tuning`; progress stage ``tune``)
    and evaluated with the chosen parameters; the candidates and their scores go to
    ``out_dir/tuning.csv``. ``tune_draws=0`` keeps their default parameters.

    Every controller runs on the same draws, so each ``ppo:`` policy is also compared with each
    classical controller draw by draw (:func:`paired_rows`; rows ``delay_rel_diff_vs_<name>``).
    Writes ``out_dir/evaluation.csv`` (controller, metric, class, mean, ci95) and PNG figures
    (comparison with error bars, queue over time, time-space density of the first approach,
    and the learning curve of every ``ppo:`` model with a ``train_metrics.csv`` beside it).
    """
    from rl import ENV_IDS
    from rl.evaluation_figures import write_figures

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg, sc = resolve_config(**{**ENV_IDS.get(env_id, {}), **env_kwargs})
    core = ControlledNetwork(cfg, sc, batch=episodes)
    link = core.net.approaches[0].link
    links = [a.link for a in core.net.approaches]
    lengths = approach_lengths(core.net)
    thresholds = starvation_thresholds(core)
    service: dict[str, dict[str, np.ndarray]] = {}  # controller -> per-approach arrays (draws, A)
    rows, traces, per_draw, total = [], {}, {}, len(controllers) * len(seeds)
    draw_ids = [EVAL_SEED_BASE + 1000 * seed + e for seed in seeds for e in range(episodes)]
    tuned = []
    for i, spec in enumerate(controllers):
        ctl = controller_from_spec(spec)
        if is_tunable(ctl) and tune_draws > 0:
            tuned.append(_tune(ctl, cfg, sc, seeds[0], tune_draws, progress))
        per_seed = []
        for j, seed in enumerate(seeds):
            draws = [EVAL_SEED_BASE + 1000 * seed + e for e in range(episodes)]
            trace = run_episodes(ctl, core, draws, links)
            per_seed.append(episode_metrics(trace, cfg.episode_length, lengths, thresholds))
            _collect_service(service.setdefault(spec, {}), trace)
            traces.setdefault(spec, trace)
            if progress is not None:
                progress("evaluate", i * len(seeds) + j + 1, total)
        per_draw[spec] = {key: np.concatenate([p[key] for p in per_seed]) for key in per_seed[0]}
        for key, vals in per_draw[spec].items():
            rows.append({"controller": spec, "metric": key[0], "class": key[1],
                         "mean": float(vals.mean()), "ci95": ci95(vals)})
    extra, paired = paired_rows(per_draw, controllers)
    rows += extra
    summary = out_dir / "evaluation.csv"
    with summary.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    draw_rows = [{"controller": spec, "draw": d, "metric": key[0], "class": key[1], "value": float(v)}
                 for spec, metrics in per_draw.items() for key, vals in metrics.items()
                 for d, v in zip(draw_ids, vals, strict=True)]
    positions = {lk: core.net.centres[core.net.links.index(lk)] for lk in links}
    figures = write_figures(out_dir, rows, traces, cfg, link, controllers, positions=positions,
                            draws=draw_rows)
    if tuned:
        write_tuning_csv(out_dir / "tuning.csv", tuned)
    write_service_csv(out_dir / "service.csv", service, [a.link for a in core.net.approaches], thresholds)
    return EvalResult(summary, figures, rows, paired, draw_rows, tuned)


def _collect_service(into: dict[str, np.ndarray], trace: Trace) -> None:
    """Append a batch's per-approach service arrays (each (B, A)) to ``into`` (draws along axis 0)."""
    for key, value in (("longest_wait", trace.longest_wait), ("p95_delay", trace.p95_delay),
                       ("served", trace.served)):
        into[key] = value if key not in into else np.concatenate([into[key], value])


def _tune(ctl, cfg, sc, seed: int, n_draws: int, progress):
    """Tune ``ctl`` on its own batch of ``n_draws`` training-side draws."""
    core = ControlledNetwork(cfg, sc, batch=n_draws)
    report = None if progress is None else (lambda done, total: progress("tune", done, total))
    return tune_controller(ctl, core, tuning_draws(seed, n_draws), report)


SERVICE_COLUMNS = ("controller", "approach", "longest_wait_mean_s", "longest_wait_max_s",
                   "starvation_threshold_s", "starved_draws", "draws", "p95_delay_mean_s", "p95_delay_max_s",
                   "served_veh_mean")
"""service.csv's columns (one row per controller and approach; means and maxima over the draws)."""


def write_service_csv(path: Path, service: dict[str, dict[str, np.ndarray]], approaches: list[str],
                      thresholds: np.ndarray) -> Path:
    """Per controller and approach: the longest red wait of a queue (mean and max over the draws,
    s), the starvation threshold (s) and the draws in which it was exceeded, the 95th-percentile
    vehicle delay (mean and max over the draws, s; :mod:`rl.ncurves`) and the vehicles served
    (over the stop line, mean over the draws).

    Shapes: service controller -> {``longest_wait``, ``p95_delay``, ``served``: (draws, A)};
    thresholds (A,).
    """
    with Path(path).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(SERVICE_COLUMNS)
        for spec, arrays in service.items():
            w, p95, served = arrays["longest_wait"], arrays["p95_delay"], arrays["served"]
            for a, link in enumerate(approaches):
                writer.writerow([spec, link, float(w[:, a].mean()), float(w[:, a].max()), float(thresholds[a]),
                                 int((w[:, a] > thresholds[a]).sum()), len(w), float(p95[:, a].mean()),
                                 float(p95[:, a].max()), float(served[:, a].mean())])
    return Path(path)


def write_tuning_csv(path: Path, results: list) -> Path:
    """One row per tuned controller and candidate: ``controller``, ``params`` (``k=v`` pairs),
    ``delay_per_vehicle_s`` (mean over the tuning draws, s), ``chosen`` (1 for the kept one),
    ``draws`` (the tuning draw seeds)."""
    with Path(path).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["controller", "params", "delay_per_vehicle_s", "chosen", "draws"])
        writer.writeheader()
        for res in results:
            keys = list(res.best)
            for row in res.table:
                writer.writerow({"controller": res.controller,
                                 "params": " ".join(f"{k}={row[k]:g}" for k in keys),
                                 "delay_per_vehicle_s": row["delay_per_vehicle_s"], "chosen": int(row["chosen"]),
                                 "draws": f"{res.draws[0]}..{res.draws[-1]}"})
    return Path(path)
