"""Load a job file (``jobs/*.yml``) into a validated :class:`~kernel_payload.schema.JobSpec`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kernel_payload.schema import JobSpec, ValidationError
from kernel_payload.schema.errors import did_you_mean
from orchestrator.errors import JobSpecError


def load_jobspec(path: Path, overrides: dict[str, Any] | None = None) -> JobSpec:
    """Read and validate a job YAML file.

    Args:
        path: the job file.
        overrides: top-level keys to replace (e.g. ``{"backend": "kaggle"}`` from the CLI).

    Raises:
        JobSpecError: the file is missing, is not YAML, or does not validate; the message names
            the file, the key and the offending value in one line.
    """
    import yaml

    if not path.is_file():
        raise JobSpecError(f"job file {path} not found.", fix="pass a path such as jobs/quickstart.yml")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise JobSpecError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise JobSpecError(f"{path} must hold a mapping of job settings (name, suites, ...).")
    data.update(overrides or {})
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise JobSpecError(describe_validation_error(path, exc)) from exc


def describe_validation_error(path: Path, exc: ValidationError) -> str:
    """One line per problem: ``file: key 'a.b' = value: what is wrong``, joined by ``; ``."""
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = _known_keys(error["loc"][:-1])
            message = (f"unknown key{did_you_mean(error['loc'][-1], known)}; "
                       f"{'.'.join(map(str, error['loc'][:-1])) or 'a job'} takes {', '.join(known)}")  # fmt: skip
        elif error["type"] == "literal_error":
            expected = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
            message = f"not one of {', '.join(expected)}{did_you_mean(error.get('input'), expected)}"
        value = error.get("input")
        shown = "" if error["type"] in ("missing", "extra_forbidden") else f" = {value!r}"
        problems.append(f"key '{key}'{shown}: {message}")
    return f"{path}: " + "; ".join(problems)


def _known_keys(loc: tuple) -> list[str]:
    """The keys the job-file block at ``loc`` accepts (``()``: the top level)."""
    model: Any = JobSpec
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and hasattr(model, "model_fields")):
            return []
    return list(model.model_fields)
