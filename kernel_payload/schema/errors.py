"""The one error funnel: user-facing errors, their exit codes and their one-line messages.

Every package raises its own exceptions (``solver.errors``, ``rl.errors``, ``kernel_payload.errors``,
``orchestrator.errors``); an error meant for the user carries an ``exit_code`` class attribute
(1 = the run failed, 2 = bad input or set-up). The two command-line entry points -- the lab app
(:mod:`kernel_payload.cli`) and ``arz`` itself (:mod:`orchestrator.cli`) -- hand every exception
to :func:`report_error`, here, which prints the one line (:func:`error_line`) and gives the exit
code (:func:`exit_code_for`), so both print the same thing. An exception without ``exit_code`` is
a bug and keeps its traceback.

This module imports only the standard library (the orchestrator imports it at start-up); the
solver and rl layers cannot import it (imports point one way) and so declare ``exit_code`` on
their own classes instead of subclassing :class:`ArzError`.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class ArzError(Exception):
    """Base class of the orchestrator's and the payload's user-facing errors.

    Attributes:
        message: what happened (and the likely cause).
        fix: what the user can do about it, or "".
        exit_code: the CLI exit code (1 = job/run failed, 2 = bad input or set-up).
    """

    exit_code = EXIT_FAILED

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} Fix: {self.fix}" if self.fix else self.message


class BadInput(ArzError):
    """Something the user typed or wrote (an option, a name, a path, a file's key) cannot be used.

    Attributes:
        key: the option or key at fault as the user wrote it (``--env``, ``controllers``), or "".
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, fix: str = "", key: str = "") -> None:
        super().__init__(f"{key}: {message}" if key else message, fix)
        self.key = key


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``word``, or "" when none is close."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_choice(what: str, value: object, known: Iterable[str], alternative: str = "") -> ValueError:
    """``unknown <what> '<value>' (did you mean ...?); choose from a, b, c<alternative>``, the one
    message of a name that is not one of ``known`` (raise it from a validator)."""
    known = [str(k) for k in known]
    return ValueError(f"unknown {what} '{value}'{did_you_mean(str(value), known)}; "
                      f"choose from {', '.join(known)}{alternative}")


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code for an exception, or None when it is a bug that should show its traceback.

    Ctrl-C gives 130; any exception class with an integer ``exit_code`` attribute gives that code
    (``ArzError`` and its subclasses, ``solver.errors``, ``rl.errors``, the payload's errors).
    """
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    code = getattr(exc, "exit_code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def error_line(exc: BaseException) -> str:
    """The one line shown for a user-facing error: ``error: <topic>: <message>`` on one line.

    ``topic`` is the exception's ``topic`` attribute when it has one (e.g. ``backend``), so
    messages that do not start with their key still say what they are about.
    """
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = " ".join(str(exc).split()) or type(exc).__name__
    topic = getattr(exc, "topic", "")
    if topic and not text.startswith(f"{topic}:"):
        text = f"{topic}: {text}"
    return f"error: {text}"


def report_error(exc: BaseException) -> int | None:
    """The funnel both command lines share: print a user-facing error's one line, give its code.

    For an exception :func:`exit_code_for` knows (every ``ArzError``, the solver's, rl's and the
    payload's errors, Ctrl-C), writes :func:`error_line` to stderr (``error:`` in bold red on a
    terminal) and returns the exit code; for anything else (a bug) writes nothing and returns
    None, so that the caller re-raises and the traceback shows. The caller lets its CLI
    framework's own control flow (typer's ``Exit``, usage errors) pass before calling this.
    """
    code = exit_code_for(exc)
    if code is None:
        return None
    line = error_line(exc)
    stream = sys.stderr
    if line.startswith("error:") and _colour(stream):
        line = "\x1b[1;31merror:\x1b[0m" + line.removeprefix("error:")
    stream.write(line + "\n")
    stream.flush()
    return code


def _colour(stream) -> bool:
    """True when ``stream`` is a terminal and colour is not switched off (``NO_COLOR``)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")
