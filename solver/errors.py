"""The solver's exception hierarchy. Messages say what happened, the likely cause and the fix."""

from __future__ import annotations


class SolverError(Exception):
    """Base class of every error raised by :mod:`solver`."""


class ScenarioError(SolverError, ValueError):
    """A scenario file or mapping is invalid.

    Attributes:
        key: dotted path of the offending key (e.g. ``physics.K_m``), or "" for the whole file.
        reason: what is wrong and how to fix it.
    """

    def __init__(self, key: str, reason: str, source: str = ""):
        self.key, self.reason, self.source = key, reason, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {reason}" if key else f"{where}{reason}")


class NumericalError(SolverError, RuntimeError):
    """The scheme could not keep the state valid (negative density, NaN). Always a bug: report it."""


class BackendError(SolverError):
    """A kernel backend is unknown or unavailable on this machine."""
