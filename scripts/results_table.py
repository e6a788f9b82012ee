"""Print the results table of docs/environment.md (markdown) from a results folder, never by hand.

Usage: ``python -m scripts.results_table RESULTS [RESULTS ...]`` where RESULTS is a job's pulled
results folder (``validation_output/results/<owner>_<slug>``, holding
``rl/data/metrics/evaluation_draws.csv``) or a sweep folder (``validation_output/sweeps/<...>``,
whose ``members/*`` are such folders: one table per member, e.g. one per environment).

Per results folder: a heading with the environment, the recipe (PPO steps per seed and copies, from
``session_summary.json``) and the number of demand draws, then one row per controller (every PPO
seed on its own row) with, over the held-out draws, mean +- 95 % Student-t half-width of:

* delay per vehicle (s);
* the paired relative difference from the **best classical controller** (the classical one,
  ``random`` left out, with the lowest mean delay per vehicle): per draw ``d / d_best - 1``, mean
  and 95 % interval in %, the interval in brackets (entirely below 0: less delay with confidence);
* the 95th-percentile vehicle delay of the worst approach (s, :mod:`rl.ncurves`);
* the longest red wait of a queue (s) and the draws in which some approach starved (``k/n``);
* throughput (vehicles that left the network), and relative to the best classical controller's,
  paired like the delay.

``--merge``: one table from several job folders of the same environment, recipe and held-out draws
(a job split over machines by training seed, e.g. seeds 0-2 and 3-4): the PPO rows of every folder
and the classical rows of the first, which every other folder must reproduce (the classical
controllers are deterministic on a draw: a difference means the folders did not evaluate the same
thing, and the merge refuses).

Under each table, the **headroom**: the paired difference of a per-draw oracle (the least delay
among the controllers, draw by draw) from the best classical controller, over the classical
controllers and over every controller (PPO seeds included). It is not a policy: it knows the draw.
It says how much room a threshold such as "10 % below the best classical" leaves on these draws.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from kernel_payload import rl_tables
from kernel_payload.report_rl import DRAWS_CSV, draws_frame

SUITE = "rl"
NOT_A_BASELINE = ("random",)  # never the best classical controller: it is a floor, not a contender
COLUMNS = ("controller", "delay/veh (s)", "vs best classical: {best} (paired, %)", "p95 delay, worst approach (s)",
           "longest red wait (s)", "starved", "throughput (veh)", "throughput vs {best} (paired, %)")


class ResultsError(Exception):
    """A folder that holds no RL evaluation; the message names it and the fix."""


def result_folders(path: Path) -> list[Path]:
    """The job results folders under ``path``: itself, or a sweep folder's ``members/*``.

    Raises:
        ResultsError: neither holds an RL evaluation frame.
    """
    path = Path(path)
    if (path / SUITE / DRAWS_CSV).is_file():
        return [path]
    members = sorted(p for p in (path / "members").glob("*") if (p / SUITE / DRAWS_CSV).is_file())
    if members:
        return members
    raise ResultsError(f"{path}: no {SUITE}/{DRAWS_CSV} there (nor in members/*/); give a job's pulled "
                       "results folder (validation_output/results/<owner>_<slug>) or a sweep folder")


def is_classical(controller: str) -> bool:
    """A classical contender for "best classical": not a PPO seed, not ``random``, not the
    clairvoyant rollout bound (:mod:`rl.rollout`, labels starting ``rollout``)."""
    return not controller.startswith(("ppo", "rollout")) and controller not in NOT_A_BASELINE


def best_classical(table: dict[str, dict[str, rl_tables.Cell]]) -> str | None:
    """The classical controller (not PPO, not ``random``) with the lowest mean delay per vehicle."""
    header = rl_tables.METRICS[0][2]
    candidates = [(row[header].mean, c) for c, row in table.items() if header in row and is_classical(c)]
    return min(candidates)[1] if candidates else None


def suite_metrics(folder: Path) -> dict:
    """The rl suite's metrics from the folder's ``session_summary.json`` (empty when absent)."""
    try:
        summary = json.loads((Path(folder) / "session_summary.json").read_text())
        return next(s for s in summary.get("suites", []) if s.get("name") == SUITE).get("metrics", {})
    except (OSError, ValueError, StopIteration):
        return {}


def _recipe(folder: Path) -> tuple[str, str]:
    """(environment, recipe text) from the folder's ``session_summary.json`` (``?`` when absent)."""
    metrics = suite_metrics(folder)
    env = str(metrics.get("rl_env", "?"))
    steps, n_envs = metrics.get("ppo_timesteps", metrics.get("rl_timesteps")), metrics.get("rl_n_envs")
    recipe = (f"PPO {int(steps):,} steps per training seed on {n_envs} copies ({metrics.get('rl_preset', '?')} "
              f"preset, {metrics.get('rl_device', '?')})") if steps is not None else "PPO recipe: ?"
    return env, recipe


def _vs_best(draws: list[dict], controller: str, best: str | None, metric: tuple[str, str]) -> str:
    """``metric`` of ``controller`` relative to ``best``, paired (``-`` for the best itself)."""
    if best is None or controller == best:
        return "-"
    return rl_tables.percent(rl_tables.relative_difference(draws, controller, best, metric))


def _mean_ci(row: dict[str, rl_tables.Cell], header: str) -> str:
    cell = row.get(header)
    if cell is None:
        return "-"
    return f"{rl_tables.fmt(cell.mean)} ± {'n/a' if math.isnan(cell.ci95) else rl_tables.fmt(cell.ci95)}"


MERGE_RTOL = 1e-9  # classical figures of merged folders agree to this (they are recomputed, not copied)


def merged_draws(folders: list[Path]) -> list[dict]:
    """The per-draw frame of ``folders`` merged (module docstring, ``--merge``): every folder's PPO
    rows, the first folder's other rows.

    Raises:
        ResultsError: the folders differ in environment, recipe or draws, disagree on a classical
            controller's figure, or hold the same PPO row twice.
    """
    first = draws_frame(Path(folders[0]) / SUITE / DRAWS_CSV)
    recipe = _recipe(Path(folders[0]))
    reference = {(r["controller"], r["draw"], r["metric"], r["class"]): float(r["value"]) for r in first}
    draws = {r["draw"] for r in first}
    merged, seen = list(first), {r["controller"] for r in first if r["controller"].startswith("ppo")}
    for folder in folders[1:]:
        if _recipe(Path(folder)) != recipe:
            raise ResultsError(f"--merge: {folder} ran {_recipe(Path(folder))}, {folders[0]} ran {recipe}: "
                               "merge only folders of the same environment and recipe")
        frame = draws_frame(Path(folder) / SUITE / DRAWS_CSV)
        if {r["draw"] for r in frame} != draws:
            raise ResultsError(f"--merge: {folder} evaluated other demand draws than {folders[0]}: "
                               "merge only jobs with the same eval_seeds and eval_episodes")
        ppo = {r["controller"] for r in frame if r["controller"].startswith("ppo")}
        if ppo & seen:
            raise ResultsError(f"--merge: {', '.join(sorted(ppo & seen))} appear(s) in {folder} and an earlier "
                               "folder: merge jobs that trained different seeds")
        seen |= ppo
        for r in frame:
            if r["controller"] in ppo:
                merged.append(r)
                continue
            key = (r["controller"], r["draw"], r["metric"], r["class"])
            want = reference.get(key)
            got = float(r["value"])
            if want is None or not math.isclose(got, want, rel_tol=MERGE_RTOL, abs_tol=1e-12) and not (
                    math.isnan(got) and math.isnan(want)):
                raise ResultsError(f"--merge: {folder} has {key[0]} {key[2]} = {got!r} on draw {key[1]}, "
                                   f"{folders[0]} has {want!r}: the folders did not evaluate the same thing")
    ppo_rows = sorted((r for r in merged if r["controller"].startswith("ppo")),
                      key=lambda r: (len(r["controller"]), r["controller"]))  # seed 2 before seed 10
    return ppo_rows + [r for r in merged if not r["controller"].startswith("ppo")]


def table_markdown(folder: Path | list[Path]) -> str:
    """The markdown table (with its heading) of one results folder, or of several merged
    (:func:`merged_draws`)."""
    folders = [Path(f) for f in folder] if isinstance(folder, list) else [Path(folder)]
    folder = folders[0]
    draws = merged_draws(folders) if len(folders) > 1 else draws_frame(folder / SUITE / DRAWS_CSV)
    table = rl_tables.pivot(draws)
    best = best_classical(table)
    env, recipe = _recipe(Path(folder))
    n = max((c.n for row in table.values() for c in row.values()), default=0)
    h = {metric: header for metric, klass, header in rl_tables.METRICS if klass == "total"}
    lines = [f"#### {env}: {n} held-out demand draws; {recipe}", "",
             "| " + " | ".join(c.format(best=best or "none") for c in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for controller, row in table.items():
        wait = row.get(h["longest_wait_s"])
        paired = _vs_best(draws, controller, best, ("delay_per_vehicle_s", "total"))
        cells = [controller, _mean_ci(row, h["delay_per_vehicle_s"]), paired, _mean_ci(row, h["p95_delay_s"]),
                 _mean_ci(row, h["longest_wait_s"]), f"{wait.starved}/{wait.n}" if wait else "-",
                 _mean_ci(row, h["throughput_veh"]), _vs_best(draws, controller, best, ("throughput_veh", "total"))]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", headroom_line(draws, list(table), best),
              "", f"_Source: {', '.join(f'`{f.name}`' for f in folders)}; generated by "
              f"`python -m scripts.results_table{' --merge' if len(folders) > 1 else ''}`._"]
    return "\n".join(line for line in lines if line is not None)


def headroom_line(draws: list[dict], controllers: list[str], best: str | None) -> str | None:
    """What the best classical controller leaves to gain on these draws: the per-draw best delay
    (:func:`kernel_payload.rl_tables.per_draw_best`) of the classical controllers, then of every
    controller listed (PPO seeds included), paired against ``best``. None without a best."""
    if best is None:
        return None
    classical = [c for c in controllers if is_classical(c)]
    contenders = [c for c in controllers if c not in NOT_A_BASELINE]
    metric = ("delay_per_vehicle_s", "total")
    return ("Headroom, delay per vehicle vs " + best + " (an oracle that picks the best controller draw by "
            "draw, knowing the draw; no policy can do this): per-draw best classical controller "
            + rl_tables.percent(rl_tables.per_draw_best(draws, classical, best, metric))
            + "; per-draw best of every controller above, PPO seeds included, "
            + rl_tables.percent(rl_tables.per_draw_best(draws, contenders, best, metric)) + ".")


def main(argv: list[str] | None = None) -> int:
    """Print one table per results folder; exit 2 with one line when a folder holds none."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=Path, help="a job's results folder or a sweep folder")
    ap.add_argument("--merge", action="store_true",
                    help="one table from all the folders: jobs of the same env, recipe and draws that trained "
                         "different seeds (the classical rows must agree)")
    args = ap.parse_args(argv)
    try:
        folders = [f for path in args.results for f in result_folders(path)]
        tables = [table_markdown(folders)] if args.merge else [table_markdown(f) for f in folders]
    except ResultsError as err:
        print(f"results_table: {err}", file=sys.stderr)
        return 2
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
