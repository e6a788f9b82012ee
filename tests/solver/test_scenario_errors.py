"""Scenario files: bad input fails with a ScenarioError naming the key; shipped files load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from solver.errors import ScenarioError
from solver.scenario.loader import load_mapping, load_scenario
from solver.scenario.road import RoadScenario
from solver.verification.cases import RING

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


NETWORK = ROOT / "scenarios" / "red_light.yml"


def _network_with(initial: dict) -> dict:
    data = yaml.safe_load(NETWORK.read_text())
    data["initial"] = initial
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with("initial.type", "equlibrium"),
         "initial.type: 'equlibrium' is not one of uniform, equilibrium, riemann, sine, hump "
         "(did you mean 'equilibrium'?)"),
        (_network_with({"type": "equlibrium", "rho_m": "40 veh/km"}),
         "initial.type: 'equlibrium' is not one of uniform, equilibrium (did you mean 'equilibrium'?)"),
        (_network_with({"type": "equilibrium", "rho_m": "40 kmh"}), "initial.rho_m: unknown unit 'kmh'"),
        (_network_with({"type": "equilibrium", "rho_cars": "4 veh/km"}),
         "initial.rho_cars: unknown key (did you mean 'rho_c'?)"),
        (_network_with({"rho_m": "4 veh/km"}), "initial.type: required key is missing: give one of uniform, equilibrium"),
        ({**{k: v for k, v in BASE.items() if k != "road"}, "road": {"lenght": "1 km", "cells": 50}},
         "road.lenght: unknown key (did you mean 'length'?); road takes length, cells, quality"),
        (_with("phisics", {}), "phisics: unknown key (did you mean 'physics'?)"),
        (_with("boundary.left", "outflw"), "boundary.left: 'outflw' is not one of outflow, periodic, wall "
                                           "(did you mean 'outflow'?)"),
        (_with("initial.state.rho_m", "-3 veh/km"), "initial.state.rho_m: Input should be greater than or equal to 0"),
    ],
)
def test_errors_name_the_key_as_written_with_a_suggestion(data, message):
    with pytest.raises(ScenarioError) as info:
        load_mapping(data)
    assert str(info.value).startswith(message)
    assert "DESIGN" not in str(info.value)


def test_misspelt_link_key_in_a_network_names_the_list_item():
    data = yaml.safe_load(NETWORK.read_text())
    data["links"][0]["lenght"] = data["links"][0].pop("length")
    with pytest.raises(ScenarioError, match=r"^links\[0\]\.lenght: unknown key \(did you mean 'length'\?\)"):
        load_mapping(data)


def test_scenario_reference_is_current_and_complete():
    """docs/scenarios.md is what the models generate, and every key has a meaning."""
    from solver.scenario.reference import reference_markdown, undocumented_keys

    assert undocumented_keys() == []
    doc = ROOT / "docs" / "scenarios.md"
    assert doc.read_text() == reference_markdown(), \
        "docs/scenarios.md is stale: python -m solver.scenario.reference > docs/scenarios.md"
    for key in ("rho_jam", "output_every", "supply_limited_links", "max_green"):
        assert f"| `{key}` |" in doc.read_text()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with("road.quality", 6), "road.quality: road quality [6] has no free speeds (known R: [1, 2, 3, 4, 5])"),
        (_with("road.quality", [{"from": "0 m", "to": "2 km", "quality": 2}]),
         "road.quality[0]: segment from 0 m to 2000 m is not inside the road"),
        (_with("initial.state.rho_m", "300 veh/km"), "initial.state: rho_m + rho_c = 300 veh/km is above the jam density"),
        (_with("initial", {"type": "riemann", "split": "5 km", "left": {}, "right": {}}),
         "initial.split: 5000 m is not on the road (0 to 1000 m)"),
        (_network_with({"type": "equilibrium", "rho_m": "200 veh/km", "rho_c": "60 veh/km"}),
         "initial: rho_m + rho_c = 260 veh/km is above the jam density"),
    ],
)
def test_keys_that_disagree_with_each_other_are_named(data, message):
    with pytest.raises(ScenarioError) as info:
        load_mapping(data)
    assert str(info.value).startswith(message)


def test_a_quality_given_free_speeds_in_physics_is_accepted():
    data = _with("road.quality", 6)
    data["physics"] = {"vmax": {6: {"m": "20 km/h", "c": "10 km/h"}}}
    assert load_mapping(data).road.quality == 6


def test_a_folder_or_a_binary_file_is_not_a_scenario(tmp_path):
    with pytest.raises(ScenarioError, match="is a folder, not a scenario file"):
        load_scenario(tmp_path)
    binary = tmp_path / "s.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="cannot read .* as a UTF-8 text file"):
        load_scenario(binary)
