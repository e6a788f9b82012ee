"""The RL results as a reader wants them: pivot tables from the per-draw evaluation frame.

The frame has one row per controller, demand draw, metric and class (``controller, draw, metric,
class, value``; ``rl/data/metrics/evaluation_draws.csv``). From it:

- :func:`pivot` -- controllers x metrics, each cell the mean over the draws +- the half-width of its
  95 % Student-t interval;
- :func:`paired_differences` -- each controller minus a reference (PPO) on the same draws, mean +-
  95 % interval of the per-draw differences (pairing removes the demand's draw-to-draw spread);
- :func:`relative_vs_baselines` -- every PPO controller against **each** classical one, draw by
  draw: mean and 95 % interval of ``d_ppo / d_baseline - 1`` (delay per vehicle, all vehicles);
- :func:`approach_rows` -- per controller and approach (``service.csv``): 95th-percentile vehicle
  delay, longest red wait, starved draws, vehicles served;
- :func:`smoke_caveat` -- the warning shown when PPO was trained for fewer than
  :data:`SMOKE_TIMESTEPS` steps.

A ``max_queue_m`` cell is marked as a ceiling when some draw's queue filled its whole approach link
(the frame's ``max_queue_full`` metric): the true queue was longer than the link.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SMOKE_TIMESTEPS = 100_000
"""PPO trained for fewer environment steps than this is a smoke test, not a result: the PPO runs
that docs/environment.md compares trained 100k-300k steps on the four-arm intersection."""

METRICS: tuple[tuple[str, str, str], ...] = (
    ("delay_per_vehicle_s", "total", "delay / veh (s)"),
    ("delay_per_vehicle_s", "m", "delay / moto (s)"),
    ("delay_per_vehicle_s", "c", "delay / car (s)"),
    ("throughput_veh", "total", "throughput (veh)"),
    ("tts_veh_h", "total", "time spent (veh h)"),
    ("mean_queue_m", "total", "mean queue (m)"),
    ("max_queue_m", "total", "max queue (m)"),
    ("longest_wait_s", "total", "longest red wait (s)"),
    ("p95_delay_s", "total", "p95 delay, worst approach (s)"),
)
"""(metric, class, column header) of the pivot, in order."""

PUBLISHED_DRAWS = 20
"""Held-out demand draws below which a comparison is a preview, not a published figure (issue 17)."""

CEILING = ("max_queue_m", "total")
FULL = ("max_queue_full", "total")
WAIT = ("longest_wait_s", "total")
STARVED = ("starved", "total")
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


@dataclass(frozen=True)
class Cell:
    """Mean and 95 % half-width of ``n`` values; ``full``: draws whose queue filled its link;
    ``starved``: draws in which an approach waited past its starvation threshold (rl.service)."""

    mean: float
    ci95: float
    n: int
    full: int = 0
    starved: int = 0

    def text(self) -> str:
        """``12.3 ± 1.2`` (``± n/a`` from one draw; ``≥`` before a ceiling; ``⚠`` after a wait
        that starved an approach)."""
        spread = "n/a" if math.isnan(self.ci95) else _num(self.ci95)
        mark = "≥ " if self.full else ""
        flag = f" ⚠ starved {self.starved}/{self.n}" if self.starved else ""
        return f"{mark}{_num(self.mean)} ± {spread}{flag}"


def t_quantile(dof: int) -> float:
    """The 97.5 % quantile of Student's t with ``dof`` degrees of freedom (scipy when present)."""
    try:
        from scipy.stats import t

        return float(t.ppf(0.975, dof))
    except ImportError:
        return _T975[dof - 1] if dof <= len(_T975) else 1.96 + 2.4 / dof


def summarize(values: Sequence[float], full: int = 0) -> Cell:
    """Mean and 95 % t-interval half-width of ``values`` (NaN half-width below two values)."""
    n = len(values)
    if n == 0:
        return Cell(math.nan, math.nan, 0, full)
    mean = sum(values) / n
    if n < 2:
        return Cell(mean, math.nan, 1, full)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return Cell(mean, t_quantile(n - 1) * sd / math.sqrt(n), n, full)


def _series(draws: Iterable[dict]) -> dict[tuple[str, str, str], dict[str, float]]:
    """(controller, metric, class) -> {draw: value}."""
    out: dict[tuple[str, str, str], dict[str, float]] = {}
    for row in draws:
        key = (str(row["controller"]), str(row["metric"]), str(row["class"]))
        out.setdefault(key, {})[str(row["draw"])] = float(row["value"])
    return out


def controllers_of(draws: Iterable[dict]) -> list[str]:
    """Controllers in first-seen order."""
    return list(dict.fromkeys(str(r["controller"]) for r in draws))


def pivot(draws: list[dict], metrics: Sequence[tuple[str, str, str]] = METRICS) -> dict[str, dict[str, Cell]]:
    """controller -> column header -> :class:`Cell` over the draws (metrics absent are left out)."""
    series = _series(draws)
    table: dict[str, dict[str, Cell]] = {}
    for controller in controllers_of(draws):
        row: dict[str, Cell] = {}
        for metric, klass, header in metrics:
            values = series.get((controller, metric, klass))
            if values is None:
                continue
            full = starved = 0
            if (metric, klass) == CEILING:
                full = int(sum(v > 0 for v in series.get((controller, *FULL), {}).values()))
            if (metric, klass) == WAIT:
                starved = int(sum(v > 0 for v in series.get((controller, *STARVED), {}).values()))
            cell = summarize(list(values.values()), full)
            row[header] = Cell(cell.mean, cell.ci95, cell.n, cell.full, starved)
        table[controller] = row
    return table


def paired_differences(draws: list[dict], reference: str,
                       metrics: Sequence[tuple[str, str, str]] = METRICS) -> dict[str, dict[str, Cell]]:  # fmt: skip
    """controller -> header -> mean and 95 % interval of ``controller - reference``, draw by draw.

    Only draws both controllers ran are paired. Positive delay differences mean more delay than
    the reference.
    """
    series = _series(draws)
    table: dict[str, dict[str, Cell]] = {}
    for controller in controllers_of(draws):
        if controller == reference:
            continue
        row: dict[str, Cell] = {}
        for metric, klass, header in metrics:
            mine, ref = series.get((controller, metric, klass)), series.get((reference, metric, klass))
            if not mine or not ref:
                continue
            common = [d for d in mine if d in ref]
            row[header] = summarize([mine[d] - ref[d] for d in common])
        table[controller] = row
    return table


def relative_difference(draws: list[dict], controller: str, baseline: str,
                        metric: tuple[str, str] = ("delay_per_vehicle_s", "total")) -> Cell:
    """Mean and 95 % half-width of ``value_controller / value_baseline - 1`` over the draws both
    ran (a fraction: -0.1 is 10 % less than the baseline)."""
    series = _series(draws)
    mine, base = series.get((controller, *metric), {}), series.get((baseline, *metric), {})
    return summarize([mine[d] / max(base[d], 1e-12) - 1.0 for d in mine if d in base])


def per_draw_best(draws: list[dict], controllers: Sequence[str], baseline: str,
                  metric: tuple[str, str] = ("delay_per_vehicle_s", "total")) -> Cell:
    """Headroom: the per-draw least ``metric`` among ``controllers`` relative to ``baseline``.

    An oracle that picks, draw by draw, whichever of ``controllers`` did best (it knows the draw:
    not a policy anyone can run). Its paired difference ``min_c value_c / value_baseline - 1``
    (mean and 95 % half-width, a fraction) bounds what choosing among those controllers can gain
    on these draws. Draws where a controller did not run are left out.
    """
    series = _series(draws)
    base = series.get((baseline, *metric), {})
    runs = [series.get((c, *metric), {}) for c in controllers]
    common = [d for d in base if all(d in r for r in runs)] if runs else []
    return summarize([min(r[d] for r in runs) / max(base[d], 1e-12) - 1.0 for d in common])


def relative_vs_baselines(draws: list[dict]) -> dict[str, dict[str, Cell]]:
    """PPO controller -> classical controller -> :func:`relative_difference` of delay per vehicle."""
    ppo = references(draws)
    baselines = [c for c in controllers_of(draws) if c not in ppo]
    return {p: {b: relative_difference(draws, p, b) for b in baselines} for p in ppo}


def percent(cell: Cell) -> str:
    """A relative difference as ``-12.3 % [-20.1, -4.5]`` (the 95 % interval in brackets)."""
    if math.isnan(cell.mean):
        return "n/a"
    if math.isnan(cell.ci95):
        return f"{100 * cell.mean:+.1f} % [n/a]"
    lo, hi = 100 * (cell.mean - cell.ci95), 100 * (cell.mean + cell.ci95)
    return f"{100 * cell.mean:+.1f} % [{lo:+.1f}, {hi:+.1f}]"


def references(draws: list[dict]) -> list[str]:
    """The PPO controllers of the frame (``ppo ...`` labels), the references of the paired tables."""
    return [c for c in controllers_of(draws) if c.startswith("ppo")]


APPROACH_HEADERS = ("controller", "approach", "p95 delay (s)", "longest red wait (s)", "starved draws",
                    "served (veh)")
"""Columns of :func:`approach_rows`."""


def approach_rows(service: Iterable[dict]) -> list[list]:
    """One row per controller and approach from ``service.csv``'s rows (dicts of strings): the
    95th-percentile vehicle delay and the longest red wait (means over the draws, s), the draws
    that starved the approach (``k/n``) and the vehicles served (mean). Columns
    :data:`APPROACH_HEADERS`; a value the file lacks (written before a column existed) is None."""
    out = []
    for row in service:
        starved, draws = row.get("starved_draws"), row.get("draws")
        out.append([str(row.get("controller")), str(row.get("approach")), _float(row.get("p95_delay_mean_s")),
                    _float(row.get("longest_wait_mean_s")),
                    f"{starved}/{draws}" if starved is not None and draws is not None else None,
                    _float(row.get("served_veh_mean"))])
    return out


def _float(text: object) -> float | None:
    try:
        return float(str(text))
    except ValueError:
        return None


def smoke_caveat(timesteps: int | None, threshold: int = SMOKE_TIMESTEPS) -> str | None:
    """The warning for a smoke-sized PPO run, or None when ``timesteps`` reaches ``threshold``."""
    if timesteps is None or timesteps >= threshold:
        return None
    return (f"PPO trained for {timesteps:,} steps only — a smoke test, not a result "
            f"(a result needs at least {threshold:,} steps; compare the controllers only then).")  # fmt: skip


def draws_note(table: dict[str, dict[str, Cell]], threshold: int = PUBLISHED_DRAWS) -> str | None:
    """The note for a comparison on fewer than ``threshold`` demand draws, else None."""
    n = min((c.n for row in table.values() for c in row.values()), default=0)
    if n >= threshold:
        return None
    return (f"{n} held-out demand draw{'s' if n != 1 else ''} only: a preview, not a published figure "
            f"(published comparisons use at least {threshold} draws per environment, jobs/rl_validation.yml).")


def ceiling_note(table: dict[str, dict[str, Cell]]) -> str | None:
    """The footnote for ``≥`` cells, or None when no queue reached its link's end."""
    hits = [(c, cell) for c, row in table.items() for h, cell in row.items() if cell.full]
    if not hits:
        return None
    where = ", ".join(f"{c} ({cell.full}/{cell.n} draws)" for c, cell in hits)
    return (f"≥ L: the queue filled its whole approach link (a ceiling; the true queue was longer, "
            f"spilling back upstream) for {where}.")


def starvation_note(table: dict[str, dict[str, Cell]]) -> str | None:
    """The footnote for ``⚠`` cells, or None when no controller starved an approach."""
    hits = [(c, cell) for c, row in table.items() for cell in row.values() if cell.starved]
    if not hits:
        return None
    where = ", ".join(f"{c} ({cell.starved}/{cell.n} draws)" for c, cell in hits)
    return (f"⚠ starved: a queue waited at red longer than twice its signal's longest Webster red and "
            f"than one max-green cycle for {where}; such a controller is not deployable as is.")


def fmt(value: float | None) -> str:
    """A number as the tables print it (3 significant digits, thousands separated); ``-`` for None."""
    return "-" if value is None else _num(float(value))


def _num(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-2):
        return f"{value:.2e}"
    return f"{value:,.3g}" if abs(value) < 999.5 else f"{value:,.0f}"  # .3g would print 1e+03
