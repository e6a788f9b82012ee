"""Network scenario files: links joined at entry, exit and junction nodes (keys: docs/scenarios.md).

Validated by pydantic with ``extra="forbid"``; quantities in SI or ``"<number> <unit>"``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from solver.scenario.road import (
    Duration,
    Flow,
    Length,
    NetworkInitialSpec,
    NumericsSpec,
    PhysicsSpec,
    QualitySegment,
    Strict,
    TimeSpec,
)


class LinkSpec(Strict):
    """One road link of a network (`links: [...]`), from one node to another."""

    id: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    length: Length
    cells: int = Field(ge=8, le=100_000)
    quality: int | list[int] | list[QualitySegment] = 1


class DemandSpec(Strict):
    """Demand profile per class: ``[[time, flow], ...]`` pairs (veh/h or any flow unit)."""

    m: list[tuple[Duration, Flow]] = [(0.0, 0.0)]
    c: list[tuple[Duration, Flow]] = [(0.0, 0.0)]
    interpolation: Literal["step", "linear"] = "step"

    @model_validator(mode="after")
    def _sorted(self):
        for name in ("m", "c"):
            times = [t for t, _ in getattr(self, name)]
            if not times or times != sorted(times):
                raise ValueError(f"demand.{name} needs [time, flow] pairs in increasing time")
        return self


class PhaseSpec(Strict):
    """One signal phase: the incoming links that get green."""

    name: str = ""
    green: list[str]


class PlanStep(Strict):
    """One step of a fixed signal plan: a phase and its green time."""

    phase: int = Field(ge=0)
    green: Duration


class SignalSpec(Strict):
    """A junction's signal: phases, clearance times and an optional fixed plan."""

    phases: list[PhaseSpec] = Field(min_length=2)
    yellow: Duration = 3.0
    all_red: Duration = 2.0
    min_green: Duration = 5.0
    max_green: Duration = 120.0
    plan: list[PlanStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _plan(self):
        for step in self.plan:
            if step.phase >= len(self.phases):
                raise ValueError(f"plan refers to phase {step.phase} but only {len(self.phases)} phases exist")
        return self


class NodeSpec(Strict):
    """One node of a network (`nodes: [...]`): entry, exit or junction."""

    id: str
    kind: Literal["entry", "exit", "junction"]
    demand: DemandSpec | None = None
    turning: dict[str, dict[str, float]] | None = None
    signal: SignalSpec | None = None


class ObserveSpec(Strict):
    """The link and cells the RL agent observes."""

    link: str
    cells: list[int]


class NetworkScenario(Strict):
    """A road network with optional signals."""

    name: str
    description: str = ""
    physics: PhysicsSpec = PhysicsSpec()
    numerics: NumericsSpec = NumericsSpec()
    time: TimeSpec
    initial: NetworkInitialSpec | None = None
    links: list[LinkSpec] = Field(min_length=1)
    nodes: list[NodeSpec] = Field(min_length=2)
    decision_interval: Duration = 5.0
    observe: ObserveSpec | None = None
    queue_threshold: float = Field(0.3, gt=0, lt=1)
    supply_limited_links: bool = True

    @model_validator(mode="after")
    def _topology(self):
        node_ids = [n.id for n in self.nodes]
        link_ids = [lk.id for lk in self.links]
        for ids, what in ((node_ids, "node"), (link_ids, "link")):
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"duplicate {what} id(s) {sorted(dup)}")
        kinds = {n.id: n.kind for n in self.nodes}
        for lk in self.links:
            for end in (lk.start, lk.end):
                if end not in kinds:
                    raise ValueError(f"link {lk.id!r} refers to unknown node {end!r}")
        for node in self.nodes:
            ins = [lk.id for lk in self.links if lk.end == node.id]
            outs = [lk.id for lk in self.links if lk.start == node.id]
            _check_node(node, ins, outs)
        if self.observe and self.observe.link not in link_ids:
            raise ValueError(f"observe.link {self.observe.link!r} is not a link")
        return self


def _check_node(node: NodeSpec, ins: list[str], outs: list[str]) -> None:
    where = f"node {node.id!r}"
    if node.kind == "entry":
        if ins or len(outs) != 1 or node.demand is None:
            raise ValueError(f"{where}: an entry has no incoming link, one outgoing link and a demand")
    elif node.kind == "exit":
        if outs or len(ins) != 1:
            raise ValueError(f"{where}: an exit has exactly one incoming link and no outgoing link")
    else:
        if not ins or not outs:
            raise ValueError(f"{where}: a junction needs incoming and outgoing links")
        if node.demand is not None:
            raise ValueError(f"{where}: only entries take a demand")
        turning = node.turning or {}
        for src, row in turning.items():
            if src not in ins:
                raise ValueError(f"{where}: turning row {src!r} is not an incoming link ({ins})")
            bad = [dst for dst in row if dst not in outs]
            if bad:
                raise ValueError(f"{where}: turning {src!r} -> {bad} are not outgoing links ({outs})")
            if abs(sum(row.values()) - 1.0) > 1e-9 or min(row.values()) < 0:
                raise ValueError(f"{where}: turning ratios of {src!r} must be >= 0 and sum to 1")
        if len(outs) > 1 and set(turning) != set(ins):
            raise ValueError(f"{where}: give a turning row for each incoming link {ins}")
        if node.signal:
            for ph in node.signal.phases:
                bad = [a for a in ph.green if a not in ins]
                if bad:
                    raise ValueError(f"{where}: phase greens {bad} are not incoming links ({ins})")
