"""The live view: events become fixed-width progress rows with ETAs, other lines the log tail."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from rich.console import Console

from kernel_payload.schema import ProgressEvent
from orchestrator.monitor import JobView, clock_text, count_text, readable_lines
from orchestrator.progress import JobProgress, elapsed_fraction

SUBMITTED = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
T0 = SUBMITTED.timestamp()
LONG = "compiling kernels (first run only): advance_network_batch_with_a_long_name… 12 s"
PLAN = {"verify": 20.0, "rl/train": 70.0, "rl/evaluate": 20.0, "bench": 10.0}


def ev(t: float, stage: str, **fields) -> str:
    return ProgressEvent(stage=stage, time=T0 + t, **fields).to_line()


def recorded_stream() -> list[str]:
    """A quickstart-like log: bootstrap, verify, a silent RL start with heartbeats, training, bench."""
    lines = [
        "arz bootstrap: job quickstart-1 commit abc python 3.11",
        ev(0, "bootstrap", done=0, total=3, unit="steps", message="cloning abc12345"),
        ev(1, "bootstrap", done=1, total=3, unit="steps", message="checking requirements"),
        "all requirements already installed; skipping pip",
        ev(2, "bootstrap", done=2, total=3, unit="steps", message="starting the payload"),
        ev(4, "job", done=0, total=3, unit="suites", message="suites: verify, rl, bench", plan=PLAN),
        ev(5, "verify", message="started"),
    ]
    lines += [ev(5 + 2 * i, "verify/riemann_shock", done=i, total=4, unit="grids") for i in range(1, 5)]
    lines += [ev(24, "verify", status="succeeded", metrics={"checks_passed": 9}),
              ev(24, "job", done=1, total=3, unit="suites"), ev(25, "rl", message="started")]
    lines += [ev(25 + 2 * i, "rl/train", done=0, total=8192, unit="steps", message=LONG) for i in range(20)]
    lines += [ev(70 + 3 * i, "rl/train", done=1024 * i, total=8192, unit="steps") for i in range(1, 9)]
    lines += [ev(95, "rl/evaluate", done=0, total=4, unit="runs", message="loading the models"),
              ev(100, "rl/evaluate", done=2, total=4, unit="runs"),
              ev(105, "rl/evaluate", done=4, total=4, unit="runs"),
              ev(106, "rl", status="succeeded", metrics={"delay[ppo (seed 0)]": 168.1}),
              ev(106, "job", done=2, total=3, unit="suites"), ev(107, "bench", message="started"),
              ev(110, "bench", done=3, total=6, unit="cases"),
              ev(115, "bench", status="succeeded"), ev(115, "job", done=3, total=3, unit="suites"),
              ev(116, "job", done=3, total=3, status="succeeded", message="all suites succeeded"),
              ev(117, "bootstrap", done=3, total=3, unit="steps", message="payload exited with code 0")]
    return lines


def frames(width: int) -> list[str]:
    """The view rendered after every line of the stream, at its time, ``width`` columns wide."""
    clock = {"now": T0}
    view = JobView("quickstart-1", "local", SUBMITTED, clock=lambda: clock["now"])
    out = []
    for line in recorded_stream():
        event = view.feed(line)
        if event is not None:
            clock["now"] = event.time
        console = Console(width=width, height=40, record=True, force_terminal=True, color_system="standard")
        console.print(view)
        out.append(console.export_text())
    return out


def stage_lines(frame: str) -> list[str]:
    names = ("bootstrap", "job", "verify", "rl", "bench")
    return [ln for ln in frame.splitlines() if re.match(r"│ (\w+)\s", ln) and ln[2:].split()[0] in names]


def test_at_80_columns_every_row_keeps_its_bar_count_and_eta_and_the_message_is_cut():
    shown = frames(80)
    for frame in shown:
        assert all(len(ln) <= 80 for ln in frame.splitlines())
        for line in stage_lines(frame):
            assert sum(line.count(c) for c in "━╸╺") >= 11, line  # the 12-column bar is whole
            assert "ETA " in line or "took " in line, line
    training = next(f for f in shown if "0/8,192 steps" in f)
    row = next(ln for ln in stage_lines(training) if ln.startswith("│ rl "))
    assert "train: compiling kernels" in row and row.rstrip(" │").endswith("…")  # cut, not wrapped
    assert LONG not in training
    counting = next(f for f in shown if "3,072/8,192 steps" in f)
    assert "compiling" not in next(ln for ln in stage_lines(counting) if ln.startswith("│ rl "))


def test_the_job_eta_comes_from_the_plan_and_shrinks_as_stages_finish():
    progress = JobProgress()
    etas = []
    for line in recorded_stream():
        event = ProgressEvent.from_line(line)
        if event is not None:
            progress.apply(event)
            etas.append(progress.job_eta(event.time))
    known = [e for e in etas if e is not None]
    assert etas[:3] == [None, None, None]  # before the plan arrives
    assert known[0] == sum(PLAN.values())  # nothing started: the whole plan
    assert known[-1] == 0.0 and max(known) < 2 * sum(PLAN.values())
    shown = frames(160)
    job = [next(ln for ln in stage_lines(f) if ln.startswith("│ job ")) for f in shown[6:-3]]
    assert all(re.search(r"ETA \d+:\d\d", ln) for ln in job)  # never -:--- once the plan is known


def test_the_pace_measured_on_finished_stages_rescales_the_plan():
    progress = JobProgress()
    progress.apply(ProgressEvent(stage="job", done=0, total=2, plan={"a": 10.0, "b": 30.0}, time=1.0))
    progress.apply(ProgressEvent(stage="a", message="started", time=1.0))
    progress.apply(ProgressEvent(stage="a", status="succeeded", time=21.0))  # twice as slow
    assert progress.pace() == 2.0 and progress.job_eta(21.0) == 60.0
    progress.apply(ProgressEvent(stage="b", done=10, total=100, time=31.0))
    progress.apply(ProgressEvent(stage="b", done=20, total=100, time=41.0))
    assert progress.steps["b"].eta(41.0) == 80.0 and progress.job_eta(51.0) == 70.0


def test_a_step_that_resumes_after_another_step_of_its_suite_keeps_its_eta():
    # the rl suite: each seed's warm start (rl/warm-start) runs inside training (rl/train)
    progress = JobProgress()
    progress.apply(ProgressEvent(stage="job", done=0, total=1, plan={"rl/train": 100.0, "rl/evaluate": 10.0},
                                 time=0.0))
    progress.apply(ProgressEvent(stage="rl/train", done=0, total=1000, unit="steps", time=1.0))
    progress.apply(ProgressEvent(stage="rl/warm-start", done=1, total=3, time=2.0))
    progress.apply(ProgressEvent(stage="rl/warm-start", done=3, total=3, time=10.0))
    assert progress.steps["rl/train"].ended == 2.0  # while the warm start runs, its row shows that
    progress.apply(ProgressEvent(stage="rl/train", done=100, total=1000, unit="steps", time=20.0))
    progress.apply(ProgressEvent(stage="rl/train", done=200, total=1000, unit="steps", time=30.0))
    assert progress.steps["rl/train"].ended is None
    assert progress.steps["rl/train"].eta(30.0) == 80.0  # 800 steps at 10 steps/s, not 0
    assert progress.stage_eta("rl/train", 30.0) == 80.0 + 10.0
    progress.apply(ProgressEvent(stage="rl", status="succeeded", time=40.0))
    progress.apply(ProgressEvent(stage="rl/train", done=1000, total=1000, time=41.0))  # late: stays ended
    assert progress.steps["rl/train"].ended == 40.0


def test_bootstrap_advances_and_closes_when_the_payload_starts():
    view = JobView("j", "local", SUBMITTED, clock=lambda: T0 + 5)
    for line in recorded_stream()[:6]:
        view.feed(line)
    boot = view.progress.rows["bootstrap"]
    assert (boot.step.done, boot.step.total, boot.message) == (3, 3, "payload running")


def test_the_log_panel_follows_the_newest_lines():
    view = JobView("j", "local", SUBMITTED, clock=lambda: T0)
    for i in range(40):
        view.feed(f"line {i}")
    for line in recorded_stream()[:25]:
        view.feed(line)
    assert sum("train: compiling" in ln for ln in view.tail) == 1  # heartbeats replace each other
    newest, oldest = view.tail[-1], view.tail[0]
    assert "compiling kernels" in newest
    short = rendered(view, height=16)  # room for a few lines only: the newest ones are kept
    assert newest[:60] in short and oldest not in short


def rendered(view: JobView, height: int) -> str:
    console = Console(width=120, height=height, record=True, force_terminal=True, color_system="standard")
    console.print(view)
    return console.export_text()


def test_arz_logs_lines_are_readable_and_keep_plain_lines():
    out = list(readable_lines(recorded_stream()))
    assert out[0].startswith("arz bootstrap: job") and not any("@@arz" in ln for ln in out)
    stamp = datetime.fromtimestamp(T0 + 79).strftime("%H:%M:%S")
    line = next(ln for ln in out if ln.startswith(stamp) and "3,072/8,192" in ln)
    assert re.fullmatch(rf"{stamp}  rl\s+3,072/8,192 steps  ETA 0:15  train", line), line
    assert any("verify" in ln and "succeeded checks_passed=9" in ln for ln in out)
    assert "succeeded delay[ppo (seed 0)]=168" in frames(160)[-1]  # brackets are not rich markup


def test_counts_and_clocks_are_compact():
    assert count_text(1024, 8192, "steps") == "1,024/8,192 steps"
    assert count_text(12_345, 200_000) == "12,345/200k" and count_text(None, 5) == ""
    assert clock_text(None) == "-:--" and clock_text(75) == "1:15" and clock_text(3725) == "1:02:05"


def test_an_overrunning_stage_without_a_count_keeps_a_shrinking_eta():
    fractions = [elapsed_fraction(e, 10.0) for e in (0, 4, 8, 12, 20, 40)]
    assert fractions[:3] == [0.0, 0.4, 0.8]
    assert all(a < b < 1.0 for a, b in zip(fractions, fractions[1:], strict=False))
