"""The sweep file (``sweeps/*.yml``): a base job fanned out over a ``matrix`` of dotted job keys.

A sweep file names a base job and a matrix; the members are the product of the matrix's lists,
minus the ``exclude`` entries, plus the ``include`` entries (appended, as extra members), in that
order, numbered ``m01, m02, ...``. Each member is the base job with its dotted keys replaced
(``rl.env: X`` sets ``rl: {env: X}``) and is validated as a job before anything is committed or
pushed; a bad key names the sweep file, the member and the key.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from kernel_payload.schema import JobSpec
from kernel_payload.schema.job import parse_duration
from orchestrator.errors import BadInput, JobSpecError

SEED_KEY = "seeds"
NAME_ROOM = 35  # a member's job name is "<base>-mNN" (or -mNNN) within the job name's 40 characters


class SweepSpec(BaseModel):
    """A sweep file.

    Attributes:
        name: the study's name (letters, digits, ``-``, ``_``); it names the results folder.
        job: the base job file, relative to the sweep file's folder (or the current folder).
        matrix: dotted job key -> the values it takes; members are the product.
        include: extra members, each a mapping of dotted keys (appended after the product).
        exclude: combinations to leave out; an entry matches a member whose values agree with
            every key it names.
        max_parallel: members running at once (default: the backend's cap; Kaggle also never
            runs more than 2 GPU / 5 CPU sessions, whatever this says).
        estimate: expected run time of one member (``"40 min"``); the GPU quota check uses it
            instead of the members' deadlines.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
    job: str
    matrix: dict[str, list[Any]] = Field(default_factory=dict)
    include: list[dict[str, Any]] = Field(default_factory=list)
    exclude: list[dict[str, Any]] = Field(default_factory=list)
    max_parallel: PositiveInt | None = None
    estimate: PositiveInt | None = None

    @field_validator("estimate", mode="before")
    @classmethod
    def _parse_estimate(cls, value: Any) -> Any:
        return parse_duration(value)

    @field_validator("matrix")
    @classmethod
    def _non_empty_lists(cls, matrix: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in matrix.items():
            if not values:
                raise ValueError(f"matrix key '{key}' has no values; give it a list of at least one")
        return matrix


@dataclass(frozen=True)
class Member:
    """One member of a sweep.

    Attributes:
        member_id: ``m01``, ``m02``, ... (order of the expanded matrix, include appended).
        matrix: dotted job key -> this member's value.
        job: the member's validated job (the base job with the matrix keys replaced).
    """

    member_id: str
    matrix: dict[str, Any]
    job: JobSpec


@dataclass(frozen=True)
class Sweep:
    """A loaded, fully validated sweep.

    Attributes:
        path: the sweep file.
        spec: its settings.
        job_path: the base job file.
        members: every member, validated.
    """

    path: Path
    spec: SweepSpec
    job_path: Path
    members: list[Member]


def load_sweep(path: Path, backend: str | None = None) -> Sweep:
    """Read the sweep file and the base job, expand the members and validate each as a job.

    Args:
        path: the sweep YAML.
        backend: overrides every member's ``backend`` (the CLI's ``--backend``).

    Raises:
        JobSpecError: the sweep file or the base job is missing or invalid, the matrix expands to
            no member, or a member is not a valid job (the message names the member and the key).
    """
    spec = _validated(path)
    job_path = _job_path(path, spec.job)
    base = _read_yaml(job_path, "job")
    members = []
    for index, values in enumerate(expand(spec), start=1):
        member_id = f"m{index:02d}"
        data = copy.deepcopy(base)
        for key, value in values.items():
            _set_dotted(data, key, value, path, member_id)
        data["name"] = f"{str(base.get('name', spec.name))[:NAME_ROOM]}-{member_id}"
        if backend:
            data["backend"] = backend
        members.append(Member(member_id, values, _validated_job(data, path, member_id, values)))
    if not members:
        raise JobSpecError(f"{path}: the matrix minus exclude leaves no member to run.",
                           fix="remove an exclude entry or add values to the matrix")  # fmt: skip
    sweep = Sweep(path, spec, job_path, members)
    check_duplicates(sweep)
    return sweep


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """The members' matrix values: the product of ``matrix`` minus ``exclude``, plus ``include``."""
    keys = list(spec.matrix)
    product = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*spec.matrix.values())]
    if not keys:
        product = []
    kept = [m for m in product if not any(_matches(m, entry) for entry in spec.exclude)]
    return kept + [dict(entry) for entry in spec.include]


def slugify(name: str) -> str:
    """``name`` in lower case with runs of other characters turned into one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "sweep"


def _matches(member: dict[str, Any], entry: dict[str, Any]) -> bool:
    return all(key in member and member[key] == value for key, value in entry.items())


def _validated(path: Path) -> SweepSpec:
    data = _read_yaml(path, "sweep")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"]) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"unknown key; a sweep takes {', '.join(SweepSpec.model_fields)}"
            problems.append(f"key '{key}': {message}")
        raise JobSpecError(f"{path}: " + "; ".join(problems),
                           fix="see docs/orchestration.md (Studies) for the sweep file") from exc


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise JobSpecError(f"{what} file {path} not found.",
                           fix=f"pass the path of an existing {what} YAML file")  # fmt: skip
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise JobSpecError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise JobSpecError(f"{path} must hold a mapping of {what} settings.")
    return data


def _job_path(sweep_path: Path, job: str) -> Path:
    """The base job: relative to the sweep file's folder, else to the current folder."""
    candidate = Path(job)
    if candidate.is_absolute():
        return candidate
    beside = sweep_path.parent / candidate
    return beside if beside.is_file() else candidate


def _set_dotted(data: dict[str, Any], key: str, value: Any, path: Path, member_id: str) -> None:
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise JobSpecError(f"{path}: member {member_id}: key '{key}': '{part}' is not a block "
                               "of job settings, so it has no sub-keys.",
                               fix="use a dotted key whose leading parts are job blocks (rl, kaggle)")  # fmt: skip
        target = child
    target[parts[-1]] = copy.deepcopy(value)


def _validated_job(data: dict[str, Any], path: Path, member_id: str,
                   values: dict[str, Any]) -> JobSpec:  # fmt: skip
    from orchestrator.jobspec import describe_validation_error

    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
        text = describe_validation_error(path, exc).removeprefix(f"{path}: ")
        raise JobSpecError(f"{path}: member {member_id} ({shown}): {text}",
                           fix="fix that key in the matrix/include or in the base job") from exc


def check_duplicates(sweep: Sweep) -> None:
    """Refuse a sweep whose members would share a name (a duplicate include entry).

    Raises:
        BadInput: two members have the same matrix values.
    """
    seen: dict[str, str] = {}
    for member in sweep.members:
        key = repr(sorted(member.matrix.items()))
        if key in seen:
            raise BadInput(f"{sweep.path}: members {seen[key]} and {member.member_id} have the same "
                           f"values ({member.matrix}).", fix="remove the duplicate include entry")  # fmt: skip
        seen[key] = member.member_id
