"""The generated kernel script: stdlib-only, pinned to the commit, leaves only results behind."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from kernel_payload.schema import JobSpec, KernelSpec, RunStatus, SessionSummary, SuiteStatus
from orchestrator.kernel_builder import build_kernel_script, kernel_requirements, make_slug
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.conftest import REPO, git, make_project


def kernel_spec(sha: str, suites: list[str]) -> KernelSpec:
    job = JobSpec(name="kern", suites=["verify"]).model_copy(update={"suites": suites})
    return KernelSpec(job_id="arz-kern", slug="arz-kern", commit_sha=sha, job=job)


def run_kernel(script: str, tmp_path: Path, env_extra: dict | None = None) -> tuple[int, Path, str]:
    """Run a kernel script the way a kernel host would: its own folder, cwd = the output folder."""
    (tmp_path / "kernel.py").write_text(script)
    out = tmp_path / "working"
    out.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ARZ_TEST_SUITES": SUITES_ENV,
           "ARZ_TEST_SLOW_S": "0.1", **(env_extra or {})}  # fmt: skip
    proc = subprocess.run([sys.executable, "-u", str(tmp_path / "kernel.py")], cwd=out, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    return proc.returncode, out, proc.stdout + proc.stderr


def test_slug_is_fresh_short_and_kaggle_safe():
    sha = "0123456789abcdef" * 2 + "01234567"
    slug = make_slug("My Very_Long Job Name That Goes On And On", sha, rand="beef")
    assert slug.startswith("arz-my-very-long-job-name") and slug.endswith("-01234567-beef")
    assert len(slug) <= 50 and slug == slug.lower()
    assert make_slug("q", sha) != make_slug("q", sha)


def test_requirements_come_from_pyproject_without_kaggle():
    requirements = kernel_requirements(REPO)
    names = [r.split(">")[0].split("=")[0] for r in requirements]
    assert "numpy" in names and "pydantic" in names and "kaggle" not in names
    assert "numba-cuda" not in names
    with_gpu = kernel_requirements(REPO, extras=("gpu",))
    assert any(r.startswith("numba-cuda") for r in with_gpu)


def test_script_is_stdlib_only_and_embeds_the_spec():
    spec = kernel_spec("a" * 40, ["verify"])
    script = build_kernel_script(spec, "https://example.org/x.git", ["numpy>=1.26"])
    imported = set()
    for node in ast.walk(ast.parse(script)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names)
    namespace: dict = {}
    exec(compile(script.split("\nSUMMARY = ")[0], "kernel", "exec"), namespace)  # config only
    config = json.loads(namespace["CONFIG_JSON"])
    assert config["commit_sha"] == "a" * 40 and config["repo_url"] == "https://example.org/x.git"
    assert KernelSpec.model_validate(config["spec"]) == spec


def test_kernel_runs_the_pinned_commit_not_the_latest(tmp_path):
    repo = make_project(tmp_path / "project")
    pinned = git(repo, "rev-parse", "HEAD").strip()
    suites = repo / "tests/kernel_payload/fake_suites.py"
    suites.write_text(
        suites.read_text().replace("ctx.metrics.update(answer=42", "ctx.metrics.update(answer=43")
    )
    git(repo, "commit", "-q", "-am", "later change")
    script = build_kernel_script(kernel_spec(pinned, ["tiny"]), str(repo), [])
    code, out, log = run_kernel(script, tmp_path)
    summary = SessionSummary.read(out)
    assert code == 0, log
    assert summary.status == RunStatus.SUCCEEDED and summary.commit_sha == pinned
    assert summary.suite("tiny").metrics["answer"] == 42  # the pinned code ran
    assert "skipping pip" in log
    top = sorted(p.name for p in out.iterdir())
    assert top == ["report.html", "session_summary.json", "tiny"]  # only results, no clone


def test_unreachable_repository_still_leaves_a_failed_summary(tmp_path):
    script = build_kernel_script(kernel_spec("b" * 40, ["tiny"]), str(tmp_path / "missing"), [])
    code, out, log = run_kernel(script, tmp_path)
    summary = SessionSummary.read(out)
    assert code == 0, log
    assert summary.status == RunStatus.FAILED and summary.error.type == "BootstrapError"
    assert "failed" in summary.error.message
    assert [s.status for s in summary.suites] == [SuiteStatus.NOT_RUN]


def test_payload_killed_hard_is_salvaged_by_the_bootstrap(tmp_path):
    repo = make_project(tmp_path / "project")
    suites = repo / "tests/kernel_payload/fake_suites.py"
    suites.write_text(suites.read_text() + "\n\ndef die(ctx):\n    import os, signal\n"
                      "    os.kill(os.getpid(), signal.SIGKILL)\n")  # fmt: skip
    git(repo, "commit", "-q", "-am", "a suite that dies")
    sha = git(repo, "rev-parse", "HEAD").strip()
    script = build_kernel_script(kernel_spec(sha, ["tiny", "die"]), str(repo), [])
    env = {"ARZ_TEST_SUITES": SUITES_ENV + ";die=tests.kernel_payload.fake_suites:die"}
    code, out, log = run_kernel(script, tmp_path, env)
    summary = SessionSummary.read(out)
    assert code == 0, log
    assert summary.status == RunStatus.FAILED and summary.error.type == "PayloadDied"
    assert "killed by signal 9" in summary.error.message
    assert summary.suite("die").status == SuiteStatus.INTERRUPTED
    assert summary.suite("tiny").status == SuiteStatus.SUCCEEDED


def test_modules_missing_from_the_pinned_commit_never_come_from_the_working_tree(tmp_path):
    """The project's .venv has an editable install of this working tree (which has rl/); the
    pinned commit has no rl/, so the rl suite must be skipped, not run from the working tree."""
    repo = make_project(tmp_path / "project")
    assert not (repo / "rl").exists()
    sha = git(repo, "rev-parse", "HEAD").strip()
    script = build_kernel_script(kernel_spec(sha, ["tiny", "rl"]), str(repo), [])
    code, out, log = run_kernel(script, tmp_path)
    summary = SessionSummary.read(out)
    assert code == 0, log
    assert summary.suite("rl").status == SuiteStatus.SKIPPED
    assert summary.suite("rl").reason == "rl package not available yet (rl is missing)"
    assert summary.status == RunStatus.PARTIAL
