"""``kaggle.code: dataset`` (issue 13) against the fake Kaggle server and the real ``kaggle`` client:
one private code dataset per repository, a version per new archive and none for unchanged code,
the faults of an upload (a version still processing, a dropped upload, an answer lost after the
version landed) each ending with one version and a verified pull, and -- through the real CLI --
a clone with no remote running offline from its code dataset and a wheelhouse, each uploaded
once, with no secret ever uploaded."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from kernel_payload.schema import SessionSummary
from orchestrator import jobs
from orchestrator.backends.base import JobStatus
from orchestrator.code_transport import TransportPlan, build_archive, dataset_file_name
from orchestrator.registry import Registry
from orchestrator.secret_guard import SecretGuard
from tests.fakes.wheels import make_wheel
from tests.kernel_payload.fake_suites import SUITES_ENV
from tests.orchestrator.conftest import git, make_project
from tests.orchestrator.kaggle_harness import register_fast_backend, start_harness

REPO = Path(__file__).resolve().parents[2]
ARZ = [sys.executable, "-m", "orchestrator.cli"]
AWS_LIKE = "AKIA" + "QWERTYUIOPASDFGH"
DATASET = "arz-code-project"


@pytest.fixture
def harness(tmp_path, monkeypatch):
    monkeypatch.setenv("ARZ_TEST_SUITES", SUITES_ENV)  # the kernel the fake runs inherits it
    monkeypatch.delenv("ARZ_OUTPUT_DIR", raising=False)
    running = start_harness(tmp_path, monkeypatch)
    yield running
    running.fake.stop()


def archive_of(repo: Path):
    with SecretGuard(repo) as guard:
        return build_archive(repo, git(repo, "rev-parse", "HEAD").strip(), guard)


def publish(backend, archive) -> list[str]:
    plan = TransportPlan("dataset", "dataset", "test", archive, DATASET)
    return backend.datasets.attach({"code_plan": plan})


def offline_job(tmp_path: Path, wheels: bool = False) -> Path:
    job = tmp_path / "offline.yml"
    job.write_text("name: offline\nsuites: [tiny]\nkaggle: {code: dataset, internet: false, "
                   f"accelerator: null, wheels: {str(wheels).lower()}}}\n")  # fmt: skip
    return job


def test_one_private_dataset_per_repository_and_a_version_per_new_archive(harness, tmp_path):
    project = make_project(tmp_path / "project")
    datasets, backend = harness.fake.datasets, harness.backend()
    first = archive_of(project)
    assert publish(backend, first) == [f"tester/{DATASET}"]
    assert publish(backend, first) == [f"tester/{DATASET}"]  # unchanged: no upload
    (version,) = datasets.versions("tester", DATASET)
    assert datasets.uploads == 1 and datasets.datasets[("tester", DATASET)].private
    assert list(version.files) == [dataset_file_name(first.digest)]
    assert version.files[dataset_file_name(first.digest)] == first.data
    assert first.sha in version.notes and first.digest in version.notes
    assert harness.fake.calls.count("CreateDataset") == 1
    fetched = tmp_path / "fetched"  # what the kaggle client downloads is what was uploaded
    backend.connection.api().dataset_download_files(f"tester/{DATASET}", path=str(fetched),
                                                    quiet=True, unzip=True)  # fmt: skip
    assert (fetched / dataset_file_name(first.digest)).read_bytes() == first.data

    (project / "jobs" / "tiny.yml").write_text("name: tiny\nsuites: [tiny]\n# changed\n")
    git(project, "commit", "-qam", "second")
    second = archive_of(project)
    publish(backend, second)
    assert [len(v.files) for v in datasets.versions("tester", DATASET)] == [1, 1]
    assert datasets.uploads == 2 and harness.fake.calls.count("CreateDatasetVersion") == 1
    assert list(datasets.versions("tester", DATASET)[-1].files) == [dataset_file_name(second.digest)]


def test_a_kernel_cannot_attach_a_version_still_processing(harness, tmp_path):
    """The fake's own promise (as on Kaggle): saving a kernel that attaches a processing version
    is a 403; a ready one is mounted read-only in the kernel's input folder."""
    import requests

    archive = archive_of(make_project(tmp_path / "project"))
    backend = harness.backend()
    publish(backend, archive)
    (version,) = harness.fake.datasets.versions("tester", DATASET)
    version.ready_at += 30.0  # processing again
    save = backend._save_request("tester", harness.request("print('hi')", gpu=False), 60.0)
    save.dataset_data_sources = [f"tester/{DATASET}"]
    with pytest.raises(requests.HTTPError, match="still being processed"):
        backend._save(save)
    assert harness.fake.kernels == {}
    version.ready_at -= 30.0
    assert backend._save(save) == 1
    (kernel,) = harness.fake.kernels.values()
    mounted = kernel.sessions[0].folder / "input" / DATASET / dataset_file_name(archive.digest)
    assert mounted.read_bytes() == archive.data
    assert mounted.stat().st_mode & 0o222 == 0 and mounted.parent.stat().st_mode & 0o222 == 0
    assert kernel.sessions[0].options.env["ARZ_INPUT_DIR"] == str(mounted.parent.parent)


def test_a_version_that_never_gets_ready_stops_the_push_with_a_clear_error(harness, tmp_path):
    from orchestrator.backends.kaggle.datasets import DatasetPolicy, KaggleDatasetError

    archive = archive_of(make_project(tmp_path / "project"))
    harness.fake.datasets.faults.processing_s = 60.0
    backend = harness.backend(datasets=DatasetPolicy(ready_s=0.5, poll_s=0.05))
    plan = TransportPlan("dataset", "dataset", "test", archive, DATASET)
    request = harness.request("print('never runs')", gpu=False, code_plan=plan)
    with pytest.raises(KaggleDatasetError, match="still refuses to list the dataset after 0.5 s "
                       r"\(HTTP 403\): its version is still processing"):  # fmt: skip
        backend.push(request)
    assert harness.fake.kernels == {} and "SaveKernel" not in harness.fake.calls  # nothing started
    assert len(harness.fake.datasets.versions("tester", DATASET)) == 1  # uploaded once, not ready


def run_job_to_verified_pull(project: Path, tmp_path: Path):
    """Submit ``code: dataset`` in process, follow it to its end, pull and verify it."""
    registry = Registry()
    sub = jobs.submit_job(offline_job(tmp_path), registry, backend_name="kaggle", cwd=project)
    assert sub.plan is not None and sub.plan.transport == "dataset"
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    record, _ = jobs.follow_job(sub.record, registry, console, sub.backend)
    assert record.status == JobStatus.COMPLETE.value
    record, folder, summary = jobs.pull_job(record, registry, backend=sub.backend)
    assert summary.status.value == "succeeded" and summary.commit_sha == sub.sync.sha
    assert all(entry.problem(folder) is None for entry in summary.artifacts)
    return sub, folder


@pytest.mark.parametrize("fault", ["processing", "dropped upload", "lost answer"])
def test_each_upload_fault_ends_with_one_version_and_a_verified_pull(
        harness, tmp_path, monkeypatch, fault):  # fmt: skip
    monkeypatch.setenv("ARZ_HOME", str(tmp_path / "arz_home"))
    register_fast_backend(monkeypatch, harness)
    project = make_project(tmp_path / "project")
    faults, calls = harness.fake.datasets.faults, harness.fake.calls
    if fault == "processing":
        faults.processing_s = 0.5
    elif fault == "dropped upload":
        faults.upload_drops = 1
    else:
        faults.version_lost_reply = 1

    sub, folder = run_job_to_verified_pull(project, tmp_path)
    (version,) = harness.fake.datasets.versions("tester", DATASET)  # exactly one version
    assert list(version.files) == [dataset_file_name(sub.plan.archive.digest)]
    (pushed,) = harness.fake.pushes
    assert pushed["datasetDataSources"] == [f"tester/{DATASET}"] and not pushed.get("enableInternet")
    log = (folder / f"{sub.record.slug}.log").read_text()
    assert f"unpacked the dataset code of {sub.sync.sha[:12]}" in log
    assert calls.count("CreateDataset") == 1 and harness.fake.datasets.uploads == 1
    if fault == "processing":  # listed (403) until ready, and the kernel saved only after that
        assert calls.count("ListDatasetFiles") >= 3
        assert calls.index("SaveKernel") > len(calls) - 1 - calls[::-1].index("GetDatasetStatus")
    elif fault == "dropped upload":
        assert calls.count("upload") == 2 and calls.count("StartBlobUpload") == 2
    else:
        assert calls.count("upload") == 1


def run_arz(args, project, harness, tmp_path, **extra_env):
    env = harness.subprocess_env()
    env.update(ARZ_HOME=str(tmp_path / "arz_home"), ARZ_TEST_SUITES=SUITES_ENV,
               PYTHONPATH=str(REPO), COLUMNS="200", **extra_env)  # fmt: skip
    env.pop("ARZ_OUTPUT_DIR", None)
    return subprocess.run([*ARZ, *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def needs_a_wheel(project: Path, index: Path) -> dict[str, str]:
    """Make the project require ``arz-probe`` (not installed here, nor on Kaggle): only the
    wheelhouse can bring it. Returns pip's settings for a folder index holding its wheels."""
    make_wheel(index, "arz-probe", "1.0", ("arz-dep>=0.1", "numpy"))
    make_wheel(index, "arz-dep", "0.2")
    make_wheel(index, "numpy", "99.0")  # the image has numpy: resolved, never shipped
    text = (project / "pyproject.toml").read_text()
    deps = '"numpy>=1.26",\n  "pyyaml>=6",\n  "pydantic>=2.6",\n  "arz-probe==1.0",\n'
    text = re.sub(r"(?ms)^dependencies = \[\n.*?^\]", f"dependencies = [\n  {deps}]", text, count=1)
    (project / "pyproject.toml").write_text(text)
    git(project, "commit", "-qam", "needs arz-probe")
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index)}


def test_a_clone_without_remote_runs_offline_from_its_code_and_wheel_datasets(harness, tmp_path):
    project = make_project(tmp_path / "project")
    pip_env = needs_a_wheel(project, tmp_path / "index")
    assert git(project, "remote").strip() == ""  # no remote at all
    job = offline_job(tmp_path, wheels=True)
    done = run_arz(["submit", str(job), "--backend", "kaggle"], project, harness, tmp_path, **pip_env)
    assert done.returncode == 0, done.stdout + done.stderr
    head = git(project, "rev-parse", "HEAD").strip()
    assert f"code: dataset (kaggle.code: dataset; uploaded to the private dataset {DATASET}" \
        in done.stdout and ", pushed" not in done.stdout  # fmt: skip
    (results,) = (project / "validation_output" / "results").iterdir()
    summary = SessionSummary.read(results)
    assert summary.status.value == "succeeded" and summary.commit_sha == head
    assert all(entry.problem(results) is None for entry in summary.artifacts)
    (kernel,) = harness.fake.kernels.values()
    session = kernel.sessions[0]
    assert session.options.internet is False  # the kernel ran with the offline environment
    log = "".join(event["data"] for event in session.events)
    assert f"unpacked the dataset code of {head[:12]}" in log
    assert "installed 2 wheels from the wheelhouse: arz_dep-0.2-py3-none-any.whl, " \
        "arz_probe-1.0-py3-none-any.whl" in log  # fmt: skip
    assert "+ git" not in log and "installing: " not in log  # nothing cloned, no index used
    (code, wheels) = harness.fake.pushes[0]["datasetDataSources"]
    assert code == f"tester/{DATASET}" and wheels.startswith("tester/arz-wheels-")
    assert git(project, "remote").strip() == "" and git(project, "for-each-ref", "refs/remotes") == ""

    # again, without the wheels' index: unchanged requirements must not even be built again
    again = run_arz(["submit", str(job), "--backend", "kaggle", "--detach"], project, harness,
                    tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert git(project, "rev-parse", "HEAD").strip() == head  # nothing new to commit
    assert len(harness.fake.pushes) == 2 and harness.fake.datasets.uploads == 2  # code + wheels, once
    assert harness.fake.pushes[1]["datasetDataSources"] == [code, wheels]
    assert len(harness.fake.datasets.versions("tester", DATASET)) == 1
    assert len(harness.fake.datasets.versions("tester", wheels.split("/")[1])) == 1


@pytest.mark.parametrize("where", ["tracked file", "archive only"])
def test_a_secret_is_never_uploaded(harness, tmp_path, where):
    project = make_project(tmp_path / "project")
    if where == "tracked file":
        (project / "settings.ini").write_text(f"[aws]\naws_access_key_id = {AWS_LIKE}\n")
        git(project, "add", "settings.ini")
        git(project, "commit", "-qm", "settings")
    else:  # export-subst writes the branch name into the archive only
        (project / "VERSION").write_text("built from $Format:%D$\n")
        (project / ".gitattributes").write_text("VERSION export-subst\n")
        git(project, "add", "-A")
        git(project, "commit", "-qm", "version")
        git(project, "checkout", "-qb", AWS_LIKE)
    done = run_arz(["submit", str(offline_job(tmp_path)), "--backend", "kaggle"], project, harness,
                   tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "AWS" in done.stderr and "Traceback" not in done.stderr
    assert ("settings.ini" if where == "tracked file" else "VERSION") in done.stderr
    assert harness.fake.datasets.uploads == 0 and harness.fake.pushes == []
    assert "StartBlobUpload" not in harness.fake.calls and harness.fake.datasets.datasets == {}
