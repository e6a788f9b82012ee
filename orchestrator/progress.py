"""What the progress events of a job add up to: one row per stage, its ETA, and the job's ETA.

Pure state, no rendering (the live panel in :mod:`orchestrator.monitor` and the readable lines of
``arz logs`` both read it). Times are the events' own stamps (the payload's clock), so a log
replayed later gives the same rows and ETAs as it did live.

- A **row** per top-level stage (``bootstrap``, ``job``, ``verify``, ``rl``, ``bench``); the events
  of the steps inside a suite (``rl/train``, ``verify/riemann_shock``) update their suite's row,
  which shows the step's count.
- A step's **ETA** comes from its measured pace: units done since the step's first count, over the
  time that took.
- The **job ETA** weighs the stages by the ``plan`` the payload sends on its first ``job`` event
  (expected seconds per stage): a stage with a measured pace contributes its own ETA, a running one
  without a count its expected time left, a pending one its expected time; the expected times are
  rescaled by the pace measured on the stages that have finished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kernel_payload.schema import ProgressEvent, Stage

PACE_LIMITS = (0.25, 4.0)  # the measured/expected ratio is trusted within these bounds
RUNNING_CAP = 0.8  # a stage without a count runs linearly to 80 %, then slows (elapsed_fraction)


def elapsed_fraction(elapsed: float, expected: float) -> float:
    """How far a stage without a count is after ``elapsed`` of its ``expected`` seconds.

    Linear up to :data:`RUNNING_CAP`, then approaching 1 exponentially (time constant: the expected
    time), so an overrunning stage's ETA keeps shrinking slowly instead of freezing or dropping to
    zero.
    """
    if expected <= 0:
        return RUNNING_CAP
    if elapsed <= RUNNING_CAP * expected:
        return max(0.0, elapsed / expected)
    return 1.0 - (1.0 - RUNNING_CAP) * math.exp(-(elapsed - RUNNING_CAP * expected) / expected)


@dataclass
class Step:
    """One stage as its events describe it (``rl/train``, ``verify``, ``bootstrap``)."""

    name: str
    first: float  # time of its first event
    last: float = 0.0  # time of its latest event
    done: int | None = None
    total: int | None = None
    unit: str = ""
    origin: tuple[float, int] | None = None  # (time, done) of its first count > 0: the pace's origin
    ended: float | None = None  # time it finished (a later step began, or its suite closed)

    def fraction(self) -> float | None:
        """Done over total, or None without a count."""
        if self.total and self.done is not None:
            return min(1.0, self.done / self.total)
        return None

    def eta(self, now: float) -> float | None:
        """Seconds left from ``now`` at the pace measured since the first count; None when unknown."""
        if self.ended is not None or (self.total and self.done is not None and self.done >= self.total):
            return 0.0
        if self.origin is None or not self.total or self.done is None:
            return None
        t0, d0 = self.origin
        if self.done <= d0 or self.last <= t0:
            return None
        left = (self.total - self.done) * (self.last - t0) / (self.done - d0)
        return max(0.0, left - max(0.0, now - self.last))


@dataclass
class Row:
    """A top-level stage as shown: its current step, its count, message and final status."""

    stage: str
    step: Step
    counted: Step | None = None  # its latest step with a count (shown once the suite has closed)
    message: str = ""
    status: str | None = None
    metrics: dict = field(default_factory=dict)


class JobProgress:
    """Rows, ETAs and the job-level ETA of a stream of events, fed in order."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.steps: dict[str, Step] = {}
        self.plan: dict[str, float] = {}
        self.latest = 0.0

    # ---------------------------------------------------------------------------------- feeding
    def apply(self, event: ProgressEvent) -> Row:
        """Take one event; return the row it updated."""
        now = event.time or self.latest
        self.latest = max(self.latest, now)
        top = event.stage.split("/", 1)[0]
        if top == Stage.JOB:
            self.plan = self.plan or dict(event.plan)
            self._close_bootstrap(now)
        step = self._step(event, now)
        row = self.rows.get(top)
        if row is None:
            row = self.rows[top] = Row(top, step)
        elif row.step is not step:
            if row.step.ended is None and row.step.name != top:
                row.step.ended = now  # the suite moved on to its next step
            row.step, row.message = step, ""
        if step.total:
            row.counted = step
        if event.message or event.status:
            row.message = event.message
        elif event.done:  # a count moved: a waiting message ("building envs…") is over
            row.message = ""
        if event.status is not None:
            row.status = event.status
            row.metrics = dict(event.metrics)
            self._close(top, now)
        return row

    def _step(self, event: ProgressEvent, now: float) -> Step:
        step = self.steps.get(event.stage)
        if step is None:
            step = self.steps[event.stage] = Step(event.stage, first=now)
        top = event.stage.split("/", 1)[0]
        suite = self.rows.get(top)
        if step.ended is not None and event.status is None and (suite is None or suite.status is None):
            step.ended = None  # it resumed: rl/train after each seed's rl/warm-start (its suite still runs)
        step.last = now
        step.unit = event.unit or step.unit
        if event.total is not None:
            step.total = event.total
        if event.done is not None:
            if step.done is not None and event.done < step.done:
                step.origin = None  # the count restarted (e.g. the next training seed)
            if step.origin is None and event.done > 0:
                step.origin = (now, event.done)  # the first real count: 0/N heartbeats carry no pace
            step.done = event.done
        return step

    def _close(self, top: str, now: float) -> None:
        """A suite ended: so did its steps."""
        for name, step in self.steps.items():
            if (name == top or name.startswith(top + "/")) and step.ended is None:
                step.ended = now

    def _close_bootstrap(self, now: float) -> None:
        """The payload printed its first ``job`` event: the bootstrap's last step is done."""
        row = self.rows.get(Stage.BOOTSTRAP)
        if row is not None and row.step.total and (row.step.done or 0) < row.step.total:
            row.step.done, row.step.last = row.step.total, now
            row.message = "payload running"

    # ---------------------------------------------------------------------------------- reading
    def job_eta(self, now: float) -> float | None:
        """Seconds left in the whole job, from the plan's weights; None before the plan arrives."""
        if not self.plan:
            return None
        pace = self.pace()
        return sum(self._remaining(key, expected, pace, now) for key, expected in self.plan.items())

    def stage_eta(self, name: str, now: float) -> float | None:
        """Seconds left in the suite of stage ``name`` (a row's step): the sum of the plan's
        entries for that suite (a measured pace first); without any, the step's own pace."""
        top = name.split("/", 1)[0]
        keys = [k for k in self.plan if k.split("/", 1)[0] == top]
        if keys:
            pace = self.pace()
            return sum(self._remaining(k, self.plan[k], pace, now) for k in keys)
        step = self.steps.get(name)
        return step.eta(now) if step is not None else None

    def _remaining(self, key: str, expected: float, pace: float, now: float) -> float:
        """Seconds left in plan entry ``key`` (expected ``expected`` s at pace 1)."""
        step, state = self._planned(key)
        if state == "ended":
            return 0.0
        measured = step.eta(now) if step is not None else None
        if measured is not None:
            return measured
        if step is None:
            return expected * pace
        fraction = step.fraction() or elapsed_fraction(now - step.first, expected * pace)
        return expected * pace * (1.0 - fraction)

    def job_fraction(self, now: float) -> float:
        """The plan-weighted fraction of the job that is done (0 without a plan)."""
        total = sum(self.plan.values())
        if total <= 0:
            return 0.0
        done = 0.0
        for key, expected in self.plan.items():
            step, state = self._planned(key)
            if state == "ended":
                done += expected
            elif step is not None:
                fraction = step.fraction()
                if fraction is None:
                    fraction = elapsed_fraction(now - step.first, expected * self.pace())
                done += expected * fraction
        return min(1.0, done / total)

    def pace(self) -> float:
        """Measured over expected duration of the planned stages that ended (1 before any)."""
        measured = expected = 0.0
        for key, seconds in self.plan.items():
            step, state = self._planned(key)
            if state == "ended" and step is not None and step.ended is not None:
                measured += step.ended - step.first
                expected += seconds
        if expected < 1.0 or measured <= 0:
            return 1.0
        return min(max(measured / expected, PACE_LIMITS[0]), PACE_LIMITS[1])

    def _planned(self, key: str) -> tuple[Step | None, str]:
        """The step behind a plan key and its state: ``pending``, ``running`` or ``ended``.

        A suite key (``verify``) stands for all its steps, from the first to the suite's close.
        """
        top = key.split("/", 1)[0]
        row = self.rows.get(top)
        if row is not None and row.status is not None:
            return self.steps.get(key) or row.step, "ended"
        if "/" in key:
            step = self.steps.get(key)
            if step is None:
                return None, "pending"
            return step, "ended" if step.ended is not None else "running"
        own = self.steps.get(key)
        if own is not None and own.total:
            return own, "running"  # the suite counts its own units (bench: cases)
        steps = [s for n, s in self.steps.items() if n == key or n.startswith(key + "/")]
        if not steps:
            return None, "pending"
        first = min(steps, key=lambda s: s.first)
        return Step(key, first=first.first, last=max(s.last for s in steps)), "running"
