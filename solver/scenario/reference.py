"""docs/scenarios.md, generated from the scenario models: every key, its type, unit and default.

``python -m solver.scenario.reference > docs/scenarios.md`` regenerates the file (also
``make verify-docs``); a test fails when the file and the models disagree, and another when a
key has no entry in :data:`MEANING`.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from solver.scenario.errors import union_members
from solver.scenario.network import NetworkScenario
from solver.scenario.road import Quantity, RoadScenario
from solver.scenario.units import SI_UNIT, units_of

#: what each key means (keys shared by several blocks have one entry)
MEANING: dict[str, str] = {
    "name": "short name of the scenario", "description": "free text",
    "physics": "model parameters (block below)", "road": "the single road (block below)",
    "initial": "initial state (one of the `type`s below)", "boundary": "boundary conditions",
    "time": "simulated time", "numerics": "scheme settings",
    "alpha": "gap filling: weight of cars in the motorcycles' effective density",
    "rho_jam": "jam density (both classes together)", "gamma_m": "pressure exponent, motorcycles",
    "gamma_c": "pressure exponent, cars", "K_m": "pressure scale, motorcycles", "K_c": "pressure scale, cars",
    "tau_m": "relaxation time, motorcycles", "tau_c": "relaxation time, cars",
    "v_creep": "creeping speed of motorcycles through jammed cars",
    "relaxation": "false: the homogeneous ARZ system (no relaxation term)",
    "vmax": "road quality R -> {m, c} free speeds, overriding the defaults (R1 85/75 ... R5 30/10 km/h)",
    "m": "motorcycles", "c": "cars", "length": "length", "cells": "number of finite-volume cells",
    "quality": "road quality R: one integer, one per cell, or a list of {from, to, quality} segments",
    "from": "start (position, or node id for a link)", "to": "end (position, or node id for a link)",
    "type": "which kind of block this is", "state": "a state: {rho_m, v_m, rho_c, v_c}",
    "rho_m": "density of motorcycles", "v_m": "speed of motorcycles", "rho_c": "density of cars",
    "v_c": "speed of cars", "split": "position of the jump", "left": "left state / left end",
    "right": "right state / right end", "background": "the state the perturbation sits on",
    "amplitude": "density amplitude per class (speeds stay at the background's)",
    "periods": "sine periods over the road", "center": "centre of the Gaussian bump",
    "width": "standard deviation of the bump", "end": "end time of the simulation",
    "output_every": "time between stored frames (default: every step's end only)",
    "reconstruction": "reconstruction of the conserved variables",
    "weno_weights": "WENO5 nonlinear weights: z (WENO-Z, keeps fifth order at smooth extrema) or js (Jiang-Shu, for comparison)", "flux": "numerical flux",
    "cfl": "CFL number of the SSP-RK3 step", "links": "road links (block below)",
    "nodes": "entry, exit and junction nodes (block below)",
    "decision_interval": "time between signal decisions (controllers, RL)",
    "observe": "link and cells observed by the RL agent", "queue_threshold":
    "a cell counts as queued above this fraction of rho_jam", "supply_limited_links":
    "links take only what the next link can receive", "id": "identifier",
    "kind": "entry (demand), exit (free discharge) or junction", "demand": "entry demand (entries only)",
    "turning": "incoming link -> {outgoing link: ratio}, ratios sum to 1",
    "signal": "signal plan of a junction", "interpolation": "between demand points",
    "phases": "signal phases (at least two)", "yellow": "yellow time", "all_red": "all-red time",
    "min_green": "minimum green", "max_green": "maximum green (actuated control)",
    "plan": "fixed plan: phases and their greens, repeated", "phase": "phase index",
    "green": "green time (plan step) / incoming links given green (phase)", "link": "link id",
}




def _dimension(tp: Any, metadata: list) -> str | None:
    found = [getattr(m, "func", None) for m in metadata]
    if typing.get_origin(tp) is typing.Annotated:
        found += [getattr(m, "func", None) for m in typing.get_args(tp)[1:]]
    return next((f.dimension for f in found if isinstance(f, Quantity)), None)


def _type_name(tp: Any, metadata: list = ()) -> str:
    """A short human name of a field's type (``length``, ``one of weno5, first_order``, ...)."""
    dim = _dimension(tp, list(metadata))
    if dim:
        return f"{dim} ({', '.join(units_of(dim))})"
    names = []
    for m in union_members(tp):
        origin = typing.get_origin(m)
        if m is type(None):
            continue
        if origin is Literal:
            names.append("one of " + ", ".join(str(a) for a in typing.get_args(m)))
        elif isinstance(m, type) and issubclass(m, BaseModel):
            names.append(f"`{m.__name__}` block")
        elif origin in (list, tuple):
            inner = ", ".join(_type_name(a) for a in typing.get_args(m) if a is not Ellipsis)
            names.append(f"[{inner}] pairs" if origin is tuple else f"list of {inner}")
        elif origin is dict:
            key, value = typing.get_args(m)
            names.append(f"map {_type_name(key)} -> {_type_name(value)}")
        else:
            names.append(getattr(m, "__name__", str(m)))
    return " or ".join(names)


def _bounds(metadata: list) -> str:
    """``>= 0``, ``> 1``, ``<= 1`` ... from a field's constraints."""
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "length >="}
    out = [f"{sign} {getattr(m, attr)}" for m in metadata for attr, sign in signs.items()
           if getattr(m, attr, None) is not None]  # fmt: skip
    return f"; {', '.join(out)}" if out else ""


def _default(field: Any, dim: str | None) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel) or value == [] or value is None:
        return "-" if value is None or value == [] else "defaults"
    if dim and isinstance(value, float):
        shown = {"speed": (3.6, "km/h"), "density": (1000.0, "veh/km")}.get(dim)
        extra = f" ({value * shown[0]:.4g} {shown[1]})" if shown else ""
        return f"{value:.4g} {SI_UNIT[dim]}{extra}"
    return f"`{value!r}`" if isinstance(value, str) and not value else f"`{value}`" if isinstance(value, str) \
        else str(value)


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """``root`` and every model reachable from its fields, in reading order."""
    seen: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        for m in union_members(tp):
            if isinstance(m, type) and issubclass(m, BaseModel):
                if m not in seen:
                    seen.append(m)
                    for f in m.model_fields.values():
                        visit(f.annotation)
            else:
                for arg in typing.get_args(m):
                    visit(arg)

    visit(root)
    return seen


def model_table(model: type[BaseModel]) -> str:
    """The Markdown table of one model's keys."""
    lines = [f"### `{model.__name__}`", "", (model.__doc__ or "").strip().splitlines()[0], "",
             "| key | type (units) | default | meaning |", "|---|---|---|---|"]  # fmt: skip
    for name, field in model.model_fields.items():
        key = field.alias or name
        dim = _dimension(field.annotation, field.metadata)
        kind = _type_name(field.annotation, field.metadata) + _bounds(field.metadata)
        lines.append(f"| `{key}` | {kind} | {_default(field, dim)} | {MEANING.get(key, '')} |")
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """The whole of docs/scenarios.md."""
    units = "\n".join(f"| {dim} | {SI_UNIT[dim]} | {', '.join(units_of(dim))} |" for dim in SI_UNIT)
    parts = [
        "# Scenario files: every key\n",
        "_Generated from the pydantic models by `python -m solver.scenario.reference > docs/scenarios.md`; "
        "do not edit by hand (a test fails when this file is stale)._\n",
        "A scenario is a YAML mapping. Unknown keys are errors (the message names the key and the "
        "closest known one). A single road has `road:`; a network has `links:` and `nodes:`. "
        "Shipped examples: `scenarios/`.\n",
        "Checked across keys (`solver/scenario/checks.py`): every road quality R used has free speeds "
        "(the defaults R1-R5, or `physics.vmax`); initial densities `rho_m + rho_c` stay at or below "
        "`physics.rho_jam`; a Riemann `split` or hump `center` lies on the road; quality segments lie "
        "inside the road with `from < to`.\n",
        "## Quantities\n",
        "A physical quantity is a plain number in SI or a string `\"<number> <unit>\"` with a unit "
        "of its dimension:\n",
        "| dimension | SI unit | accepted units |\n|---|---|---|\n" + units + "\n",
        "## Single-road scenarios\n",
        *(model_table(m) for m in _models(RoadScenario)),
        "## Network scenarios\n",
        "Blocks already described above (`PhysicsSpec`, `TimeSpec`, ...) are not repeated.\n",
        *(model_table(m) for m in _models(NetworkScenario) if m not in _models(RoadScenario)),
    ]
    return "\n".join(parts)


def undocumented_keys() -> list[str]:
    """Keys of any scenario model without an entry in :data:`MEANING`."""
    keys = {f.alias or n for root in (RoadScenario, NetworkScenario) for m in _models(root)
            for n, f in m.model_fields.items()}  # fmt: skip
    return sorted(keys - set(MEANING))


if __name__ == "__main__":
    print(reference_markdown(), end="")
