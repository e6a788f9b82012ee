"""Bad input to the lab commands: exit 2, one line naming the value, nothing written, no work done.

Every case runs the real typer app; "no work done" is seen as no output folder, nothing on stdout
and no compile notice (which each command prints just before its first kernel call on a cold cache).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kernel_payload.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
ROAD = """\
name: tiny
road: {length: 400 m, cells: 40}
initial: {type: uniform, state: {rho_m: 20 veh/km, v_m: 30 km/h}}
time: {end: 2 s}
"""


def _rejected(result, *expected: str) -> str:
    """The one stderr line of a rejected command; checks exit 2, no traceback, nothing on stdout."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def model_files(tmp_path):
    """A file that is not a zip, and a zip that is not a saved model."""
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return junk, other


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bogus", "fixed-time"], ["unknown controller 'bogus'", "fixed-time, fixed-time-peak, actuated, actuated-gap, max-pressure",
                                   "ppo:PATH"]),
        (["fixed-time", "max-presure"], ["unknown controller 'max-presure'", "did you mean 'max-pressure'"]),
        (["ppo"], ["unknown controller 'ppo'", "ppo:PATH, e.g."]),
        (["ppo:/missing.zip", "fixed-time"], ["model file not found: /missing.zip"]),
        (["ppo:", "fixed-time"], ["ppo: needs a model file"]),
        (["fixed-time", "fixed-time"], ["'fixed-time' is listed twice"]),
        (["fixed-time", "--env", "ARZ-Intersecton-v0"], ["--env: unknown environment 'ARZ-Intersecton-v0'",
                                                          "did you mean 'ARZ-Intersection-v0'"]),
        (["fixed-time", "--seeds", "100,-1"], ["--seeds: '-1' is not a non-negative integer"]),
        (["fixed-time", "--seeds", ","], ["--seeds:"]),
    ],
)
def test_evaluate_rejects_bad_names_before_any_work(tmp_path, args, expected):
    out = tmp_path / "eval"
    line = _rejected(runner.invoke(app, ["evaluate", *args, "--out", str(out)]), *expected)
    assert ".zip.zip" not in line
    assert not out.exists()


def test_evaluate_rejects_files_that_are_not_models(tmp_path, model_files):
    out = tmp_path / "eval"
    for bad in model_files:
        _rejected(runner.invoke(app, ["evaluate", f"ppo:{bad}", "--out", str(out)]),
                  f"model file {bad} is not a saved stable-baselines3 model")  # fmt: skip
    assert not out.exists()


def test_evaluate_rejects_a_model_that_does_not_load(tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("data", "{not json")
        archive.writestr("policy.pth", b"garbage")
    out = tmp_path / "eval"
    _rejected(runner.invoke(app, ["evaluate", f"ppo:{broken}", "fixed-time", "--out", str(out)]),
              f"cannot load model {broken}")  # fmt: skip
    assert not out.exists()


def test_evaluate_and_train_reject_an_output_path_that_is_a_file(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("x")
    _rejected(runner.invoke(app, ["evaluate", "fixed-time", "--out", str(taken)]), "--out:", "is not a folder")
    _rejected(runner.invoke(app, ["train", "--out", str(taken / "sub")]), "--out:", f"{taken} is a file")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--env", "ARZ-Arterial"], ["--env: unknown environment 'ARZ-Arterial'", "did you mean 'ARZ-Arterial-v0'"]),
        (["--seed", "-3"], ["--seed: -3 is negative"]),
        (["--device", "tpu"], ["device", "'tpu'", "auto", "gpu"]),
        (["--preset", "big"], ["preset", "'big'", "cpu"]),
    ],
)
def test_train_rejects_bad_options_before_any_work(tmp_path, args, expected):
    out = tmp_path / "ppo"
    _rejected(runner.invoke(app, ["train", *args, "--out", str(out)]), *expected)
    assert not out.exists()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("length: 400 m", "lenght: 400 m", ["road.lenght: unknown key (did you mean 'length'?)"]),
        ("type: uniform", "type: unifrom", ["initial.type: 'unifrom' is not one of uniform, equilibrium, riemann, "
                                            "sine, hump (did you mean 'uniform'?)"]),
        ("20 veh/km", "20 veh/kmh", ["initial.state.rho_m: unknown unit 'veh/kmh'"]),
        ("time: {end: 2 s}", "time: {end: 2 s, ouput_every: 1 s}", ["time.ouput_every", "did you mean 'output_every'"]),
        ("cells: 40", "cells: -40", ["road.cells"]),
    ],
)
def test_simulate_names_the_scenario_key_and_writes_nothing(tmp_path, old, new, expected):
    scenario, out = tmp_path / "s.yml", tmp_path / "sub" / "o.npz"
    scenario.write_text(ROAD.replace(old, new))
    _rejected(runner.invoke(app, ["simulate", str(scenario), "--out", str(out)]), *expected)
    assert not out.parent.exists()


def test_simulate_rejects_bad_backend_and_output_paths_before_running(tmp_path):
    scenario = tmp_path / "s.yml"
    scenario.write_text(ROAD)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [
        (["--out", str(tmp_path / "o.npz"), "--backend", "numba-gpu"], ["backend: unknown backend 'numba-gpu'"]),
        (["--out", str(tmp_path)], ["--out:", "is a folder"]),
        (["--out", str(a_file / "o.npz")], ["--out:", "is a file, not a folder"]),
        (["--out", str(tmp_path / "o.npz"), "--plot", str(a_file / "p.png")], ["--plot:"]),
    ]
    for args, expected in cases:
        _rejected(runner.invoke(app, ["simulate", str(scenario), *args]), *expected)
    assert not (tmp_path / "o.npz").exists()
    network = ROOT / "scenarios" / "red_light.yml"
    _rejected(runner.invoke(app, ["simulate", str(network), "--out", str(tmp_path / "n.npz"), "--backend", "numpy"]),
              "--backend: network scenarios run on numba-cpu only")  # fmt: skip
    assert not (tmp_path / "n.npz").exists()


def test_verify_and_bench_reject_bad_options():
    _rejected(runner.invoke(app, ["verify", "--level", "quik"]), "--level: unknown level 'quik'", "did you mean 'quick'")
    _rejected(runner.invoke(app, ["bench", "--device", "gpuu"]), "--device: unknown device 'gpuu' (did you mean 'gpu'?)")


def test_arz_evaluate_through_the_real_entry_point(tmp_path):
    """The `arz` console entry point forwards to the lab app: same exit code and one line."""
    out = tmp_path / "eval"
    proc = subprocess.run([sys.executable, "-c", "from orchestrator.cli import main; main()", "evaluate",
                           "ppo:/missing.zip", "fixed-time", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "error: model file not found: /missing.zip Fix: train one with `arz train " \
        "--out DIR` and pass ppo:DIR/model.zip"
    assert proc.stdout == "" and not out.exists()


def test_train_on_the_gpu_without_one_is_rejected_with_the_fix(tmp_path, monkeypatch):
    from solver import device

    monkeypatch.setattr(device, "gpu_available", lambda: False)
    out = tmp_path / "ppo"
    _rejected(runner.invoke(app, ["train", "--device", "gpu", "--out", str(out)]), "no usable NVIDIA GPU")
    assert not out.exists()
