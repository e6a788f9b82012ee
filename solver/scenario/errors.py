"""Turn pydantic's validation report on a scenario into one line naming the key as the user wrote it.

pydantic reports every problem it met, with union-member tags in the key path and, for a
misspelt required key, both "unknown key" and "missing". :func:`validation_to_scenario_error`
picks the error the user needs (an unknown key before the missing one it explains), drops the
tags, and adds a "did you mean" drawn from the keys the model at that place accepts. The key
reference is docs/scenarios.md (generated from the models by :mod:`solver.scenario.reference`).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ValidationError

from solver.errors import ScenarioError

DOCS = "docs/scenarios.md"
_PRIORITY = {"extra_forbidden": 0, "union_tag_invalid": 1, "union_tag_not_found": 1}  # others: 2
_PYDANTIC_TAG = re.compile(r"^(function-\w+|union|tagged-union|literal|json-or-python)\[")


def did_you_mean(word: object, known: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``word``, or ""."""
    close = difflib.get_close_matches(str(word), known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def union_members(tp: Any) -> list[Any]:
    """The alternatives of a type: itself, or each member of a union / Optional / Annotated."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return union_members(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in union_members(arg)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _tag_of(model: type[BaseModel]) -> str | None:
    """The ``type`` literal of a tagged-union member (e.g. ``equilibrium``), or None."""
    field = model.model_fields.get("type")
    if field is None or typing.get_origin(field.annotation) is not Literal:
        return None
    return typing.get_args(field.annotation)[0]


def _field(model: type[BaseModel], key: str):
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _step(tp: Any, item: Any) -> tuple[Any, bool]:
    """Follow one element of pydantic's error path from type ``tp``; returns (next type, shown).

    ``shown`` is False for union tags (``equilibrium``, ``InflowBoundary``) that are not keys.
    """
    for member in union_members(tp):
        origin = typing.get_origin(member)
        if _is_model(member) and isinstance(item, str):
            field = _field(member, item)
            if field is not None:
                return field.annotation, True
            if item in (_tag_of(member), member.__name__):
                return member, False
        elif origin in (list, tuple) and isinstance(item, int):
            return typing.get_args(member)[0], True
        elif origin is dict:
            return typing.get_args(member)[1], True
    return None, not (isinstance(item, str) and _PYDANTIC_TAG.match(item))


def resolve(root: type[BaseModel], loc: tuple) -> tuple[str, Any]:
    """The dotted key as the user wrote it, and the type found at that place (None if unknown)."""
    key, tp = "", root
    for item in loc:
        tp, shown = _step(tp, item)
        if shown:
            key += f"[{item}]" if isinstance(item, int) else f".{item}" if key else str(item)
    return key, tp


def known_keys(tp: Any) -> list[str]:
    """Keys a model accepts (aliases where they have one); for a tagged union, those of every member."""
    keys: list[str] = []
    for member in union_members(tp):
        if _is_model(member):
            keys += [f.alias or n for n, f in member.model_fields.items() if (f.alias or n) not in keys]
    return keys


def _tags(ctx: dict) -> list[str]:
    return re.findall(r"'([^']*)'", str(ctx.get("expected_tags") or ctx.get("expected") or ""))


def _message(root: type[BaseModel], first: dict) -> tuple[str, str]:
    """(key, reason) for one pydantic error."""
    kind, ctx, value = first["type"], first.get("ctx") or {}, first.get("input")
    key, _ = resolve(root, first["loc"])
    if kind == "extra_forbidden":
        parent, tp = resolve(root, first["loc"][:-1])
        known = known_keys(tp)
        where = f"{parent or 'the top level'} takes {', '.join(known)}" if known else f"see {DOCS}"
        return key, f"unknown key{did_you_mean(first['loc'][-1], known)}; {where} ({DOCS})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        _, tp = resolve(root, first["loc"])
        tags = [t for t in map(_tag_of, (m for m in union_members(tp) if _is_model(m))) if t] or _tags(ctx)
        field = str(ctx.get("discriminator", "type")).strip("'")
        key = f"{key}.{field}" if key else field
        if kind == "union_tag_not_found":
            return key, f"required key is missing: give one of {', '.join(tags)} ({DOCS})"
        tag = ctx.get("tag", value)
        return key, f"{tag!r} is not one of {', '.join(tags)}{did_you_mean(tag, tags)}"
    if kind == "missing":
        return key, f"required key is missing ({DOCS})"
    if kind == "literal_error":
        tags = _tags(ctx)
        return key, f"{value!r} is not one of {', '.join(tags)}{did_you_mean(value, tags)}"
    return key, first["msg"].removeprefix("Value error, ")


def validation_to_scenario_error(err: ValidationError, source: str = "", root: type[BaseModel] | None = None
                                 ) -> ScenarioError:  # fmt: skip
    """One :class:`ScenarioError` for pydantic's report: the most telling error, its key as written.

    Args:
        err: pydantic's error; source: the file, for the message.
        root: the model that was validated (``RoadScenario`` or ``NetworkScenario``); it gives the
            keys for "did you mean" and tells union tags from keys.
    """
    errors = sorted(err.errors(), key=lambda e: _PRIORITY.get(e["type"], 2))
    key, reason = _message(root or BaseModel, errors[0])
    return ScenarioError(key, reason, source)
