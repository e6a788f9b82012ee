"""Load a job file (``jobs/*.yml``) into a validated :class:`~kernel_payload.schema.JobSpec`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel_payload.schema import JobSpec, ValidationError
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
            message = "unknown key (check the spelling; see jobs/quickstart.yml for the keys)"
        value = error.get("input")
        shown = "" if error["type"] in ("missing", "extra_forbidden") else f" = {value!r}"
        problems.append(f"key '{key}'{shown}: {message}")
    return f"{path}: " + "; ".join(problems)
