"""Kinematic features over the per-track history: hover, straightness, turn rate, loiter, and
the history's memory bound and eviction."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.classify.features import History, features

pytestmark = pytest.mark.filterwarnings("error")

T0 = 1_800_000_000.0


def run(paths: np.ndarray, dt: float = 1.0, vel: np.ndarray | None = None):
    """Feed (N, K, 3) positions through a History one sample per dt; features at the end."""
    n, k, _ = paths.shape
    h = History(depth=24, min_dt=0.5)
    ids = np.arange(1, n + 1)
    window = None
    for j in range(k):
        window = h.update(T0 + j * dt, ids, paths[:, j], np.ones(n, bool))
    x = np.zeros((n, 6))
    x[:, :3] = paths[:, -1]
    if vel is not None:
        x[:, 3:] = vel
    return features(T0 + (k - 1) * dt, x, np.full((n, 3), 1.0), np.full((n, 3), 1.0),
                    np.full(n, T0), np.ones(n), np.ones(n), window)


def test_straight_line_hover_and_circle() -> None:
    t = np.arange(20.0)
    line = np.column_stack([10 * t, np.zeros(20), np.full(20, 50.0)])
    hover = np.column_stack([np.zeros(20) + 0.1 * np.sin(t), np.zeros(20), np.full(20, 40.0)])
    ang = np.radians(18.0 * t)  # 18 deg/s round a 60 m circle
    circle = np.column_stack([60 * np.cos(ang), 60 * np.sin(ang), np.full(20, 50.0)])
    f = run(np.stack([line, hover, circle]))
    assert f.straightness[0] > 0.99 and f.turn_rate[0] < 0.5
    assert np.isnan(f.straightness[1])  # a hover has no path to judge
    assert f.hover_s[1] >= 18.0 and f.hover_s[0] == 0.0
    assert abs(f.turn_rate[2] - 18.0) < 1.0 and f.straightness[2] < 0.3
    assert f.loiter_radius[2] < 61 and f.window_s[2] == 19.0


def test_unknown_velocity_is_a_missing_feature() -> None:
    h = History()
    window = h.update(T0, np.array([1]), np.zeros((1, 3)), np.ones(1, bool))
    x = np.array([[0, 0, 10, 30, 0, 0]], dtype=float)
    f = features(T0, x, np.ones((1, 3)), np.full((1, 3), 30.0), np.array([T0]), np.ones(1),
                 np.ones(1), window)
    assert np.isnan(f.speed[0]) and np.isnan(f.climb[0])
    assert np.isnan(f.turn_rate[0]) and np.isnan(f.hover_s[0])  # one sample: no window


def test_history_is_bounded_and_evicts_deleted_tracks() -> None:
    h = History(depth=8, min_dt=0.5)
    ids = np.arange(1, 101)
    for j in range(50):
        h.update(T0 + j, ids, np.zeros((100, 3)), np.ones(100, bool))
    assert h.pos.shape == (3, 100, 8) and h.count.max() == 8
    keep = ids % 2 == 0  # odd ids reported deleted this time
    h.update(T0 + 50, ids, np.zeros((100, 3)), keep)
    assert h.ids.tolist() == ids[keep].tolist()
    h.update(T0 + 51, np.array([2, 1000]), np.zeros((2, 3)), np.ones(2, bool))
    assert h.ids.tolist() == [2, 1000] and h.count.tolist() == [8, 1]


def test_snapshots_faster_than_min_dt_refresh_rather_than_add() -> None:
    h = History(depth=4, min_dt=1.0)
    ids = np.array([7])
    for j in range(10):
        h.update(T0 + 0.1 * j, ids, np.full((1, 3), float(j)), np.ones(1, bool))
    assert h.count.tolist() == [1] and h.pos[0, 0, h.head] == 9.0
