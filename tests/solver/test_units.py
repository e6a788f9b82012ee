"""Quantities in scenario files: SI numbers or '<number> <unit>' strings (DESIGN §5)."""

from __future__ import annotations

import pytest

from solver.scenario.units import UnitError, parse_quantity, units_of


@pytest.mark.parametrize(
    ("text", "dimension", "si"),
    [
        ("250 veh/km", "density", 0.25),
        ("0.02 veh/m", "density", 0.02),
        ("5 km/h", "speed", 5 / 3.6),
        ("12.5 m/s", "speed", 12.5),
        ("2 h", "time", 7200.0),
        ("10 min", "time", 600.0),
        ("1.5e3 m", "length", 1500.0),
        ("5 km", "length", 5000.0),
        ("1800 veh/h", "flow", 0.5),
        (" 3 veh/s ", "flow", 3.0),
        ("-10 km/h", "speed", -10 / 3.6),
        (42, "length", 42.0),
        (0.5, "speed", 0.5),
        ("7", "time", 7.0),
    ],
)
def test_parses_to_si(text, dimension, si):
    assert parse_quantity(text, dimension) == pytest.approx(si, rel=1e-15)


def test_unknown_unit_names_the_unit_and_the_accepted_ones():
    with pytest.raises(UnitError, match=r"unknown unit 'km/hr'.*m/s, km/h"):
        parse_quantity("20 km/hr", "speed")


def test_unit_of_another_dimension_is_refused():
    with pytest.raises(UnitError, match=r"'veh/km'.*is a density, but a speed is expected"):
        parse_quantity("20 veh/km", "speed")


@pytest.mark.parametrize("value", ["fast", "km/h 20", "", True, None, [1, 2]])
def test_unreadable_values_are_refused(value):
    with pytest.raises(UnitError):
        parse_quantity(value, "speed")


def test_units_of_lists_each_dimension():
    assert units_of("speed") == ["m/s", "km/h"]
    assert units_of("time") == ["s", "min", "h"]
