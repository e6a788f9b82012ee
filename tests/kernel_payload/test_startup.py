"""The start-up split (kernel_payload/startup.py): the bootstrap's timings plus the payload's."""

from __future__ import annotations

import json

from kernel_payload.report import startup_line
from kernel_payload.startup import STARTUP_ENV, StartupTimes


def test_the_split_adds_the_payload_steps_to_the_bootstrap_timings():
    env = {STARTUP_ENV: json.dumps({"kernel_started_at": 1000.0, "clone_s": 1.23, "install_s": 0.04,
                                    "payload_spawned_at": 1001.5})}  # fmt: skip
    times = StartupTimes(env)
    times.suites_at = 1003.0
    times.kernel_cache = "warm"
    times.note_event("job", 0, 1003.1)  # job and bootstrap events and zero counts do not count
    times.note_event("bootstrap", 3, 1003.2)
    times.note_event("verify/grids", 0, 1003.3)
    times.note_event("verify/grids", 1, 1004.0)
    times.note_event("rl/train", 1024, 1010.5)
    times.note_event("rl/train", 2048, 1012.0)
    assert times.as_dict() == {"clone_s": 1.2, "install_s": 0.0, "imports_s": 1.5, "kernel_cache": "warm",
                               "compile_s": 0.0, "kernels_compiled": 0, "first_count_s": 4.0,
                               "first_ppo_s": 10.5}  # fmt: skip


def test_nested_compiles_count_once_and_a_bad_env_is_ignored():
    times = StartupTimes({STARTUP_ENV: "not json"})
    times.compile_started()
    times.compile_started()  # an inlined callee compiles inside its caller
    times.compile_ended()
    times.compile_ended()
    times.compile_started()
    times.compile_ended()
    got = times.as_dict()
    assert got["kernels_compiled"] == 2 and got["compile_s"] >= 0
    assert "clone_s" not in got and "imports_s" not in got  # not measured: left out, not zero
    assert times.origin == times.main_at


def test_the_report_line_names_each_step():
    line = startup_line({"clone_s": 1.2, "install_s": 0.0, "imports_s": 2.5, "kernel_cache": "cold",
                         "compile_s": 41.0, "kernels_compiled": 7, "first_count_s": 47.3})  # fmt: skip
    assert line == ("clone 1.2 s · pip 0.0 s · interpreter + imports 2.5 s · numba compile 41.0 s "
                    "(7 kernels, cache cold) · first count at 47.3 s (times after the kernel started)")


def test_the_report_line_shows_the_rl_kernels_compiled_alongside():
    line = startup_line({"compile_s": 56.9, "kernels_compiled": 2, "kernel_cache": "cold", "precompile": "ok",
                         "precompile_s": 90.1, "precompile_wait_s": 27.6, "precompile_kernels": 2,
                         "first_ppo_s": 94.1})  # fmt: skip
    assert line == ("numba compile 56.9 s (2 kernels, cache cold) · rl kernels (all) compiled alongside 90.1 s "
                    "(2 kernels, ok; rl waited 27.6 s) · first PPO count at 94.1 s")


def test_the_report_line_shows_the_part_compiled_after_verify():
    line = startup_line({"compile_s": 40.2, "kernels_compiled": 2, "kernel_cache": "cold", "precompile": "ok",
                         "precompile_parts": "step", "precompile_s": 44.0, "precompile_wait_s": 1.5,
                         "precompile_local_s": 17.3, "precompile_kernels": 1})  # fmt: skip
    assert line == ("numba compile 40.2 s (2 kernels, cache cold) · rl kernels (step) compiled alongside 44.0 s "
                    "(1 kernels, ok; the rest after the suites before rl, 17.3 s; rl waited 1.5 s)")
