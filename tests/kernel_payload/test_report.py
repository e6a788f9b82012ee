"""report.html: self-contained, with every figure embedded and the metric tables inline."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kernel_payload.schema import SessionSummary
from tests.kernel_payload.conftest import run_payload_at

CHROMIUM = Path("/usr/bin/chromium")
GREEN_BADGE = (0x1A, 0x7F, 0x37)  # the "succeeded" badge colour


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """A report from a real payload run of all three suites against the contract fakes."""
    folder = tmp_path_factory.mktemp("report")
    job = {"name": "report", "suites": ["verify", "rl", "bench"], "device": "cpu"}
    proc, out = run_payload_at(folder, job, fakes=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_report_embeds_every_figure_and_table(full_report):
    html = (full_report / "report.html").read_text()
    summary = SessionSummary.read(full_report)
    pngs = [e.path for e in summary.artifacts if e.path.endswith(".png")]
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(embedded) == len(pngs) >= 4
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in embedded)
    assert 'src="http' not in html and "<script" not in html  # nothing fetched from elsewhere
    for table in ("checks.csv", "ladders.csv", "bench.csv"):
        assert f"<h3>{table}" in html
    # a wide CSV (bench.csv has ~15 columns) scrolls inside its box instead of widening the page
    assert re.search(r'<h3>bench\.csv</h3><div class="scroll"><table>', html)
    assert "<h3>Controllers (mean ± 95 % CI over 2 demand draws)</h3>" in html  # the RL pivot
    assert "<h3>Paired difference: controller − ppo (seed 0) (same draws)</h3>" in html
    assert "PPO trained for 20,000 steps only" in html  # the job's default: a smoke test
    assert "<h3>evaluation.csv" not in html and "rl/data/metrics/evaluation.csv" in html
    assert ">succeeded</span>" in html and "0" * 40 in html


def test_a_failed_run_shows_the_error(tmp_path, run_payload):
    proc, out = run_payload({"name": "crashy", "suites": ["tiny", "crash"]})
    html = (out / "report.html").read_text()
    assert ">failed</span>" in html and "deliberate crash in test suite" in html
    assert "Traceback" in html and "<pre>" in html


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium (/usr/bin/chromium) not installed"
)
def test_report_renders_in_headless_chromium(full_report, tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "report.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,2400", f"--screenshot={shot}", (full_report / "report.html").as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    pixels = (imread(shot)[:, :, :3] * 255).round().astype(int)
    badge = (abs(pixels - GREEN_BADGE).sum(axis=2) <= 6).sum()
    assert badge > 500  # the green status badges are drawn
    assert (
        len({tuple(p) for p in pixels[::7, ::7].reshape(-1, 3)}) > 100
    )  # figures, not a blank page
    shutil.copy2(shot, full_report.parent / "report_screenshot.png")
