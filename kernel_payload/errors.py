"""The kernel payload's exception hierarchy.

Suites and the runner raise these; only ``python -m kernel_payload`` and the lab commands turn
them into exit codes, through the shared funnel (:mod:`kernel_payload.schema.errors`).
"""

from __future__ import annotations

from kernel_payload.schema.errors import EXIT_BAD_INPUT, ArzError, BadInput

__all__ = ["BadInput", "DeviceUnavailable", "Interrupted", "PayloadError", "SpecError", "SuiteSkipped",
           "UnknownSuite", "VerificationFailed"]  # fmt: skip


class PayloadError(ArzError):
    """Base class of every payload error (exit code 1 unless a subclass says otherwise)."""


class SpecError(PayloadError):
    """The spec file handed to the payload cannot be read or does not validate."""

    exit_code = EXIT_BAD_INPUT


class DeviceUnavailable(PayloadError):
    """The job asked for a device this machine does not have."""

    exit_code = EXIT_BAD_INPUT


class UnknownSuite(PayloadError):
    """A suite name is not in the suite registry."""

    exit_code = EXIT_BAD_INPUT


class SuiteSkipped(PayloadError):  # noqa: N818 - a control signal, not an error
    """Raised by a suite that cannot run here; the message is the reason shown to the user."""


class VerificationFailed(PayloadError):
    """The numerics verification ran but some checks did not pass."""


class Interrupted(BaseException):  # noqa: N818 - mirrors KeyboardInterrupt
    """The payload received SIGTERM or SIGINT (a BaseException so suites cannot swallow it).

    Attributes:
        signal_name: ``SIGTERM`` or ``SIGINT``.
        exit_code: 128 + the signal number.
    """

    def __init__(self, signal_name: str, signum: int) -> None:
        super().__init__(f"payload received {signal_name}")
        self.signal_name = signal_name
        self.exit_code = 128 + signum
