"""The lab commands through typer's CliRunner: simulate -> NPZ, verify, bench, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kernel_payload.cli.app import app
from kernel_payload.cli.lab import DOCS_BEGIN, DOCS_END

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
TINY = """\
name: tiny
physics: {relaxation: true}
road: {length: 400 m, cells: 40, quality: 2}
initial:
  type: riemann
  split: 200 m
  left: {rho_m: 90 veh/km, v_m: 10 km/h, rho_c: 20 veh/km, v_c: 10 km/h}
  right: {rho_m: 30 veh/km, v_m: 40 km/h, rho_c: 10 veh/km, v_c: 35 km/h}
time: {end: 4 s, output_every: 1 s}
"""


def _one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_simulate_writes_the_npz_layout(tmp_path):
    out = tmp_path / "sub" / "shock.npz"
    result = runner.invoke(app, ["simulate", str(ROOT / "scenarios/riemann_shock.yml"), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    data = np.load(out)
    nt, nx = data["t"].size, data["x"].size
    assert (nt, nx) == (31, 400) == (summary["nt"], summary["nx"])
    for key in ("rho_m", "v_m", "rho_c", "v_c", "w_m", "w_c"):
        assert data[key].shape == (nt, nx)
    assert data["x"][0] == pytest.approx(1.25) and data["t"][-1] == pytest.approx(30.0)
    assert data["rho_m"][0, 0] == pytest.approx(0.02) and data["v_m"][0, 0] == pytest.approx(60 / 3.6)
    ledger = json.loads(str(data["ledger"]))
    assert ledger == summary["ledger"]
    assert abs(ledger["m"]["residual"]) < 1e-10 and ledger["m"]["exited"] > 0.0


def test_simulate_with_the_numpy_oracle_matches_numba(tmp_path):
    scenario = tmp_path / "tiny.yml"
    scenario.write_text(TINY)
    fields = {}
    for backend in ("numpy", "numba-cpu"):
        out = tmp_path / f"{backend}.npz"
        result = runner.invoke(app, ["simulate", str(scenario), "--out", str(out), "--backend", backend])
        assert result.exit_code == 0, result.output
        assert "ledger" in result.stdout
        fields[backend] = np.load(out)["rho_c"]
    assert np.abs(fields["numpy"] - fields["numba-cpu"]).max() <= 1e-12


def test_simulate_a_network_prefixes_links(tmp_path):
    out = tmp_path / "red.npz"
    result = runner.invoke(app, ["simulate", str(ROOT / "scenarios/red_light.yml"), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = np.load(out)
    assert data["approach/rho_m"].shape == (data["t"].size, data["approach/x"].size)
    assert json.loads(str(data["measures"]))["throughput_veh"][0] > 0


@pytest.mark.parametrize(
    ("text", "extra", "expected"),
    [
        (TINY.replace("relaxation: true", "relaxation: true, K_m: 20 km/hr"), [], "error: physics.K_m: unknown unit 'km/hr'"),
        (TINY.replace("cells: 40", "cells: 40, colour: red"), [], "error: road.colour: unknown key"),
        (TINY, ["--backend", "gpu"], "error: backend: unknown backend 'gpu': choose one of numpy, numba-cpu"),
        (None, [], "error: scenario: no such scenario file"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, text, extra, expected):
    scenario = tmp_path / "s.yml"
    if text is not None:
        scenario.write_text(text)
    result = runner.invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "o.npz"), *extra])
    assert result.exit_code == 2
    assert _one_error_line(result).startswith(expected)
    assert not (tmp_path / "o.npz").exists()


def test_verify_smoke_json_and_exit_code_follow_the_checks():
    result = runner.invoke(app, ["verify", "--level", "smoke", "--json"])
    report = json.loads(result.stdout)
    failed = [(c["name"], c["value"]) for c in report["checks"] if not c["passed"]]
    assert failed == [] and report["passed"] and result.exit_code == 0, failed
    names = {c["name"] for c in report["checks"]}
    assert {"weno5_smooth_order", "first_order_smooth_order", "mass_drift_m", "mass_drift_c",
            "riemann_shock_contact", "positivity_min_density"} <= names  # fmt: skip
    assert report["passed"] == all(c["passed"] for c in report["checks"])
    weno = next(c for c in report["checks"] if c["name"] == "weno5_smooth_order")
    assert weno["passed"] and weno["value"] > 4.5


def test_verify_writes_the_docs_block(tmp_path, monkeypatch):
    import solver.verification.runner as V

    monkeypatch.setitem(V.LEVELS, "smoke", V.Level((50, 100), (50, 100), 30.0, 10.0))
    doc = tmp_path / "numerics.md"
    doc.write_text(f"# N\n\nbefore\n{DOCS_BEGIN}\nold table\n{DOCS_END}\nafter\n")
    result = runner.invoke(app, ["verify", "--level", "smoke", "--write-docs", str(doc)])
    assert result.exit_code in (0, 1), result.output
    text = doc.read_text()
    assert "old table" not in text and text.startswith("# N\n\nbefore\n") and text.endswith("after\n")
    assert "arz verify --level smoke --write-docs" in text and "| `weno5_smooth_order` |" in text


def test_verify_bad_level_and_docs_without_markers_exit_2(tmp_path):
    assert _one_error_line(runner.invoke(app, ["verify", "--level", "huge"])).startswith("error: --level: unknown level")
    doc = tmp_path / "plain.md"
    doc.write_text("# no markers\n")
    result = runner.invoke(app, ["verify", "--level", "smoke", "--write-docs", str(doc)])
    assert result.exit_code == 2 and "no '<!-- verify:begin -->'" in _one_error_line(result)


def test_simulate_network_with_time_space_plot(tmp_path):
    out, png = tmp_path / "red.npz", tmp_path / "red.png"
    result = runner.invoke(app, ["simulate", "scenarios/red_light.yml", "--out", str(out), "--plot", str(png), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert abs(summary["ledger"]["m"]["residual"]) <= 1e-9 * summary["ledger"]["m"]["entered"]
    with np.load(out) as data:
        assert data["approach/rho_m"].shape == (data["t"].size, data["approach/x"].size)
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_then_evaluate_through_the_cli(tmp_path):
    """A tiny PPO run and a comparison with fixed-time through `arz train` / `arz evaluate`."""
    out = tmp_path / "ppo"
    result = runner.invoke(app, ["train", "--timesteps", "512", "--n-envs", "2", "--warm-start", "none", "--out", str(out),
                                  "--json"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    assert Path(trained["model"]).is_file() and trained["timesteps"] >= 512
    from solver.device import gpu_available

    if not gpu_available():  # auto without a GPU: the CPU preset, recorded in the summary
        assert (trained["device"], trained["preset"], trained["ppo_device"], trained["n_envs"]) == ("cpu", "cpu", "cpu", 2)
    result = runner.invoke(app, ["evaluate", f"ppo:{trained['model']}", "fixed-time", "--episodes", "1",
                                 "--seeds", "100,101", "--out", str(tmp_path / "eval"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    delays = {r["controller"]: r["mean"] for r in rows if r["metric"] == "delay_per_vehicle_s" and r["class"] == "total"}
    assert set(delays) == {f"ppo:{trained['model']}", "fixed-time"} and all(d > 0 for d in delays.values())
    other = runner.invoke(app, ["evaluate", f"ppo:{trained['model']}", "fixed-time", "--env", "ARZ-Arterial-v0",
                                "--out", str(tmp_path / "other")])  # fmt: skip
    line = _one_error_line(other)
    assert other.exit_code == 2 and "was trained for observations of shape (60,)" in line and "ARZ-Arterial-v0" in line
    assert not (tmp_path / "other").exists()


def test_rl_commands_reject_unknown_env_and_bad_seeds():
    assert _one_error_line(runner.invoke(app, ["train", "--env", "ARZ-Nope-v0"])).startswith("error: --env: unknown environment")
    bad = runner.invoke(app, ["evaluate", "fixed-time", "--seeds", "1,x"])
    assert _one_error_line(bad).startswith("error: --seeds:")


@pytest.mark.slow
def test_bench_json_rows():
    result = runner.invoke(app, ["bench", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert {r["case"] for r in rows} >= {"road", "seed_corridor_road", "seed_corridor_network"}
