"""Compile the ``rl`` suite's numba kernels in worker processes while the suites before it run.

Why: on a cold kernel cache the quickstart compiled verify's road kernel, then the RL readout and
the network step, one after the other in one process (numba compiles under one lock). The RL
kernels depend only on the job's environment, so worker processes can compile them on other
cores while ``verify`` runs; numba writes them to the kernel cache (:mod:`kernel_payload.kernel_cache`)
and the ``rl`` suite then loads instead of compiling. On a warm cache there is nothing to gain
(the worker's imports then only competed with verify: first PPO step 12.1 s against 9-10 s), so
it starts only when the job's kernel cache (``$ARZ_KERNEL_CACHE_DIR``, which both backends' bootstraps
set) is known to be cold: without one (numba's default cache, the in-process test runs) nothing
is started.

What: the environment's kernels come in two parts (:data:`PARTS`): the network ``step`` (the
larger: ~40 s of a cold compile on one core of this 2-core machine, ``python -m
scripts.compile_profile``) and the RL ``readout`` (~27 s; the face and flux passes are shared and
whichever compiles first caches them). :func:`start` launches ``python -m kernel_payload.precompile
--env ID --kwargs JSON --part P`` per worker part when ``rl`` comes after the first suite, the
kernel cache is cold and the machine has two cores or more: with three cores or more one worker
per part; with two, one worker for the step while ``verify`` runs, and the rl suite compiles the
readout itself once ``verify`` is done (:func:`compile_local`: the core is free by then, and a
third process would only share two cores). :func:`wait` (the ``rl`` suite, before it builds its
own environments) joins them: compiling the same kernels in two processes would only double the
work. The workers compute nothing the job reports and write nothing but numba's cache: when one
fails or is slow, the suite compiles what is missing itself (its output is logged), so results
never depend on them. :func:`stop` ends them on interruption.
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
"""Longest the ``rl`` suite waits for the workers (the step's cold compile takes ~45 s on two cores)."""

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


PARTS = ("step", "readout")
"""The environment's kernels, as the workers compile them: the network step (largest first)
and the RL readout."""


def plan(cores: int | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which :data:`PARTS` worker processes compile and which the ``rl`` suite compiles itself
    once the suites before it are done: ``(workers, local)`` (see the module docstring)."""
    cores = os.cpu_count() if cores is None else cores
    if (cores or 1) >= len(PARTS) + 1:
        return PARTS, ()
    return PARTS[:1], PARTS[1:]


def worker_command(env_id: str, kwargs_json: str, part: str = "all") -> list[str]:
    """The worker's command line (run from the payload's source tree); ``part`` one of
    :data:`PARTS` or ``all``."""
    return [
        sys.executable,
        "-m",
        "kernel_payload.precompile",
        "--env",
        env_id,
        "--kwargs",
        kwargs_json,
        "--part",
        part,
    ]


def start(job: Any, cores: int | None = None) -> bool:
    """Launch the workers for the environment of ``job``'s ``rl`` suite (see the module docstring).

    Returns:
        True when workers were launched.
    """
    if _WORKER or not wanted(list(job.suites), cores) or startup.times().kernel_cache != "cold":
        return False
    env_id = job.rl.env
    try:
        options = {**env_options(job), "device": "cpu"}
        kwargs = json.dumps(options)
    except (TypeError, ValueError):  # options that JSON cannot carry: let the suite compile
        return False
    workers, local = plan(cores)
    launched = []
    for part in workers:
        log = tempfile.NamedTemporaryFile(prefix=f"arz-precompile-{part}-", suffix=".log", delete=False)
        process = subprocess.Popen(worker_command(env_id, kwargs, part), cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # fmt: skip
        launched.append({"part": part, "process": process, "log": Path(log.name)})
        log.close()
    _WORKER.update(workers=launched, local=list(local), env=env_id, options=options,
                   started=time.perf_counter())  # fmt: skip
    return True


def running() -> bool:
    """True while a launched worker has not exited, or parts are left for :func:`compile_local`."""
    return bool(_WORKER) and (
        bool(_WORKER["local"]) or any(w["process"].poll() is None for w in _WORKER["workers"])
    )


def compile_local() -> float:
    """Compile, in this process, the parts :func:`start` left to the ``rl`` suite (none with a
    worker per part); call it before :func:`wait`. A failure is logged: the suite then compiles
    what is missing as it goes. Returns the seconds it took (0.0 when there was nothing to do)."""
    if not _WORKER or not _WORKER["local"]:
        return 0.0
    begin = time.perf_counter()
    parts, _WORKER["local"] = _WORKER["local"], []
    for part in parts:
        try:
            compile_part(part, _WORKER["env"], _WORKER["options"])
        except Exception as exc:  # noqa: BLE001 -- a warm-up: the suite compiles what is missing
            logger.warning("compiling the rl %s kernels ahead failed (%s); the rl suite compiles "
                           "what is missing itself", part, exc)  # fmt: skip
    seconds = time.perf_counter() - begin
    _WORKER["local_s"] = seconds
    return seconds


def wait(timeout: float = WAIT_S) -> dict[str, Any]:
    """Join the workers (if any) and forget them.

    Returns:
        ``{}`` without workers, else ``precompile`` (``ok``, ``failed`` or ``timeout``: the worst
        of the workers'), ``precompile_parts`` (the parts they compiled, ``+``-joined),
        ``precompile_s`` (the longest worker's wall time, s), ``precompile_wait_s`` (how long this
        call waited, s), ``precompile_local_s`` (:func:`compile_local`'s seconds, when it compiled
        a part) and, when every worker finished, ``precompile_kernels`` (kernels they compiled,
        not loaded).
    """
    if not _WORKER:
        return {}
    begin = time.perf_counter()
    deadline = begin + timeout
    states, walls, kernels = [], [], []
    for worker in _WORKER["workers"]:
        process: subprocess.Popen = worker["process"]
        try:
            process.wait(max(deadline - time.perf_counter(), 0.0))
            state = "ok" if process.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            state = "timeout"
            _end(process)
        states.append(state)
        walls.append(time.perf_counter() - _WORKER["started"])
        log = worker["log"]
        lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
        if lines and lines[-1].startswith(COMPILED_MARK) and lines[-1][len(COMPILED_MARK) :].isdigit():
            kernels.append(int(lines[-1][len(COMPILED_MARK) :]))
        worker["state"] = state
    waited = time.perf_counter() - begin
    worst = "timeout" if "timeout" in states else "failed" if "failed" in states else "ok"
    out: dict[str, Any] = {
        "precompile": worst,
        "precompile_parts": "+".join(w["part"] for w in _WORKER["workers"]),
        "precompile_s": round(max(walls, default=0.0), 1),
        "precompile_wait_s": round(waited, 1),
    }
    if "local_s" in _WORKER:
        out["precompile_local_s"] = round(_WORKER["local_s"], 1)
    if len(kernels) == len(_WORKER["workers"]):
        out["precompile_kernels"] = sum(kernels)
    _forget()
    return out


def stop() -> None:
    """End the workers (interruption, or a wait that timed out); numba's cache writes are atomic."""
    for worker in _WORKER.get("workers", []):
        _end(worker["process"])
        worker.setdefault("state", "stopped")
    _forget()


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _forget() -> None:
    for worker in _WORKER.get("workers", []):
        log = worker["log"]
        if worker.get("state") not in ("ok", "stopped"):
            text = log.read_text(errors="replace") if log.is_file() else ""
            logger.warning("kernel precompile (%s) did not finish; the rl suite compiles what is "
                           "missing itself. Its output:\n%s", worker["part"], text[-3000:])  # fmt: skip
        log.unlink(missing_ok=True)
    _WORKER.clear()


def compile_part(part: str, env_id: str, env_kwargs: dict[str, Any]) -> None:
    """Compile (or load) one part of the kernels of ``env_id`` with ``env_kwargs`` on the CPU, as
    the batched VecEnv that training builds runs them (:class:`rl.simulation.ControlledNetwork`),
    without importing torch.

    ``readout``: build the environment (its readout reads the initial state); ``step``: build the
    environment's network alone (float64, as on the CPU), reset and advance it one decision
    interval; ``all``: build the environment, reset and step it once.
    """
    import gymnasium as gym

    import rl  # noqa: F401  (registers the ARZ-* ids)

    options = {**env_kwargs, "device": "cpu"}
    if part == "step":
        import inspect

        import numpy as np

        from rl.config import resolve_config
        from solver.backends import make_batched_network
        from solver.network.compile import build_network

        known = inspect.signature(resolve_config).parameters
        merged = {**(gym.spec(env_id).kwargs or {}), **options}
        cfg, scenario = resolve_config(**{k: v for k, v in merged.items() if k in known})
        net = build_network(scenario)
        sim = make_batched_network(net, 1, device="cpu", dtype="float64")
        sim.reset()
        sim.advance(cfg.decision_interval, np.zeros((1, len(net.signals)), np.int64))
        return
    env = gym.make(env_id, **options)
    try:
        if part == "all":
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
    parser.add_argument("--part", default="all", choices=[*PARTS, "all"],
                        help="the kernels to compile (default: all of the environment's)")  # fmt: skip
    args = parser.parse_args(argv)
    from kernel_payload.kernel_cache import install_from_env

    print(install_from_env()[1], flush=True)
    startup.watch_compiles()
    begin = time.perf_counter()
    compile_part(args.part, args.env, json.loads(args.kwargs))
    print(f"kernels of {args.env} ({args.part}) ready in {time.perf_counter() - begin:.1f} s", flush=True)
    print(f"{COMPILED_MARK}{startup.times().compiled}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
