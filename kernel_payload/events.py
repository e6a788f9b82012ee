"""Progress events as the payload prints them: one ``@@arz {json}`` line each, flushed at once.

Besides :func:`emit` and the throttled :func:`stage_reporter`, :func:`job_plan` estimates how long
each stage of a job will take; the first ``job`` event carries it, and the monitor weighs the
stages with it for the job-level ETA (and corrects the estimate by the measured pace).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from kernel_payload import startup
from kernel_payload.schema import JobSpec, ProgressEvent, Stage
from kernel_payload.schema.job import RL_AUTO_TEACHERS, RL_REFITS, RL_TUNED_TEACHERS

ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: the callback the solver and RL libraries call."""

UNITS: dict[str, str] = {
    "rl/train": "steps", "rl/evaluate": "runs", "verify": "grids", "bench": "cases",
    "rl/warm-start/tune": "candidates", "rl/warm-start/label": "batches", "rl/warm-start/score": "clones",
    Stage.BOOTSTRAP: "steps", Stage.JOB: "suites",
}  # fmt: skip
"""What ``done``/``total`` count, by full stage name or by suite (the first match wins)."""

# Typical durations on 2 idle laptop CPU cores (the quickstart: 116-128 s in all; measured 3.5x
# longer on the same cores shared with four other jobs, in the same proportions): the weights of
# the job ETA. The monitor rescales them by the pace it measures on the stages that finished, so
# they only need to be right relative to each other. A job on a cold kernel cache pays numba's
# compile (most of verify's time and of RL_BUILD_S); later jobs load it (kernel_payload/kernel_cache.py).
VERIFY_S = {"quick": 32.0, "full": 600.0}
BENCH_S = {True: 3.0, False: 300.0}
RL_BUILD_S = 45.0  # building the envs and compiling the kernels, before the first rollout
RL_STEPS_PER_S = 330.0  # PPO environment steps per second, all copies together
RL_EPISODE_S = 4.0  # one evaluation run (a controller on one evaluation seed's batch of episodes)
# the warm start, per training seed (rl.imitation): a tuning candidate or a batch of 8 episodes of a
# classical teacher takes seconds; a batch labelled by the rollout teacher minutes (its look-ahead
# simulates every distinct candidate action: 169-343 s per batch on the intersection, round 0 the
# slowest, when it simulated all of them; 1.7-2.2x faster since, rl.rollout's dedupe)
RL_WARM_BATCH_S = {"rollout": 130.0}
RL_CHEAP_BATCH_S = 6.0
RL_TUNE_S = 72.0  # tuning a tunable teacher: 12 grid candidates
RL_SCORE_S = 11.0  # validating one clone candidate (a round's fit or a refit) on the validation copies

_LOCK = threading.Lock()


def emit(event: ProgressEvent, stream: TextIO | None = None) -> None:
    """Print ``event`` as one ``@@arz`` line and flush, stamping the time if it has none.

    Thread-safe: a heartbeat thread and the main thread never interleave their lines.
    """
    if not event.time:
        event = event.model_copy(update={"time": time.time()})
    startup.times().note_event(event.stage, event.done, event.time)
    out = stream if stream is not None else sys.stdout
    with _LOCK:
        out.write(event.to_line() + "\n")
        out.flush()


def unit_of(stage: str) -> str:
    """The unit of a stage's counts (``rl/train`` -> ``steps``), or ``""`` when none is known."""
    return UNITS.get(stage) or UNITS.get(stage.split("/", 1)[0], "")


def stage_reporter(suite: str, min_interval_s: float = 0.5) -> ProgressCallback:
    """A ``progress(stage, done, total)`` callback that emits ``<suite>/<stage>`` events.

    Calls are throttled per stage to one event every ``min_interval_s`` seconds, except the first
    and the last (``done >= total``), so a training loop may call it on every step.
    """
    last: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        name = f"{suite}/{stage}" if stage and stage != suite else suite
        final = total is not None and done >= total
        if not final and name in last and now - last[name] < min_interval_s:
            return
        last[name] = now
        emit(ProgressEvent(stage=name, done=int(done), total=None if total is None else int(total),
                           unit=unit_of(name)))  # fmt: skip

    return progress


def warm_start_s(rl) -> float:
    """Expected seconds of one training seed's warm start under ``rl`` (:class:`RLSettings`): 0 without one."""
    teacher = rl.teacher()
    if teacher is None:
        return 0.0
    rounds = rl.teacher_rounds()
    batches = rounds + (len(RL_AUTO_TEACHERS) - 1 if teacher == "auto" else 0)  # auto: each candidate's round 0
    tune = RL_TUNE_S if teacher in RL_TUNED_TEACHERS else 0.0
    return tune + batches * RL_WARM_BATCH_S.get(teacher, RL_CHEAP_BATCH_S) + (rounds + RL_REFITS) * RL_SCORE_S


def job_plan(job: JobSpec) -> dict[str, float]:
    """Expected seconds per stage of ``job`` (keys: suites, or ``rl/train`` and ``rl/evaluate``).

    Rough by design: the monitor only uses the ratios between stages, and rescales the whole plan
    by the pace measured on the stages that have finished.
    """
    plan: dict[str, float] = {}
    for suite in job.suites:
        if suite == "verify":
            plan["verify"] = VERIFY_S[job.verify.level]
        elif suite == "bench":
            plan["bench"] = 1.0 if job.bench.smoke else BENCH_S[bool(job.bench.quick)]
        elif suite == "rl":
            rl, seeds = job.rl, len(job.training_seeds)
            plan["rl/train"] = RL_BUILD_S + seeds * (rl.timesteps / RL_STEPS_PER_S + warm_start_s(rl))
            runs = (len(rl.controllers) + seeds - 1) * len(rl.eval_seeds)
            plan["rl/evaluate"] = runs * RL_EPISODE_S * max(1.0, rl.eval_episodes / 4)
        else:
            plan[suite] = 10.0
    return plan
