"""One member's verified results folder read as numbers: headline metrics and per-draw values.

A results folder (docs/jobs.md) holds ``session_summary.json`` -- each suite's headline
``metrics`` -- and, for the ``rl`` suite, ``rl/data/metrics/evaluation_draws.csv`` with one value
per controller, evaluation draw, metric and class. Both become rows keyed by :class:`MetricKey`:

- a summary metric ``name`` or ``name[controller]`` of suite ``s`` -> ``(s, name, controller, "")``;
- the draws of ``(controller, metric, class)`` -> ``("rl", metric, controller, class)``, valued by
  their mean, with the draws kept for paired differences (draw ids are demand-draw seeds: two
  members that ran the same environment and the same draw id saw the same demand).

The seed in a label (``ppo (seed 3)``, ``..._seed3``) is dropped when the member trained one seed
only, so members that differ only in their seed line up; a member with several seeds keeps them.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from orchestrator.errors import BadInput

DRAWS_CSV = Path("rl") / "data" / "metrics" / "evaluation_draws.csv"
_CONTROLLER_SEED = re.compile(r"^(?P<base>.+?) \(seed (?P<seed>\d+)\)$")
_METRIC_SEED = re.compile(r"^(?P<base>.+?)_seed(?P<seed>\d+)$")
_BRACKETED = re.compile(r"^(?P<metric>[^\[\]]+)\[(?P<controller>.+)\]$")


class MetricKey(NamedTuple):
    """Which number: suite, metric name, controller ("" when none) and vehicle class ("" when none)."""

    suite: str
    metric: str
    controller: str
    klass: str

    def label(self) -> str:
        """``rl delay_per_vehicle_s [ppo] (total)`` -- the key in one readable line."""
        parts = [self.suite, self.metric]
        if self.controller:
            parts.append(f"[{self.controller}]")
        if self.klass:
            parts.append(f"({self.klass})")
        return " ".join(parts)


@dataclass
class MemberData:
    """What one results folder holds, as numbers.

    Attributes:
        folder: the results folder.
        verdict: the summary's computed status (``succeeded|partial|failed``).
        commit_sha: the commit the member ran.
        reason: the summary's one line on why the run did not succeed ("" when it did).
        values: one number per metric key.
        draws: per-draw values of the ``rl`` evaluation: key -> {draw id: value}.
        notes: what could not be read, one line each.
    """

    folder: Path
    verdict: str = ""
    commit_sha: str = ""
    reason: str = ""
    values: dict[MetricKey, float] = field(default_factory=dict)
    draws: dict[MetricKey, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def draw_ids(self) -> set[str]:
        """Every evaluation draw id of this member."""
        return {d for series in self.draws.values() for d in series}


class ResultsFolderError(BadInput):
    """A path given as a results folder has no readable ``session_summary.json``."""


def read_member(folder: Path) -> MemberData:
    """Read a verified results folder into :class:`MemberData`.

    Raises:
        ResultsFolderError: no ``session_summary.json`` there, or it does not parse.
    """
    from kernel_payload.schema import SUMMARY_FILE, SessionSummary, ValidationError

    if not (folder / SUMMARY_FILE).is_file():
        raise ResultsFolderError(f"{folder} has no {SUMMARY_FILE}",
                                 fix="give a results folder, e.g. validation_output/results/<owner>_<slug>")  # fmt: skip
    try:
        summary = SessionSummary.read(folder)
    except (ValidationError, ValueError) as exc:
        raise ResultsFolderError(f"{folder / SUMMARY_FILE} is not a valid session summary "
                                 f"({str(exc).splitlines()[0]})", fix="pull the job again") from exc  # fmt: skip
    data = MemberData(folder, summary.status.value, summary.commit_sha, summary.reason)
    raw = {}
    for suite in summary.suites:
        for name, value in suite.metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                match = _BRACKETED.match(name)
                metric, controller = (match["metric"], match["controller"]) if match else (name, "")
                raw[MetricKey(suite.name, metric, controller, "")] = float(value)
    draws = _read_draws(folder / DRAWS_CSV, data.notes)
    seeds = _seeds(list(raw) + list(draws))
    data.draws = {_strip_seed(k, seeds): v for k, v in draws.items()}
    data.values = {_strip_seed(k, seeds): v for k, v in raw.items()}
    for key, series in data.draws.items():  # the draws' mean replaces the summary's same number
        data.values.pop(MetricKey(key.suite, key.metric, key.controller, ""), None)
        data.values[key] = math.fsum(series.values()) / len(series)
    return data


def _read_draws(path: Path, notes: list[str]) -> dict[MetricKey, dict[str, float]]:
    """``evaluation_draws.csv`` as key -> {draw: value} (empty when the file is absent)."""
    if not path.is_file():
        return {}
    out: dict[MetricKey, dict[str, float]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                value = float(row["value"])
                key = MetricKey("rl", row["metric"], row["controller"], row["class"])
                out.setdefault(key, {})[str(row["draw"])] = value
            except (KeyError, TypeError, ValueError):
                notes.append(f"{path.name}: a row could not be read ({row})")
                break
    return out


def _seeds(keys: list[MetricKey]) -> set[str]:
    found = set()
    for key in keys:
        for pattern, text in ((_CONTROLLER_SEED, key.controller), (_METRIC_SEED, key.metric)):
            match = pattern.match(text)
            if match:
                found.add(match["seed"])
    return found


def _strip_seed(key: MetricKey, seeds: set[str]) -> MetricKey:
    """``key`` without its seed label when the member has one seed only."""
    if len(seeds) != 1:
        return key
    controller = _CONTROLLER_SEED.match(key.controller)
    metric = _METRIC_SEED.match(key.metric)
    return key._replace(controller=controller["base"] if controller else key.controller,
                        metric=metric["base"] if metric else key.metric)  # fmt: skip
