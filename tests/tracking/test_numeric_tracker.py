"""The numeric tracker on arrays alone: no message, no identity names, no classifier."""

from __future__ import annotations

import numpy as np

from cuas.config import TrackerConfig
from cuas.tracking import Tracker
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import CartesianModel
from cuas.tracking.state import CONFIRMED, DELETED, TENTATIVE, TrackTable

T0 = 1_790_000_000.0


def points(t: float, pos: list[list[float]], sigma: float = 5.0,
           ident: list[int] | None = None) -> MeasurementBatch:
    m = len(pos)
    z = np.asarray(pos, dtype=float).reshape(m, 3)
    R = np.broadcast_to(np.eye(3) * sigma**2, (m, 3, 3)).copy()
    return MeasurementBatch(
        t=t, models=(CartesianModel(),), model=np.zeros(m, dtype=np.int8), z=z, R=R,
        pos=z.copy(), pos_cov=R.copy(), vel=np.full((m, 3), np.nan), vel_R=np.zeros((m, 3, 3)),
        has_vel=np.zeros(m, dtype=bool),
        ident=np.asarray(ident if ident is not None else [-1] * m, dtype=np.int64),
        source=np.arange(m, dtype=np.int64))


def test_arrays_in_rows_out() -> None:
    tracker = Tracker(TrackerConfig())
    for k in range(6):
        result = tracker.step(points(T0 + k, [[10.0 * k, 0.0, 100.0], [0.0, 500.0, 80.0]]),
                              sensor_col=0, scanning=True)
        assert result.accepted
    rows = tracker.snapshot(T0 + 6)
    assert len(rows) == 2 and list(rows.status) == [CONFIRMED, CONFIRMED]
    assert rows.sources.shape[1] >= 1 and rows.sources[:, 0].all()
    moving = int(np.argmax(rows.x[:, 3]))
    assert abs(rows.x[moving, 0] - 60.0) < 5.0 and abs(rows.x[moving, 3] - 10.0) < 2.0
    assert tracker.counters["tracks_created"] == 2 and tracker.time == T0 + 5


def test_an_identity_index_is_moved_or_its_duplicate_deleted() -> None:
    tracker = Tracker(TrackerConfig())
    tracker.step(points(T0, [[0.0, 0.0, 100.0], [3000.0, 0.0, 100.0]], ident=[4, 7]), 0)
    tracker.merge_identities(((4, 9),))  # nobody holds 9 yet: the track of 4 takes it
    assert sorted(tracker.table.ident.tolist()) == [7, 9]
    tracker.merge_identities(((7, 9),))  # 9 is held: the track of 7 is its duplicate
    assert tracker.table.ident.tolist() == [9]
    assert tracker.counters["tracks_merged_identity"] == 1
    rows = tracker.snapshot(T0)
    assert sorted(rows.status.tolist()) == [TENTATIVE, DELETED]


def test_new_tracks_start_flying_straight_in_the_mode_column() -> None:
    """The table's motion-mode column: new rows are (hover 0, constant velocity 1, manoeuvre 0)
    and keep it through growth and compaction."""
    tab = TrackTable(capacity=1)
    tab.append(np.arange(5, dtype=np.int64), np.zeros((5, 6)), np.tile(np.eye(6), (5, 1, 1)), 1.0)
    assert tab.mode_prob.shape == (5, 3)
    np.testing.assert_array_equal(tab.mode_prob, np.tile([0.0, 1.0, 0.0], (5, 1)))
    tab.mode_prob[1] = (0.5, 0.25, 0.25)
    tab.keep(np.array([False, True, True, False, True]))
    np.testing.assert_array_equal(tab.mode_prob[0], [0.5, 0.25, 0.25])
    np.testing.assert_array_equal(tab.mode_prob[1:], np.tile([0.0, 1.0, 0.0], (2, 1)))
