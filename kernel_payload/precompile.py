"""Compile the ``rl`` suite's numba kernels in a separate process while the suites before it run.

Why: on a cold kernel cache the quickstart compiled verify's road kernel, then the RL readout and
the network step, one after the other in one process (numba compiles under one lock): 50 s + 62 s
before the first PPO step on a quiet 2-core machine (``python -m scripts.compile_profile``). The RL
kernels depend only on the job's environment, so a worker process can compile them on another
core while ``verify`` runs; numba writes them to the kernel cache (:mod:`kernel_payload.kernel_cache`)
and the ``rl`` suite then loads instead of compiling. On a warm cache there is nothing to gain
(the worker's imports then only competed with verify: first PPO step 12.1 s against 9-10 s), so
it starts only when the job's kernel cache (``$ARZ_KERNEL_CACHE_DIR``, which both backends' bootstraps
set) is known to be cold: without one (numba's default cache, the in-process test runs) nothing
is started.

What: :func:`start` launches ``python -m kernel_payload.precompile --env ID --kwargs JSON`` when
``rl`` comes after the first suite, the kernel cache is cold and the machine has two cores or
more; the worker builds a CPU copy of the environment the suite will train on (the suite's
``env_kwargs``), resets and steps it once, and exits. :func:`wait` (the ``rl`` suite,
before it builds its own environments) joins it: compiling the same kernels in both processes
would only double the work. The worker computes nothing the job reports and writes nothing but
numba's cache: when it fails or is slow, the suite compiles what is missing itself (the worker's
output is logged), so results never depend on it. :func:`stop` ends it on interruption.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kernel_payload import startup

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
MIN_CORES = 2
WAIT_S = 900.0
"""Longest the ``rl`` suite waits for the worker (a cold compile takes ~70 s on two cores)."""

COMPILED_MARK = "kernels compiled: "
"""The worker's last line: how many kernels it compiled (0 when all were loaded from the cache)."""

_WORKER: dict[str, Any] = {}


def wanted(suites: list[str], cores: int | None = None) -> bool:
    """True when an ``rl`` suite comes after the first suite and there are cores to overlap on."""
    cores = os.cpu_count() if cores is None else cores
    return "rl" in suites[1:] and suites[0] != "rl" and (cores or 1) >= MIN_CORES


def env_options(job: Any) -> dict[str, Any]:
    """The ``rl`` suite's environment options of ``job`` (a :class:`kernel_payload.schema.JobSpec`):
    ``rl.env_kwargs`` and the job's ``scenario`` (device included, as given)."""
    options: dict[str, Any] = dict(job.rl.env_kwargs)
    if job.scenario:
        options.setdefault("scenario", job.scenario)
    return options


def worker_command(env_id: str, kwargs_json: str) -> list[str]:
    """The worker's command line (run from the payload's source tree)."""
    return [
        sys.executable,
        "-m",
        "kernel_payload.precompile",
        "--env",
        env_id,
        "--kwargs",
        kwargs_json,
    ]


def start(job: Any) -> bool:
    """Launch the worker for the environment of ``job``'s ``rl`` suite (see the module docstring).

    Returns:
        True when a worker was launched.
    """
    if _WORKER or not wanted(list(job.suites)) or startup.times().kernel_cache != "cold":
        return False
    env_id = job.rl.env
    try:
        kwargs = json.dumps({**env_options(job), "device": "cpu"})
    except (TypeError, ValueError):  # options that JSON cannot carry: let the suite compile
        return False
    log = tempfile.NamedTemporaryFile(prefix="arz-precompile-", suffix=".log", delete=False)
    process = subprocess.Popen(worker_command(env_id, kwargs), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    _WORKER.update(process=process, log=Path(log.name), started=time.perf_counter())
    log.close()
    return True


def running() -> bool:
    """True while a launched worker has not exited."""
    process = _WORKER.get("process")
    return process is not None and process.poll() is None


def wait(timeout: float = WAIT_S) -> dict[str, Any]:
    """Join the worker (if any) and forget it.

    Returns:
        ``{}`` without a worker, else ``precompile`` (``ok``, ``failed`` or ``timeout``),
        ``precompile_s`` (its wall time, s), ``precompile_wait_s`` (how long this call waited, s)
        and, when it finished, ``precompile_kernels`` (kernels it compiled, not loaded).
    """
    if not _WORKER:
        return {}
    process: subprocess.Popen = _WORKER["process"]
    started, log = _WORKER["started"], _WORKER["log"]
    begin = time.perf_counter()
    try:
        process.wait(timeout)
        state = "ok" if process.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        state = "timeout"
        _end(process)
    waited = time.perf_counter() - begin
    out: dict[str, Any] = {
        "precompile": state,
        "precompile_s": round(time.perf_counter() - started, 1),
        "precompile_wait_s": round(waited, 1),
    }
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    if lines and lines[-1].startswith(COMPILED_MARK) and lines[-1][len(COMPILED_MARK) :].isdigit():
        out["precompile_kernels"] = int(lines[-1][len(COMPILED_MARK) :])
    _forget(log_tail=state != "ok")
    return out


def stop() -> None:
    """End the worker (interruption, or a wait that timed out); numba's cache writes are atomic."""
    process = _WORKER.get("process")
    if process is not None:
        _end(process)
    _forget(log_tail=False)


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _forget(log_tail: bool) -> None:
    log = _WORKER.get("log")
    if log is not None:
        if log_tail:
            text = log.read_text(errors="replace") if log.is_file() else ""
            logger.warning("kernel precompile did not finish; the rl suite compiles what is missing "
                           "itself. Its output:\n%s", text[-3000:])  # fmt: skip
        log.unlink(missing_ok=True)
    _WORKER.clear()


def compile_env(env_id: str, env_kwargs: dict[str, Any]) -> None:
    """Build one CPU copy of ``env_id`` with ``env_kwargs``, reset and step it once: numba compiles
    (or loads) every kernel of the environment's step and readout -- those of the batched VecEnv
    that training builds (both run :class:`rl.simulation.ControlledNetwork`), without importing
    torch."""
    import gymnasium as gym

    import rl  # noqa: F401  (registers the ARZ-* ids)

    env = gym.make(env_id, **{**env_kwargs, "device": "cpu"})
    try:
        env.reset(seed=0)
        env.step(env.action_space.sample())
    finally:
        env.close()


def main(argv: list[str] | None = None) -> int:
    """The worker: use the job's kernel cache, compile the environment's kernels, exit 0."""
    parser = argparse.ArgumentParser(
        prog="python -m kernel_payload.precompile", description=__doc__
    )
    parser.add_argument("--env", required=True, help="environment id, e.g. ARZ-Intersection-v0")
    parser.add_argument("--kwargs", default="{}", help="the environment's options as JSON")
    args = parser.parse_args(argv)
    from kernel_payload.kernel_cache import install_from_env

    print(install_from_env()[1], flush=True)
    startup.watch_compiles()
    begin = time.perf_counter()
    compile_env(args.env, json.loads(args.kwargs))
    print(f"kernels of {args.env} ready in {time.perf_counter() - begin:.1f} s", flush=True)
    print(f"{COMPILED_MARK}{startup.times().compiled}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
