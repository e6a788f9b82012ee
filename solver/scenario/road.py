"""Scenario files (YAML) -> validated pydantic models with every quantity in SI.

A quantity is a plain SI number or a ``"<number> <unit>"`` string; unknown keys, wrong units and
impossible values fail with a :class:`ScenarioError` naming the key as written, with a "did you
mean" (:mod:`solver.scenario.errors`). Every key, unit and default: docs/scenarios.md, generated
from these models by :mod:`solver.scenario.reference`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from solver.errors import ScenarioError
from solver.params import KMH, PhysicsParams
from solver.scenario.errors import validation_to_scenario_error
from solver.scenario.units import parse_quantity


class Quantity:
    """Validator of a physical quantity of one dimension (``density speed time length flow``):
    a plain SI number or a ``"<number> <unit>"`` string, converted to SI."""

    def __init__(self, dimension: str):
        self.dimension = dimension

    def __call__(self, value: object) -> float:
        """The value in SI units (raises ``UnitError`` naming the unit and the accepted ones)."""
        return parse_quantity(value, self.dimension)


def _q(dimension: str):
    return BeforeValidator(Quantity(dimension))


Density = Annotated[float, _q("density"), Field(ge=0)]
Speed = Annotated[float, _q("speed")]
Duration = Annotated[float, _q("time"), Field(ge=0)]
Length = Annotated[float, _q("length"), Field(gt=0)]
Position = Annotated[float, _q("length")]
Flow = Annotated[float, _q("flow"), Field(ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VmaxEntry(Strict):
    """Free speeds of one road quality R: `m` motorcycles, `c` cars (`physics.vmax`)."""

    m: Speed
    c: Speed


class PhysicsSpec(Strict):
    """Physics parameters of the multi-class ARZ model; defaults are the calibrated base set."""

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
    """A stretch of road with one quality R (`quality: [{from, to, quality}, ...]`)."""

    start: Position = Field(alias="from")
    end: Position = Field(alias="to")
    quality: int = Field(ge=1)


class RoadSpec(Strict):
    """The road of a single-road scenario (`road:`)."""

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
    """`initial: {type: uniform, state: ...}`: one state everywhere."""

    type: Literal["uniform"]
    state: State


class EquilibriumInit(Strict):
    """`initial: {type: equilibrium, rho_m, rho_c}`: each class at its equilibrium speed for the cell's R."""

    type: Literal["equilibrium"]
    rho_m: Density = 0.0
    rho_c: Density = 0.0


class RiemannInit(Strict):
    """`initial: {type: riemann, split, left, right}`: two states split at a position."""

    type: Literal["riemann"]
    split: Position
    left: State
    right: State


class SineInit(Strict):
    """`initial: {type: sine, ...}`: rho = background + amplitude sin(2 pi periods (x - x0) / length)."""

    type: Literal["sine"]
    background: State
    amplitude: State
    periods: float = 1.0


class HumpInit(Strict):
    """`initial: {type: hump, ...}`: a Gaussian density bump on a background state."""

    type: Literal["hump"]
    background: State
    amplitude: State
    center: Position
    width: Length


InitialSpec = Annotated[
    UniformInit | EquilibriumInit | RiemannInit | SineInit | HumpInit, Field(discriminator="type")
]
NetworkInitialSpec = Annotated[UniformInit | EquilibriumInit, Field(discriminator="type")]


class InflowBoundary(Strict):
    """`boundary.left/right: {type: inflow, state: ...}`: a state imposed at the boundary."""

    type: Literal["inflow"]
    state: State


BoundarySide = Union[Literal["outflow", "periodic", "wall"], InflowBoundary]  # noqa: UP007


class BoundarySpec(Strict):
    """`boundary:`: each side is outflow, periodic, wall or an inflow block."""

    left: BoundarySide = "outflow"
    right: BoundarySide = "outflow"

    @model_validator(mode="after")
    def _periodic_pairs(self):
        if (self.left == "periodic") != (self.right == "periodic"):
            raise ValueError("periodic must be set on both sides (left: periodic, right: periodic)")
        return self


class TimeSpec(Strict):
    """`time:`: end time and output interval."""

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
    """`numerics:`: reconstruction, flux and CFL number."""

    reconstruction: Literal["weno5", "first_order"] = "weno5"
    weno_weights: Literal["z", "js"] = "z"  # WENO-Z (default) or WENO-JS nonlinear weights
    flux: Literal["central_upwind", "hll"] = "central_upwind"
    cfl: float = Field(0.5, gt=0, le=1)


class RoadScenario(Strict):
    """A single road."""

    name: str
    description: str = ""
    physics: PhysicsSpec = PhysicsSpec()
    road: RoadSpec
    initial: InitialSpec
    boundary: BoundarySpec = BoundarySpec()
    time: TimeSpec
    numerics: NumericsSpec = NumericsSpec()


def load_mapping(data: dict, source: str = "") -> RoadScenario:
    """Validate a scenario mapping. Network scenarios (``links:``) go to :mod:`solver.network.compile`."""
    if not isinstance(data, dict):
        raise ScenarioError("", "a scenario file must be a YAML mapping", source)
    if "links" in data:
        from solver.network.compile import load_network_mapping

        return load_network_mapping(data, source)
    try:
        scenario = RoadScenario.model_validate(data)
    except ValidationError as err:
        raise validation_to_scenario_error(err, source, RoadScenario) from None
    from solver.scenario.checks import check_road_scenario

    check_road_scenario(scenario, source)
    return scenario


def load_scenario(path: str | Path):
    """Read and validate a scenario YAML file (single road or network).

    Raises:
        ScenarioError: unreadable file, bad YAML, unknown key, wrong unit, impossible value.
    """
    path = Path(path)
    if path.is_dir():
        raise ScenarioError("", f"{path} is a folder, not a scenario file (e.g. scenarios/red_light.yml)")
    if not path.is_file():
        raise ScenarioError("", f"no such scenario file: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ScenarioError("", f"not valid YAML ({err})", str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError("", f"cannot read {path} as a UTF-8 text file ({type(err).__name__})") from None
    return load_mapping(data, str(path))
