"""Contract fake of rl.evaluation: the real metric and class names, paired rows of every ``ppo:``
controller against every classical one, per-draw values, plus one figure of its own."""

import csv
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PairedComparison:
    controller: str
    baseline: str
    n: int
    mean: float
    ci95: float

    @property
    def upper(self):
        return self.mean + self.ci95


@dataclass(frozen=True)
class EvalResult:
    summary_csv: Path
    figures: list
    rows: list
    paired: list = field(default_factory=list)
    draws: list = field(default_factory=list)
    tuning: list = field(default_factory=list)


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _tiny_png(path):
    """A valid 1x1 green PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    body = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00\x00\xff\x00"))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body + _chunk(b"IEND", b""))


def evaluate(env_id, controllers, episodes, seeds, out_dir, progress=None, tune_draws=8, **env_kwargs):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, paired = [], []
    for i, name in enumerate(controllers):
        for klass in ("m", "c", "total"):
            rows.append({"controller": name, "metric": "delay_per_vehicle_s", "class": klass,
                         "mean": 30.0 + i, "ci95": 1.5})
    for spec in (c for c in controllers if c.startswith("ppo:")):
        for base in (c for c in controllers if not c.startswith("ppo:")):
            for klass in ("m", "c", "total"):
                rows.append({"controller": spec, "metric": "delay_rel_diff_vs_" + base, "class": klass,
                             "mean": -0.2, "ci95": 0.05})
            paired.append(PairedComparison(spec, base, episodes * len(seeds), -0.2, 0.05))
    summary = out_dir / "evaluation.csv"
    with open(summary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["controller", "metric", "class", "mean", "ci95"])
        writer.writeheader()
        writer.writerows(rows)
    figure = out_dir / "queue_over_time.png"
    _tiny_png(figure)
    if progress:
        progress("evaluate", len(controllers), len(controllers))
    draws = [  # two demand draws; the last controller's queue fills its 400 m link in one of them
        {"controller": name, "draw": d, "metric": metric, "class": "total", "value": value}
        for i, name in enumerate(controllers) for d in (0, 1)
        for metric, value in (("delay_per_vehicle_s", 30.0 + i + d),
                              ("max_queue_m", 400.0 if i == len(controllers) - 1 and d else 100.0 + i),
                              ("max_queue_full", float(i == len(controllers) - 1 and d)),
                              ("p95_delay_s", 70.0 + i + d))
    ]
    with open(out_dir / "service.csv", "w", newline="") as handle:  # rl.evaluation.SERVICE_COLUMNS
        writer = csv.writer(handle)
        writer.writerow(["controller", "approach", "longest_wait_mean_s", "longest_wait_max_s",
                         "starvation_threshold_s", "starved_draws", "draws", "p95_delay_mean_s",
                         "p95_delay_max_s", "served_veh_mean"])
        for i, name in enumerate(controllers):
            for approach in ("N_in", "E_in"):
                writer.writerow([name, approach, 40.0 + i, 50.0 + i, 120.0, 0, 2, 60.0 + i, 70.0 + i, 300.0])
    return EvalResult(summary, [figure], rows, paired, draws)
