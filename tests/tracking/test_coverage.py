"""Sensor-aware misses: a track is charged a miss only by a sensor that should have seen it
(its sectors and range, once per revisit, at the Pd it has where the track is)."""

from __future__ import annotations

import dataclasses

import numpy as np

from cuas.config import TrackerConfig
from cuas.geo import SensorFrame
from cuas.tracking import Tracker
from cuas.tracking.coverage import Coverage
from cuas.tracking.measurements import MeasurementBatch
from tests.tracking.test_numeric_tracker import T0, points

AT_SITE = SensorFrame(origin_lla=(51.5, 0.0, 0.0), offset=np.zeros(3), rotation=np.eye(3))


def framed(t: float, pos: list[list[float]]) -> MeasurementBatch:
    return dataclasses.replace(points(t, pos), sensor_frame=AT_SITE)


def two_tracks(cov: Coverage, hz: float = 1.0) -> Tracker:
    """A track north (az 0) and one east (az 90) of the sensor, 1 km out, held for 6 s by a
    second sensor (column 1); then 4 s in which only the sensor under test looks (column 0)
    and reports nothing."""
    tracker = Tracker(TrackerConfig())
    north, east = [0.0, 1000.0, 100.0], [1000.0, 0.0, 100.0]
    for k in range(6):
        tracker.step(framed(T0 + k, [north, east]), sensor_col=1, scanning=True)
    for k in range(int(4 * hz)):
        tracker.step(framed(T0 + 6 + k / hz, []), sensor_col=0, coverage=cov)
    return tracker


def test_a_sector_sensor_misses_only_the_tracks_in_its_sector() -> None:
    tracker = two_tracks(Coverage(scanning=True, azimuth_deg=(-45.0, 45.0)))
    tab = tracker.table
    rows = {int(i): r for r, i in enumerate(tab.ids)}
    assert len(rows) == 2
    north_row, east_row = rows[1], rows[2]
    assert tab.misses[north_row] >= 3  # in the sector, missed every look
    assert tab.misses[east_row] == 0  # outside: never its business


def test_range_and_elevation_bound_the_misses() -> None:
    for cov in (Coverage(scanning=True, max_range_m=500.0),
                Coverage(scanning=True, elevation_deg=(10.0, 80.0))):
        tab = two_tracks(cov).table
        assert (tab.misses == 0).all(), cov  # both 1 km out at 5.7 degrees


def test_a_fast_reporting_sensor_charges_one_miss_per_revisit() -> None:
    """Sector batches ten times a second from a radar that revisits each point once a second:
    one miss per second, not ten."""
    fast = two_tracks(Coverage(scanning=True), hz=10.0)
    paced = two_tracks(Coverage(scanning=True, revisit_s=1.0), hz=10.0).table
    assert paced.n == 2 and 3 <= int(paced.misses.max()) <= 5
    # Without the revisit every batch is a miss, and the tracks die of them (6 misses).
    assert fast.table.n == 0 and fast.counters["tracks_deleted"] == 2


def test_detection_probability_falls_with_range() -> None:
    cov = Coverage(scanning=True, pd_half_range_m=2000.0)
    rel = cov.relative_pd(np.array([[0.0, 10.0, 0.0], [0.0, 2000.0, 0.0], [0.0, 8000.0, 0.0]]))
    assert rel[0] > 0.999 and abs(rel[1] - 0.5) < 1e-12 and rel[2] < 0.01
    # Far out a miss costs the score little and counts towards nothing.
    near = two_tracks(Coverage(scanning=True, pd_half_range_m=20_000.0)).table
    far = two_tracks(Coverage(scanning=True, pd_half_range_m=300.0)).table
    assert (far.misses == 0).all() and (near.misses > 0).all()
    assert far.llr.min() > near.llr.max()


def test_a_sector_through_north_wraps() -> None:
    cov = Coverage(scanning=True, azimuth_deg=(350.0, 10.0))
    rel = cov.relative_pd(np.array([[0.0, 100.0, 0.0], [100.0, 0.0, 0.0], [-10.0, 100.0, 0.0]]))
    assert rel.tolist() == [1.0, 0.0, 1.0]


def test_the_site_file_keys_reach_the_tracker() -> None:
    from cuas.config import parse_config
    from cuas.errors import ConfigError

    cfg = parse_config({"sensors": {"r": {"kind": "radar", "sector_deg": [300, 60],
                                          "elevation_band_deg": [0, 40], "revisit_s": 2.0,
                                          "pd_half_range_m": 4000.0}}})
    s = cfg.sensor("r", "radar")
    assert (s.sector_deg, s.elevation_band_deg, s.revisit_s, s.pd_half_range_m) == (
        (300.0, 60.0), (0.0, 40.0), 2.0, 4000.0)
    for bad in ({"elevation_band_deg": [40, 0]}, {"revisit_s": 0}, {"sector_deg": [0, 400]}):
        try:
            parse_config({"sensors": {"r": {"kind": "radar", **bad}}})
        except ConfigError:
            continue
        raise AssertionError(f"accepted {bad}")
