"""Errors of the RL layer: one hierarchy, messages say what happened, the likely cause and the fix."""

from __future__ import annotations


class RLError(Exception):
    """Base class of every error raised by :mod:`rl`.

    ``exit_code`` is read by the CLIs' one error funnel (``kernel_payload.schema.errors``):
    2 for a bad name, argument or unavailable backend (the user's input), 1 otherwise.
    """

    exit_code = 1


class EnvConfigError(RLError, ValueError):
    """An environment argument is invalid.

    Attributes:
        key: the keyword argument at fault.
        value: the value given.
    """

    exit_code = 2

    def __init__(self, key: str, value: object, fix: str):
        self.key, self.value = key, value
        super().__init__(f"{key}={value!r} is not valid: {fix}")


class BackendUnavailableError(RLError, RuntimeError):
    """The requested compute backend cannot run here."""

    exit_code = 2


class UnknownNameError(RLError, KeyError):
    """A name is missing from a registry (rewards, controllers)."""

    exit_code = 2

    def __init__(self, what: str, name: str, known: list[str]):
        self.name = name
        super().__init__(f"unknown {what} {name!r}; choose one of {sorted(known)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
