"""``arz compare A B`` on results folders, sweep folders, sweep ids and registry jobs."""

from __future__ import annotations

import json
import math

from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.study.aggregate import MemberResult, aggregate_sweep
from tests.orchestrator.study_folders import write_results

runner = CliRunner()
DRAWS = range(2001000, 2001010)
BEFORE, AFTER = "1" * 40, "2" * 40


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _row(data: dict, controller: str, metric: str = "delay_per_vehicle_s") -> dict:
    return next(r for r in data["rows"] if (r["controller"], r["metric"]) == (controller, metric))


def _folders(tmp_path, after_shift: float = 0.0, after_draws=DRAWS):
    a = write_results(tmp_path / "a", {"ppo": {d: 100.0 + (d % 3) for d in DRAWS},
                                       "actuated": {d: 90.0 + (d % 5) for d in DRAWS}}, commit=BEFORE)  # fmt: skip
    b = write_results(tmp_path / "b", {"ppo": {d: 100.0 + (d % 3) + after_shift + (d % 2) for d in after_draws},
                                       "actuated": {d: 90.0 + (d % 5) for d in after_draws}}, commit=AFTER)  # fmt: skip
    return a, b


def test_two_results_folders_of_different_commits_print_the_table(tmp_path):
    a, b = _folders(tmp_path, after_shift=5.0)
    result = runner.invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"commit {BEFORE[:10]}" in out and f"commit {AFTER[:10]}" in out
    assert "rl delay_per_vehicle_s [ppo] (total)" in out and "paired on 10 shared draws" in out
    assert "+5.5" in out and "yes" in out  # ppo: 5 + mean(d % 2) = 5.5 more delay, significant
    assert "verify checks_passed" in out and "one value a side: no test" in out


def test_json_shape_and_significance_flags(tmp_path):
    a, b = _folders(tmp_path, after_shift=5.0)
    data = _json(runner.invoke(app, ["compare", str(a), str(b), "--json"]))
    assert set(data) == {"a", "b", "rows", "notes"}
    assert data["a"] == {"ref": str(a), "kind": "folder", "members": 1, "commits": [BEFORE], "env": None}
    ppo = _row(data, "ppo")
    assert set(ppo) == {"cell", "suite", "metric", "controller", "class", "a", "b", "diff", "test", "note"}
    assert ppo["a"]["n"] == 10 and ppo["diff"] == 5.5
    assert ppo["test"]["kind"] == "paired" and ppo["test"]["significant"] is True
    assert ppo["test"]["p_value"] < 0.05
    same = _row(data, "actuated")  # identical on every shared draw
    assert same["diff"] == 0.0 and same["test"]["significant"] is False and same["test"]["p_value"] == 1.0
    checks = _row(data, "", "checks_passed")
    assert checks["test"] is None and checks["a"]["ci95"] is None  # one value: no interval (null)


def test_a_small_paired_shift_within_the_noise_is_not_significant(tmp_path):
    a, b = _folders(tmp_path, after_shift=-0.5)  # diffs alternate -0.5 / +0.5: mean 0
    ppo = _row(_json(runner.invoke(app, ["compare", str(a), str(b), "--json"])), "ppo")
    assert ppo["test"]["significant"] is False and ppo["test"]["p_value"] > 0.5


def test_draws_not_shared_fall_back_to_welch(tmp_path):
    a, b = _folders(tmp_path, after_shift=5.0, after_draws=range(3001000, 3001010))
    ppo = _row(_json(runner.invoke(app, ["compare", str(a), str(b), "--json"])), "ppo")
    assert ppo["test"]["kind"] == "welch" and ppo["note"].startswith("Welch over draws")


def _sweep(root, name, commit, shift, seeds=(0, 1, 2), jitter=0.0):
    """Three members (seeds) on one environment; ppo's delay on draws 1, 2 grows with the seed."""
    out = root / "validation_output" / "sweeps" / f"local_{name}"
    members = []
    for i, seed in enumerate(seeds):
        env = "ARZ-Intersection-v0"
        base = 100.0 + (seed % 3) * 10 + shift + jitter * (i - 1)
        folder = write_results(out / "members" / f"m0{i + 1}", {"ppo": {1: base, 2: 101.0 + shift}},
                               commit=commit, seed=seed)  # fmt: skip
        members.append(MemberResult(f"m0{i + 1}", {"seeds": [seed], "rl.env": env}, f"j{i}", "complete", "succeeded", folder))
    aggregate_sweep(name, f"sweep-{name}", members, out)
    return out


def test_two_sweeps_by_id_pair_members_of_the_same_seed(tmp_path, monkeypatch):
    _sweep(tmp_path, "before", BEFORE, 0.0)
    _sweep(tmp_path, "after", AFTER, 1.0, jitter=0.5)
    monkeypatch.chdir(tmp_path)
    data = _json(runner.invoke(app, ["compare", "sweep-before", "sweep-after", "--json"]))
    assert data["a"]["kind"] == "sweep" and data["a"]["members"] == 3 and data["b"]["commits"] == [AFTER]
    ppo = _row(data, "ppo")
    # per member: (100 + 10 s + 101) / 2 -> 100.5, 105.5, 110.5: mean 105.5, sd 5, n 3
    assert ppo["cell"] == "rl.env=ARZ-Intersection-v0" and ppo["a"]["n"] == 3
    assert math.isclose(ppo["a"]["mean"], 105.5) and math.isclose(ppo["a"]["ci95"], 4.302652729911275 * 5 / math.sqrt(3))
    # per seed, mean over the two draws of b - a: 1 + jitter (i - 1) / 2 -> 0.75, 1, 1.25
    assert math.isclose(ppo["diff"], 1.0) and ppo["note"] == "paired on 3 seeds x shared draws"
    assert ppo["test"]["kind"] == "paired" and ppo["test"]["significant"] is True  # t = 6.9, 2 dof
    by_folder = _json(runner.invoke(app, ["compare", "validation_output/sweeps/local_before", "sweep-after", "--json"]))
    assert math.isclose(_row(by_folder, "ppo")["diff"], 1.0)


def test_sweeps_of_different_seeds_are_compared_with_welch(tmp_path):
    before = _sweep(tmp_path, "before", BEFORE, 0.0)
    after = _sweep(tmp_path, "after", AFTER, 1.0, seeds=(3, 4, 5))
    ppo = _row(_json(runner.invoke(app, ["compare", str(before), str(after), "--json"])), "ppo")
    assert ppo["note"] == "Welch over seeds" and ppo["test"]["kind"] == "welch"
    assert ppo["test"]["significant"] is False  # a shift of 1 against a seed spread of sd 5


def test_unknown_id_or_folder_exits_2_with_one_line(tmp_path, arz_home, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, _ = _folders(tmp_path)
    result = runner.invoke(app, ["compare", str(a), "no-such-job"])
    assert result.exit_code == 2
    assert "'no-such-job' is not a results folder, a sweep folder, a sweep id" in result.output
    assert "arz list" in result.output and "Traceback" not in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["compare", str(empty), str(a)])
    assert result.exit_code == 2 and "has no session_summary.json" in result.output


def test_two_real_local_jobs_of_different_commits_by_job_id(project):
    from orchestrator.registry import Registry
    from tests.orchestrator.conftest import git

    first = runner.invoke(app, ["submit", "jobs/tiny.yml"])
    assert first.exit_code == 0, first.output
    before = Registry().latest()
    (project / "jobs" / "tiny.yml").write_text("name: tiny\nsuites: [tiny]\ndescription: after\n")
    second = runner.invoke(app, ["submit", "jobs/tiny.yml"])  # commits the change: a new commit
    assert second.exit_code == 0, second.output
    after = Registry().latest()
    assert before.commit_sha != after.commit_sha == git(project, "rev-parse", "HEAD").strip()
    result = runner.invoke(app, ["compare", before.id, after.id])
    assert result.exit_code == 0, result.output
    assert f"commit {before.commit_sha[:10]}" in result.output and f"commit {after.commit_sha[:10]}" in result.output
    assert "tiny answer" in result.output and "one value a side: no test" in result.output
    data = _json(runner.invoke(app, ["compare", before.id[:16], after.id, "--json"]))  # id prefixes work
    assert data["a"]["kind"] == data["b"]["kind"] == "job" and data["a"]["commits"] == [before.commit_sha]
    answer = _row(data, "", "answer")
    assert (answer["a"]["mean"], answer["b"]["mean"], answer["diff"], answer["test"]) == (42.0, 42.0, 0.0, None)


def test_a_broken_sweep_summary_is_bad_input_and_an_unreadable_member_a_note(tmp_path, monkeypatch):
    before = _sweep(tmp_path, "before", BEFORE, 0.0)
    after = _sweep(tmp_path, "after", AFTER, 1.0)
    (after / "members" / "m03" / "session_summary.json").write_text("{}")
    data = _json(runner.invoke(app, ["compare", str(before), str(after), "--json"]))
    assert any("m03" in note and "not a valid session summary" in note for note in data["notes"])
    assert _row(data, "ppo")["b"]["n"] == 2  # m03 left out, never invented
    (before / "sweep_summary.json").write_text("[1, 2")
    result = runner.invoke(app, ["compare", str(before), str(after)])
    assert result.exit_code == 2 and "is not a sweep summary" in result.output


def test_a_job_against_a_one_cell_sweep_compares_over_members(tmp_path):
    sweep = _sweep(tmp_path, "after", AFTER, 1.0)
    job = write_results(tmp_path / "job", {"ppo": {1: 100.0, 2: 101.0}}, commit=BEFORE)
    data = _json(runner.invoke(app, ["compare", str(job), str(sweep), "--json"]))
    ppo = _row(data, "ppo")
    assert (ppo["a"]["n"], ppo["b"]["n"]) == (1, 3) and ppo["test"] is None
    assert ppo["note"] == "under 2 values on a side: no test" and ppo["diff"] == 106.5 - 100.5
