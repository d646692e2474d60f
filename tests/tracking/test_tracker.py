"""Behaviour of the whole tracker on hand-built situations with known answers."""

from __future__ import annotations

import numpy as np
import pymap3d
import pytest

from cuas import wire
from cuas.config import Config, SensorConfig, TrackerConfig
from cuas.fusion.engine import FusionEngine
from tests.tracking.helpers import T0, batch, check_table_invariants, enu_det


def live(tracker: FusionEngine, status: str | None = None) -> list[wire.Track]:
    snap = tracker.snapshot()
    return [t for t in snap.tracks if t.status != "deleted" and (status is None or t.status == status)]


def test_single_target_is_confirmed_after_m_of_n_and_follows_truth() -> None:
    rng = np.random.default_rng(1)
    tracker = FusionEngine()
    x0, v = np.array([100.0, -50.0, 120.0]), np.array([12.0, 3.0, 0.5])
    for k in range(30):
        z = x0 + v * k + rng.normal(0, 5.0, 3)
        tracker.process(batch(T0 + k, [enu_det(z)], seq=k))
        if k == 1:
            assert live(tracker, "confirmed") == []
        check_table_invariants(tracker)
    tracks = live(tracker, "confirmed")
    assert len(tracks) == 1
    assert np.linalg.norm(np.array(tracks[0].enu) - (x0 + v * 29)) < 15.0
    assert np.linalg.norm(np.array(tracks[0].vel) - v) < 4.0
    assert tracks[0].sources == ("radar-1",)


def test_confirmation_needs_m_hits() -> None:
    cfg = Config(tracker=TrackerConfig(initiation="m_of_n", confirm_m=3, confirm_n=5))
    tracker = FusionEngine(cfg)
    for k in range(3):
        tracker.process(batch(T0 + k, [enu_det([0.0, 0.0, 100.0])]))
        status = live(tracker)[0].status
        assert status == ("confirmed" if k == 2 else "tentative")


def test_coasting_then_deletion_and_ids_never_reused() -> None:
    # Life cycle after confirmation: M of N confirms this lone stationary plot on its third
    # look (the score would wait for more, as it does for a fixed clutter return).
    tracker = FusionEngine(Config(tracker=TrackerConfig(initiation="m_of_n",
                                                        delete_misses_confirmed=3)))
    for k in range(5):
        tracker.process(batch(T0 + k, [enu_det([0.0, 0.0, 100.0])]))
    (first,) = live(tracker)
    tracker.process(batch(T0 + 5, []))
    assert live(tracker)[0].status == "coasting"
    tracker.process(batch(T0 + 6, []))
    tracker.process(batch(T0 + 7, []))
    snap = tracker.snapshot()
    assert [(t.id, t.status) for t in snap.tracks] == [(first.id, "deleted")]
    assert tracker.snapshot().tracks == ()  # a deleted track appears exactly once
    tracker.process(batch(T0 + 8, [enu_det([0.0, 0.0, 100.0])]))
    assert live(tracker)[0].id > first.id


def test_coasting_track_recovers_on_a_hit() -> None:
    tracker = FusionEngine(Config(tracker=TrackerConfig(initiation="m_of_n")))
    for k in range(5):
        tracker.process(batch(T0 + k, [enu_det([10.0 * k, 0.0, 100.0])]))
    tracker.process(batch(T0 + 5, []))
    assert live(tracker)[0].status == "coasting"
    tracker.process(batch(T0 + 6, [enu_det([60.0, 0.0, 100.0])]))
    assert live(tracker)[0].status == "confirmed"


def test_cooperative_sensor_does_not_make_misses() -> None:
    # ADS-B reports one aircraft per message: silence about the others is not a miss.
    tracker = FusionEngine()
    for k in range(5):
        tracker.process(batch(T0 + k, [enu_det([0.0, 0.0, 100.0])]))
    for k in range(5, 9):
        tracker.process(batch(T0 + k * 0.2 + 4, [enu_det([5000.0, 0.0, 900.0], sigma=20.0)],
                              sensor="adsb-1", kind="adsb"))
    assert tracker.tracker.table.misses[0] == 0


def test_time_based_deletion_for_tracks_no_sensor_looks_at() -> None:
    tracker = FusionEngine()
    for k in range(5):
        tracker.process(batch(T0 + k, [enu_det([0.0, 0.0, 100.0])], sensor="adsb-1", kind="adsb"))
    assert len(live(tracker)) == 1
    tracker.process(batch(T0 + 60, [enu_det([9000.0, 0.0, 900.0])], sensor="adsb-1", kind="adsb"))
    snap = tracker.snapshot()
    assert any(t.status == "deleted" for t in snap.tracks)


def test_crossing_targets_keep_their_ids() -> None:
    rng = np.random.default_rng(4)
    tracker = FusionEngine()
    a0, av = np.array([-300.0, 0.0, 100.0]), np.array([15.0, 0.0, 0.0])
    b0, bv = np.array([300.0, 0.0, 100.0]), np.array([-15.0, 0.0, 0.0])
    ids_a: set[int] = set()
    for k in range(40):
        za = a0 + av * k + rng.normal(0, 4, 3)
        zb = b0 + bv * k + rng.normal(0, 4, 3)
        tracker.process(batch(T0 + k, [enu_det(za, 4.0), enu_det(zb, 4.0)]))
        apart = np.linalg.norm((a0 + av * k) - (b0 + bv * k)) > 60.0
        if k > 5 and apart:  # who is nearest to A, away from the crossing itself
            tracks = live(tracker, "confirmed")
            dist = [np.linalg.norm(np.array(t.enu) - (a0 + av * k)) for t in tracks]
            ids_a.add(tracks[int(np.argmin(dist))].id)
    assert len(ids_a) == 1
    assert len(live(tracker, "confirmed")) == 2


def test_velocity_measurement_is_used_from_the_first_detection() -> None:
    tracker = FusionEngine()
    det = enu_det([0.0, 0.0, 500.0], sigma=20.0, vel=(50.0, -10.0, 0.0), vel_sigma=(1.0, 1.0, 1.0))
    tracker.process(batch(T0, [det], sensor="adsb-1", kind="adsb"))
    (trk,) = live(tracker)
    assert trk.vel == pytest.approx((50.0, -10.0, 0.0))


def adsb(t: float, icao: str, enu: list[float], callsign: str | None = None) -> wire.Detections:
    ident = wire.Ident(icao=icao, callsign=callsign)
    return batch(t, [enu_det(enu, sigma=15.0, ident=ident)], sensor="adsb-1", kind="adsb")


def test_identity_keeps_two_close_aircraft_apart() -> None:
    tracker = FusionEngine()
    for k in range(10):
        # Two aircraft 40 m apart, well inside each other's gate: identity decides.
        tracker.process(adsb(T0 + k, "4ca1fa", [100.0 * k, 0.0, 1000.0], "EIN12"))
        tracker.process(adsb(T0 + k + 0.5, "400f01", [100.0 * k + 50.0, 40.0, 1000.0]))
        check_table_invariants(tracker)
    tracks = {t.ident.icao: t for t in live(tracker) if t.ident is not None}
    assert set(tracks) == {"4ca1fa", "400f01"}
    assert len(live(tracker)) == 2
    assert tracks["4ca1fa"].ident is not None and tracks["4ca1fa"].ident.callsign == "EIN12"


def test_identity_is_kept_by_one_track_after_a_jump() -> None:
    tracker = FusionEngine()
    for k in range(5):
        tracker.process(adsb(T0 + k, "4ca1fa", [100.0 * k, 0.0, 1000.0]))
    tracker.process(adsb(T0 + 6, "4ca1fa", [50_000.0, 0.0, 1000.0]))  # a bad position
    check_table_invariants(tracker)
    holders = [t for t in live(tracker) if t.ident is not None]
    assert len(holders) == 1


def test_range_azimuth_elevation_radar_tracks_a_target() -> None:
    origin = (51.5581, -0.2790, 135.0)
    cfg = Config(sensors={"radar-north": SensorConfig(id="radar-north", kind="radar", origin=origin)})
    tracker = FusionEngine(cfg)
    rng = np.random.default_rng(9)
    lat0, lon0, h0 = cfg.site.lat, cfg.site.lon, cfg.site.h
    for k in range(25):
        enu = np.array([-400.0 + 10.0 * k, 300.0, 150.0])
        lat, lon, h = pymap3d.enu2geodetic(*enu, lat0, lon0, h0)
        az, el, rng_m = pymap3d.geodetic2aer(lat, lon, h, *origin)
        z = (float(rng_m) + rng.normal(0, 5), float(az) + rng.normal(0, 0.2),
             float(el) + rng.normal(0, 0.3))
        sig = (5.0, 0.2, 0.3)
        det = wire.Detection(frame="rae", z=z, sigma=sig,
                             R=(25.0, 0, 0, 0, 0.04, 0, 0, 0, 0.09))
        tracker.process(batch(T0 + k, [det], sensor="radar-north", kind="radar"))
        check_table_invariants(tracker)
    (trk,) = live(tracker, "confirmed")
    assert np.linalg.norm(np.array(trk.enu) - [-160.0, 300.0, 150.0]) < 12.0
    assert np.linalg.norm(np.array(trk.vel) - [10.0, 0.0, 0.0]) < 4.0
    assert trk.lla[0] == pytest.approx(pymap3d.enu2geodetic(*trk.enu, lat0, lon0, h0)[0])


def test_rae_without_origin_is_a_counted_drop() -> None:
    tracker = FusionEngine()
    det = wire.Detection(frame="rae", z=(500.0, 10.0, 5.0), sigma=(5.0, 0.2, 0.3),
                         R=(25.0, 0, 0, 0, 0.04, 0, 0, 0, 0.09))
    result = tracker.process(batch(T0, [det], sensor="mystery", kind="radar"))
    assert result.accepted and result.dropped_detections == 1
    assert tracker.counters["detections_dropped"] == 1
    assert tracker.n_tracks == 0


def test_older_batch_is_dropped_and_counted() -> None:
    tracker = FusionEngine()
    tracker.process(batch(T0 + 10, [enu_det([0.0, 0.0, 100.0])]))
    result = tracker.process(batch(T0 + 5, [enu_det([0.0, 0.0, 100.0])]))
    assert not result.accepted
    assert tracker.counters["batches_dropped_late"] == 1
    assert tracker.n_tracks == 1


def test_empty_batches_and_rf_presence_change_nothing() -> None:
    tracker = FusionEngine()
    tracker.process(batch(T0, []))
    rf = wire.Detection(frame="none", z=(), attrs={"freq_hz": 868e6})
    tracker.process(batch(T0 + 1, [rf], sensor="rf-1", kind="rf"))
    assert tracker.n_tracks == 0
    assert tracker.counters["detections_nonpositional"] == 1


def test_detection_far_from_the_site_is_dropped() -> None:
    tracker = FusionEngine()
    det = wire.Detection(frame="lla", z=(-33.9, 151.2, 50.0), sigma=(10.0, 10.0, 10.0),
                         R=(100.0, 0, 0, 0, 100.0, 0, 0, 0, 100.0))
    result = tracker.process(batch(T0, [det], sensor="adsb-1", kind="adsb"))
    assert result.dropped_detections == 1 and tracker.n_tracks == 0


def test_angle_only_detection_updates_but_never_starts_a_track() -> None:
    origin = (51.5560, -0.2796, 90.0)
    cfg = Config(sensors={"cam": SensorConfig(id="cam", kind="camera", origin=origin,
                                              scanning=False)})
    tracker = FusionEngine(cfg)
    cam = wire.Detection(frame="ae", z=(45.0, 10.0), sigma=(0.1, 0.1), R=(0.01, 0, 0, 0.01))
    tracker.process(batch(T0, [cam], sensor="cam", kind="camera"))
    assert tracker.n_tracks == 0
    # A track at az 45, el ~10 deg from the site origin, then the camera sees it.
    target = [300.0, 300.0, 74.8]
    for k in range(3):
        tracker.process(batch(T0 + 1 + k, [enu_det(target, sigma=20.0)]))
    before = tracker.tracker.table.P[0].copy()
    tracker.process(batch(T0 + 4, [cam], sensor="cam", kind="camera"))
    assert tracker.n_tracks == 1
    assert tracker.counters["associations"] == 3  # two radar updates, then the camera
    assert np.trace(tracker.tracker.table.P[0][:3, :3]) < np.trace(before[:3, :3]) + 50.0
    assert "cam" in live(tracker)[0].sources


def test_mixed_frames_in_one_batch_keep_each_detection_its_identity() -> None:
    tracker = FusionEngine()
    lla = wire.Detection(frame="lla", z=(51.5600, -0.2796, 1000.0), sigma=(15.0,) * 3,
                         R=(225.0, 0, 0, 0, 225.0, 0, 0, 0, 225.0),
                         ident=wire.Ident(icao="4ca1fa", callsign="EIN12"))
    plot = enu_det([-500.0, 200.0, 80.0])
    tracker.process(batch(T0, [lla, plot], sensor="fused", kind="adsb"))
    check_table_invariants(tracker)
    by_ident = {t.ident.icao if t.ident else None: t for t in live(tracker)}
    assert set(by_ident) == {"4ca1fa", None}
    assert by_ident["4ca1fa"].enu[1] == pytest.approx(445.0, abs=5.0)  # 0.004 deg north


def test_an_identity_repeated_in_one_batch_is_held_by_one_track() -> None:
    tracker = FusionEngine()
    ident = wire.Ident(icao="4ca1fa")
    dets = [enu_det([0.0, 0.0, 900.0], ident=ident), enu_det([3000.0, 0.0, 900.0], ident=ident)]
    tracker.process(batch(T0, dets, sensor="adsb-1", kind="adsb"))
    check_table_invariants(tracker)
    assert tracker.n_tracks == 2
    assert sum(t.ident is not None for t in live(tracker)) == 1


def test_an_aircraft_heard_now_and_then_stays_one_track() -> None:
    tracker = FusionEngine()
    for k in range(4):
        tracker.process(adsb(T0 + k, "4248e7", [100.0 * k, 0.0, 3000.0]))
    first = live(tracker)[0].id
    # 25 s of silence (beyond the 12 s an anonymous track would survive), then heard again.
    tracker.process(adsb(T0 + 28, "4248e7", [2800.0, 0.0, 3000.0]))
    assert [t.id for t in live(tracker)] == [first]


def test_a_distant_aircraft_below_the_local_horizon_is_not_dropped() -> None:
    # 200 km away at 1,000 m: the Earth's curvature puts it about 2.1 km below the site's
    # tangent plane, yet it is airspace.
    tracker = FusionEngine()
    det = enu_det([200_000.0, 0.0, 1000.0 - 200_000.0**2 / (2 * 6_371_000.0)], sigma=50.0)
    result = tracker.process(batch(T0, [det], sensor="adsb-1", kind="adsb"))
    assert result.dropped_detections == 0 and tracker.n_tracks == 1


def test_a_plot_joins_a_cooperative_aircraft_only_when_the_kinematics_agree() -> None:
    tracker = FusionEngine()
    for k in range(5):  # the police helicopter, ADS-B with velocity, 30 m/s east
        det = enu_det([30.0 * k, 0.0, 300.0], sigma=10.0, vel=(30.0, 0.0, 0.0),
                      vel_sigma=(1.0, 1.0, 1.0), ident=wire.Ident(icao="43c6e1"))
        tracker.process(batch(T0 + k, [det], sensor="adsb-1", kind="adsb"))
    # A radar plot right where the helicopter should be, but moving the other way.
    plot = enu_det([150.0, 5.0, 300.0], sigma=10.0, vel=(-10.0, 0.0, 0.0),
                   vel_sigma=(1.0, 1.0, 1.0))
    tracker.process(batch(T0 + 5, [plot], sensor="radar-1", kind="radar"))
    tracks = live(tracker)
    assert len(tracks) == 2  # the drone got its own track
    heli = next(t for t in tracks if t.ident is not None)
    assert heli.sources == ("adsb-1",)
    # A plot that does agree (same place, same velocity) joins the helicopter's track.
    agree = enu_det([180.0, 0.0, 300.0], sigma=10.0, vel=(30.0, 0.0, 0.0),
                    vel_sigma=(1.0, 1.0, 1.0))
    tracker.process(batch(T0 + 6, [agree], sensor="radar-2", kind="radar"))
    heli = next(t for t in live(tracker) if t.ident is not None)
    assert "radar-2" in heli.sources


def test_tracks_carry_their_motion_modes() -> None:
    """The IMM's mode probabilities go out on every track: a drone hovering in place ends in
    `hover`, one flying straight in `constant_velocity`, one circling tightly in `manoeuvre`."""
    rng = np.random.default_rng(3)
    tracker = FusionEngine(Config(tracker=TrackerConfig(initiation="m_of_n")))
    for k in range(40):
        a = 0.3 * k
        pts = ([300.0, 0.0, 60.0], [-500.0 + 12.0 * k, 800.0, 90.0],
               [40.0 * np.cos(a) - 900.0, 40.0 * np.sin(a) - 900.0, 70.0])
        tracker.process(batch(T0 + k, [enu_det(np.asarray(p) + rng.normal(0, 2.0, 3), sigma=2.0)
                                       for p in pts], seq=k))
    tracks = sorted(live(tracker, "confirmed"), key=lambda t: t.enu[1])
    assert len(tracks) == 3
    for t in tracks:
        assert set(t.modes) == {"hover", "constant_velocity", "manoeuvre"}
        assert abs(sum(t.modes.values()) - 1.0) < 1e-3
    circling, hovering, straight = tracks  # by northing: -900, 0, 800
    assert max(hovering.modes, key=hovering.modes.__getitem__) == "hover"
    assert max(straight.modes, key=straight.modes.__getitem__) == "constant_velocity"
    assert max(circling.modes, key=circling.modes.__getitem__) == "manoeuvre"
    decoded = wire.decode(wire.encode(tracker.snapshot()))
    assert any(t.modes for t in decoded.tracks)
