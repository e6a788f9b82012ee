"""Training presets: the PPO recipe sized for where the environment runs (2 CPU cores or a GPU).

:func:`plan_training` resolves ``device`` (``auto|cpu|gpu``, as the environments do) and
``preset`` (``auto`` follows the device) into a :class:`TrainingPlan`: the env device, the
preset's name, the number of copies and the :class:`rl.training.TrainConfig`. PPO's own device
is ``cuda`` when the environment runs on the GPU and torch sees CUDA, else ``cpu``.

**CPU preset** (:data:`CPU_CONFIG`, 8 copies): ``TrainConfig()`` with a warm start
(``warm_start="auto"``, :mod:`rl.imitation`): PPO starts from a clone of the best classical
controller on training-side draws instead of a random policy (issue 17: from a random start one
training seed in three stayed at 100-110 s/veh on the intersection, worse than actuated's 73),
and a learning rate of 1e-4 instead of 3e-4: PPO fine-tunes a policy that is already good, and
the larger step undid the clone (arterial, seed 1: the clone's validation delay of 28 s/veh rose
to 134 after 26k steps at 3e-4 and stayed within 26-36 up to 176k steps at 1e-4; on the
intersection the two rates gave 69.6 / 63.4 against 69.1 / 64.3 s/veh for seeds 0 / 1 on the
screening draws).

**Teacher per environment** (:data:`ENV_TEACHERS`): where a preset says ``auto``, the intersection
is warm-started from the clairvoyant rollout teacher instead (``warm_start="rollout"``,
:mod:`rl.rollout`). On its training-side screening draws the rollout teacher gave PPO -7.0 and
-11.4 % against tuned gap-out for seeds 0 and 1 where ``auto`` gave -2.5 and -3.7 %, and on the 20
held-out draws -10.1, -0.4, -9.2, +3.2 and -4.8 % for seeds 0-4 (docs/environment.md), with 3
DAgger rounds; it now runs 9 (``rl.imitation.TEACHER_ROUNDS``): about 33 minutes of labelling per
seed on one core (a batch of 8 episodes took 169-343 s beside one other job; 81 min of warm start
per seed with five jobs sharing the 2 cores; ``auto``: about 2). The arterial too, since 1f2b867's
look-ahead skips duplicate candidates (about 33 minutes of warm start per seed with two runs on
the 2 cores): on its training-side screening draws the clone of the rollout teacher (4 look-ahead
candidates, ``rl.imitation.ROLLOUT_CANDIDATES``) gave -12.7 and -7.1 % against tuned gap-out for
seeds 0 and 3, 13-26 % below it at every multiplier up to x1.06, where ``auto``'s recipe had given
+0.7 % (seed 2) and -6.9 % (seed 4, selection on ratios) on the same draws (docs/environment.md,
"Arterial, rollout teacher"); its clone still breaks down at x1.18.

**Advisor gate per environment** (:data:`ENV_ADVISOR_GATES`, :mod:`rl.decoding`): on the arterial,
which observes tuned gap-out's request, the policy is read behind a gate of 0.85: a signal takes
the policy's most likely phase only where its probability is at least 0.85, else gap-out's
request. Chosen on training-side screens only (docs/environment.md, "The top of the arterial's
range"): at x1.10-x1.20 (16 draws) clones of the rollout teacher broke down (the entry link
filled) in 4-15 of the 16 draws as they are and in 0-2 behind the gate (one fit of ten: 9), near
gap-out's delay there; the five published seeds' policies in 0-10 as they are and 0-2 behind it,
except seed 0's, a PPO fine-tuning that model selection had kept, which got worse (5 to 13; seed 0
trained again at the current solver: 9 to 6): hence validation and model selection read every
candidate behind the same gate.

**A gate keyed to the measured demand** (:data:`ENV_HEAVY_GATES`, since 2026-12-05): the arterial's
presets read the policy behind 0.7, and behind 0.85 for a copy whose measured demand (vehicles
counted arriving at the entries over the scenario profile's, :meth:`rl.simulation.ControlledNetwork.
measured_demand`) is at least x1.1. On the five seeds' clones (training-side draws) 0.7 was 10-18 %
below gap-out under x1.10 with no breakdown in 55 draws, where 0.85 gave 2.6-13 points less; above
x1.10 0.7 broke down in up to 5 of 16 draws (seed 1) and 0.85 in at most 1.

**GPU preset** (:data:`GPU_CONFIG`, 4,096 copies). One thread per copy makes small batches slow
on a GPU (38 decisions/s for one copy on the H200, docs/gpu.md): throughput comes from thousands
of copies, so the recipe is sized from the batch down:

* ``n_envs`` 4,096: the env kernel reached 132,351 decisions/s at 4,096 copies and 375,491 at
  16,384 on the H200; 4,096 keeps the rollout short enough for a T4 (40 SMs: about 3 warps per
  SM) and the policy's batch large. Larger batches run on a bigger GPU with ``--n-envs``.
* ``n_steps`` 32: 131,072 samples per rollout (the CPU preset: 2,048). A short horizon per copy
  is what the thousands of copies buy: the samples are as many, from more independent episodes
  (episodes are 720 decisions; GAE bootstraps across rollout boundaries).
* ``batch_size`` 4,096 and ``n_epochs`` 5: 160 gradient steps per rollout, as many as the CPU
  preset takes (10 epochs x 16 minibatches of 128), each on a 32x larger minibatch.
* ``learning_rate`` 1e-3, decayed linearly to 10 % (``lr_schedule: linear``): larger minibatches
  have less gradient noise and take a larger step (about sqrt(32) x 3e-4 = 1.7e-3, rounded down
  for safety); the decay settles the policy in the last rollouts, which are few at this scale.
* Advantages normalised per minibatch (SB3's default) and rewards by the running return spread
  (``VecNormalize``, as on the CPU); observations are already in [0, 1].
* Evaluation every 2 M steps and checkpoints every 5 M (each rollout is 131 k steps), on 8 CPU
  copies (held-out draws; the policy is evaluated on the CPU as the acceptance asks).

Status: the recipe follows the scaling above; it has not yet been tuned on training-side
validation draws at GPU scale (no GPU was lent while it was written). ``--preset gpu
--device cpu --n-envs 128`` runs the same recipe on the CPU with fewer copies (4,096 samples per
rollout: one minibatch per epoch; ``rl.training.train`` caps the minibatch at the rollout).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rl.config import DEVICES
from rl.decoding import check_advisor_gate, check_heavy_demand
from rl.errors import EnvConfigError
from rl.training import TrainConfig, check_demand_stretch, check_warm_start_rounds

PRESETS = ("auto", "cpu", "gpu")
CPU_N_ENVS = 8
GPU_N_ENVS = 4096
GPU_CONFIG = TrainConfig(n_steps=32, batch_size=4096, n_epochs=5, learning_rate=1e-3, lr_schedule="linear",
                         lr_final_fraction=0.1, eval_every=2_000_000, eval_envs=32, checkpoint_every=5_000_000,
                         warm_start="auto")  # the clone is made on CPU copies either way
CPU_CONFIG = TrainConfig(learning_rate=1e-4, warm_start="auto")
CONFIGS = {"cpu": CPU_CONFIG, "gpu": GPU_CONFIG}
#: the teacher that replaces a preset's ``auto`` on an environment (module docstring)
ENV_TEACHERS = {"ARZ-Intersection-v0": "rollout", "ARZ-Arterial-v0": "rollout"}
#: the advisor gate of the presets per environment (``TrainConfig.advisor_gate``, :mod:`rl.decoding`):
#: on the arterial, whose observation carries tuned gap-out's request, the policy is read behind a
#: gate of 0.7 (chosen on training-side screens, docs/environment.md); 0 elsewhere
ENV_ADVISOR_GATES = {"ARZ-Arterial-v0": 0.7}
#: the presets' heavy gate per environment, ``(advisor_gate_heavy, heavy_demand)``: on the arterial
#: 0.85 where the measured demand is at least x1.1 of the scenario's profile (training-side screens:
#: below x1.1 the clone's deviations from gap-out pay behind 0.7, above it they break down;
#: docs/environment.md, "A gate keyed to the measured demand"); none elsewhere
ENV_HEAVY_GATES = {"ARZ-Arterial-v0": (0.85, 1.1)}
N_ENVS = {"cpu": CPU_N_ENVS, "gpu": GPU_N_ENVS}


@dataclass(frozen=True)
class TrainingPlan:
    """Where and how PPO trains.

    Attributes:
        device: the environment's resolved device, ``cpu`` or ``gpu``.
        preset: ``cpu`` or ``gpu``; config: its :class:`rl.training.TrainConfig`.
        n_envs: batched copies.
        ppo_device: torch device of the policy (``cuda`` or ``cpu``).
    """

    device: str
    preset: str
    n_envs: int
    config: TrainConfig
    ppo_device: str


def ppo_device(env_device: str) -> str:
    """``cuda`` when the environment runs on the GPU and torch sees CUDA, else ``cpu``."""
    if env_device != "gpu":
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def warm_start_teachers() -> list[str]:
    """Teachers a policy can be warm-started from: every classical controller but ``random``,
    then ``rollout`` (:mod:`rl.rollout`, the clairvoyant look-ahead over tuned actuated-gap)."""
    from rl.controllers import CONTROLLERS
    from rl.imitation import ROLLOUT_TEACHER

    return [*(name for name in CONTROLLERS if name != "random"), ROLLOUT_TEACHER]


def plan_training(device: str = "auto", preset: str = "auto", n_envs: int | None = None,
                  warm_start: str | None = None, demand_stretch: float | None = None,
                  env_id: str | None = None, warm_start_rounds: int | None = None,
                  advisor_gate: float | None = None, advisor_gate_heavy: float | None = None,
                  heavy_demand: float | None = None) -> TrainingPlan:
    """Resolve the device and the preset (``auto`` picks the one of the device).

    Args:
        device: ``auto``, ``cpu`` or ``gpu`` (the env's device).
        preset: ``auto``, ``cpu`` or ``gpu``.
        n_envs: copies (None: the preset's).
        warm_start: the teacher cloned before PPO (:mod:`rl.imitation`): a controller name,
            ``auto`` (the best classical one on the warm start's draws) or ``none`` (a random
            start); None keeps the preset's (on ``env_id``: :data:`ENV_TEACHERS`' in place of ``auto``).
        demand_stretch: the demand curriculum (``TrainConfig.train_demand_stretch``: training
            multipliers up to ``hi + stretch * (hi - lo)``); None keeps the preset's (0).
        env_id: the environment trained on (chooses the preset's teacher, :data:`ENV_TEACHERS`);
            None: the preset's as it is.
        warm_start_rounds: DAgger rounds of the warm start (``TrainConfig.warm_start_rounds``);
            None: the teacher's default (:func:`rl.imitation.default_rounds`).
        advisor_gate: read the policy behind the observed advisor (``TrainConfig.advisor_gate``,
            :mod:`rl.decoding`): 0 (off) or a probability from 0.5 to 1; None: the preset's
            (on ``env_id``: :data:`ENV_ADVISOR_GATES`, else 0).
        advisor_gate_heavy, heavy_demand: the gate that replaces ``advisor_gate`` where a copy's
            measured demand multiplier is at least ``heavy_demand`` (``TrainConfig``'s fields of
            these names; 0: none); None: the preset's (on ``env_id``: :data:`ENV_HEAVY_GATES`,
            else none).

    Raises:
        EnvConfigError: an unknown device, preset or teacher, n_envs < 1, warm_start_rounds < 1
            an advisor gate out of range or a heavy_demand not above 0.
        BackendUnavailableError: ``device="gpu"`` without a usable GPU.
    """
    if device not in DEVICES:
        raise EnvConfigError("device", device, f"use one of {DEVICES}")
    if preset not in PRESETS:
        raise EnvConfigError("preset", preset, f"use one of {PRESETS}")
    if n_envs is not None and n_envs < 1:
        raise EnvConfigError("n_envs", n_envs, "give at least 1")
    check_warm_start_rounds(warm_start_rounds)
    if advisor_gate is not None:
        check_advisor_gate(advisor_gate)
    if advisor_gate_heavy is not None:
        check_advisor_gate(advisor_gate_heavy, "advisor_gate_heavy")
    if heavy_demand is not None:
        check_heavy_demand(heavy_demand)
    if warm_start is not None and warm_start not in ("none", "auto") and warm_start not in warm_start_teachers():
        raise EnvConfigError("warm_start", warm_start, f"use 'auto', one of {warm_start_teachers()} or 'none'")
    from rl.errors import BackendUnavailableError
    from solver.device import resolve_device
    from solver.errors import BackendError

    try:
        resolved = resolve_device(device)
    except BackendError as err:
        raise BackendUnavailableError(f"device={device!r}: {err}") from None
    name = resolved if preset == "auto" else preset
    config = CONFIGS[name]
    if warm_start is not None:
        config = replace(config, warm_start=None if warm_start == "none" else warm_start)
    elif config.warm_start == "auto" and env_id in ENV_TEACHERS:
        config = replace(config, warm_start=ENV_TEACHERS[env_id])
    if warm_start_rounds is not None:
        config = replace(config, warm_start_rounds=warm_start_rounds)
    if demand_stretch is not None:
        config = replace(config, train_demand_stretch=check_demand_stretch(demand_stretch, "demand_stretch"))
    if advisor_gate is not None:
        config = replace(config, advisor_gate=float(advisor_gate))
    elif env_id in ENV_ADVISOR_GATES:
        config = replace(config, advisor_gate=ENV_ADVISOR_GATES[env_id])
    heavy, level = ENV_HEAVY_GATES.get(env_id, (0.0, config.heavy_demand))
    config = replace(config, advisor_gate_heavy=float(heavy if advisor_gate_heavy is None else advisor_gate_heavy),
                     heavy_demand=float(level if heavy_demand is None else heavy_demand))
    return TrainingPlan(resolved, name, int(n_envs or N_ENVS[name]), config, ppo_device(resolved))
