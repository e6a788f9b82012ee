"""Errors of the Kaggle backend, and the translation of raw HTTP failures into them.

Every message says what happened, the likely cause and the fix (``ArzError`` prints ``Fix: ...``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from orchestrator.backends.kaggle.http import HTTP_ERRORS, error_text, http_status
from orchestrator.errors import BackendError


class KaggleError(BackendError):
    """Base class of the Kaggle backend's errors."""


class KaggleCredentialsError(KaggleError):
    """No usable Kaggle credentials (a set-up problem: exit code 2)."""

    exit_code = 2


class KaggleTimeoutError(KaggleError):
    """Kaggle did not answer within the configured time, even after retries."""


class KagglePushError(KaggleError):
    """Kaggle refused the push (its answer carried an ``error``, even under HTTP 200)."""


class KaggleQuotaExhausted(KaggleError):
    """Too little weekly GPU quota is left to start a GPU kernel."""


class KaggleConcurrencyCap(KaggleError):
    """Kaggle's limit of concurrent GPU sessions (2) is reached."""


def translate(err: BaseException, what: str) -> KaggleError:
    """A clear error for a failed HTTP exchange (one of :data:`HTTP_ERRORS`, after the retries
    ran out)."""
    status = http_status(err)
    if status in (401, 403):
        return KaggleCredentialsError(
            f"Kaggle refused to {what} (HTTP {status}): the credentials lack access.",
            fix="check that the API token belongs to the kernel's owner, or create a new one")
    if status is None or status == 429 or status >= 500:
        return KaggleTimeoutError(
            f"Kaggle did not {what} after several tries ({type(err).__name__}: {error_text(err)}).",
            fix="check your network and https://status.kaggle.com; the job stays in the "
            "registry, so `arz watch ID` resumes it later")
    return KaggleError(f"Kaggle could not {what} (HTTP {status}: {error_text(err)}).")


def translated(what: str) -> Callable:
    """Decorator: turn HTTP failures of ``what`` (either stack's) into clear :class:`KaggleError` s."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except HTTP_ERRORS as err:
                raise translate(err, what) from err

        return wrapper

    return decorate


def push_refusal(error: str) -> KaggleError:
    """The right error for a push refused inside an HTTP 200 answer."""
    text = error.lower()
    if "quota" in text:
        return KaggleQuotaExhausted(f"Kaggle refused the push: {error}",
                                    fix="wait for the weekly reset, or run on CPU")
    if "session" in text and ("gpu" in text or "accelerator" in text):
        return KaggleConcurrencyCap(
            f"Kaggle refused the push: {error} (at most 2 GPU sessions run at once).",
            fix="wait for a running job to finish (`arz list`), cancel one (`arz cancel ID`), "
            "or run with device: cpu")
    return KagglePushError(f"Kaggle refused the push: {error}",
                           fix="read the message above; fix the kernel settings and submit again")
