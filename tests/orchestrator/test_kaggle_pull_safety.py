"""Pulls from the Kaggle backend trust nothing either: the fake server runs kernels whose outputs
are crafted (links, unsafe manifest paths, a sparse file, a foreign summary); the verdict of an
ended kernel is known before any pull.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.backends.base import PushRequest
from orchestrator.backends.kaggle.errors import KaggleError
from orchestrator.errors import OutputRefused, SummaryMismatch
from orchestrator.results import MARKER_FILE, pull_results
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.kaggle_harness import start_harness, wait_terminal
from tests.orchestrator.pull_fixtures import GOOD_FILES, entry, expected, summary_json, tree_state

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def harness(tmp_path, monkeypatch):
    running = start_harness(tmp_path, monkeypatch)
    yield running
    running.fake.stop()


def crafted_script(files: dict[str, bytes], summary: str, setup: str = "") -> str:
    """A kernel that writes ``files`` and ``summary`` into its working folder, then runs ``setup``."""
    plain = {k: v.decode() for k, v in files.items()}
    return (
        "import json, os\n"
        f"for rel, text in json.loads({json.dumps(json.dumps(plain))}).items():\n"
        "    os.makedirs(os.path.dirname(rel) or '.', exist_ok=True)\n"
        "    open(rel, 'w').write(text)\n"
        f"open('session_summary.json', 'w').write({summary!r})\n" + setup
    )


def run_kernel(harness, files=None, extra=None, setup="", job_id=None, **summary):
    """Push a crafted kernel, wait for its end; return (backend, ref)."""
    files = GOOD_FILES if files is None else files
    backend = harness.backend()
    slug = harness.slug("craft")
    manifest = [entry(rel, data) for rel, data in files.items()] + (extra or [])
    text = summary_json(job_id or slug, manifest, **summary)
    ref = backend.push(PushRequest(slug=slug, script=crafted_script(files, text, setup), gpu=False))
    wait_terminal(backend, ref)
    return backend, ref


def assert_refused(backend, ref, tmp_path, error, match, **kwargs):
    dest = tmp_path / "results" / "job"
    (tmp_path / "results").mkdir(exist_ok=True)
    outside = tmp_path / "outside"
    before = tree_state(tmp_path / "results"), tree_state(outside)
    with pytest.raises(error, match=match) as info:
        pull_results(backend, ref, dest, expected(ref, **kwargs))
    assert "\n" not in str(info.value)
    assert (tree_state(tmp_path / "results"), tree_state(outside)) == before
    return info.value


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("do not copy me")
    return folder


def test_a_good_kaggle_pull_is_verified_and_marked(harness, tmp_path):
    backend, ref = run_kernel(harness)
    folder, summary = pull_results(backend, ref, tmp_path / "r", expected(ref))
    assert json.loads((folder / MARKER_FILE).read_text())["job_id"] == ref.slug
    assert (folder / "report.html").read_bytes() == GOOD_FILES["report.html"]


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "demo\\..\\..\\x"])
def test_unsafe_manifest_paths_are_refused(harness, tmp_path, outside, bad):
    backend, ref = run_kernel(harness, extra=[entry(bad, b"x")])
    assert_refused(backend, ref, tmp_path, OutputRefused, "unsafe path")


def test_a_link_to_a_file_outside_is_refused(harness, tmp_path, outside):
    setup = f"os.symlink({str(outside / 'secret.txt')!r}, 'demo/secret.txt')\n"
    backend, ref = run_kernel(harness, setup=setup)
    assert_refused(backend, ref, tmp_path, KaggleError, "HTTP 404")


def test_a_linked_folder_brings_nothing_from_outside(harness, tmp_path, outside):
    setup = f"os.symlink({str(outside)!r}, 'demo/more')\nos.symlink('..', 'demo/loop')\n"
    backend, ref = run_kernel(harness, setup=setup)
    folder, _ = pull_results(backend, ref, tmp_path / "r", expected(ref))
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*")}
    assert not any(n.startswith(("demo/more", "demo/loop")) for n in names)


def test_a_sparse_file_is_refused_by_the_cap(harness, tmp_path, outside):
    setup = "open('demo/huge.bin', 'wb').truncate(64 * 2**20)\n"  # a 4 GiB one is the local test's
    backend, ref = run_kernel(harness, setup=setup)
    assert_refused(backend, ref, tmp_path, OutputRefused, "results size cap", max_bytes=2**20)


@pytest.mark.parametrize(("field", "change"), [
    ("job_id", {"job_id": "arz-other-00000000-0000"}),
    ("commit_sha", {"commit": "d" * 40}),
    ("suites", {"suites": ["other"]}),
])  # fmt: skip
def test_a_summary_of_another_job_is_refused(harness, tmp_path, outside, field, change):
    backend, ref = run_kernel(harness, **change)
    assert_refused(backend, ref, tmp_path, SummaryMismatch, field)


# ------------------------------------------------------------------- verdict before any pull
def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def test_a_crashed_kaggle_job_reads_failed_before_any_pull(harness, tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)  # the kernel the fake runs inherits it
    monkeypatch.delenv("ARZ_OUTPUT_DIR", raising=False)
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git("clone", "-q", "--bare", str(REPO), str(remote), cwd=tmp_path)
    git("clone", "-q", str(remote), str(work), cwd=tmp_path)
    git("config", "user.name", "arz test", cwd=work)
    git("config", "user.email", "arz@test", cwd=work)
    job = tmp_path / "crashy.yml"
    job.write_text("name: crashy-kaggle\nsuites: [tiny, crash]\nkaggle: {accelerator: null}\n")
    env = harness.subprocess_env()
    env.update(ARZ_HOME=str(tmp_path / "arz_home"), ARZ_TEST_SUITES=SUITES_ENV,
               PYTHONPATH=str(REPO), COLUMNS="160")  # fmt: skip

    def arz(*args):
        return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    submitted = arz("submit", str(job), "--backend", "kaggle", "--detach")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    give_up = time.monotonic() + 120
    while True:
        shown = json.loads(arz("status", "--json").stdout)
        if shown["status"] not in ("queued", "running", "submitting"):
            break
        assert time.monotonic() < give_up, shown
        time.sleep(0.5)
    assert (shown["status"], shown["result"]) == ("complete", "failed")  # exit 0, suite crashed
    assert "deliberate crash" in shown["message"]
    assert not (work / "validation_output").exists()  # no pull happened
    assert harness.fake.calls.count("SaveKernel") == 1
    listed = json.loads(arz("list", "--json").stdout)
    assert (listed[0]["status"], listed[0]["result"]) == ("complete", "failed")
    table = arz("status").stdout
    assert "complete" in table and "failed" in table


def test_the_verdict_of_a_cancelled_kernel_comes_from_its_salvage(harness, tmp_path):
    backend = harness.backend()
    slug = harness.slug("salv")
    text = summary_json(slug, [entry(r, d) for r, d in GOOD_FILES.items()])
    script = crafted_script(GOOD_FILES, text, "import time\nprint('written', flush=True)\n"
                            "time.sleep(60)\n")  # fmt: skip
    ref = backend.push(PushRequest(slug=slug, script=script, gpu=False))
    give_up = time.monotonic() + 30
    while "written" not in "".join(backend.logs(ref)):
        assert time.monotonic() < give_up
        time.sleep(0.1)
    backend.cancel(ref)
    got = backend.fetch_summary(ref, tmp_path / "verdict")
    assert got is not None and json.loads(got.read_text())["job_id"] == slug
    assert "SaveKernel" in harness.fake.calls and harness.fake.kernels == {}  # deleted after
