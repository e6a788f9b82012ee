"""Run a GIL-free numba kernel over a batch on one thread per core.

numba's ``parallel=True`` prange costs ~7-8 ms of fixed overhead per call on these machines
(measured: a zero-step call of the batched link kernel), which dominates a 5 s decision interval.
Kernels instead take a ``(lo, hi)`` range of copies, are compiled with ``nogil=True``, and are
run by a persistent thread pool plus the calling thread, which take small chunks of copies from a
shared counter (on these shared machines one core is often slowed down by the host; with one
fixed chunk per thread the whole call waited for it: batch-8 medians 10-12k sim-s per wall-s
static vs 12.7-14.6k dynamic on intersection_4arm, measured side by side).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_POOLS: dict[int, ThreadPoolExecutor] = {}


def default_threads() -> int:
    """Worker threads for batched kernels: ``ARZ_THREADS`` or the number of usable cores."""
    env = os.environ.get("ARZ_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def run_batched(kernel, batch: int, threads: int, *args, static: bool = False) -> None:
    """Call ``kernel(lo, hi, *args)`` over ``range(batch)`` on ``threads`` threads.

    The copies are handed out in small chunks (about four per thread) from a shared counter, so a
    core that is slowed down (another process, a busy host) takes fewer copies instead of holding
    up the whole call; ``static=True`` gives each thread one contiguous chunk instead. Copies are
    independent, so the results do not depend on the split. The calling thread works too.
    """
    threads = max(1, min(threads, batch))
    if threads == 1:
        kernel(0, batch, *args)
        return
    pool = _POOLS.get(threads)
    if pool is None:
        pool = _POOLS[threads] = ThreadPoolExecutor(threads - 1, thread_name_prefix="arz-batch")
    if static:
        bounds = np.linspace(0, batch, threads + 1).round().astype(int)
        chunks = [(int(bounds[i]), int(bounds[i + 1])) for i in range(threads)]
    else:
        size = max(1, batch // (4 * threads))
        chunks = [(lo, min(batch, lo + size)) for lo in range(0, batch, size)]
    counter = itertools.count()  # next() is atomic under the GIL

    def work() -> None:
        for i in iter(counter.__next__, None):
            if i >= len(chunks):
                return
            kernel(chunks[i][0], chunks[i][1], *args)

    futures = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        for future in futures:
            future.result()
