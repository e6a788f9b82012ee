"""Statistics and member reading of orchestrator.study, checked against hand computations."""

from __future__ import annotations

import csv
import math

import pytest

from orchestrator.study.members import MetricKey, read_member
from orchestrator.study.stats import mean_ci, paired_test, welch_test
from tests.orchestrator.study_folders import write_results


def test_mean_ci_is_the_student_t_interval():
    e = mean_ci([1.0, 2.0, 3.0, 4.0])  # mean 2.5, sd sqrt(5/3), t(0.975, 3) = 3.182446305284263
    assert e.mean == 2.5 and e.n == 4
    assert e.ci95 == pytest.approx(3.182446305284263 * math.sqrt(5 / 3) / 2, rel=1e-12)
    assert e.text() == "2.5 ± 2.05"


def test_one_value_has_no_interval_and_none_has_no_mean():
    one = mean_ci([7.0])
    assert one.n == 1 and math.isnan(one.ci95) and one.text() == "7 ± n/a"
    assert mean_ci([]).text() == "n/a"


def test_tests_and_their_undefined_cases():
    assert paired_test([1.0]) is None and welch_test([1.0], [1.0, 2.0]) is None  # too few values
    assert paired_test([0.0, 0.0]).p_value == 1.0  # identical: no difference
    constant = paired_test([2.0, 2.0, 2.0])  # no spread: t undefined, no verdict invented
    assert math.isnan(constant.p_value) and constant.significant is None
    clear = welch_test([1.0, 1.1, 0.9, 1.0], [5.0, 5.1, 4.9, 5.2])
    assert clear.kind == "welch" and clear.significant is True and clear.p_value < 1e-4
    noise = paired_test([0.5, -0.4, 0.1, -0.3])
    assert noise.significant is False and noise.p_value > 0.5


def test_a_member_with_one_seed_loses_the_seed_label_and_several_keep_it(tmp_path):
    one = read_member(write_results(tmp_path / "one", {"ppo": {1: 10.0, 2: 20.0}}, seed=3))
    assert one.values[MetricKey("rl", "delay_per_vehicle_s", "ppo", "total")] == 15.0
    assert MetricKey("rl", "delay_per_vehicle_s", "ppo", "") not in one.values  # the draws' mean replaces it
    assert one.values[MetricKey("verify", "checks_passed", "", "")] == 13.0 and one.verdict == "succeeded"
    folder = write_results(tmp_path / "two", {"ppo": {1: 10.0}}, seed=0)
    with open(folder / "rl/data/metrics/evaluation_draws.csv", "a", newline="") as handle:
        csv.writer(handle).writerow(["ppo (seed 1)", 1, "delay_per_vehicle_s", "total", 30.0])
    two = read_member(folder)
    assert {k.controller for k in two.draws} == {"ppo (seed 0)", "ppo (seed 1)"}


def test_importing_the_study_modules_loads_nothing_heavy():
    """scipy and matplotlib load inside the functions; solver, rl, numba and torch never."""
    import subprocess
    import sys

    from tests.orchestrator.conftest import REPO

    code = ("import sys\nimport orchestrator.study.aggregate, orchestrator.study.compare, "
            "orchestrator.study.compare_view, orchestrator.study.figures, orchestrator.study.report\n"
            "heavy = ('scipy', 'matplotlib', 'solver', 'rl', 'numba', 'torch')\n"
            "print('HEAVY=' + ','.join(m for m in heavy if m in sys.modules))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "HEAVY=\n" in proc.stdout, proc.stdout + proc.stderr
