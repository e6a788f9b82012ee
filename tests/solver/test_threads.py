"""run_batched and run_claimed hand every copy to exactly one kernel call, whatever the split."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from solver.threads import run_batched


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize(("batch", "threads"), [(1, 1), (1, 4), (3, 2), (8, 2), (17, 3), (64, 2)])
def test_every_copy_once(batch, threads, static):
    seen, lock, names = [], threading.Lock(), set()

    def kernel(lo, hi, out):
        with lock:
            out.extend(range(lo, hi))
            names.add(threading.current_thread().name)

    run_batched(kernel, batch, threads, seen, static=static)
    assert sorted(seen) == list(range(batch))
    assert len(names) <= min(batch, threads)


def test_kernel_errors_reach_the_caller():
    def kernel(lo, hi):
        if lo <= 5 < hi:
            raise ValueError("copy 5")

    with pytest.raises(ValueError, match="copy 5"):
        run_batched(kernel, 8, 2)


def test_calls_after_the_workers_went_to_sleep_and_back_to_back():
    """Every copy once per call, whether the workers were polling (back to back) or asleep (a pause
    longer than SPIN_S), and an error in one call does not break the next."""
    import time

    from solver import threads

    lock = threading.Lock()
    for k in range(60):
        seen = []

        def kernel(lo, hi, out):
            with lock:
                out.extend(range(lo, hi))

        run_batched(kernel, 8, 2, seen)
        assert sorted(seen) == list(range(8)), k
        if k % 20 == 0:
            time.sleep(3 * threads.SPIN_S)
        if k == 30:
            with pytest.raises(ValueError):
                run_batched(lambda lo, hi: (_ for _ in ()).throw(ValueError("boom")), 8, 2)


def test_run_claimed_kernels_take_every_copy_once():
    """Threads running a kernel that claims its copies with an atomic add share them out: every
    copy advanced exactly once per call, whatever the number of threads."""
    import numba

    from solver.kernels.atomics import fetch_add
    from solver.threads import run_claimed

    @numba.njit(nogil=True)
    def kernel(claim, hi, count):
        while True:
            b = fetch_add(claim, 0, 1)
            if b >= hi:
                return
            for _ in range(200):  # a little work, so the threads overlap
                count[b] += 1

    for batch, threads in [(1, 2), (8, 2), (37, 3), (64, 2)]:
        count = np.zeros(batch, np.int64)
        for _ in range(30):
            run_claimed(kernel, batch, threads, count)
        assert (count == 30 * 200).all(), (batch, threads)


def test_two_python_threads_sharing_one_pool_each_get_every_copy():
    """Callers on two Python threads use the same pool (one per thread count, its calls run one
    after the other): each call still hands every one of its copies out exactly once, and
    neither caller hangs."""
    import numba

    @numba.njit(nogil=True)
    def kernel(lo, hi, count):
        for b in range(lo, hi):
            for _ in range(2000):  # work without the GIL, so the two callers overlap
                count[b] += 1

    counts = [np.zeros(8, np.int64) for _ in range(2)]
    kernel(0, 8, np.zeros(8, np.int64))

    def caller(count):
        for _ in range(300):
            run_batched(kernel, 8, 2, count)

    callers = [threading.Thread(target=caller, args=(c,), daemon=True) for c in counts]
    for c in callers:
        c.start()
    for c in callers:
        c.join(timeout=60)
    assert not any(c.is_alive() for c in callers), "a caller hung"
    for count in counts:
        assert (count == 300 * 2000).all()


def test_the_caller_sleeps_while_a_slow_worker_finishes():
    """A worker that takes far longer than the poll window (descheduled by the host, here asleep)
    is waited for on a condition: the caller's thread uses almost no CPU meanwhile (it spun a
    whole core before), and the call still returns every copy once."""
    import time

    seen, lock = [], threading.Lock()

    def kernel(lo, hi, out):
        # the caller's chunk is short (long enough for the worker to take the other one)
        time.sleep(0.4 if threading.current_thread().name.startswith("arz-batch") else 0.05)
        with lock:
            out.extend(range(lo, hi))

    run_batched(kernel, 2, 2, [], static=True)  # the pool exists before the measured call
    cpu, wall = time.thread_time(), time.perf_counter()
    run_batched(kernel, 2, 2, seen, static=True)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    assert sorted(seen) == [0, 1] and wall >= 0.4  # the worker ran a chunk
    assert cpu < 0.1, f"the caller used {cpu:.3f} s of CPU waiting {wall:.3f} s"
