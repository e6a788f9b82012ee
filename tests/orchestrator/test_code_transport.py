"""The ``inline`` and ``dataset`` code transports, piece by piece, on real temporary git
repositories: the archive the guard scans on its own bytes, the script that embeds it (or names
the dataset file), the bootstrap that checks and unpacks it, and the choice between ``inline``,
``dataset`` and ``git`` (``kaggle.code``)."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

from kernel_payload.schema import JobSpec, KernelSpec
from orchestrator import code_transport
from orchestrator.code_transport import build_archive, plan_transport
from orchestrator.errors import BadInput, JobSpecError, NoRemote, SecretDetected
from orchestrator.kernel_bootstrap import BootstrapError, unpack_archive
from orchestrator.kernel_builder import build_kernel_script
from orchestrator.secret_guard import SecretGuard
from tests.orchestrator.conftest import git, init_repo, make_project

AWS_LIKE = "AKIA" + "QWERTYUIOPASDFGH"  # AKIA + 16: the AWS access key id shape


def archive_of(repo: Path):
    sha = git(repo, "rev-parse", "HEAD").strip()
    with SecretGuard(repo) as guard:
        return build_archive(repo, sha, guard)


def embedded(script: str) -> bytes:
    (line,) = re.findall(r"^CODE_ARCHIVE = (.*)$", script, re.MULTILINE)
    return base64.b64decode(json.loads(line))


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
    unpack_archive(embedded(script), archive.digest, archive.sha, dest, "inline")
    tracked = sorted(git(repo, "ls-files").split())
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == tracked
    assert all((dest / name).read_bytes() == (repo / name).read_bytes() for name in tracked)
    assert not (dest / "untracked.py").exists() and archive.files == len(tracked)


def test_the_bootstrap_refuses_a_damaged_archive_or_another_commit(tmp_path):
    repo = make_project(tmp_path / "project")
    first = archive_of(repo)
    text = embedded(script_for(repo, first))
    with pytest.raises(BootstrapError, match="damaged: sha256"):
        unpack_archive(text, "0" * 64, first.sha, tmp_path / "a", "inline")
    (repo / "jobs" / "tiny.yml").write_text("name: tiny\nsuites: [tiny]\n# changed\n")
    git(repo, "commit", "-qam", "second")
    second = git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(BootstrapError, match=f"of commit {first.sha}, expected the pinned commit {second}"):
        unpack_archive(text, first.digest, second, tmp_path / "b", "inline")
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
    assert "VERSION" in text and "AWS" in text and "code archive" in text


def test_a_tracked_secret_never_reaches_an_archive(tmp_path):
    repo = make_project(tmp_path / "project")
    (repo / "settings.ini").write_text(f"[aws]\naws_access_key_id = {AWS_LIKE}\n")
    git(repo, "add", "settings.ini")
    git(repo, "commit", "-qm", "settings")
    with pytest.raises(SecretDetected, match="settings.ini"):
        archive_of(repo)


def test_auto_inline_dataset_and_git_choose_with_a_reason(tmp_path, monkeypatch):
    project = make_project(tmp_path / "My Project_2")
    archive = archive_of(project)
    plan = plan_transport("auto", archive, None)
    assert (plan.transport, plan.needs_push, plan.archive) == ("inline", False, archive)
    assert "under the 1.0 MB inline limit; no remote or push needed" in plan.reason
    assert plan_transport("inline", archive, "https://h/r.git").transport == "inline"
    assert plan_transport("git", None, "https://h/r.git").needs_push
    with pytest.raises(NoRemote, match="has none"):
        plan_transport("git", None, None)
    monkeypatch.setattr(code_transport, "INLINE_MAX_BYTES", archive.size - 1)
    over = plan_transport("auto", archive, None, root=project)  # no remote needed
    assert (over.transport, over.needs_push, over.archive) == ("dataset", False, archive)
    assert over.dataset == "arz-code-my-project-2" and re.search(r"is over the \S+ MB inline limit", over.reason)
    asked = plan_transport("dataset", archive, "https://h/r.git", root=project)
    assert asked.transport == "dataset" and asked.reason.startswith("kaggle.code: dataset;")
    with pytest.raises(BadInput, match="over the .* inline limit") as caught:
        plan_transport("inline", archive, None)
    assert "kaggle.code: dataset" in caught.value.fix


def test_the_dataset_slug_fits_kaggle(tmp_path):
    slug = code_transport.code_dataset_slug(tmp_path / ("x" * 80))
    assert slug == "arz-code-" + "x" * 41 and len(slug) == 50
    assert code_transport.code_dataset_slug(tmp_path / "__") == "arz-code-repo"


def test_the_dataset_script_names_the_file_and_the_bootstrap_finds_it(tmp_path, monkeypatch):
    from orchestrator import kernel_bootstrap

    repo = make_project(tmp_path / "project")
    archive = archive_of(repo)
    spec = KernelSpec(job_id="j", slug="j", commit_sha=archive.sha,
                      job=JobSpec(name="tiny", suites=["verify"]))  # fmt: skip
    script = build_kernel_script(spec, "", [], archive=archive, dataset="arz-code-project")
    config = json.loads(json.loads(re.search(r"^CONFIG_JSON = (.*)$", script, re.M).group(1)))
    name = f"arz-code-{archive.digest}.arzpack"
    assert config["code"] == {"transport": "dataset", "sha256": archive.digest, "bytes": archive.size,
                              "dataset": "arz-code-project", "file": name}  # fmt: skip
    assert 'CODE_ARCHIVE = ""' in script  # the archive itself is not in the script
    mounted = tmp_path / "input" / "datasets" / "tester" / "arz-code-project"
    mounted.mkdir(parents=True)
    monkeypatch.setenv("ARZ_INPUT_DIR", str(tmp_path / "input"))
    with pytest.raises(BootstrapError, match="code archive arz-code-.* is not attached"):
        kernel_bootstrap.fetch_code(config, tmp_path / "none")
    (mounted / name).write_bytes(archive.data)
    config["commit_sha"] = archive.sha
    kernel_bootstrap.fetch_code(config, tmp_path / "src")
    assert (tmp_path / "src" / "jobs" / "tiny.yml").read_bytes() == (repo / "jobs" / "tiny.yml").read_bytes()
    (mounted / name).write_bytes(archive.data[:-1] + bytes([archive.data[-1] ^ 1]))
    with pytest.raises(BootstrapError, match="dataset code archive is damaged"):
        kernel_bootstrap.fetch_code(config, tmp_path / "bad")


@pytest.mark.parametrize(("block", "expected"), [
    ("{code: zip}", "key 'kaggle.code' = 'zip': unknown code transport 'zip'; choose from auto, "
                    "inline, dataset, git"),
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


def test_this_projects_archive_leaves_the_docs_out_and_fits_inline():
    """``.gitattributes`` marks ``docs/`` export-ignore: a job never reads it, and with it the
    archive was over the inline limit (1.007 MB at 4a3e283)."""
    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    archive = archive_of(repo)
    names = [name for name, _ in code_transport.archive_files(gzip.decompress(archive.data))]
    assert not [n for n in names if n.startswith("docs/")]
    assert {"rl/imitation.py", "solver/__init__.py", "kernel_payload/__init__.py", "pyproject.toml", "README.md"} <= set(names)
    assert len(archive.data) < 0.8 * code_transport.INLINE_MAX_BYTES  # room to grow before auto picks a dataset
