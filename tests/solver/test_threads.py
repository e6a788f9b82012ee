"""run_batched hands every copy to exactly one kernel call, whatever the split."""

from __future__ import annotations

import threading

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
