"""Contract fake of rl.presets: the CPU plan, without torch or numba."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingPlan:
    device: str
    preset: str
    n_envs: int
    config: object
    ppo_device: str


def plan_training(device="auto", preset="auto", n_envs=None, warm_start=None, demand_stretch=None, env_id=None,
                  warm_start_rounds=None, advisor_gate=None, advisor_gate_heavy=None, heavy_demand=None):
    name = "cpu" if preset == "auto" else preset
    return TrainingPlan("cpu", name, int(n_envs or 8), None, "cpu")
