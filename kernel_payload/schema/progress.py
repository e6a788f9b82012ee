"""The stages of a job's life, and progress events: one ``@@arz {json}`` line each."""

from __future__ import annotations

import enum

from pydantic import Field, ValidationError

from kernel_payload.schema._base import _Model

EVENT_PREFIX = "@@arz "
"""Every progress event is printed as one line: this prefix, then the event as JSON."""


class Stage(str, enum.Enum):
    """The stages of a job's life, in order, in the words the laptop and the kernel write.

    On the laptop, ``arz submit`` times each of its stages (``Submission.timings``): ``load``
    (read and validate the job file), ``git`` (commit and the secret check), ``build`` (the
    kernel script), ``git push`` and ``push`` (the backend starts the kernel). In the kernel, the
    progress events' top-level stages are ``bootstrap`` (clone, install, start the payload) and
    ``job`` (the payload runs the suites), beside one per suite (a suite's name).

    A member is its string everywhere: equal to it, hashed as it (a dict keyed by the plain word
    finds the member and the other way round), printed as it, stored as it.
    """

    LOAD = "load"
    COMMIT = "git"
    BUILD = "build"
    GIT_PUSH = "git push"
    PUSH = "push"
    BOOTSTRAP = "bootstrap"
    JOB = "job"

    __hash__ = str.__hash__

    def __str__(self) -> str:
        """The stage's word (``git push``), as in logs, events and the registry."""
        return self.value


class ProgressEvent(_Model):
    """One progress event, printed by the payload as ``@@arz {json}`` and flushed.

    Attributes:
        stage: :class:`Stage` ``job`` or ``bootstrap``, a suite name, or ``<suite>/<step>`` for
            steps inside a suite.
        done: units finished so far (None for a plain message).
        total: units in the stage, when known.
        metrics: numbers worth showing live (e.g. ``{"l1": 1.2e-4}``).
        message: short human text.
        status: final status when the event closes a stage (e.g. ``succeeded``).
        time: Unix time of the event in s.
        unit: what ``done`` and ``total`` count (``steps``, ``grids``, ``cases``), for display.
        plan: on the first ``job`` event, the expected duration (s) of each stage the job will run,
            keyed by stage (``verify``, ``rl/train``, ...): the weights of the job-level ETA.
    """

    stage: str
    done: int | None = None
    total: int | None = None
    metrics: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    message: str = ""
    status: str | None = None
    time: float = 0.0
    unit: str = ""
    plan: dict[str, float] = Field(default_factory=dict)

    def to_line(self) -> str:
        """The event as one ``@@arz`` line (no newline)."""
        return EVENT_PREFIX + self.model_dump_json(exclude_defaults=True)

    @classmethod
    def from_line(cls, line: str) -> ProgressEvent | None:
        """Parse a log line; None when it is not a well-formed event."""
        text = line.strip()
        if not text.startswith(EVENT_PREFIX.strip()):
            return None
        try:
            return cls.model_validate_json(text[len(EVENT_PREFIX.strip()) :].strip())
        except ValidationError:
            return None
