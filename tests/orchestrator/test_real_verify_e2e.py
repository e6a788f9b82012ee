"""End to end on the local backend with the real ``verify`` suite (solver.verification.runner, quick)."""

from __future__ import annotations

import io
import os
import shutil

from rich.console import Console

from kernel_payload.schema import RunStatus, SuiteStatus
from kernel_payload.tables import read_csv
from orchestrator import jobs
from orchestrator.registry import Registry
from tests.kernel_payload.conftest import REPO
from tests.orchestrator.conftest import git


def test_real_quick_verification_through_the_local_backend(project):
    shutil.copytree(
        REPO / "solver", project / "solver", ignore=shutil.ignore_patterns("__pycache__")
    )
    (project / "jobs" / "verify.yml").write_text(
        "name: verify-quick\nsuites: [verify]\ndevice: cpu\n"
    )
    git(project, "add", "solver", "jobs/verify.yml")
    registry = Registry()
    sub = jobs.submit_job(project / "jobs" / "verify.yml", registry)
    assert sub.sync.committed and "solver/verification/runner.py" in git(project, "ls-files", "solver")
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    record, view = jobs.follow_job(sub.record, registry, console, sub.backend)
    assert any(stage.startswith("verify/") for stage in view.progress.steps)  # live solver progress
    record, folder, summary = jobs.pull_job(record, registry, backend=sub.backend)
    verify = summary.suite("verify")
    header, rows = read_csv(folder / "verify/data/metrics/checks.csv")
    failed = [row[header.index("check")] for row in rows if row[header.index("passed")] != "True"]
    assert rows and verify.metrics["checks_total"] == len(rows)
    # every published check must pass, and the job says so
    assert failed == [], f"verification checks failed: {failed}"
    assert summary.status == RunStatus.SUCCEEDED and verify.status == SuiteStatus.SUCCEEDED
    pngs = sorted(p.name for p in (folder / "verify/figures").glob("*.png"))
    assert "convergence.png" in pngs and any(p.startswith("profile_") for p in pngs)
    for tex in ("checks.tex", "convergence.tex"):
        assert (folder / "verify/latex" / tex).read_text().rstrip().endswith(r"\end{document}")
    assert (folder / "report.html").stat().st_size > 50_000  # figures embedded
    # compiled kernels went to the session's kernel cache (tests/conftest.py), not the results
    log = (folder / f"{record.slug}.log").read_text()
    assert f"kernel cache: {os.environ['ARZ_KERNEL_CACHE_DIR']}/" in log
    assert not [p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")]
    # the start-up split: the bootstrap's steps, then the payload's (cold or warm: test order)
    startup = summary.startup
    assert {"clone_s", "install_s", "imports_s", "compile_s", "first_count_s"} <= set(startup)
    assert startup["kernel_cache"] in ("warm", "cold") and 0 < startup["first_count_s"]
    assert startup["clone_s"] + startup["imports_s"] <= startup["first_count_s"]
    assert "start-up" in (folder / "report.html").read_text()
