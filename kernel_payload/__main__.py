"""Entry point of the kernel: ``python -m kernel_payload --spec spec.json --out DIR``.

Exit codes: 0 the job succeeded, 1 it failed or was partial, 2 bad spec, 128+N stopped by signal N.
``--salvage REASON`` closes the summary of a payload that died without finishing (the bootstrap
calls it when the payload was killed hard).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from pydantic import ValidationError

from kernel_payload import startup
from kernel_payload.errors import Interrupted, SpecError
from kernel_payload.schema import JobSpec, KernelSpec, RunStatus
from kernel_payload.schema.errors import error_line, exit_code_for

OWN_PACKAGES = {"kernel_payload", "solver", "rl"}


def load_spec(path: Path) -> KernelSpec:
    """Read a :class:`KernelSpec` JSON, or a plain :class:`JobSpec` (JSON or YAML) to run by hand.

    Raises:
        SpecError: the file cannot be read or does not validate.
    """
    try:
        text = path.read_text()
        if path.suffix in (".yml", ".yaml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        if isinstance(data, dict) and "job" in data:
            return KernelSpec.model_validate(data)
        job = JobSpec.model_validate(data)
    except (OSError, ValueError, ValidationError) as exc:
        raise SpecError(f"cannot use spec {path}: {exc}") from exc
    return KernelSpec(job_id=f"{job.name}-manual", slug="", commit_sha=_git_head(), job=job)


def _git_head() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def isolate_source_tree() -> None:
    """Import this project's packages only from the source tree this payload runs from.

    An editable install (``pip install -e .``) puts a finder on ``sys.meta_path`` that resolves
    ``kernel_payload``, ``solver`` and ``rl`` -- and any of their submodules -- to the installed
    working tree. When the payload runs from a clone of a pinned commit (or any tree on
    ``sys.path``), a module missing from that tree would silently come from the working tree
    instead, mixing code from two commits. Such finders are dropped when the running tree is on
    ``sys.path``; the payload's imports then come from that tree alone.
    """
    root = Path(__file__).resolve().parents[1]
    on_path = {Path(entry or ".").resolve() for entry in sys.path}
    if root not in on_path:
        return  # imported through the editable finder itself: keep it
    for finder in list(sys.meta_path):
        mapping = getattr(sys.modules.get(getattr(finder, "__module__", "")), "MAPPING", None)
        if isinstance(mapping, dict) and OWN_PACKAGES & set(mapping):
            sys.meta_path.remove(finder)


def use_kernel_cache() -> str:
    """Reuse compiled kernels across jobs (``$ARZ_KERNEL_CACHE_DIR``, set by the bootstrap) and
    time numba's compiles for the start-up split; return the one-line status the payload prints.

    See :mod:`kernel_payload.kernel_cache` and :mod:`kernel_payload.startup`.
    """
    if not os.environ.get("ARZ_KERNEL_CACHE_DIR"):
        return "kernel cache: numba's default (ARZ_KERNEL_CACHE_DIR unset)"
    try:
        from kernel_payload.kernel_cache import install_from_env
    except ImportError as exc:  # no numba in this interpreter: nothing to cache
        return f"kernel cache: not used ({exc})"
    state, line = install_from_env()
    startup.times().kernel_cache = state
    if state != "off":
        startup.watch_compiles()
    return line


def main(argv: list[str] | None = None) -> int:
    """Run (or salvage) one job; return the process exit code."""
    startup.times()  # the payload's start
    isolate_source_tree()
    parser = argparse.ArgumentParser(prog="python -m kernel_payload", description=__doc__)
    parser.add_argument("--spec", type=Path, required=True, help="KernelSpec JSON or JobSpec YAML")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--salvage", metavar="REASON", help="close an unfinished summary")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        spec = load_spec(args.spec)
    except SpecError as exc:  # through the one funnel: the same line and code as the CLIs
        print(error_line(exc), file=sys.stderr)
        return exit_code_for(exc) or 2
    if not args.salvage:  # before anything imports a kernel module (numba picks the cache then)
        print(use_kernel_cache(), flush=True)
    from kernel_payload.runner import run_job, salvage

    try:
        summary = salvage(spec, args.out, args.salvage) if args.salvage else run_job(spec, args.out)
    except Interrupted as exc:
        print(f"interrupted: {exc}; summary written to {args.out}", file=sys.stderr)
        return exc.exit_code
    return 0 if summary.status == RunStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
