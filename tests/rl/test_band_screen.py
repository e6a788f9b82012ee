"""``scripts.band_screen``: the band's multipliers and its command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scripts.band_screen import band_scales, main, run_label


def test_band_scales_are_the_midpoints_of_equal_strata():
    np.testing.assert_allclose(band_scales(1.1, 1.2, 4), [1.1125, 1.1375, 1.1625, 1.1875])
    s = band_scales(0.8, 1.2, 16)
    assert s.min() > 0.8 and s.max() < 1.2 and np.allclose(np.diff(s), 0.025)


@pytest.mark.parametrize("argv", [["{m}", "--gate", "0.3"], ["{m}", "--band", "1.2", "1.1"], ["{m}", "--draws", "1"], ["{m}", "--first-draw", "-1"],
                                  ["{missing}"]])
def test_bad_arguments_stop_before_any_run(argv, tmp_path, capsys):
    model = tmp_path / "model.zip"
    model.write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        main([a.format(m=model, missing=tmp_path / "nope.zip") for a in argv])
    assert stop.value.code == 2
    assert "error:" in capsys.readouterr().err  # argparse names the argument


def test_rows_are_labelled_by_the_run_folder():
    assert run_label(Path("/r/local_arz-x-s0/rl/data/models/ppo_seed0.zip")) == "local_arz-x-s0/ppo_seed0"
    assert run_label(Path("/w/art/run_s3/clone_model.zip")) == "run_s3/clone_model"
