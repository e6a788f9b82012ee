"""The ``inline`` code transport, piece by piece, on real temporary git repositories: the archive
the guard scans on its own bytes, the script that embeds it, the bootstrap that checks and unpacks
it, and the choice between ``inline`` and ``git`` (``kaggle.code``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kernel_payload.schema import JobSpec, KernelSpec
from orchestrator import code_transport
from orchestrator.code_transport import build_archive, plan_transport
from orchestrator.errors import BadInput, JobSpecError, NoRemote, SecretDetected
from orchestrator.kernel_bootstrap import BootstrapError, unpack_inline
from orchestrator.kernel_builder import build_kernel_script
from orchestrator.secret_guard import SecretGuard
from tests.orchestrator.conftest import git, init_repo, make_project

AWS_LIKE = "AKIA" + "QWERTYUIOPASDFGH"  # AKIA + 16: the AWS access key id shape


def archive_of(repo: Path):
    sha = git(repo, "rev-parse", "HEAD").strip()
    with SecretGuard(repo) as guard:
        return build_archive(repo, sha, guard)


def embedded(script: str) -> str:
    (line,) = re.findall(r"^CODE_ARCHIVE = (.*)$", script, re.MULTILINE)
    return json.loads(line)


def script_for(repo: Path, archive) -> str:
    spec = KernelSpec(job_id="j", slug="j", commit_sha=archive.sha,
                      job=JobSpec(name="tiny", suites=["verify"]))  # fmt: skip
    return build_kernel_script(spec, "", [], archive=archive)


def test_the_script_carries_the_commit_tree_and_the_bootstrap_restores_it(tmp_path):
    repo = make_project(tmp_path / "project")
    (repo / "untracked.py").write_text("print('not part of the job')\n")
    archive = archive_of(repo)
    script = script_for(repo, archive)
    config = json.loads(json.loads(re.search(r"^CONFIG_JSON = (.*)$", script, re.M).group(1)))
    assert config["code"] == {"transport": "inline", "sha256": archive.digest, "bytes": archive.size}
    compile(script, "kernel.py", "exec")  # still valid Python with the archive inside

    dest = tmp_path / "src"
    unpack_inline(embedded(script), archive.digest, archive.sha, dest)
    tracked = sorted(git(repo, "ls-files").split())
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == tracked
    assert all((dest / name).read_bytes() == (repo / name).read_bytes() for name in tracked)
    assert not (dest / "untracked.py").exists() and archive.files == len(tracked)


def test_the_bootstrap_refuses_a_damaged_archive_or_another_commit(tmp_path):
    repo = make_project(tmp_path / "project")
    first = archive_of(repo)
    text = embedded(script_for(repo, first))
    with pytest.raises(BootstrapError, match="damaged: sha256"):
        unpack_inline(text, "0" * 64, first.sha, tmp_path / "a")
    (repo / "jobs" / "tiny.yml").write_text("name: tiny\nsuites: [tiny]\n# changed\n")
    git(repo, "commit", "-qam", "second")
    second = git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(BootstrapError, match=f"of commit {first.sha}, expected the pinned commit {second}"):
        unpack_inline(text, first.digest, second, tmp_path / "b")
    with pytest.raises(ValueError, match="the archive is of"):
        spec = KernelSpec(job_id="j", slug="j", commit_sha=second,
                          job=JobSpec(name="tiny", suites=["verify"]))  # fmt: skip
        build_kernel_script(spec, "", [], archive=first)


def test_the_guard_scans_the_archive_bytes_not_only_the_tree(tmp_path):
    """``export-subst`` writes the branch name into the archive: the tree is clean, the archive is
    not, and only a scan of the archive's own bytes can tell."""
    repo = init_repo(tmp_path / "repo")
    (repo / "VERSION").write_text("built from $Format:%D$\n")
    (repo / ".gitattributes").write_text("VERSION export-subst\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "version file")
    git(repo, "checkout", "-qb", AWS_LIKE)
    sha = git(repo, "rev-parse", "HEAD").strip()
    with SecretGuard(repo) as guard:
        assert guard.scan_tree(sha, "tree") == []  # the stored blob holds only the placeholder
        with pytest.raises(SecretDetected) as caught:
            build_archive(repo, sha, guard)
    text = str(caught.value)
    assert "VERSION" in text and "AWS" in text and "inline archive" in text


def test_a_tracked_secret_never_reaches_an_archive(tmp_path):
    repo = make_project(tmp_path / "project")
    (repo / "settings.ini").write_text(f"[aws]\naws_access_key_id = {AWS_LIKE}\n")
    git(repo, "add", "settings.ini")
    git(repo, "commit", "-qm", "settings")
    with pytest.raises(SecretDetected, match="settings.ini"):
        archive_of(repo)


def test_auto_inline_and_git_choose_with_a_reason(tmp_path, monkeypatch):
    archive = archive_of(make_project(tmp_path / "project"))
    plan = plan_transport("auto", archive, None)
    assert (plan.transport, plan.needs_push, plan.archive) == ("inline", False, archive)
    assert "under the 1.0 MB inline limit; no remote or push needed" in plan.reason
    assert plan_transport("inline", archive, "https://h/r.git").transport == "inline"
    assert plan_transport("git", None, "https://h/r.git").needs_push
    with pytest.raises(NoRemote, match="has none"):
        plan_transport("git", None, None)
    monkeypatch.setattr(code_transport, "INLINE_MAX_BYTES", archive.size - 1)
    over = plan_transport("auto", archive, "https://h/r.git")
    assert over.transport == "git" and "over the" in over.reason and over.archive is None
    with pytest.raises(NoRemote, match="dataset transport is not available yet"):
        plan_transport("auto", archive, None)
    with pytest.raises(BadInput, match="over the .* inline limit") as caught:
        plan_transport("inline", archive, None)
    assert "kaggle.code: git" in caught.value.fix


@pytest.mark.parametrize(("block", "expected"), [
    ("{code: zip}", "key 'kaggle.code' = 'zip': unknown code transport 'zip'; choose from auto, "
                    "inline, git"),
    ("{code: dataset}", "unknown code transport 'dataset'"),
    ("{code: git, internet: false}", "code: git clones the repository inside the kernel, which "
                                     "needs internet: true"),
])  # fmt: skip
def test_a_bad_kaggle_code_names_the_key_the_value_and_the_choices(tmp_path, block, expected):
    from orchestrator.jobspec import load_jobspec

    job = tmp_path / "job.yml"
    job.write_text(f"name: demo\nsuites: [verify]\nkaggle: {block}\n")
    with pytest.raises(JobSpecError) as caught:
        load_jobspec(job)
    assert expected in str(caught.value) and caught.value.exit_code == 2
