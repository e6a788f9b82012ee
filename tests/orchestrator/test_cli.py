"""The ``arz`` CLI through typer's CliRunner (and a few real subprocesses for start-up and Ctrl-C)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app, exit_code_for
from orchestrator.errors import BadInput, JobFailed
from orchestrator.registry import Registry
from tests.orchestrator.conftest import REPO

runner = CliRunner()
HEAVY = ("numba", "torch", "stable_baselines3", "solver", "rl", "kaggle", "matplotlib", "git",
         "httpx", "requests")


def test_help_lists_job_and_lab_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("submit", "watch", "status", "list", "logs", "pull", "cancel", "doctor",
                    "simulate", "verify", "bench", "train", "evaluate"):  # fmt: skip
        assert command in result.output


def test_help_imports_nothing_heavy():
    """What keeps ``arz --help`` fast on a laptop: no solver, rl, numba, torch, kaggle or git import
    (checked by module, not by a wall-clock bound that a loaded machine would break)."""
    code = (
        "import sys\nfrom orchestrator import cli\nsys.argv = ['arz', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "HEAVY=\n" in proc.stdout, proc.stdout[-300:]
    assert "Usage" in proc.stdout


@pytest.mark.parametrize("sub", ["submit", "watch", "status", "list", "logs", "pull", "cancel"])
def test_every_job_command_has_help(sub):
    result = runner.invoke(app, [sub, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_lab_commands_forward_to_the_lab_app():
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0 and "Usage: arz simulate" in result.output, result.output


def test_bad_job_file_exits_2_naming_the_key(project):
    (project / "jobs" / "bad.yml").write_text("name: bad\nsuites: [tiny]\nrl: {timestep: 5}\n")
    result = runner.invoke(app, ["submit", "jobs/bad.yml"])
    assert result.exit_code == 2
    assert "jobs/bad.yml: key 'rl.timestep': unknown key" in result.output
    missing = runner.invoke(app, ["submit", "jobs/nope.yml"])
    assert missing.exit_code == 2 and "not found" in missing.output


def test_unknown_job_id_exits_2(arz_home):
    result = runner.invoke(app, ["status", "arz-nothing"])
    assert result.exit_code == 2 and "no job 'arz-nothing'" in result.output


def test_detach_then_status_list_logs_watch_pull(project):
    submitted = runner.invoke(app, ["submit", "jobs/tiny.yml", "--detach"])
    assert submitted.exit_code == 0, submitted.output
    job_id = Registry().latest().id
    assert f"arz watch {job_id}" in submitted.output
    logs = runner.invoke(app, ["logs", job_id, "-f"])
    assert logs.exit_code == 0 and "@@arz" not in logs.output and "arz bootstrap" in logs.output
    assert re.search(r"\d\d:\d\d:\d\d\s+bootstrap\s+0/3 steps\s+ETA", logs.output)  # readable
    raw = runner.invoke(app, ["logs", job_id, "--raw"])
    assert raw.exit_code == 0 and '@@arz {"stage": "bootstrap"' in raw.output
    status = runner.invoke(app, ["status", job_id, "--json"])
    shown = json.loads(status.output)
    assert status.exit_code == 0 and (shown["status"], shown["result"]) == ("complete", "succeeded")
    listed = json.loads(runner.invoke(app, ["list", "--json"]).output)
    assert [j["id"] for j in listed] == [job_id]
    watched = runner.invoke(app, ["watch", job_id])
    assert watched.exit_code == 0, watched.output
    assert "results: validation_output/results/local_" in watched.output
    assert "status succeeded" in watched.output
    pulled = runner.invoke(app, ["pull"])  # the latest job by default
    assert pulled.exit_code == 0 and "files verified against the manifest" in pulled.output
    table = runner.invoke(app, ["list"])
    assert job_id in table.output and "succeeded" in table.output


def test_failed_job_exits_1_with_the_reason(project):
    result = runner.invoke(app, ["submit", "jobs/crashy.yml"])
    assert result.exit_code == 1
    assert (
        "is failed: RuntimeError in suite 'crash': deliberate crash in test suite" in result.output
    )
    assert "report.html" in result.output


def _default_sigint() -> None:
    """In the watcher's child process: Ctrl-C handled as usual even if the test process ignores it
    (an ignored SIGINT is inherited across exec, and Python then installs no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_detaches_and_the_job_keeps_running(project, monkeypatch):
    # the job (not the watcher) must still be running when Ctrl-C comes: with the fixture's 0.5 s a
    # loaded machine let it finish before the watcher attached, and Ctrl-C then hit an exited process
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "15")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    assert runner.invoke(app, ["submit", "jobs/two.yml", "--detach"]).exit_code == 0
    job_id = Registry().latest().id
    watcher = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "watch", job_id],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=_default_sigint)  # fmt: skip
    seen = []
    for line in watcher.stdout:
        seen.append(line)
        if re.search(r"\bslow\s.*\bsleep\b", line):  # a readable line of the slow suite's step
            break
    else:
        pytest.fail("the watcher ended without showing the slow suite's step:\n" + "".join(seen))
    watcher.send_signal(signal.SIGINT)
    output, _ = watcher.communicate(timeout=30)
    assert watcher.returncode == 130, "".join(seen) + output
    assert f"Reattach with: arz watch {job_id}" in output
    again = runner.invoke(app, ["watch", job_id])  # reattach: the job finished on its own
    assert again.exit_code == 0 and "status succeeded" in again.output


def test_cancel_from_the_cli(project, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SLOW_S", "60")
    assert runner.invoke(app, ["submit", "jobs/two.yml", "--detach"]).exit_code == 0
    job_id = Registry().latest().id
    for _ in range(600):  # event order, not a fixed sleep: cancel once the slow suite has begun
        if "slow/sleep" in runner.invoke(app, ["logs", job_id, "--raw"]).output:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the slow suite never started")
    result = runner.invoke(app, ["cancel", job_id])
    assert result.exit_code == 0 and f"{job_id}: cancelled" in result.output
    pulled = runner.invoke(app, ["pull", job_id])
    assert pulled.exit_code == 1 and "is failed: Interrupted" in pulled.output


def test_exit_code_mapping():
    assert exit_code_for(KeyboardInterrupt()) == 130
    assert exit_code_for(BadInput("x")) == 2 and exit_code_for(JobFailed("x")) == 1
    assert exit_code_for(ValueError("bug")) is None


def test_a_command_exit_code_is_not_reported_as_an_error(arz_home):
    result = runner.invoke(app, ["status", "--help"])
    assert result.exit_code == 0 and "error" not in result.output.lower()
    missing = runner.invoke(app, ["submit"])  # a usage error stays click's: exit 2, no "error: 2"
    assert missing.exit_code == 2 and "error: 2" not in missing.output
