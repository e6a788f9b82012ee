"""The evaluation's per-draw metrics: a queue that fills its whole link is marked as a ceiling."""

from __future__ import annotations

import numpy as np

from rl import ENV_IDS
from rl.config import resolve_config
from rl.evaluation import Trace, approach_lengths, episode_metrics
from solver.network.compile import build_network


def test_approach_lengths_are_the_links_lengths_in_metres():
    _, scenario = resolve_config(**ENV_IDS["ARZ-Intersection-v0"])
    net = build_network(scenario)
    lengths = approach_lengths(net)
    expected = [s.length for a in net.approaches for s in scenario.links if s.id == a.link]
    assert lengths.shape == (len(net.approaches),) and np.allclose(lengths, expected)


def test_a_full_link_sets_max_queue_full_for_that_draw_only():
    b, a = 3, 2
    measures = {"delay": np.ones((b, 2)), "entered": np.ones((b, 2)), "throughput": np.ones((b, 2)),
                "tts": np.ones((b, 2)), "queue_ms": np.zeros((b, a)),
                "queue_max_m": np.array([[500.0, 10.0], [499.0, 300.0], [120.0, 299.0]])}
    metrics = episode_metrics(Trace(measures=measures), 3600.0, np.array([500.0, 300.0]))
    assert metrics[("max_queue_full", "total")].tolist() == [1.0, 1.0, 0.0]
    assert metrics[("max_queue_m", "total")].tolist() == [500.0, 499.0, 299.0]  # 499 < 500, but the 300 m link is full
    assert ("max_queue_full", "total") not in episode_metrics(Trace(measures=measures), 3600.0)
