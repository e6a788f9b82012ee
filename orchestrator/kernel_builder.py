"""Generate the kernel script: :mod:`orchestrator.kernel_bootstrap` with the job embedded.

The script is stdlib-only Python; it clones ``repo_url`` at ``commit_sha`` -- or unpacks the code
archive embedded in it (the ``inline`` transport, :mod:`orchestrator.code_transport`) -- and runs
the payload (see the bootstrap's docstring). Kernel slugs are fresh per run: ``arz-<job>-<sha8>-<rand>``.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from kernel_payload.schema import KernelSpec
from orchestrator.code_transport import CodeArchive, dataset_file_name

SLUG_MAX = 50
CONFIG_LINE = re.compile(r"^CONFIG_JSON = (.*)$", re.MULTILINE)
ARCHIVE_LINE = re.compile(r"^CODE_ARCHIVE = .*$", re.MULTILINE)
KERNEL_EXCLUDED = {"kaggle", "detect-secrets"}
"""Requirements the kernel never needs (orchestrator-only, or harmful inside a kernel)."""


def embedded_config(script: str) -> dict:
    """The configuration a kernel script built by :func:`build_kernel_script` embeds (its
    ``CONFIG_JSON`` line), read without running the script.

    Raises:
        ValueError: the script has no ``CONFIG_JSON`` line (not a bootstrap).
    """
    match = CONFIG_LINE.search(script)
    if match is None:
        raise ValueError("the kernel script has no CONFIG_JSON line")
    return json.loads(json.loads(match.group(1)))


def make_slug(job_name: str, sha: str, rand: str | None = None) -> str:
    """A fresh kernel slug ``arz-<job>-<sha8>-<rand>`` (lower case, at most 50 characters)."""
    rand = rand or secrets.token_hex(2)
    job = re.sub(r"[^a-z0-9]+", "-", job_name.lower()).strip("-") or "job"
    room = SLUG_MAX - len(f"arz--{sha[:8]}-{rand}")
    return f"arz-{job[:room].rstrip('-')}-{sha[:8]}-{rand}"


def kernel_requirements(repo_root: Path, extras: tuple[str, ...] = ()) -> list[str]:
    """The project's runtime requirements from ``pyproject.toml`` (plus the optional-dependency
    groups named in ``extras``, e.g. ``gpu``), minus orchestrator-only ones."""
    text = (repo_root / "pyproject.toml").read_text()
    try:
        import tomllib

        project = tomllib.loads(text)["project"]
        deps = list(project["dependencies"])
        for extra in extras:
            deps += project.get("optional-dependencies", {}).get(extra, [])
    except ModuleNotFoundError:  # Python 3.10: read the main array by hand
        block = re.search(r"(?ms)^dependencies\s*=\s*\[(.*?)^\]", text)
        deps = re.findall(r"\"([^\"]+)\"", block.group(1)) if block else []
    return [d for d in deps if re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0] not in KERNEL_EXCLUDED]


def build_kernel_script(spec: KernelSpec, repo_url: str, requirements: list[str],
                        archive: CodeArchive | None = None, dataset: str | None = None,
                        wheels: dict | None = None) -> str:  # fmt: skip
    """The bootstrap source with ``spec`` embedded.

    Args:
        spec: the job and its identity; ``spec.commit_sha`` is the commit the kernel checks out.
        repo_url: where to clone from (a local path for the local backend, the remote for Kaggle);
            unused with ``archive``.
        requirements: pip requirement strings to install when missing.
        archive: the commit's code archive for the ``inline`` transport (embedded base64, with its
            sha256 in the configuration); None: the kernel clones ``repo_url``.
        dataset: with ``archive``, the slug of the code dataset that carries it (the ``dataset``
            transport): only its file name and sha256 go into the script, not the archive.
        wheels: the wheelhouse the kernel installs from (``WheelhouseSpec.kernel_config()``).

    Returns:
        Python source, stdlib-only.
    """
    config = {
        "repo_url": repo_url,
        "commit_sha": spec.commit_sha,
        "requirements": requirements,
        "spec": spec.model_dump(mode="json"),
    }
    if wheels:
        config["wheels"] = wheels
    if archive is not None:
        if archive.sha != spec.commit_sha:
            raise ValueError(f"the archive is of {archive.sha}, the job pins {spec.commit_sha}")
        config["code"] = {"transport": "dataset" if dataset else "inline",
                          "sha256": archive.digest, "bytes": archive.size}  # fmt: skip
        if dataset:
            config["code"].update(dataset=dataset, file=dataset_file_name(archive.digest))
    template = (Path(__file__).with_name("kernel_bootstrap.py")).read_text()
    literal = json.dumps(json.dumps(config))
    script, count = CONFIG_LINE.subn(lambda _m: f"CONFIG_JSON = {literal}", template, count=1)
    if count != 1:
        raise RuntimeError("kernel_bootstrap.py lost its CONFIG_JSON line")
    if archive is not None and not dataset:
        line = f"CODE_ARCHIVE = {json.dumps(archive.base64())}"
        script, count = ARCHIVE_LINE.subn(lambda _m: line, script, count=1)
        if count != 1:
            raise RuntimeError("kernel_bootstrap.py lost its CODE_ARCHIVE line")
    return script
