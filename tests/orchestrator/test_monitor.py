"""The live view: events become progress bars, other lines the log tail."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Console

from kernel_payload.schema import ProgressEvent
from orchestrator.monitor import JobView

SUBMITTED = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def view_at(seconds_later: float) -> JobView:
    return JobView(
        "arz-job-1", "local", SUBMITTED, clock=lambda: SUBMITTED.timestamp() + seconds_later
    )


def render(view: JobView) -> str:
    console = Console(record=True, width=140, force_terminal=False)
    console.print(view)
    return console.export_text()


def test_events_drive_one_bar_per_stage_and_lines_fill_the_tail():
    view = view_at(3725)
    view.feed(ProgressEvent(stage="verify/ladders", done=2, total=8, time=1.0).to_line())
    view.feed(ProgressEvent(stage="verify/ladders", done=6, total=8, time=2.0).to_line())
    view.feed(ProgressEvent(stage="bench", status="succeeded", metrics={"rows": 4}).to_line())
    assert view.feed("compiling numba kernels") is None
    tasks = {t.description: t for t in view.progress.tasks}
    assert tasks["verify/ladders"].completed == 6 and tasks["verify/ladders"].total == 8
    assert tasks["bench"].finished  # a stage closed by a status with no count is complete
    text = render(view)
    assert "arz-job-1" in text and "elapsed 1:02:05" in text
    assert "6/8" in text and "succeeded rows=4" in text
    assert "compiling numba kernels" in text


def test_the_tail_keeps_only_recent_lines():
    view = view_at(0)
    for i in range(30):
        view.feed(f"line {i}")
    assert list(view.tail)[0] == "line 18" and list(view.tail)[-1] == "line 29"
    assert "(no log lines yet)" in render(view_at(0))
