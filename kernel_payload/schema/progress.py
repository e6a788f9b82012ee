"""Progress events: one ``@@arz {json}`` line each."""

from __future__ import annotations

from pydantic import Field, ValidationError

from kernel_payload.schema._base import _Model

EVENT_PREFIX = "@@arz "
"""Every progress event is printed as one line: this prefix, then the event as JSON."""


class ProgressEvent(_Model):
    """One progress event, printed by the payload as ``@@arz {json}`` and flushed.

    Attributes:
        stage: ``job``, ``bootstrap``, a suite name, or ``<suite>/<step>`` for steps inside a suite.
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
