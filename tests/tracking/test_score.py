"""Score-based initiation: the SPRT against the clutter density measured online, and the
clutter map that keeps a fixed return from being confirmed again and again."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.config import TrackerConfig
from cuas.tracking import Tracker
from cuas.tracking.score import MIN_BIRTHS_PER_H, BirthRate, ClutterDensity, thresholds
from tests.tracking.test_numeric_tracker import T0, points

BOX_LO = np.array([-5000.0, -5000.0, 0.0])
BOX_HI = np.array([5000.0, 5000.0, 1000.0])


def run_clutter(cfg: TrackerConfig, looks: int, per_look: float, seed: int = 5,
                fixed: np.ndarray | None = None, fixed_pd: float = 0.5,
                scale: float = 1.0) -> Tracker:
    """Pure clutter, uniform in a box (Cartesian plots, sigma 10 m; ``scale`` shrinks the box)
    at 1 Hz; optionally a fixed return at ``fixed`` detected with probability ``fixed_pd``."""
    tracker = Tracker(cfg)
    rng = np.random.default_rng(seed)
    for k in range(looks):
        pos = rng.uniform(BOX_LO * scale, BOX_HI * scale, (rng.poisson(per_look), 3))
        if fixed is not None and rng.random() < fixed_pd:
            pos = np.vstack([pos, fixed + rng.normal(0, 10.0, 3)])
        tracker.step(points(T0 + k, pos.tolist(), sigma=10.0), sensor_col=0, scanning=True)
    return tracker


def test_false_track_rate_on_pure_clutter_stays_within_its_target() -> None:
    """Wald's bound: a clutter-born track is confirmed with probability at most α, so the
    false-track rate stays at or under the target; a lower target gives fewer."""
    looks, per_look = 400, 30.0
    hours = looks / 3600.0
    rates = {}
    for target in (100.0, 2000.0):
        tracker = run_clutter(TrackerConfig(false_tracks_per_h=target), looks, per_look)
        rates[target] = tracker.counters["tracks_confirmed"] / hours
        assert tracker.counters["tracks_created"] > 0.8 * looks * per_look  # clutter was seen
        assert rates[target] <= target
    assert rates[2000.0] > 0
    assert rates[100.0] < rates[2000.0]


def test_score_confirms_far_fewer_clutter_tracks_than_m_of_n() -> None:
    looks, per_look = 200, 30.0
    score = run_clutter(TrackerConfig(), looks, per_look, scale=0.2)
    m_of_n = run_clutter(TrackerConfig(initiation="m_of_n"), looks, per_look, scale=0.2)
    assert m_of_n.counters["tracks_confirmed"] >= 5
    assert score.counters["tracks_confirmed"] * 5 <= m_of_n.counters["tracks_confirmed"]


def test_clutter_map_stops_a_fixed_return_from_being_confirmed_again_and_again() -> None:
    """A mast that answers every other look: M of N confirms a new track on it each time the
    last one dies of misses; the score confirms it at most once (before the map knew it)."""
    fixed = np.array([1200.0, -800.0, 40.0])
    cfg = dict(delete_misses_confirmed=2)
    score = run_clutter(TrackerConfig(**cfg), 400, 0.5, fixed=fixed)
    m_of_n = run_clutter(TrackerConfig(initiation="m_of_n", **cfg), 400, 0.5, fixed=fixed)
    assert m_of_n.counters["tracks_confirmed"] >= 5
    assert score.counters["tracks_confirmed"] <= 2


def test_a_target_among_clutter_is_confirmed_within_a_few_looks() -> None:
    tracker = Tracker(TrackerConfig())
    rng = np.random.default_rng(2)
    confirmed_at = None
    for k in range(60):
        pos = rng.uniform(BOX_LO, BOX_HI, (rng.poisson(20.0), 3))
        if k >= 30:  # a drone appears after the clutter density is known
            pos = np.vstack([pos, [100.0 + 12.0 * (k - 30), 0.0, 80.0] + rng.normal(0, 10.0, 3)])
        tracker.step(points(T0 + k, pos.tolist(), sigma=10.0), sensor_col=0, scanning=True)
        tab = tracker.table
        near = (np.linalg.norm(tab.x[:, :3] - [100.0 + 12.0 * (k - 30), 0.0, 80.0], axis=1) < 50)
        if confirmed_at is None and k >= 30 and (near & (tab.status == 1)).any():
            confirmed_at = k - 30
    # Its first plot is counted in the clutter map like any plot nobody took, so it needs a
    # few more than M of N's three.
    assert confirmed_at is not None and confirmed_at <= 4


def test_clutter_density_and_thresholds() -> None:
    dens = ClutterDensity()
    z = np.array([[0.0, 0.0, 0.0], [100.0, 50.0, 10.0]])
    R = np.repeat(np.eye(3)[None], 2, axis=0)
    dens.extend(0, z, R, 3)
    for _ in range(200):
        dens.count_unclaimed(0, 4)
    # 4 a look over a 100 x 50 x 20 box (the height span is at least 20 sigmas).
    assert np.isclose(dens.log_density(0, 3), np.log(4 / (100 * 50 * 20)), rtol=1e-3)
    confirm, drop = thresholds(10.0, 10_000.0, 0.01)
    assert np.isclose(confirm, np.log(1000.0)) and np.isclose(drop, np.log(0.01))


def test_birth_rate_is_unbiased_from_the_first_batch() -> None:
    """A steady 30 births a second reads as 108,000 an hour from the first seconds on (a
    running mean started at zero read a few percent of it then, and the SPRT's confirm
    threshold was too low at start-up), and follows a change in the rate."""
    rate = BirthRate(tau_s=600.0)
    rate.add(0.0, 30)
    assert rate.per_hour() == pytest.approx(30 * 3600.0)
    for k in range(1, 6):
        rate.add(float(k), 30)
    assert rate.per_hour() == pytest.approx(36 * 3600.0, rel=0.01)  # 180 in 5 s (+ the first)
    for k in range(6, 3000):
        rate.add(float(k), 30)
    assert rate.per_hour() == pytest.approx(30 * 3600.0, rel=0.01)
    for k in range(3000, 9000):
        rate.add(float(k), 0)
    assert rate.per_hour() == MIN_BIRTHS_PER_H  # the floor once births stop
    confirm_now, _ = thresholds(10.0, rate.per_hour(), 0.01)
    assert confirm_now == pytest.approx(np.log(MIN_BIRTHS_PER_H / 10.0))
