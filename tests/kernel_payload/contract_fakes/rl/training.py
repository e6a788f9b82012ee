"""Contract fake of rl.training: writes a fake model zip and a learning curve."""

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainResult:
    model_path: Path
    metrics_csv: Path
    steps_per_s: float
    timesteps: int
    warm_steps_per_s: float | None = None
    device: str = "cpu"
    ppo_device: str = "cpu"
    split: dict | None = None
    selected_timesteps: int | None = None
    warm_start: dict | None = None


def train(env_id, timesteps, n_envs, seed, out_dir, progress=None, *, train_config=None, ppo_device=None,
          **env_kwargs):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / "model.zip"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("kwargs.txt", repr(sorted(env_kwargs)))
    metrics = out_dir / "train_metrics.csv"
    with open(metrics, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timesteps", "wall_s", "ep_rew_mean", "eval_mean_delay"])
        for i in range(1, 5):
            writer.writerow([i * timesteps // 4, i * 0.1, -100 + 10 * i + seed, ""])
    if progress:
        progress("train", timesteps, timesteps)
    return TrainResult(model, metrics, 1234.5, timesteps)
