"""Physical quantities in scenario files: plain SI numbers or ``"<number> <unit>"`` strings.

The unit table is fixed (DESIGN §5). Each quantity has a *dimension*; a unit of another dimension
is an error that names the unit and lists the accepted ones.
"""

from __future__ import annotations

import re

#: unit -> (dimension, factor to SI)
UNITS: dict[str, tuple[str, float]] = {
    "veh/m": ("density", 1.0),
    "veh/km": ("density", 1e-3),
    "m/s": ("speed", 1.0),
    "km/h": ("speed", 1000.0 / 3600.0),
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "veh/s": ("flow", 1.0),
    "veh/h": ("flow", 1.0 / 3600.0),
}

SI_UNIT = {"density": "veh/m", "speed": "m/s", "time": "s", "length": "m", "flow": "veh/s"}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/]+)\s*$")


class UnitError(ValueError):
    """A quantity could not be read: bad syntax, unknown unit, or a unit of another dimension."""


def units_of(dimension: str) -> list[str]:
    """Units accepted for ``dimension`` (e.g. ``"speed"`` -> ``["m/s", "km/h"]``)."""
    return [u for u, (d, _) in UNITS.items() if d == dimension]


def parse_quantity(value: object, dimension: str) -> float:
    """Convert a number (SI) or a ``"<number> <unit>"`` string into SI.

    Args:
        value: e.g. ``0.02``, ``20``, ``"20 veh/km"``, ``"60 km/h"``.
        dimension: one of ``density speed time length flow``.

    Returns:
        The value in SI units (veh/m, m/s, s, m, veh/s).

    Raises:
        UnitError: with a message naming the unit and the accepted ones.
    """
    accepted = ", ".join(units_of(dimension))
    if isinstance(value, bool):
        raise UnitError(f"expected a {dimension} (number in {SI_UNIT[dimension]} or one of {accepted}), got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a {dimension} like '10 {units_of(dimension)[-1]}', got {value!r}")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"cannot read {value!r} as a {dimension}: write '<number> <unit>' with a unit among {accepted}")
    number, unit = float(match.group(1)), match.group(2)
    if unit not in UNITS:
        raise UnitError(f"unknown unit {unit!r} in {value!r}: a {dimension} takes one of {accepted}")
    unit_dim, factor = UNITS[unit]
    if unit_dim != dimension:
        raise UnitError(f"unit {unit!r} in {value!r} is a {unit_dim}, but a {dimension} is expected: use one of {accepted}")
    return number * factor
