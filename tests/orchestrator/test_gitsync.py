"""Git sync against real temporary repositories and a bare remote."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import GitSyncError, NoRemote, PushRejected, SecretDetected
from orchestrator.gitsync import secret_reason, sync_repository
from tests.orchestrator.conftest import git, init_repo

# Built at run time so that this file itself never contains a key-like string.
PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEabc\n-----END " + "RSA PRIVATE KEY-----\n"
KAGGLE_KEY = '{"username": "me", "key": "' + "0123456789abcdef" * 2 + '"}'
GITHUB_TOKEN = "ghp" + "_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # pragma: allowlist secret


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = init_repo(tmp_path / "repo")
    (path / "model.py").write_text("x = 1\n")
    git(path, "add", "model.py")
    git(path, "commit", "-q", "-m", "first")
    return path


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def test_commits_tracked_changes_with_the_job_name(repo):
    (repo / "model.py").write_text("x = 2\n")
    (repo / "notes.txt").write_text("untracked\n")
    result = sync_repository(repo, "quickstart")
    assert result.committed and result.sha == head(repo) and len(result.sha) == 40
    assert git(repo, "log", "-1", "--format=%s").strip() == "arz: job quickstart"
    assert git(repo, "show", "HEAD:model.py") == "x = 2\n"
    assert "notes.txt" not in git(repo, "ls-files") and result.untracked == ["notes.txt"]
    assert result.branch == "main" and not result.pushed


def test_a_clean_tree_makes_no_commit(repo):
    before = head(repo)
    result = sync_repository(repo / ".", "again")
    assert not result.committed and result.sha == before


def test_staged_new_files_are_committed(repo):
    (repo / "new.py").write_text("y = 1\n")
    git(repo, "add", "new.py")
    result = sync_repository(repo, "job")
    assert result.committed and "new.py" in git(repo, "ls-files")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("kaggle.json", "{}"),
        (".env", "A=1\n"),
        ("config/.env.local", "A=1\n"),
        ("my_access_token.txt", "x"),
        ("deploy/id_rsa", "x"),
        ("certs/server.pem", "x"),
    ],
)
def test_secret_files_are_refused_by_name(repo, name, content):
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    git(repo, "add", "-f", name)
    before = head(repo)
    with pytest.raises(SecretDetected) as info:
        sync_repository(repo, "job")
    assert info.value.path == name and f"'{name}'" in str(info.value)
    assert head(repo) == before  # nothing committed


@pytest.mark.parametrize(
    "line", [PRIVATE_KEY, KAGGLE_KEY, GITHUB_TOKEN, 'API_KEY = "' + "a1B2" * 6 + '"\n']
)
def test_key_like_strings_in_the_diff_are_refused(repo, line):
    (repo / "model.py").write_text("x = 1\n" + line)
    with pytest.raises(SecretDetected) as info:
        sync_repository(repo, "job")
    assert info.value.path == "model.py"
    assert "in the changes to commit looks like a secret (rule: " in str(info.value)
    assert git(repo, "diff", "--cached", "--name-only") == ""  # the index was not touched


def test_ordinary_code_is_not_mistaken_for_a_secret(repo):
    (repo / "model.py").write_text('token = os.environ["KAGGLE_KEY"]\npassword_hint = "short"\n')
    (repo / ".env.example").write_text("KAGGLE_KEY=\n")
    git(repo, "add", ".env.example")
    assert sync_repository(repo, "job").committed


def test_an_already_tracked_secret_is_refused(repo):
    (repo / "kaggle.json").write_text("{}")
    git(repo, "add", "kaggle.json")
    git(repo, "commit", "-q", "-m", "oops")
    with pytest.raises(SecretDetected, match=r"'kaggle.json' in commit [0-9a-f]{10} looks like"):
        sync_repository(repo, "job")


@pytest.mark.parametrize(
    ("name", "expected"), [("a/kaggle.json", True), (".env.example", False), ("b.py", False)]
)
def test_secret_reason_by_name(name, expected):
    assert (secret_reason(name) is not None) is expected


def test_push_to_a_bare_remote(repo, bare_remote):
    git(repo, "remote", "add", "origin", str(bare_remote))
    (repo / "model.py").write_text("x = 3\n")
    result = sync_repository(repo, "pushy", push=True)
    assert result.pushed and result.remote_url == str(bare_remote)
    assert git(bare_remote, "rev-parse", "refs/heads/main").strip() == result.sha


def test_push_without_a_remote_says_how_to_fix_it(repo):
    with pytest.raises(NoRemote, match="no remote") as info:
        sync_repository(repo, "job", push=True)
    assert "git remote add origin" in str(info.value) and info.value.exit_code == 2


def test_push_decided_after_pinning_needs_no_remote_when_it_says_no(repo):
    """The inline code transport decides once the commit is pinned: no push, no remote needed."""
    (repo / "model.py").write_text("x = 4\n")
    seen = []
    result = sync_repository(repo, "inline", push=lambda pinned: seen.append(pinned.sha) or False)
    assert seen == [result.sha] and result.committed and not result.pushed
    assert result.remote_url is None and head(repo) == result.sha


def test_push_decided_after_pinning_still_undoes_the_commit_without_a_remote(repo):
    before = head(repo)
    (repo / "model.py").write_text("x = 5\n")
    with pytest.raises(NoRemote):
        sync_repository(repo, "git", push=lambda pinned: True)
    assert head(repo) == before


def test_rejected_push_is_explained(repo, bare_remote, tmp_path):
    git(repo, "remote", "add", "origin", str(bare_remote))
    sync_repository(repo, "first", push=True)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare_remote), str(other))
    git(
        other,
        "-c",
        "user.name=o",
        "-c",
        "user.email=o@x",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    git(other, "push", "-q", "origin", "main")
    (repo / "model.py").write_text("x = 4\n")
    with pytest.raises(PushRejected, match="rejected") as info:
        sync_repository(repo, "second", push=True)
    assert "git pull --rebase origin main" in str(info.value)


def test_not_a_repository(tmp_path):
    with pytest.raises(GitSyncError, match="not inside a git repository"):
        sync_repository(tmp_path, "job")


def test_a_repository_without_commits(tmp_path):
    path = init_repo(tmp_path / "empty")
    with pytest.raises(GitSyncError, match="no commit yet"):
        sync_repository(path, "job")


def test_first_commit_from_staged_files(tmp_path):
    path = init_repo(tmp_path / "fresh")
    (path / "a.py").write_text("a = 1\n")
    git(path, "add", "a.py")
    result = sync_repository(path, "first")
    assert result.committed and result.sha == head(path)


# ------------------------------------------------- a failed submit takes back its own commit
def index_bytes(path: Path) -> bytes:
    return (path / ".git" / "index").read_bytes()


def test_no_remote_leaves_no_commit_however_often_it_is_retried(repo):
    (repo / "model.py").write_text("x = 9\n")
    before, index = head(repo), index_bytes(repo)
    for _ in range(3):
        with pytest.raises(NoRemote):
            sync_repository(repo, "job", push=True)
        assert head(repo) == before and index_bytes(repo) == index
    assert "arz: job" not in git(repo, "log", "--all", "--format=%s")
    assert git(repo, "diff", "--name-only") == "model.py\n"  # still an unstaged change
    assert (repo / "model.py").read_text() == "x = 9\n"


def test_a_rejected_push_leaves_no_commit_and_the_remote_unchanged(repo, bare_remote, tmp_path):
    git(repo, "remote", "add", "origin", str(bare_remote))
    sync_repository(repo, "first", push=True)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare_remote), str(other))
    git(other, "-c", "user.name=o", "-c", "user.email=o@x", "commit", "-q", "--allow-empty",
        "-m", "elsewhere")  # fmt: skip
    git(other, "push", "-q", "origin", "main")
    (repo / "model.py").write_text("x = 4\n")
    git(repo, "add", "model.py")  # a staged change stays staged, byte for byte
    before, index = head(repo), index_bytes(repo)
    refs = git(bare_remote, "for-each-ref")
    objects = git(bare_remote, "cat-file", "--batch-all-objects", "--batch-check")
    for _ in range(2):
        with pytest.raises(PushRejected):
            sync_repository(repo, "second", push=True)
        assert head(repo) == before and index_bytes(repo) == index
    assert git(bare_remote, "for-each-ref") == refs
    assert git(bare_remote, "cat-file", "--batch-all-objects", "--batch-check") == objects
    assert git(repo, "log", "--format=%s").count("arz: job second") == 0


def test_a_failed_first_commit_is_taken_back(tmp_path):
    path = init_repo(tmp_path / "fresh")
    (path / "a.py").write_text("a = 1\n")
    git(path, "add", "a.py")
    index = index_bytes(path)
    with pytest.raises(NoRemote):
        sync_repository(path, "first", push=True)
    assert git(path, "for-each-ref") == ""  # no branch, no commit: as before
    assert index_bytes(path) == index and git(path, "diff", "--cached", "--name-only") == "a.py\n"
