"""Contract fake of rl.bench: one CPU-preset row, nothing trained."""

COLUMNS = ("case", "env", "preset", "device", "ppo_device", "n_envs", "n_steps", "batch_size", "n_epochs",
           "rollouts", "steps", "wall_s", "env_steps_per_s", "env_s", "copies_s", "advance_s", "readout_s",
           "policy_s", "update_s",
           "env_only_steps_per_s", "warmup_s")


def training_rows(rollouts=2, gpu=None, smoke=False, progress=None):
    row = dict.fromkeys(COLUMNS, 0.0)
    row.update(case="ppo_train", env="ARZ-Intersection-v0", preset="cpu", device="cpu", ppo_device="cpu",
               n_envs=8, env_steps_per_s=1000.0)
    return [row]


def training_summary(rows):
    return {f"ppo_{r['preset']}_env_steps_per_s": r["env_steps_per_s"] for r in rows}
