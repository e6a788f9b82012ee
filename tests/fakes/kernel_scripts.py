"""Tiny stdlib kernel scripts for backend tests (no solver, no clone): they behave like the payload.

:func:`payload_script` returns Python source that prints ``@@arz`` progress events, writes a few
result files under its working directory and a ``session_summary.json`` whose manifest (path,
bytes, sha256) matches them — the same contract as the real payload (kernel_payload.schema).
"""

from __future__ import annotations

import json

_TEMPLATE = r'''
import datetime, hashlib, json, os, sys, time

STEPS, STEP_S, FAIL, HOLD_S = {steps}, {step_s}, {fail}, {hold_s}
FILES = {files}
started = datetime.datetime.now(datetime.timezone.utc).isoformat()
for i in range(1, STEPS + 1):
    print("@@arz " + json.dumps({{"stage": "demo", "done": i, "total": STEPS}}), flush=True)
    print(f"plain line {{i}}", flush=True)
    time.sleep(STEP_S)
entries = []
for rel, text in FILES.items():
    os.makedirs(os.path.dirname(rel) or ".", exist_ok=True)
    data = text.encode()
    with open(rel, "wb") as handle:
        handle.write(data)
    entries.append({{"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}})
time.sleep(HOLD_S)
status = "failed" if FAIL else "succeeded"
suite = {{"name": "demo", "status": status, "artifacts": sorted(FILES)}}
error = {{"type": "RuntimeError", "message": "demo failure", "suite": "demo"}} if FAIL else None
summary = {{"job_id": "job-1", "job_name": "demo", "started_at": started,
           "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
           "suites": [suite], "artifacts": entries, "error": error}}
with open("session_summary.json", "w") as handle:
    json.dump(summary, handle)
if FAIL:
    print("Traceback (most recent call last):\nRuntimeError: demo failure", file=sys.stderr)
    sys.exit(1)
print("@@arz " + json.dumps({{"stage": "job", "status": "succeeded"}}), flush=True)
'''

DEFAULT_FILES = {
    "demo/data/metrics/metrics.csv": "step,value\n" + "".join(f"{i},{i * i}\n" for i in range(50)),
    "demo/figures/plot.png": "not really a png " * 40,
    "report.html": "<html><body><h1>demo</h1></body></html>",
}


def payload_script(steps: int = 4, step_s: float = 0.05, fail: bool = False,
                   hold_s: float = 0.0, files: dict[str, str] | None = None) -> str:
    """Source of a payload-like kernel script.

    Args:
        steps: progress events to print (each followed by a plain line).
        step_s: pause after each step, in seconds.
        fail: write a ``failed`` summary, print a traceback and exit 1.
        hold_s: pause after writing the result files, before the summary, in seconds.
        files: relative path -> text content of the result files.
    """
    return _TEMPLATE.format(steps=steps, step_s=step_s, fail=fail, hold_s=hold_s,
                            files=json.dumps(files or DEFAULT_FILES))


def expected_lines(steps: int) -> list[str]:
    """The stdout lines :func:`payload_script` prints, in order (success case)."""
    lines = []
    for i in range(1, steps + 1):
        lines.append("@@arz " + json.dumps({"stage": "demo", "done": i, "total": steps}))
        lines.append(f"plain line {i}")
    lines.append("@@arz " + json.dumps({"stage": "job", "status": "succeeded"}))
    return lines
