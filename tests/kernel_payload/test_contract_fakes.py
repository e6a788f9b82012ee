"""The contract fakes (tests/kernel_payload/contract_fakes/) keep the real modules' contracts:
the same function signatures, the same dataclass fields, and rows in the real vocabulary.

The fakes are loaded by file path under private names, so the real packages stay the ones the
test process imports.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
from pathlib import Path

import pytest

from tests.kernel_payload.conftest import CONTRACT_FAKES

PAIRS = {  # real module -> (functions, dataclasses) the payload uses
    "solver.verification.runner": (["run_verification"], ["Check", "Ladder", "Sample", "VerificationReport"]),
    "solver.bench.runner": (["run_bench"], ["BenchReport"]),
    "rl.training": (["train"], ["TrainResult"]),
    "rl.presets": (["plan_training"], ["TrainingPlan"]),
    "rl.bench": (["training_rows", "training_summary"], []),
    "rl.evaluation": (["evaluate"], ["EvalResult"]),
}


def _fake(module: str):
    path = CONTRACT_FAKES / Path(*module.split(".")).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(f"_contract_fake_{module.replace('.', '_')}", path)
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    return fake


def _params(fn) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("module", sorted(PAIRS))
def test_fakes_have_the_real_signatures_and_fields(module):
    real, fake = importlib.import_module(module), _fake(module)
    functions, classes = PAIRS[module]
    for name in functions:
        assert _params(getattr(fake, name)) == _params(getattr(real, name)), f"{module}.{name}"
    for name in classes:
        got = [f.name for f in dataclasses.fields(getattr(fake, name))]
        want = [f.name for f in dataclasses.fields(getattr(real, name))]
        assert got == want, f"{module}.{name}: fake fields {got}, real {want}"
        for method in ("passed", "to_dict", "to_markdown"):
            if hasattr(getattr(real, name), method):
                assert hasattr(getattr(fake, name), method), f"{module}.{name}.{method}"


def test_fake_evaluation_rows_use_the_real_vocabulary(tmp_path):
    from rl import evaluation as real

    result = _fake("rl.evaluation").evaluate("ARZ-Intersection-v0", ["ppo:m.zip", "fixed-time"], 2, [0], tmp_path)
    metrics = {"delay_per_vehicle_s", "throughput_veh", "tts_veh_h", "mean_queue_m", "max_queue_m"}
    for row in result.rows:
        assert list(row) == list(real.SUMMARY_COLUMNS)
        assert row["class"] in real.CLASSES
        assert row["metric"] in metrics or row["metric"].startswith(real.PAIRED_PREFIX), row
    assert {r["metric"] for r in result.rows} >= {real.PAIRED_METRIC, real.PAIRED_PREFIX + "fixed-time"}
    assert [(p.controller, p.baseline) for p in result.paired] == [("ppo:m.zip", "fixed-time")]
    assert isinstance(result.paired[0], real.PairedComparison) or [f.name for f in dataclasses.fields(
        result.paired[0])] == [f.name for f in dataclasses.fields(real.PairedComparison)]
    assert result.summary_csv.name == "evaluation.csv"


def test_fake_verification_report_carries_the_real_fields():
    from solver.verification import runner as real

    report = _fake("solver.verification.runner").run_verification("smoke")
    assert report.level == "smoke" and report.wall_s >= 0.0
    assert set(report.to_dict()) == set(real.VerificationReport(level="smoke").to_dict())
