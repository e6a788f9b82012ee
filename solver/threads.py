"""Run a GIL-free numba kernel over a batch on one thread per core.

Kernels are compiled with ``nogil=True`` and run by a persistent pool of threads
(:class:`SpinPool`) plus the calling thread. Two ways to share the copies out:

* :func:`run_claimed` (the network step): every thread enters the kernel once and the kernel
  takes its copies one at a time from a shared counter with an atomic add, without the GIL;
* :func:`run_batched` (the link ladders): threads take small ``(lo, hi)`` chunks from a counter
  in Python, one kernel call per chunk.

Either way a core slowed down by the host (often, on these shared machines) takes fewer copies
instead of holding up the whole call: with one fixed chunk per thread the call waited for it
(batch-8 medians 10-12k sim-s per wall-s static vs 12.7-14.6k dynamic on intersection_4arm,
measured side by side).

Why not numba's ``parallel=True``: with OpenMP its launch costs ~2 us, but a ``prange`` over the
copies compiles the step's body a second time, as a function of its own. Measured on 2 cores
(2026-12-02): the network step's cold compile grew by 11-14 s and the quickstart's first PPO
count from 36 s to 62 s, for a batch 8 per step ~7 % faster than with the concurrent.futures
pool used then (this pool with claimed copies gains more: :func:`run_claimed`), and one copy on
one thread ~4 % slower.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

import numba
import numpy as np

from solver.kernels.atomics import load_acquire

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "cbcdedbfb912e8d6"

_POOLS: dict[int, SpinPool] = {}
#: how long a worker polls for the next call before it sleeps (s)
SPIN_S = 0.002


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
    independent, so the results do not depend on the split. The calling thread works too, on
    :class:`SpinPool`'s workers.
    """
    threads = max(1, min(threads, batch))
    if threads == 1:
        kernel(0, batch, *args)
        return
    pool = _pool(threads)
    if static:
        bounds = np.linspace(0, batch, threads + 1).round().astype(int)
        chunks = [(int(bounds[i]), int(bounds[i + 1])) for i in range(threads)]
    else:
        size = max(1, batch // (4 * threads))
        chunks = [(lo, min(batch, lo + size)) for lo in range(0, batch, size)]
    pool.run(kernel, chunks, args)


def run_claimed(kernel, batch: int, threads: int, *args) -> None:
    """Call ``kernel(claim, batch, *args)`` once on each of ``threads`` threads at once.

    ``claim`` is a fresh int64 counter (1,) at 0, from which the kernel takes its copies itself
    (an atomic add per copy, :func:`solver.kernels.atomics.fetch_add`), so each thread enters
    compiled code once per call: handing copies out from Python took the GIL for every chunk,
    and the two threads then waited for each other at every hand-over. Batch 8 of
    intersection_4arm on 2 cores, six alternating pairs against chunks from Python: 0.94-1.24x
    the simulated seconds per wall second, median 1.16x.
    """
    claim = np.zeros(1, np.int64)
    threads = max(1, min(threads, batch))
    if threads == 1:
        kernel(claim, batch, *args)
        return
    _pool(threads).run(kernel, [(claim, batch)] * threads, args)


def _pool(threads: int) -> SpinPool:
    """The pool of ``threads - 1`` workers (the caller is the last thread), made on first use."""
    pool = _POOLS.get(threads)
    if pool is None:
        pool = _POOLS[threads] = SpinPool(threads - 1)
    return pool


class _Call:
    """One :meth:`SpinPool.run`: its chunks, the counter that hands them out, who finished."""

    def __init__(self, kernel, chunks, args):
        self.kernel, self.chunks, self.args = kernel, chunks, args
        self.counter = itertools.count()  # next() is atomic under the GIL
        self.finished: list[BaseException | None] = []  # list.append is atomic under the GIL

    def work(self) -> None:
        error = None
        try:
            for i in iter(self.counter.__next__, None):
                if i >= len(self.chunks):
                    break
                self.kernel(self.chunks[i][0], self.chunks[i][1], *self.args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of run()
            error = exc
        self.finished.append(error)


@numba.njit(cache=True, nogil=True)
def _poll(flags, lo, hi, value, iterations):
    """Poll until ``flags[lo:hi]`` all equal ``value`` (True) or ``iterations`` rounds have
    passed (False), without the GIL."""
    for _ in range(iterations):
        done = True
        for i in range(lo, hi):
            if load_acquire(flags, i) != value:
                done = False
                break
        if done:
            return True
    return False


class SpinPool:
    """Worker threads that stay awake for :data:`SPIN_S` after each call, then sleep.

    A batched network decision takes ~2 ms of kernel time on 2 cores; waking a sleeping thread
    through a lock (a futex) and waking the caller again at the end cost ~80-110 us per call with
    no work at all here (concurrent.futures), about one decision in twenty. A worker that has just
    finished polls for the next call in compiled code without the GIL (:func:`_poll` on
    ``flags[0]``, the call's number) until :data:`SPIN_S` has passed, then sleeps on a condition
    until the next call wakes it; the caller waits for the workers' ``flags[1 + w]`` the same way,
    and sleeps on a condition the workers notify when that poll times out: a worker the host has
    descheduled (another process on the cores) is then waited for without spinning a core (two
    jobs on 2 cores each used ~1.45 cores while the caller spun).
    Polling with the GIL (``time.sleep(0)`` in a loop) took it from the caller at every release,
    and torch releases it at every call: the quickstart's PPO trained at 640 steps/s against 772
    and 806 with concurrent.futures. Polled without it, batch 8 of intersection_4arm ran ~9 %
    faster per step (median of six alternating pairs, 0.96-1.30); with :func:`run_claimed` as
    well, PPO on 4 copies trained at 1043-1217 steps/s against 866-995 (three alternating pairs).
    """

    def __init__(self, workers: int):
        self._cond = threading.Condition()
        self._done = threading.Condition()  # the caller sleeps on it when its poll times out
        self._busy = threading.Lock()
        self._call: _Call | None = None
        self._epoch = 0
        self._workers = workers
        self._flags = np.zeros(1 + workers, np.int64)  # [call number, call each worker finished]
        _poll(self._flags, 0, 1, 0, 1)  # compiled (or loaded) before the first call
        start = time.perf_counter()
        _poll(self._flags, 0, 1, -1, 100_000)
        self._iterations = max(1000, int(100_000 * SPIN_S / max(time.perf_counter() - start, 1e-9)))
        for i in range(workers):
            threading.Thread(
                target=self._loop, args=(i,), name=f"arz-batch-{i}", daemon=True
            ).start()

    def run(self, kernel, chunks, args) -> None:
        """Run ``kernel(lo, hi, *args)`` for every ``(lo, hi)`` of ``chunks`` on the workers and
        the calling thread; returns when all are done, raising the first error of any."""
        call = _Call(kernel, chunks, args)
        with self._busy:  # one call at a time: callers on other threads wait for this one
            with self._cond:
                self._call = call
                self._epoch += 1
                self._flags[0] = self._epoch
                self._cond.notify_all()  # no system call when every worker is polling
            call.work()
            if not _poll(self._flags, 1, 1 + self._workers, self._epoch, self._iterations):
                with self._done:  # a worker is descheduled (a busy host): sleep, do not spin
                    self._done.wait_for(self._all_done)
        errors = [e for e in call.finished if e is not None]
        if errors:
            raise errors[0]

    def _loop(self, index: int) -> None:
        seen = 0
        while True:
            if not _poll(self._flags, 0, 1, seen + 1, self._iterations):
                with self._cond:
                    self._cond.wait_for(lambda last=seen: self._epoch != last)
            seen = self._epoch
            self._call.work()
            with self._done:  # under the lock: the caller's check cannot miss this notify
                self._flags[1 + index] = seen
                self._done.notify()

    def _all_done(self) -> bool:
        return bool((self._flags[1:] == self._epoch).all())
