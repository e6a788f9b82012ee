"""The job file (``jobs/*.yml``) and what the bootstrap hands the payload."""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kernel_payload.schema._base import _Model
from kernel_payload.schema.errors import unknown_choice

BUILTIN_SUITES = ("verify", "rl", "bench")
"""Suites every kernel knows."""

TEST_SUITES_ENV = "ARZ_TEST_SUITES"
"""Test-only: ``name=module:function[;...]`` suites the runner adds to its registry."""

RL_ENV_IDS = ("ARZ-Intersection-v0", "ARZ-Arterial-v0", "ARZ-SeedCorridor-v0")
"""Environment ids of ``rl.ENV_IDS``, mirrored here so a job is checked before it is pushed (the
orchestrator cannot import ``rl``); a test checks that both lists agree."""

RL_CONTROLLERS = ("ppo", "fixed-time", "fixed-time-peak", "actuated", "actuated-gap", "max-pressure",
                  "max-pressure-advanced", "random")
"""``ppo`` (every model the job trains) and the names of ``rl.controllers.CONTROLLERS`` (mirrored,
with a test); ``ppo:PATH`` names a saved model."""
RL_TEACHERS = (*(c for c in RL_CONTROLLERS if c not in ("ppo", "random")), "rollout")
"""Teachers a policy can be warm-started from (``rl.presets.warm_start_teachers``, mirrored): the
classical controllers and ``rollout``, the clairvoyant look-ahead of ``rl.rollout``."""
RL_ENV_TEACHERS = {"ARZ-Intersection-v0": "rollout", "ARZ-Arterial-v0": "rollout"}
"""The teacher a preset's ``auto`` warm start becomes per environment (``rl.presets.ENV_TEACHERS``, mirrored)."""
RL_TEACHER_ROUNDS = {"rollout": 9}
"""DAgger rounds per teacher where the default :data:`RL_DEFAULT_ROUNDS` is not used
(``rl.imitation.TEACHER_ROUNDS``, mirrored)."""
RL_DEFAULT_ROUNDS = 3
"""DAgger rounds of every other teacher (``rl.imitation.WarmStartConfig.rounds``, mirrored)."""
RL_ADVISOR_GATE_RANGE = (0.5, 1.0)
"""The advisor gate's probabilities besides 0 (off), :data:`rl.decoding.GATE_RANGE` (mirrored)."""
RL_REFITS = 4
"""Fresh refits among the clone candidates (``rl.imitation.WarmStartConfig.refits``, mirrored)."""
RL_AUTO_TEACHERS = ("actuated", "actuated-gap", "max-pressure")
"""The candidates of ``warm_start: auto`` (``rl.imitation.AUTO_TEACHERS``, mirrored)."""
RL_TUNED_TEACHERS = ("auto", "rollout", "actuated-gap", "max-pressure-advanced")
"""Teachers tuned before they label (``rl.tuning.is_tunable`` of their tuned part, mirrored)."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|m|h)?\s*$")
_SECONDS_PER_UNIT = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_BYTES_PER_UNIT = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
                   "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
CODE_TRANSPORTS = ("auto", "inline", "dataset", "git")
"""Values of ``kaggle.code``."""
DEFAULT_MAX_RESULT_BYTES = 5 * 2**30
"""Default cap on the bytes one pull may download or copy (5 GiB)."""


def extra_suite_names() -> list[str]:
    """Names of the test-only suites declared in ``$ARZ_TEST_SUITES`` (empty in normal use)."""
    entries = os.environ.get(TEST_SUITES_ENV, "")
    return [e.split("=", 1)[0].strip() for e in entries.split(";") if "=" in e]


class RLGpuSettings(_Model):
    """What changes when training runs on the GPU preset (``rl.gpu``); unset keys keep the
    preset's (``rl.presets``: 4,096 copies) or, for ``timesteps``, ``rl.timesteps``."""

    timesteps: PositiveInt | None = None
    n_envs: PositiveInt | None = None


class RLSettings(_Model):
    """PPO training and controller evaluation (the ``rl`` suite).

    Attributes:
        env: Gymnasium environment id.
        timesteps: PPO timesteps per training seed.
        n_envs: parallel environments during training.
        seeds: training seeds (one model each); None means the job's top-level ``seeds``.
        eval_episodes: evaluation episodes per controller and evaluation seed.
        eval_seeds: evaluation seeds (kept apart from the training seeds).
        controllers: controllers to compare; ``ppo`` stands for every model trained here.
        env_kwargs: extra keyword arguments for the environment.
        device: where training runs, ``auto`` (the GPU when numba-cuda can use one), ``cpu`` or
            ``gpu``; None means the job's top-level ``device``.
        preset: PPO preset, ``auto`` (the device's), ``cpu`` or ``gpu`` (``rl.presets``).
        gpu: ``timesteps`` and ``n_envs`` used instead of the ones above with the GPU preset.
        warm_start: the teacher cloned into the policy before PPO: a classical controller,
            ``auto`` (the best classical one on training-side draws), ``rollout`` (the clairvoyant
            look-ahead of ``rl.rollout``) or ``none`` (a random start); unset keeps the preset's
            (``rl.presets``).
        warm_start_rounds: DAgger rounds of the warm start (8 labelled episodes each); unset: the
            teacher's default (9 for ``rollout``, 3 otherwise; ``rl.imitation``).
        demand_stretch: demand curriculum, training multipliers up to ``hi + stretch * (hi -
            lo)`` of the environment's range while validation and evaluation stay on it; unset
            keeps the preset's (0).
        advisor_gate: read the trained policy behind the observed advisor (``rl.decoding``): a
            signal takes the policy's most likely phase only where its probability is at least
            this, else the advisor's request; 0 turns it off; unset keeps the preset's (0.7 on
            ``ARZ-Arterial-v0``, 0 elsewhere).
        advisor_gate_heavy: the gate that replaces ``advisor_gate`` for an episode copy whose
            measured demand (arrivals counted at the entries over the scenario's profile) is at
            least ``heavy_demand`` times nominal; 0: none; unset keeps the preset's (0.85 from
            x1.1 on ``ARZ-Arterial-v0``, none elsewhere).
        heavy_demand: the measured demand multiplier from which ``advisor_gate_heavy`` applies;
            unset keeps the preset's.
    """

    env: str = "ARZ-Intersection-v0"
    timesteps: PositiveInt = 20_000
    n_envs: PositiveInt = 4
    seeds: list[int] | None = None
    eval_episodes: PositiveInt = 5
    eval_seeds: list[int] = Field(default_factory=lambda: [1000])
    controllers: list[str] = Field(
        default_factory=lambda: ["ppo", "fixed-time", "actuated", "max-pressure"], min_length=1
    )
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    device: Literal["auto", "cpu", "gpu"] | None = None
    preset: Literal["auto", "cpu", "gpu"] = "auto"
    gpu: RLGpuSettings = Field(default_factory=RLGpuSettings)
    warm_start: str | None = None
    warm_start_rounds: PositiveInt | None = None
    demand_stretch: NonNegativeFloat | None = None
    advisor_gate: float | None = None
    advisor_gate_heavy: float | None = None
    heavy_demand: PositiveFloat | None = None

    def teacher(self) -> str | None:
        """The warm-start teacher training will use: ``warm_start``, else the preset's (``auto``,
        :data:`RL_ENV_TEACHERS` on the environments that name one); None for ``none``."""
        name = self.warm_start or RL_ENV_TEACHERS.get(self.env, "auto")
        return None if name == "none" else name

    def teacher_rounds(self) -> int:
        """The warm start's DAgger rounds: ``warm_start_rounds``, else the teacher's default."""
        return self.warm_start_rounds or RL_TEACHER_ROUNDS.get(self.teacher() or "", RL_DEFAULT_ROUNDS)

    @field_validator("env")
    @classmethod
    def _known_env(cls, env: str) -> str:
        if env not in RL_ENV_IDS:
            raise unknown_choice("environment", env, RL_ENV_IDS)
        return env

    @field_validator("warm_start")
    @classmethod
    def _known_teacher(cls, name: str | None) -> str | None:
        if name is not None and name not in ("auto", *RL_TEACHERS, "none"):
            raise unknown_choice("warm-start teacher", name, ("auto", *RL_TEACHERS, "none"))
        return name

    @field_validator("advisor_gate", "advisor_gate_heavy")
    @classmethod
    def _gate_in_range(cls, gate: float | None, info: ValidationInfo) -> float | None:
        lo, hi = RL_ADVISOR_GATE_RANGE
        if gate is not None and not (gate == 0 or lo <= gate <= hi):
            raise ValueError(f"{info.field_name} {gate!r} is neither 0 (off) nor a probability from {lo} to {hi}: "
                             "give e.g. 0.85, or leave it unset for the preset's")
        return gate

    @field_validator("controllers")
    @classmethod
    def _known_controllers(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in RL_CONTROLLERS and not name.startswith("ppo:"):
                raise unknown_choice("controller", name, RL_CONTROLLERS, " or ppo:PATH")
        return names


class VerifySettings(_Model):
    """Numerics verification (the ``verify`` suite): ``quick`` (< 1 min) or ``full``."""

    level: Literal["quick", "full"] = "quick"


class BenchSettings(_Model):
    """Throughput benchmark (the ``bench`` suite); ``quick`` keeps it under a minute; ``smoke``
    runs every row for a few seconds only, to prove the suite works (its figures are not
    benchmarks, and the summary says so)."""

    quick: bool = True
    smoke: bool = False


def _parse_amount(value: Any, pattern: Any, scale: Any, kind: str, example: str) -> Any:
    """``int(number * scale(unit))`` from a ``"<number> <unit>"`` string matched by ``pattern``;
    non-strings are left to pydantic."""
    if not isinstance(value, str):
        return value
    match = pattern.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a {kind}; write e.g. {example}")
    return int(float(match.group(1)) * scale(match.group(2)))


def parse_duration(value: Any) -> Any:
    """Seconds from ``3600``, ``"90 min"`` or ``"2h"`` (other types are left to pydantic)."""
    return _parse_amount(value, _DURATION, _SECONDS_PER_UNIT.__getitem__, "duration",
                         "3600, '90 min' or '2h'")  # fmt: skip


def parse_size(value: Any) -> Any:
    """Bytes from ``1048576``, ``"500 MB"`` or ``"5 GiB"`` (other types are left to pydantic)."""
    return _parse_amount(value, _SIZE, lambda unit: _BYTES_PER_UNIT[(unit or "b").lower()], "size",
                         "1000000, '500 MB' or '5 GiB'")  # fmt: skip


class ResultsSettings(_Model):
    """What a pull accepts from a kernel's output.

    Attributes:
        max_bytes: cap on the bytes one pull downloads or copies, counted while streaming
            (accepts ``"500 MB"``, ``"5 GiB"``); default 5 GiB.
    """

    max_bytes: PositiveInt = DEFAULT_MAX_RESULT_BYTES

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _parse_size(cls, value: Any) -> Any:
        return parse_size(value)


class KaggleSettings(_Model):
    """Kaggle kernel settings.

    Attributes:
        accelerator: ``NvidiaTeslaT4`` or None for a CPU kernel.
        private: kernel visibility.
        internet: network access in the kernel (Kaggle needs a phone-verified account for it);
            the ``git`` transport and pip-installing missing requirements need it.
        code: how the code reaches the kernel: ``inline`` (the commit's tracked tree embedded in
            the kernel script: no remote, no push), ``git`` (the kernel clones the pushed commit
            from a public remote), ``dataset`` (the same archive as a version of a private
            dataset attached to the kernel: no remote, no push), or ``auto`` (``inline`` when
            the archive fits under the inline limit, else ``dataset``). See
            docs/orchestration.md, "Code transport".
        wheels: with ``internet: false``, attach a wheelhouse (a private dataset of the wheels
            the Kaggle image lacks, built once per requirements and target) so the kernel
            installs without an index; ``false``: the image must have every requirement.
        deadline: kept for old job files: the job's ``deadline`` (the backend-neutral key
            that wins) is taken from here when it is not set.
    """

    accelerator: Literal["NvidiaTeslaT4"] | None = "NvidiaTeslaT4"
    private: bool = True
    internet: bool = True
    code: Literal["auto", "inline", "dataset", "git"] = "auto"
    wheels: bool = True
    deadline: PositiveInt | None = None

    @field_validator("deadline", mode="before")
    @classmethod
    def _parse_deadline(cls, value: Any) -> Any:
        return parse_duration(value)

    @field_validator("code", mode="before")
    @classmethod
    def _known_transport(cls, value: Any) -> Any:
        if value not in CODE_TRANSPORTS:
            raise unknown_choice("code transport", value, CODE_TRANSPORTS)
        return value

    @model_validator(mode="after")
    def _git_needs_internet(self) -> KaggleSettings:
        if self.code == "git" and not self.internet:
            raise ValueError("code: git clones the repository inside the kernel, which needs "
                             "internet: true; use code: inline or dataset for an offline kernel")  # fmt: skip
        return self


class JobSpec(_Model):
    """A job file (``jobs/*.yml``): what to run, where and with which settings.

    Attributes:
        name: short name (letters, digits, ``-``, ``_``); it appears in the commit and kernel slug.
        description: free text.
        suites: suites to run, in order (``verify``, ``rl``, ``bench``).
        scenario: scenario file or name handed to the RL environment, or None.
        rl, verify, bench: per-suite settings.
        device: ``auto`` (GPU when one is visible), ``cpu`` or ``gpu`` (fail without a GPU).
        backend: default backend (the CLI's ``--backend`` overrides it).
        kaggle: Kaggle kernel settings.
        seeds: the job's seeds (RL training seeds unless ``rl.seeds`` is set).
        deadline: wall-clock budget of the kernel in seconds (``"2h"``, ``"90 min"``) on every
            backend; None = the backend's default (Kaggle 11.5 h, local none). ``kaggle.deadline``
            is still read when this is unset.
        results: what a pull accepts (``results.max_bytes``).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
    description: str = ""
    suites: list[str] = Field(min_length=1)
    scenario: str | None = None
    rl: RLSettings = Field(default_factory=RLSettings)
    verify: VerifySettings = Field(default_factory=VerifySettings)
    bench: BenchSettings = Field(default_factory=BenchSettings)
    device: Literal["auto", "cpu", "gpu"] = "auto"
    backend: Literal["local", "kaggle"] = "local"
    kaggle: KaggleSettings = Field(default_factory=KaggleSettings)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    deadline: PositiveInt | None = None
    results: ResultsSettings = Field(default_factory=ResultsSettings)

    @field_validator("deadline", mode="before")
    @classmethod
    def _parse_deadline(cls, value: Any) -> Any:
        return parse_duration(value)

    @model_validator(mode="after")
    def _one_deadline(self) -> JobSpec:
        old = self.kaggle.deadline
        if old is not None and self.deadline is not None and old != self.deadline:
            raise ValueError(f"deadline ({self.deadline} s) and kaggle.deadline ({old} s) differ; "
                             "keep only deadline")  # fmt: skip
        if self.deadline is None and old is not None:
            self.deadline = old
        return self

    @field_validator("suites")
    @classmethod
    def _known_suites(cls, suites: list[str]) -> list[str]:
        known = [*BUILTIN_SUITES, *extra_suite_names()]
        for suite in suites:
            if suite not in known:
                raise unknown_choice("suite", suite, known)
        if len(set(suites)) != len(suites):
            raise ValueError("a suite is listed twice")
        return suites

    @property
    def training_seeds(self) -> list[int]:
        """Seeds of the RL training runs."""
        return self.rl.seeds if self.rl.seeds is not None else self.seeds


class KernelSpec(_Model):
    """What the bootstrap hands ``python -m kernel_payload --spec``: the job plus its identity."""

    job_id: str
    slug: str
    commit_sha: str
    repo_url: str = ""
    job: JobSpec
