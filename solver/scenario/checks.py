"""Checks across keys of a validated scenario: what each key allows alone but not together.

Run by :func:`solver.scenario.loader.load_mapping` after pydantic (each key's own type, unit and range):
a road quality R with no free speeds, an initial density above the jam density, a Riemann split
or quality segment outside the road. Each failure is a :class:`ScenarioError` naming the key as
the user wrote it, so a file that loads also runs.
"""

from __future__ import annotations

from solver.errors import ScenarioError
from solver.params import PhysicsParams

DOCS = "docs/scenarios.md"


def _per_km(rho: float) -> str:
    return f"{rho * 1000:.4g} veh/km"


def check_quality(quality, length: float, known: list[int], key: str, source: str) -> None:
    """Every R used has free speeds; piecewise segments lie on the road, ``from`` before ``to``."""
    if isinstance(quality, int):
        used = {quality}
    elif quality and isinstance(quality[0], int):
        used = set(quality)
    else:
        used = set()
        for i, seg in enumerate(quality or []):
            used.add(seg.quality)
            if not 0.0 <= seg.start < seg.end <= length + 1e-9:
                raise ScenarioError(f"{key}[{i}]", f"segment from {seg.start:g} m to {seg.end:g} m is not "
                                    f"inside the road (0 to {length:g} m) with from < to", source)  # fmt: skip
    missing = sorted(r for r in used if r not in known)
    if missing:
        raise ScenarioError(key, f"road quality {missing} has no free speeds (known R: {known}); use one of "
                            f"those or add physics.vmax: {{{missing[0]}: {{m: .., c: ..}}}} ({DOCS})", source)  # fmt: skip


def _states(initial) -> list[tuple[str, float, float]]:
    """(key, rho_m, rho_c) of every state an initial block sets, at its largest."""
    kind = initial.type
    if kind == "equilibrium":
        return [("initial", initial.rho_m, initial.rho_c)]
    if kind == "uniform":
        return [("initial.state", initial.state.rho_m, initial.state.rho_c)]
    if kind == "riemann":
        return [(f"initial.{side}", s.rho_m, s.rho_c) for side, s in (("left", initial.left), ("right", initial.right))]
    bg, amp = initial.background, initial.amplitude
    return [("initial", bg.rho_m + abs(amp.rho_m), bg.rho_c + abs(amp.rho_c))]


def check_initial(initial, length: float | None, params: PhysicsParams, source: str) -> None:
    """Initial densities at most the jam density; a Riemann split or hump centre on the road."""
    if initial is None:
        return
    for key, rho_m, rho_c in _states(initial):
        if rho_m + rho_c > params.rho_jam * (1 + 1e-9):
            what = "rho_m + rho_c" + (" (background + amplitude)" if initial.type in ("sine", "hump") else "")
            raise ScenarioError(key, f"{what} = {_per_km(rho_m + rho_c)} is above the jam density "
                                f"physics.rho_jam = {_per_km(params.rho_jam)}", source)  # fmt: skip
    if length is None:
        return
    where = {"riemann": "split", "hump": "center"}.get(initial.type)
    if where and not 0.0 <= getattr(initial, where) <= length:
        raise ScenarioError(f"initial.{where}", f"{getattr(initial, where):g} m is not on the road "
                            f"(0 to {length:g} m)", source)  # fmt: skip


def check_road_scenario(sc, source: str = "") -> None:
    """Cross-key checks of a single-road scenario (see the module docstring)."""
    params = sc.physics.to_params()
    check_quality(sc.road.quality, sc.road.length, sorted(params.vmax), "road.quality", source)
    check_initial(sc.initial, sc.road.length, params, source)


def check_network_scenario(sc, source: str = "") -> None:
    """Cross-key checks of a network scenario: every link's quality, the initial densities."""
    params = sc.physics.to_params()
    for i, link in enumerate(sc.links):
        check_quality(link.quality, link.length, sorted(params.vmax), f"links[{i}].quality", source)
    check_initial(sc.initial, None, params, source)
