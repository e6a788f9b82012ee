"""The solver's exception hierarchy. Messages say what happened, the likely cause and the fix."""

from __future__ import annotations


class SolverError(Exception):
    """Base class of every error raised by :mod:`solver`.

    ``exit_code`` (2 bad input, 1 run failed) and ``topic`` are read by the CLIs' one error
    funnel (``kernel_payload.schema.errors``); the solver itself never exits.
    """

    exit_code = 1
    topic = ""


class ScenarioError(SolverError, ValueError):
    """A scenario file or mapping is invalid.

    Attributes:
        key: dotted path of the offending key (e.g. ``physics.K_m``), or "" for the whole file.
        reason: what is wrong and how to fix it.
    """

    exit_code = 2

    def __init__(self, key: str, reason: str, source: str = ""):
        self.key, self.reason, self.source = key, reason, source
        where = f" ({source})" if source else ""
        super().__init__(f"{key or 'scenario'}: {reason}{where}")


class NumericalError(SolverError, RuntimeError):
    """The scheme could not keep the state valid (negative density, NaN). Always a bug: report it."""

    topic = "simulation"


class BackendError(SolverError):
    """A kernel backend is unknown or unavailable on this machine."""

    exit_code = 2
    topic = "backend"
