"""Scenario files (YAML) -> validated pydantic models with every quantity in SI (DESIGN §5).

A quantity is a plain SI number or a ``"<number> <unit>"`` string; unknown keys, wrong units and
impossible values fail with a :class:`ScenarioError` naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from solver.errors import ScenarioError
from solver.params import KMH, PhysicsParams
from solver.units import parse_quantity


def _q(dimension: str):
    return BeforeValidator(lambda v: parse_quantity(v, dimension))


Density = Annotated[float, _q("density"), Field(ge=0)]
Speed = Annotated[float, _q("speed")]
Duration = Annotated[float, _q("time"), Field(ge=0)]
Length = Annotated[float, _q("length"), Field(gt=0)]
Position = Annotated[float, _q("length")]
Flow = Annotated[float, _q("flow"), Field(ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VmaxEntry(Strict):
    m: Speed
    c: Speed


class PhysicsSpec(Strict):
    """Any parameter of DESIGN §2; defaults are the calibrated base set."""

    alpha: float = Field(0.4, ge=0, le=1)
    rho_jam: Density = 0.25
    gamma_m: float = Field(1.5, gt=1)
    gamma_c: float = Field(2.0, gt=1)
    K_m: Speed = 5 * KMH
    K_c: Speed = 7.5 * KMH
    tau_m: Duration = 5.0
    tau_c: Duration = 10.0
    v_creep: Speed = 5 * KMH
    relaxation: bool = True
    vmax: dict[int, VmaxEntry] | None = None

    def to_params(self) -> PhysicsParams:
        """The frozen numerics parameters."""
        kwargs = self.model_dump(exclude={"vmax"})
        if self.vmax is not None:
            base = PhysicsParams().vmax
            kwargs["vmax"] = {**base, **{r: (e.m, e.c) for r, e in self.vmax.items()}}
        return PhysicsParams(**kwargs)


class QualitySegment(Strict):
    start: Position = Field(alias="from")
    end: Position = Field(alias="to")
    quality: int = Field(ge=1)


class RoadSpec(Strict):
    length: Length
    cells: int = Field(ge=8, le=1_000_000)
    quality: int | list[int] | list[QualitySegment] = 1

    @model_validator(mode="after")
    def _check_quality(self):
        if isinstance(self.quality, list) and self.quality and isinstance(self.quality[0], int):
            if len(self.quality) != self.cells:
                raise ValueError(f"quality lists one value per cell: got {len(self.quality)} values for {self.cells} cells")
        return self


class State(Strict):
    """Primitive state of both classes; a class left out is empty."""

    rho_m: Density = 0.0
    v_m: Speed = 0.0
    rho_c: Density = 0.0
    v_c: Speed = 0.0


class UniformInit(Strict):
    type: Literal["uniform"]
    state: State


class EquilibriumInit(Strict):
    type: Literal["equilibrium"]
    rho_m: Density = 0.0
    rho_c: Density = 0.0


class RiemannInit(Strict):
    type: Literal["riemann"]
    split: Position
    left: State
    right: State


class SineInit(Strict):
    type: Literal["sine"]
    background: State
    amplitude: State
    periods: float = 1.0


class HumpInit(Strict):
    type: Literal["hump"]
    background: State
    amplitude: State
    center: Position
    width: Length


InitialSpec = Annotated[
    UniformInit | EquilibriumInit | RiemannInit | SineInit | HumpInit, Field(discriminator="type")
]


class InflowBoundary(Strict):
    type: Literal["inflow"]
    state: State


BoundarySide = Union[Literal["outflow", "periodic", "wall"], InflowBoundary]  # noqa: UP007


class BoundarySpec(Strict):
    left: BoundarySide = "outflow"
    right: BoundarySide = "outflow"

    @model_validator(mode="after")
    def _periodic_pairs(self):
        if (self.left == "periodic") != (self.right == "periodic"):
            raise ValueError("periodic must be set on both sides (left: periodic, right: periodic)")
        return self


class TimeSpec(Strict):
    end: Duration
    output_every: Duration | None = None

    @model_validator(mode="after")
    def _positive(self):
        if self.end <= 0:
            raise ValueError("time.end must be > 0 (e.g. '60 s')")
        if self.output_every is not None and self.output_every <= 0:
            raise ValueError("output_every must be > 0 (e.g. '1 s')")
        return self


class NumericsSpec(Strict):
    reconstruction: Literal["weno5", "first_order"] = "weno5"
    weno_weights: Literal["z", "js"] = "z"  # WENO-Z (default) or WENO-JS nonlinear weights
    flux: Literal["central_upwind", "hll"] = "central_upwind"
    cfl: float = Field(0.5, gt=0, le=1)


class RoadScenario(Strict):
    """A single road (DESIGN §5)."""

    name: str
    description: str = ""
    physics: PhysicsSpec = PhysicsSpec()
    road: RoadSpec
    initial: InitialSpec
    boundary: BoundarySpec = BoundarySpec()
    time: TimeSpec
    numerics: NumericsSpec = NumericsSpec()


def _format_loc(loc: tuple) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "union[", "tagged-union["))]
    # drop pydantic's union-member tags (e.g. 'InflowBoundary', 'literal[...]')
    parts = [p for p in parts if not (p[:1].isupper() and p.isidentifier() and "_" not in p) and not p.startswith("literal[")]
    return ".".join(parts)


def validation_to_scenario_error(err: ValidationError, source: str = "") -> ScenarioError:
    """Turn pydantic's report into one line naming the first offending key."""
    first = err.errors()[0]
    key = _format_loc(first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key (check its spelling against DESIGN §5)"
    elif first["type"] == "missing":
        msg = "required key is missing"
    return ScenarioError(key, msg, source)


def load_mapping(data: dict, source: str = "") -> RoadScenario:
    """Validate a scenario mapping. Network scenarios (``links:``) go to :mod:`solver.network`."""
    if not isinstance(data, dict):
        raise ScenarioError("", "a scenario file must be a YAML mapping", source)
    if "links" in data:
        from solver.network import load_network_mapping

        return load_network_mapping(data, source)
    try:
        return RoadScenario.model_validate(data)
    except ValidationError as err:
        raise validation_to_scenario_error(err, source) from None


def load_scenario(path: str | Path):
    """Read and validate a scenario YAML file (single road or network).

    Raises:
        ScenarioError: unreadable file, bad YAML, unknown key, wrong unit, impossible value.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError("", f"no such scenario file: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ScenarioError("", f"not valid YAML ({err})", str(path)) from None
    return load_mapping(data, str(path))
