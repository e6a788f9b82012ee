"""Read a scenario file or mapping into the validated road or network model.

Validation is pydantic's (each key's own type, unit and range; errors rewritten by
:mod:`solver.scenario.errors` to name the key as written) followed by the cross-key checks of
:mod:`solver.scenario.checks`. A mapping with ``links:`` is a network, anything else a single road.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from solver.errors import ScenarioError
from solver.scenario.checks import check_network_scenario, check_road_scenario
from solver.scenario.errors import validation_to_scenario_error
from solver.scenario.network import NetworkScenario
from solver.scenario.road import RoadScenario


def _validated(model, check, data: dict, source: str):
    """``model`` validated from ``data`` and checked across keys by ``check`` (ScenarioError naming the key)."""
    try:
        scenario = model.model_validate(data)
    except ValidationError as err:
        raise validation_to_scenario_error(err, source, model) from None
    check(scenario, source)
    return scenario


def load_road_mapping(data: dict, source: str = "") -> RoadScenario:
    """Validate a single-road scenario mapping (raises ScenarioError naming the key)."""
    return _validated(RoadScenario, check_road_scenario, data, source)


def load_network_mapping(data: dict, source: str = "") -> NetworkScenario:
    """Validate a network scenario mapping (raises ScenarioError naming the key)."""
    return _validated(NetworkScenario, check_network_scenario, data, source)


def load_mapping(data: dict, source: str = "") -> RoadScenario | NetworkScenario:
    """Validate a scenario mapping: a network when it has ``links:``, else a single road.

    Raises:
        ScenarioError: not a mapping, unknown key, wrong unit, impossible value.
    """
    if not isinstance(data, dict):
        raise ScenarioError("", "a scenario file must be a YAML mapping", source)
    if "links" in data:
        return load_network_mapping(data, source)
    return load_road_mapping(data, source)


def load_scenario(path: str | Path) -> RoadScenario | NetworkScenario:
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
