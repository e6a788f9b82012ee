"""Scenario files: bad input fails with a ScenarioError naming the key; shipped files load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from solver.errors import ScenarioError
from solver.scenario import RoadScenario, load_mapping, load_scenario
from solver.verification_cases import RING

ROOT = Path(__file__).resolve().parents[2]
ROAD_SCENARIOS = ["riemann_shock", "riemann_rarefaction", "riemann_vacuum", "ring_road"]
BASE = {
    "name": "t",
    "road": {"length": "1 km", "cells": 50},
    "initial": {"type": "uniform", "state": {"rho_m": "10 veh/km", "v_m": "30 km/h"}},
    "time": {"end": "10 s"},
}


def _with(path: str, value) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "key", "reason"),
    [
        ("road.colour", "red", "road.colour", "unknown key"),
        ("physics.K_m", "20 km/hr", "physics.K_m", "unknown unit 'km/hr'"),
        ("physics.K_c", "3 veh/km", "physics.K_c", "is a density, but a speed is expected"),
        ("road.length", "5 km/h", "road.length", "is a speed, but a length is expected"),
        ("road.cells", 3, "road.cells", "greater than or equal to 8"),
        ("time.end", "0 s", "time", "time.end must be > 0"),
        ("boundary.left", "periodic", "boundary", "periodic must be set on both sides"),
        ("numerics.reconstruction", "weno7", "numerics.reconstruction", "weno5"),
    ],
)
def test_bad_values_name_the_key(path, value, key, reason):
    with pytest.raises(ScenarioError) as info:
        load_mapping(_with(path, value), "x.yml")
    assert info.value.key == key
    assert reason in info.value.reason
    assert "\n" not in str(info.value)


def test_bad_value_inside_a_tagged_union_names_the_key():
    # pydantic puts the union tag ('uniform') into the path; the key itself must still be there
    with pytest.raises(ScenarioError) as info:
        load_mapping(_with("initial.state.rho_m", "-3 veh/km"))
    assert info.value.key.startswith("initial.") and info.value.key.endswith("state.rho_m")
    assert "greater than or equal to 0" in info.value.reason


def test_missing_key_and_missing_file_and_bad_yaml(tmp_path):
    data = dict(BASE)
    del data["time"]
    with pytest.raises(ScenarioError, match="time: required key is missing"):
        load_mapping(data)
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)


@pytest.mark.parametrize("name", ROAD_SCENARIOS)
def test_shipped_road_scenarios_load(name):
    assert isinstance(load_scenario(ROOT / "scenarios" / f"{name}.yml"), RoadScenario)


def test_ring_road_file_is_the_verification_ring():
    shipped = load_scenario(ROOT / "scenarios" / "ring_road.yml")
    ring = RoadScenario.model_validate({"name": shipped.name, "description": shipped.description,
                                        "time": shipped.time.model_dump(), **RING})  # fmt: skip
    assert shipped == ring
