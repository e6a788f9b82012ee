"""The kernel payload's exception hierarchy.

Suites and the runner raise these; only ``python -m kernel_payload`` turns them into exit codes.
"""

from __future__ import annotations


class PayloadError(Exception):
    """Base class of every payload error."""


class SpecError(PayloadError):
    """The spec file handed to the payload cannot be read or does not validate."""


class DeviceUnavailable(PayloadError):
    """The job asked for a device this machine does not have."""


class UnknownSuite(PayloadError):
    """A suite name is not in the suite registry."""


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
