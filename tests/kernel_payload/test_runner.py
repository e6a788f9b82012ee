"""The payload end to end as a subprocess: artifacts, crashes, signals, skipped suites."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

from kernel_payload.schema import ProgressEvent, RunStatus, SessionSummary, SuiteStatus
from kernel_payload.tables import read_csv
from tests.kernel_payload.conftest import payload_env, write_spec


def assert_manifest_matches(out: Path, summary: SessionSummary) -> None:
    """Every file is listed with the right size and hash, and nothing else is there."""
    for entry in summary.artifacts:
        assert entry.problem(out) is None, entry.path
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk == {e.path for e in summary.artifacts} | {"session_summary.json"}


def test_crash_mid_job_fails_with_traceback_and_keeps_finished_artifacts(run_payload):
    proc, out = run_payload(
        {"name": "crashy", "suites": ["tiny", "crash", "slow"]}, ARZ_TEST_SLOW_S="0.1"
    )
    summary = SessionSummary.read(out)
    assert proc.returncode == 1
    assert summary.status == RunStatus.FAILED
    tiny, crash, slow = summary.suites
    assert tiny.status == SuiteStatus.SUCCEEDED and (out / "tiny/figures/tiny.png").is_file()
    assert crash.status == SuiteStatus.FAILED
    assert "deliberate crash in test suite" in crash.error.traceback_tail
    assert "fake_suites.py" in crash.error.traceback_tail
    assert crash.metrics == {"before_crash": 1} and crash.artifacts == [
        "crash/data/metrics/partial.csv"
    ]
    assert slow.status == SuiteStatus.SUCCEEDED  # later suites still run
    assert summary.error.suite == "crash" and summary.error.type == "RuntimeError"
    assert_manifest_matches(out, summary)


def test_progress_events_are_printed_as_lines(run_payload):
    proc, out = run_payload({"name": "events", "suites": ["tiny"]})
    events = [e for e in map(ProgressEvent.from_line, proc.stdout.splitlines()) if e]
    stages = [e.stage for e in events]
    assert stages[0] == "job" and "tiny/steps" in stages
    assert events[-1].stage == "job" and events[-1].status == "succeeded"
    assert proc.returncode == 0 and SessionSummary.read(out).status == RunStatus.SUCCEEDED


def start_payload(tmp_path: Path, suites: list[str]) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "out"
    spec = write_spec(tmp_path, name="killme", suites=suites)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kernel_payload", "--spec", str(spec), "--out", str(out)],
        cwd=tmp_path, env=payload_env(ARZ_TEST_SLOW_S="60"), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    for line in proc.stdout:  # wait until the slow suite is half-way into its work
        event = ProgressEvent.from_line(line)
        if event and event.stage == "slow/sleep" and (event.done or 0) >= 5:
            break
    return proc, out


def test_sigterm_mid_run_leaves_a_failed_summary_with_the_reason(tmp_path):
    proc, out = start_payload(tmp_path, ["tiny", "slow"])
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    summary = SessionSummary.read(out)
    assert proc.returncode == 128 + signal.SIGTERM
    assert summary.status == RunStatus.FAILED
    assert summary.error.type == "Interrupted"
    assert "SIGTERM" in summary.error.message and "'slow'" in summary.error.message
    assert [s.status for s in summary.suites] == [SuiteStatus.SUCCEEDED, SuiteStatus.INTERRUPTED]
    assert (out / "tiny/data/models/tiny.zip").is_file() and (out / "report.html").is_file()
    assert_manifest_matches(out, summary)


def test_sigkill_then_salvage_closes_the_summary(tmp_path):
    proc, out = start_payload(tmp_path, ["tiny", "slow"])
    proc.kill()
    proc.communicate(timeout=60)
    unfinished = SessionSummary.read(out)
    assert unfinished.finished_at is None and unfinished.status != RunStatus.SUCCEEDED
    salvage = subprocess.run(
        [sys.executable, "-m", "kernel_payload", "--spec", str(tmp_path / "spec.json"),
         "--out", str(out), "--salvage", "payload was killed by signal 9"],
        cwd=tmp_path, env=payload_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    summary = SessionSummary.read(out)
    assert salvage.returncode == 1
    assert summary.status == RunStatus.FAILED and summary.error.type == "PayloadDied"
    assert summary.suite("slow").status == SuiteStatus.INTERRUPTED
    assert summary.suite("tiny").status == SuiteStatus.SUCCEEDED
    assert_manifest_matches(out, summary)


def test_rl_suite_is_skipped_when_the_rl_package_lacks_training(run_payload, tmp_path):
    empty_rl = tmp_path / "no_rl"
    (empty_rl / "rl").mkdir(parents=True)
    (empty_rl / "rl" / "__init__.py").write_text("")
    env = payload_env()
    proc, out = run_payload({"name": "norl", "suites": ["tiny", "rl"]},
                            PYTHONPATH=f"{empty_rl}:{env['PYTHONPATH']}")  # fmt: skip
    summary = SessionSummary.read(out)
    assert proc.returncode == 1
    assert summary.status == RunStatus.PARTIAL
    assert summary.suite("rl").status == SuiteStatus.SKIPPED
    assert "rl package not available yet" in summary.suite("rl").reason
    assert "rl skipped" in summary.reason


def test_all_suites_against_the_library_contracts(run_payload):
    job = {"name": "full", "suites": ["verify", "rl", "bench"], "device": "cpu",
           "rl": {"seeds": [3], "controllers": ["ppo", "fixed-time"]}}  # fmt: skip
    proc, out = run_payload(job, fakes=True)
    summary = SessionSummary.read(out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert summary.status == RunStatus.SUCCEEDED
    files = [e.path for e in summary.artifacts]
    assert len([f for f in files if f.endswith(".png")]) >= 4
    for expected in ["verify/figures/convergence.png", "verify/figures/profile_shock_contact.png",
                     "verify/data/metrics/checks.csv", "verify/latex/checks.tex",
                     "rl/data/models/ppo_seed3.zip", "rl/figures/learning_curve.png",
                     "rl/figures/queue_over_time.png",
                     "rl/data/metrics/evaluation.csv", "rl/latex/evaluation.tex",
                     "rl/data/metrics/service.csv", "rl/latex/service.tex", "rl/latex/evaluation_vs_baselines.tex",
                     "bench/figures/bench_throughput.png", "bench/data/metrics/bench.csv",
                     "bench/latex/bench.tex", "report.html"]:  # fmt: skip
        assert expected in files
    assert "rl/figures/evaluation.png" not in files  # the evaluation drew its own comparison
    evaluation = (out / "rl/data/metrics/evaluation.csv").read_text()
    assert "ppo (seed 3)" in evaluation and "/tmp" not in evaluation
    service = (out / "rl/data/metrics/service.csv").read_text()
    assert "ppo (seed 3),N_in" in service and "/tmp" not in service  # relabelled like the evaluation
    assert "ppo (seed 3) & N\\_in & 60" in (out / "rl/latex/service.tex").read_text()
    assert "Service per approach" in (out / "report.html").read_text()
    assert summary.suite("rl").metrics["rl_env"] == "ARZ-Intersection-v0"
    with zipfile.ZipFile(out / "rl/data/models/ppo_seed3.zip") as archive:
        assert "device" in archive.read("kwargs.txt").decode()
    assert summary.suite("verify").metrics["checks_passed"] == 2
    assert summary.suite("bench").metrics["best_cell_updates_per_s"] == 5.0e6
    assert summary.suite("bench").metrics["sumo_rl_omitted"].startswith("sumo-rl not installed")
    assert summary.suite("bench").metrics["load_average_1min_before"] == 0.5
    assert summary.device.kind == "cpu" and "pydantic" in summary.packages
    assert_manifest_matches(out, summary)


def test_failed_verification_checks_fail_the_suite_but_keep_its_files(run_payload):
    proc, out = run_payload(
        {"name": "badnum", "suites": ["verify"]}, fakes=True, FAKE_VERIFY_FAIL="1"
    )
    verify = SessionSummary.read(out).suite("verify")
    assert verify.status == SuiteStatus.FAILED
    assert "1 of 2 checks failed: mass_drift" in verify.reason
    assert (out / "verify/data/metrics/checks.csv").is_file()
    assert (out / "verify/figures/convergence.png").is_file()


def test_gpu_requested_without_gpu_fails_clearly(run_payload, tmp_path):
    no_tools = tmp_path / "empty-path"  # no nvidia-smi on PATH, even on a GPU machine
    no_tools.mkdir()
    proc, out = run_payload(
        {"name": "nogpu", "suites": ["tiny"], "device": "gpu"}, PATH=str(no_tools)
    )
    summary = SessionSummary.read(out)
    assert summary.status == RunStatus.FAILED
    assert summary.error.type == "DeviceUnavailable" and "device: gpu" in summary.error.message
    assert summary.suite("tiny").status == SuiteStatus.NOT_RUN


def test_a_bad_spec_exits_2(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"name": "x", "suites": ["nope"]}))
    proc = subprocess.run([sys.executable, "-m", "kernel_payload", "--spec", str(spec), "--out",
                           str(tmp_path / "o")], env=payload_env(), capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and "unknown suite 'nope'" in proc.stderr


def test_real_rl_suite_through_the_payload_at_smoke_size(run_payload):
    """The real rl package (no contract fakes): one PPO rollout, one evaluation episode, 20 s."""
    job = {"name": "rlsmoke", "suites": ["rl"], "device": "cpu",
           "rl": {"env": "ARZ-Intersection-v0", "timesteps": 64, "n_envs": 2, "seeds": [5],
                  "eval_episodes": 2, "eval_seeds": [0], "controllers": ["ppo", "fixed-time"],
                  "env_kwargs": {"episode_length": 20.0}}}  # fmt: skip
    proc, out = run_payload(job)
    summary = SessionSummary.read(out)
    assert proc.returncode == 0 and summary.status == RunStatus.SUCCEEDED, proc.stderr[-3000:]
    header, rows = read_csv(out / "rl/data/metrics/evaluation.csv")
    col = {name: header.index(name) for name in header}
    delay = {(r[col["controller"]], r[col["class"]]) for r in rows if r[col["metric"]] == "delay_per_vehicle_s"}
    assert {("ppo (seed 5)", "total"), ("fixed-time", "m"), ("fixed-time", "c")} <= delay
    assert any(r[col["metric"]] == "delay_rel_diff_vs_fixed-time" for r in rows)  # the paired comparison
    assert {r[col["controller"]] for r in rows if r[col["metric"]] == "p95_delay_s"} == {"ppo (seed 5)", "fixed-time"}
    header, rows = read_csv(out / "rl/data/metrics/service.csv")
    assert "p95_delay_mean_s" in header and len(rows) == 2 * 4  # two controllers x four approaches
    assert (out / "rl/data/models/ppo_seed5.zip").is_file()
    metrics = next(s.metrics for s in summary.suites if s.name == "rl")
    # the CPU preset warm-starts the intersection from the rollout teacher (rl.presets.ENV_TEACHERS):
    # named, and the clone validated
    assert metrics["rl_warm_start_teacher_seed5"] == "rollout"
    assert metrics["rl_warm_start_clone_delay_s_seed5"] >= 0 and metrics["rl_selected_timesteps_seed5"] in {0, 64}
    # the clone is the best scored of the 6 round fits and 4 refits (rl.imitation.warm_start)
    assert metrics["rl_warm_start_clone_chosen_seed5"] in {f"round{r}" for r in range(6)} | {f"refit{k}" for k in range(4)}
    assert_manifest_matches(out, summary)


def test_real_bench_suite_through_the_payload_at_smoke_size(run_payload):
    """The real solver.bench.runner (no contract fake) at smoke size: every row measured, a few seconds."""
    job = {"name": "benchsmoke", "suites": ["bench"], "device": "cpu", "bench": {"smoke": True}}
    proc, out = run_payload(job)
    summary = SessionSummary.read(out)
    assert proc.returncode == 0 and summary.status == RunStatus.SUCCEEDED, proc.stderr[-3000:]
    header, rows = read_csv(out / "bench/data/metrics/bench.csv")
    cases = {r[header.index("case")] for r in rows}
    assert cases == {"road", "road-oracle", "seed_corridor_road", "seed_corridor_network", "intersection_4arm"}
    rates = [float(r[header.index("cell_updates_per_s")]) for r in rows]
    assert all(rate > 0 for rate in rates)
    (suite,) = summary.suites
    assert suite.metrics["smoke"] is True  # the report says these figures are not a benchmark
    header, ppo = read_csv(out / "bench/data/metrics/bench_ppo.csv")  # PPO with learning, the CPU preset
    assert [r[header.index("preset")] for r in ppo][:1] == ["cpu"] and float(ppo[0][header.index("env_steps_per_s")]) > 0
    assert suite.metrics["ppo_cpu_env_steps_per_s"] > 0
    assert "sumo_rl_omitted" not in suite.metrics or suite.metrics["sumo_rl_omitted"] == "not requested"
    assert (out / "bench/figures/bench_throughput.png").is_file()
    assert_manifest_matches(out, summary)
