"""Duplicate merge: two firm tracks of one object become one, keeping the older id; two
objects that one look resolves are never merged."""

from __future__ import annotations

import numpy as np

from cuas.config import TrackerConfig
from cuas.tracking import Tracker
from cuas.tracking.duplicates import candidate_partners
from cuas.tracking.state import CONFIRMED
from tests.tracking.test_numeric_tracker import T0, points


def test_two_tracks_of_one_object_are_merged_keeping_the_older_id() -> None:
    # An agile motion model, so that the 60 m-off track keeps gating the object's plots and
    # converges onto it: with the default (stiff) one it gates none of them again and is
    # deleted, starved, before it can be found a duplicate (the same one id in the end).
    tracker = Tracker(TrackerConfig(accel_noise_h=4.0, accel_noise_v=1.0))
    rng = np.random.default_rng(2)
    v = np.array([6.0, -3.0, 0.0])
    # The first plot starts a track; 0.3 s later a second sensor's plot, 60 m off (a biased
    # sensor), starts another; both are held by their own sensor for 4 s, so both confirm.
    for k in range(5):
        p = np.array([100.0, 200.0, 50.0]) + v * k
        tracker.step(points(T0 + k, [p.tolist()], sigma=3.0), sensor_col=0)
        if k < 4:
            q = p + v * 0.3 + [60.0, 0.0, 0.0]
            tracker.step(points(T0 + k + 0.3, [q.tolist()], sigma=3.0), sensor_col=1)
    assert tracker.table.n == 2 and (tracker.table.status == CONFIRMED).all()
    # The bias goes: both sensors now see the object where it is, each feeding its own track
    # now and then (one object, one plot a look), and the pair is found to be one.
    for k in range(5, 25):
        p = np.array([100.0, 200.0, 50.0]) + v * k + rng.normal(0, 3.0, 3)
        tracker.step(points(T0 + k, [p.tolist()], sigma=3.0), sensor_col=k % 2)
    assert tracker.counters["tracks_merged_duplicate"] == 1
    assert tracker.table.ids.tolist() == [1]


def test_two_objects_seen_in_one_look_are_never_merged() -> None:
    tracker = Tracker(TrackerConfig())
    v = np.array([5.0, 0.0, 0.0])
    for k in range(40):
        a = np.array([0.0, 0.0, 60.0]) + v * k
        tracker.step(points(T0 + k, [a.tolist(), (a + [0.0, 12.0, 0.0]).tolist()], sigma=5.0),
                     sensor_col=0, scanning=True)
    assert tracker.counters["tracks_merged_duplicate"] == 0
    assert tracker.table.n == 2


def test_candidate_partners_pairs_each_track_with_its_best_fit() -> None:
    x = np.zeros((3, 6))
    x[1, 0], x[2, 0] = 2.0, 500.0
    P = np.broadcast_to(np.eye(6) * 4.0, (3, 6, 6)).copy()
    got = candidate_partners(x, P, np.array([0.0, 1.0, 2.0]), gate=16.8)
    assert got.tolist() == [1, 0, -1]
    same_look = candidate_partners(x, P, np.array([1.0, 1.0, 2.0]), gate=16.8)
    assert same_look.tolist() == [-1, -1, -1]
