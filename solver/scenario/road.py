"""Scenario files (YAML) -> validated pydantic models with every quantity in SI.

A quantity is a plain SI number or a ``"<number> <unit>"`` string; unknown keys, wrong units and
impossible values fail with a :class:`ScenarioError` naming the key as written, with a "did you
mean" (:mod:`solver.scenario.errors`). Every key, unit and default: docs/scenarios.md, generated
from these models by :mod:`solver.scenario.reference`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from solver.params import PhysicsParams
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


_BASE = PhysicsParams()  # the calibrated base set: defaults are written once, in solver.params


class PhysicsSpec(Strict):
    """Physics parameters of the multi-class ARZ model; defaults are the calibrated base set."""

    alpha: float = Field(_BASE.alpha, ge=0, le=1)
    rho_jam: Density = _BASE.rho_jam
    gamma_m: float = Field(_BASE.gamma_m, gt=1)
    gamma_c: float = Field(_BASE.gamma_c, gt=1)
    K_m: Speed = _BASE.K_m
    K_c: Speed = _BASE.K_c
    tau_m: Duration = _BASE.tau_m
    tau_c: Duration = _BASE.tau_c
    v_creep: Speed = _BASE.v_creep
    relaxation: bool = _BASE.relaxation
    vmax: dict[int, VmaxEntry] | None = None

    def to_params(self) -> PhysicsParams:
        """The frozen numerics parameters."""
        kwargs = self.model_dump(exclude={"vmax"})
        if self.vmax is not None:
            kwargs["vmax"] = {**_BASE.vmax, **{r: (e.m, e.c) for r, e in self.vmax.items()}}
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
