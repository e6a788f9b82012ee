"""The secret guard against real repositories with a bare remote.

Every refusal is checked the same way (:func:`assert_untouched`): HEAD, the index file, the working
tree, and the bare remote's refs *and objects* are exactly as before the submit. The fake secrets
come from :mod:`tests.orchestrator.secret_cases` (generated at run time).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import GitSyncError, SecretDetected
from orchestrator.gitsync import sync_repository
from tests.orchestrator.conftest import git, init_repo
from tests.orchestrator.secret_cases import HEX, NAME_CASES, cases, key_block, more_cases, rand

ALL_CASES = cases() + more_cases()


@pytest.fixture
def pushed(tmp_path: Path) -> tuple[Path, Path]:
    """A repository whose first commit is pushed to a bare remote (``origin/main`` tracked)."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo = init_repo(tmp_path / "repo")
    (repo / "model.py").write_text("x = 1\n")
    (repo / "notes.txt").write_text("notes\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    return repo, remote


def snapshot(repo: Path, remote: Path) -> dict:
    """HEAD, the index bytes, every working-tree file, the remote's refs and object ids."""
    files = {}
    for path in sorted(repo.rglob("*")):
        if ".git" not in path.relative_to(repo).parts and path.is_file():
            files[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    index = repo / ".git" / "index"
    objects = git(remote, "cat-file", "--batch-all-objects", "--batch-check")
    return {
        "head": git(repo, "rev-parse", "HEAD").strip(),
        "branch": git(repo, "symbolic-ref", "-q", "HEAD").strip(),
        "index": index.read_bytes() if index.exists() else b"",
        "tree": files,
        "remote_refs": git(remote, "for-each-ref"),
        "remote_objects": sorted(objects.split("\n")),
        "log": git(repo, "log", "--all", "--format=%H %s"),
    }


def assert_untouched(before: dict, repo: Path, remote: Path) -> None:
    """Nothing changed: HEAD, index, working tree, remote refs and objects, all commits."""
    after = snapshot(repo, remote)
    for key in before:
        assert after[key] == before[key], f"{key} changed"


def refused(repo: Path, remote: Path, push: bool = True) -> SecretDetected:
    """Submit, expect a refusal, check that nothing changed; return the error."""
    before = snapshot(repo, remote)
    with pytest.raises(SecretDetected) as info:
        sync_repository(repo, "job", push=push)
    assert_untouched(before, repo, remote)
    assert info.value.exit_code == 2
    return info.value


def write(repo: Path, name: str, content: str | bytes) -> Path:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def commit(repo: Path, message: str, *names: str) -> str:
    git(repo, "add", "-f", *names)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def ghp() -> str:
    return "gh" + "p_" + rand(36)


# --------------------------------------------------------------- every format, as a pending change
@pytest.mark.parametrize(("case", "name", "content"), ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_each_format_in_a_tracked_file_is_refused(pushed, case, name, content):
    repo, remote = pushed
    write(repo, name, "x = 1\n")
    commit(repo, "add an empty file", name)
    write(repo, name, "header line\n" + content)  # a modification that `git add -u` would stage
    err = refused(repo, remote)
    assert err.path == name and err.where == "the changes to commit"
    assert f"'{name}:" in str(err) and "(rule: " in str(err)


@pytest.mark.parametrize("name", NAME_CASES)
def test_secret_file_names_are_refused(pushed, name):
    repo, remote = pushed
    write(repo, name, "nothing secret inside\n")
    commit(repo, "oops", name)
    err = refused(repo, remote)
    assert err.path == name and err.rule.startswith("file name: ")


# ------------------------------------------------------------------------------- unpushed history
def test_a_secret_removed_in_a_later_unpushed_commit_is_still_refused(pushed):
    repo, remote = pushed
    write(repo, "deploy.txt", f"token {ghp()}\n")
    leaked = commit(repo, "add deploy notes", "deploy.txt")
    git(repo, "rm", "-q", "deploy.txt")
    git(repo, "commit", "-q", "-m", "remove them again")
    write(repo, "model.py", "x = 2\n")  # something to commit too
    for push in (True, False):
        err = refused(repo, remote, push=push)
        assert err.path == "deploy.txt" and err.where == f"commit {leaked[:10]}"
        assert leaked[:10] in str(err) and "GitHub" in err.rule


def test_a_token_in_an_unpushed_commit_message_is_refused(pushed):
    repo, remote = pushed
    write(repo, "model.py", "x = 7\n")
    git(repo, "commit", "-q", "-am", f"deploy with {ghp()}")
    err = refused(repo, remote)
    assert err.path == "(commit message)" and err.where.startswith("commit ")


def test_a_secret_on_a_merged_side_branch_is_refused(pushed):
    repo, remote = pushed
    git(repo, "switch", "-q", "-c", "side")
    write(repo, "side.txt", key_block("OPENSSH"))
    leaked = commit(repo, "side work", "side.txt")
    git(repo, "rm", "-q", "side.txt")
    git(repo, "commit", "-q", "-m", "drop it")
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    err = refused(repo, remote)
    assert err.path == "side.txt" and err.where == f"commit {leaked[:10]}"


def test_without_a_remote_branch_every_unpublished_commit_is_scanned(tmp_path):
    remote = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo = init_repo(tmp_path / "repo")
    write(repo, "old.txt", f"KAGGLE_KEY={rand(32, HEX)}\n")
    leaked = commit(repo, "ancient", "old.txt")
    git(repo, "rm", "-q", "old.txt")
    git(repo, "commit", "-q", "-m", "clean")
    git(repo, "remote", "add", "origin", str(remote))
    err = refused(repo, remote)
    assert err.path == "old.txt" and leaked[:10] in err.where


def test_already_published_history_is_not_scanned_again(pushed):
    repo, remote = pushed
    write(repo, "old.txt", f"token {ghp()}\n")
    commit(repo, "leak", "old.txt")
    git(repo, "rm", "-q", "old.txt")
    git(repo, "commit", "-q", "-m", "clean")
    git(repo, "push", "-q", "origin", "main")  # already public: a push adds nothing to it
    write(repo, "model.py", "x = 3\n")
    result = sync_repository(repo, "job", push=True)
    assert result.committed and result.pushed


# ------------------------------------------------------------------- what `git diff` cannot see
@pytest.mark.parametrize("attributes", ["*.dat binary\n", "*.dat -diff\n", "*.dat -text -diff\n"])
def test_gitattributes_binary_or_no_diff_hide_nothing(pushed, attributes):
    repo, remote = pushed
    write(repo, ".gitattributes", attributes)
    write(repo, "blob.dat", "x\n")
    commit(repo, "attributes", ".gitattributes", "blob.dat")
    write(repo, "blob.dat", f"x\n{ghp()}\n")
    assert refused(repo, remote).path == "blob.dat"


def test_diff_external_and_textconv_hide_nothing(pushed):
    repo, remote = pushed
    git(repo, "config", "diff.external", "true")
    git(repo, "config", "diff.hide.textconv", "sh -c 'echo nothing'")
    write(repo, ".gitattributes", "*.txt diff=hide\n")
    write(repo, "secret.txt", key_block("RSA"))
    leaked = commit(repo, "hidden", ".gitattributes", "secret.txt")
    err = refused(repo, remote)
    assert err.path == "secret.txt" and err.where == f"commit {leaked[:10]}"


def test_a_secret_inside_a_binary_file_is_refused(pushed):
    repo, remote = pushed
    write(repo, "model.bin", b"\x00\x01\x02PK" + ghp().encode() + b"\x00\xff" * 50)
    commit(repo, "weights", "model.bin")
    assert refused(repo, remote).path == "model.bin"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "utf-32"])
def test_unicode_encodings_are_decoded(pushed, codec):
    repo, remote = pushed
    text = f"[default]\naws_secret_access_key = {rand(40)}\n"
    data = text.encode(codec)  # "utf-16"/"utf-32" add a BOM; -le/-be have none
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    write(repo, "creds.cfg", data)
    commit(repo, "encoded", "creds.cfg")
    err = refused(repo, remote)
    assert err.path == "creds.cfg" and err.line in (2, 3)  # decoded: the line is found


def test_bomless_utf16_is_recognised(pushed):
    repo, remote = pushed
    write(repo, "notes.txt", f"a note\ntoken {ghp()}\n".encode("utf-16-le"))
    assert refused(repo, remote).path == "notes.txt"


def test_non_ascii_folders_keep_their_raw_names(pushed):
    repo, remote = pushed
    write(repo, "données/.netrc", "machine example.org\n")
    write(repo, "données/ok.txt", "fine\n")
    commit(repo, "unicode folder", "données/.netrc", "données/ok.txt")
    err = refused(repo, remote)
    assert err.path == "données/.netrc" and "'données/.netrc'" in str(err)
    assert "\\303" not in str(err)


def test_a_non_utf8_path_is_named_printably(pushed):
    repo, remote = pushed
    folder = os.path.join(os.fsencode(repo), b"caf\xe9")
    os.makedirs(folder)
    with open(os.path.join(folder, b".env"), "wb") as out:
        out.write(b"A=1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "latin-1 folder")
    err = refused(repo, remote)
    assert err.path == "caf\\xe9/.env"
    str(err).encode("utf-8")  # printable: no lone surrogates


def test_a_line_starting_with_plus_plus_is_scanned(pushed):
    repo, remote = pushed
    write(repo, "notes.txt", f"notes\n++ {ghp()}\n+++ b/x\n")
    assert refused(repo, remote).path == "notes.txt"


def test_a_hook_that_adds_a_secret_after_the_scan_is_caught_and_undone(pushed):
    repo, remote = pushed
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\necho 'token {ghp()}' >> notes.txt\ngit add notes.txt\n")
    hook.chmod(0o755)
    write(repo, "model.py", "x = 5\n")
    before = snapshot(repo, remote)
    with pytest.raises(SecretDetected) as info:
        sync_repository(repo, "job", push=True)
    assert info.value.path == "notes.txt" and info.value.where.startswith("commit ")
    after = snapshot(repo, remote)
    for key in ("head", "index", "remote_refs", "remote_objects"):
        assert after[key] == before[key], key


# ------------------------------------------------------------------------ pragma and allowlist
def test_the_pragma_allows_exactly_its_line(pushed):
    repo, remote = pushed
    allowed, other = ghp(), ghp()
    write(repo, "model.py", f"a = '{allowed}'  # pragma: allowlist secret\n")
    assert sync_repository(repo, "job", push=True).committed
    write(repo, "model.py", f"# pragma: allowlist nextline secret\nb = '{allowed}'\n")
    assert sync_repository(repo, "job", push=True).committed
    write(repo, "model.py", f"a = '{allowed}'  # pragma: allowlist secret\nb = '{other}'\n")
    err = refused(repo, remote)
    assert err.path == "model.py" and "model.py:2" in str(err)


def test_the_allowlist_fingerprint_allows_exactly_that_value(pushed):
    repo, remote = pushed
    write(repo, "model.py", f"a = '{ghp()}'\n")
    first = refused(repo, remote)
    assert f"fingerprint: {first.fingerprint}" in str(first)
    write(repo, ".arz-secrets-allow", f"# a test fixture\nfingerprint: {first.fingerprint}\n")
    commit(repo, "allow", ".arz-secrets-allow")
    assert sync_repository(repo, "job", push=True).committed
    write(repo, "model.py", f"a = '{ghp()}'\n")  # another value: still refused
    assert refused(repo, remote).fingerprint != first.fingerprint


def test_the_allowlist_path_glob_allows_exactly_those_files(pushed):
    repo, remote = pushed
    token = ghp()
    write(repo, ".arz-secrets-allow", "path: fixtures/**/*.txt\n")
    write(repo, "fixtures/deep/fake.txt", f"{token}\n")
    write(repo, "fixtures/fake.txt", f"{token}\n")
    commit(repo, "fixtures", ".arz-secrets-allow", "fixtures/deep/fake.txt", "fixtures/fake.txt")
    assert sync_repository(repo, "job", push=True).pushed
    write(repo, "fixtures/fake.py", f"{token}\n")  # not a .txt: not allowed
    commit(repo, "more", "fixtures/fake.py")
    assert refused(repo, remote).path == "fixtures/fake.py"


def test_a_bad_allowlist_line_is_one_clear_error(pushed):
    repo, remote = pushed
    write(repo, ".arz-secrets-allow", "ignore everything\n")
    before = snapshot(repo, remote)
    with pytest.raises(GitSyncError, match=r"\.arz-secrets-allow line 1 is not understood") as info:
        sync_repository(repo, "job", push=True)
    assert info.value.exit_code == 2 and "fingerprint: <16 hex" in str(info.value)
    assert_untouched(before, repo, remote)


# ------------------------------------------------------------------- ordinary code passes
def test_ordinary_code_and_digests_pass(pushed):
    repo, remote = pushed
    write(repo, "model.py", "\n".join([
        'token = os.environ["KAGGLE_KEY"]',
        'password_hint = "short"',
        f'EMPTY_TREE = "{rand(40, HEX)}"',
        f'KERNEL_SOURCES_DIGEST = "{rand(16, HEX)}"',
        f'commit_sha = "{rand(40, HEX)}"',
        'api_key = get_api_key()',
        'url = "https://user:TOKEN@host/repo.git"  # documentation',
        'labels = {"password": "the account password"}',
    ]) + "\n")  # fmt: skip
    write(repo, ".env.example", "KAGGLE_KEY=\nAPI_TOKEN=<your token>\n")
    write(repo, "ci.yml", "auth: none\ntoken_env: KAGGLE_KEY\npassword_file: /run/secrets/db\n"
          "client_id: abcdefgh1234\ntoken: ${{ secrets.TOKEN }}\n")  # fmt: skip
    commit(repo, "example", ".env.example", "ci.yml")
    assert sync_repository(repo, "job", push=True).pushed


# ------------------------------------------------------------------------ this project itself
def test_the_project_tree_passes_its_own_guard():
    """False positives on our own code would break the quickstart (`arz submit` scans the tree)."""
    from orchestrator.secret_guard import SecretGuard

    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    with SecretGuard(repo, remember=False) as guard:  # read-only: no cache written
        hits = guard.scan_tree("HEAD", "HEAD")
    assert hits == [], "\n".join(f"{h.path}:{h.line} {h.rule} {h.fingerprint}" for h in hits)


def test_arz_submit_refuses_with_one_line_and_exit_2(project, arz_home):
    from typer.testing import CliRunner

    from orchestrator.cli import app

    write(project, "jobs/tiny.yml", "name: tiny\nsuites: [tiny]\n# " + ghp() + "\n")
    head = git(project, "rev-parse", "HEAD")
    result = CliRunner().invoke(app, ["submit", "jobs/tiny.yml", "--backend", "local"])
    assert result.exit_code == 2, result.output
    assert "refusing to publish: 'jobs/tiny.yml:3' in the changes to commit" in result.output
    assert "Traceback" not in result.output and git(project, "rev-parse", "HEAD") == head
    assert not (arz_home / "local").exists()  # no kernel was started


def test_bare_random_tokens_are_caught_at_every_length():
    """The bare-token rule against the class, not one draw: 400 random alphanumeric tokens of 32-64
    characters, each alone on a line (a fixed 4.5 bits/char bar missed ~45 % at 32 characters)."""
    from orchestrator.secret_rules import scan_text
    from tests.orchestrator.secret_cases import rand

    missed = [token for i in range(400)
              if not scan_text("deploy/token.txt", (token := rand(29 + i % 33, seed=i) + "A1b") + "\n")]
    assert missed == []
