"""Signs of life before a stage's first count: heartbeats, numba compiles, the job plan."""

from __future__ import annotations

import threading

import pytest

from kernel_payload.events import job_plan
from kernel_payload.liveness import StartupWatch
from kernel_payload.schema import JobSpec


def test_heartbeats_name_the_compile_and_stop_at_the_first_count():
    import numba

    sent, forwarded = [], []
    ready = threading.Event()

    def send(event):
        sent.append(event)
        if len(sent) >= 3:
            ready.set()

    with StartupWatch("rl/train", 8192, "building envs", interval_s=0.01, send=send) as watch:
        ready.wait(5)  # a few heartbeats while nothing is counted

        @numba.njit(cache=False)
        def tiny_kernel(x):
            return x + 1

        assert tiny_kernel(1) == 2  # a real compile: numba's event reaches the watch
        assert watch.compiled >= 1 and "kernels compiled" in watch.message()
        progress = watch.wrap(lambda stage, done, total: forwarded.append((stage, done, total)))
        progress("warm-start", 2, 7)  # work before the stage's counts: named, the heartbeat goes on
        assert not watch.started.is_set() and watch.message().startswith("warm-start 2/7… ")
        progress("train", 1024, 8192)
        assert watch.started.is_set()
        count = len(sent)
    assert all(e.stage == "rl/train" and (e.done, e.total, e.unit) == (0, 8192, "steps") for e in sent)
    assert sent[0].message.startswith("building envs… ") and len(sent) <= count + 1
    assert forwarded == [("warm-start", 2, 7), ("train", 1024, 8192)]


def test_the_plan_weighs_training_by_its_timesteps():
    small = job_plan(JobSpec(name="a", suites=["verify", "rl", "bench"], rl={"timesteps": 8192, "warm_start": "none"}))
    big = job_plan(JobSpec(name="b", suites=["rl"], rl={"timesteps": 1_000_000, "warm_start": "none"}))
    assert list(small) == ["verify", "rl/train", "rl/evaluate", "bench"]
    assert big["rl/train"] > 50 * (small["rl/train"] - 40.0)


def test_the_plan_counts_the_warm_start_of_each_seed():
    def train_s(**rl):
        return job_plan(JobSpec(name="a", suites=["rl"], seeds=[0, 1], rl={"timesteps": 8192, **rl}))["rl/train"]

    # the intersection's preset labels with the rollout teacher: 9 batches of minutes each, per seed
    rollout, none = train_s(), train_s(warm_start="none")
    assert rollout - none > 2 * 9 * 60
    auto = train_s(env="ARZ-SeedCorridor-v0")
    assert none < auto < none + 2 * 10 * 60
    assert train_s(env="ARZ-Arterial-v0") == rollout  # the arterial's preset labels with it too
    assert train_s(warm_start_rounds=3) - none == pytest.approx((rollout - none) * 3 / 9, rel=0.25)
