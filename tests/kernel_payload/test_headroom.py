"""scripts/headroom.py: the rollout bound against tuned actuated-gap, end to end on short episodes."""

from __future__ import annotations

import re

from scripts import headroom


def test_headroom_prints_both_rows_and_the_paired_difference(monkeypatch, capsys):
    monkeypatch.setitem(__import__("rl").ENV_IDS, "ARZ-Intersection-v0",
                        {"scenario": "intersection_4arm", "decision_interval": 5.0, "episode_length": 60.0})
    assert headroom.main(["--points", "2", "--horizon", "10"]) == 0
    out = capsys.readouterr().out
    assert "| x0.90 | x1.10 |" in out and "| actuated-gap | " in out and "| rollout bound (10 s) | " in out
    line = re.search(r"rollout bound vs actuated-gap: ([+-]\d+\.\d) % \[([+-]\d+\.\d), ([+-]\d+\.\d)\]", out)
    assert line is not None and float(line[2]) <= float(line[1]) <= float(line[3])


def test_an_unknown_env_or_a_bad_option_is_one_line_and_exit_2(capsys):
    assert headroom.main(["--env", "ARZ-Nowhere-v0"]) == 2
    assert "use one of" in capsys.readouterr().err
    assert headroom.main(["--points", "1"]) == 2
    assert headroom.main(["--horizon", "0"]) == 2
