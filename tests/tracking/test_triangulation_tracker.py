"""Bearing-only fusion in the tracker: tracks started by crossing camera bearings, updated by
the azimuth/elevation EKF, never started by one camera alone, no ghosts from two targets."""

from __future__ import annotations

import numpy as np
import pytest

from cuas import wire
from cuas.config import Config, SensorConfig
from cuas.fusion.engine import FusionEngine
from cuas.geo import SiteFrame
from tests.tracking.helpers import T0, batch, check_table_invariants, enu_det

SITE = Config().site
FRAME = SiteFrame(SITE)
#: Two cameras 120 m apart on the stadium roof, one more on a mast (site ENU metres).
CAMS = {"cam-w": np.array([-60.0, 0.0, 30.0]), "cam-e": np.array([60.0, 0.0, 30.0]),
        "cam-n": np.array([0.0, 150.0, 12.0])}
SIGMA_DEG = 0.05


def _config(**tracker: float) -> Config:
    sensors = {}
    for sid, enu in CAMS.items():
        lat, lon, h = FRAME.enu_to_lla(enu[None, :])[0]
        sensors[sid] = SensorConfig(id=sid, kind="camera", origin=(float(lat), float(lon), float(h)))
    cfg = Config(sensors=sensors)
    if tracker:
        from dataclasses import replace
        cfg = replace(cfg, tracker=replace(cfg.tracker, **tracker))
    return cfg


def _ae(cfg: Config, sid: str, targets: list[np.ndarray], rng: np.random.Generator,
        ) -> list[wire.Detection]:
    """What camera ``sid`` measures of ``targets`` (site ENU m): az/el with 0.05 deg noise."""
    origin = cfg.sensors[sid].origin
    assert origin is not None
    local = FRAME.sensor(origin).site_to_local(np.asarray(targets, dtype=np.float64))
    out = []
    for e, n, u in local:
        az = np.degrees(np.arctan2(e, n)) % 360.0 + rng.normal(0, SIGMA_DEG)
        el = np.degrees(np.arctan2(u, np.hypot(e, n))) + rng.normal(0, SIGMA_DEG)
        out.append(wire.Detection(frame="ae", z=(float(az) % 360.0, float(el)),
                                  sigma=(SIGMA_DEG, SIGMA_DEG),
                                  R=(SIGMA_DEG**2, 0.0, 0.0, SIGMA_DEG**2)))
    return out


def _fly(tracker: FusionEngine, cfg: Config, paths: list, cams: list[str], seconds: float,
         rng: np.random.Generator, fps: float = 10.0) -> None:
    """Cameras take turns 10 ms apart, each at ``fps``, watching targets at ``paths(t)``."""
    for k in range(int(seconds * fps)):
        for j, sid in enumerate(cams):
            t = k / fps + 0.01 * j
            dets = _ae(cfg, sid, [p(t) for p in paths], rng)
            tracker.process(batch(T0 + t, dets, sensor=sid, kind="camera"))


def _live(tracker: FusionEngine, t: float) -> list[wire.Track]:
    return [tr for tr in tracker.snapshot(t).tracks if tr.status != "deleted"]


def test_two_cameras_start_and_hold_a_3d_track() -> None:
    """A drone at 180 m crossing at 12 m/s, 60 m up: two roof cameras' bearings start one
    track where it is, confirmed, following it within a few metres, range never invented."""
    cfg = _config()
    tracker = FusionEngine(cfg, classify=False)
    rng = np.random.default_rng(1)

    def drone(t: float) -> np.ndarray:
        return np.array([-40.0 + 12.0 * t, 180.0, 60.0])

    _fly(tracker, cfg, [drone], ["cam-w", "cam-e"], 6.0, rng)
    check_table_invariants(tracker)
    t_end = 5.9 + 0.01
    tracks = _live(tracker, T0 + t_end)
    assert len(tracks) == 1
    tr = tracks[0]
    assert tr.status == "confirmed"
    assert set(tr.sources) == {"cam-w", "cam-e"}
    assert np.linalg.norm(np.array(tr.enu) - drone(t_end)) < 3.0
    assert np.linalg.norm(np.array(tr.vel) - [12.0, 0.0, 0.0]) < 3.0
    assert tracker.counters["tracks_triangulated"] == 1


def test_third_camera_updates_the_fresh_track() -> None:
    """One frame from each of three cameras: the second crosses the first (a new track), the
    third's bearing updates that track instead of waiting for a partner."""
    cfg = _config()
    tracker = FusionEngine(cfg, classify=False)
    rng = np.random.default_rng(2)
    _fly(tracker, cfg, [lambda t: np.array([20.0, 90.0, 45.0])], ["cam-w", "cam-e", "cam-n"],
         0.1, rng)
    tracks = _live(tracker, T0 + 0.02)
    assert len(tracks) == 1 and set(tracks[0].sources) == {"cam-w", "cam-e", "cam-n"}
    assert tracker.counters["tracks_triangulated"] == 1 and len(tracker.tracker._bearings) == 0
    assert np.linalg.norm(np.array(tracks[0].enu) - [20.0, 90.0, 45.0]) < 1.0


def test_one_camera_alone_never_starts_a_track() -> None:
    cfg = _config()
    tracker = FusionEngine(cfg, classify=False)
    rng = np.random.default_rng(3)
    _fly(tracker, cfg, [lambda t: np.array([5.0 * t, 200.0, 50.0]),
                        lambda t: np.array([-80.0, 150.0 - 3 * t, 20.0])], ["cam-w"], 10.0, rng)
    assert tracker.n_tracks == 0
    assert tracker.counters["detections_used"] == 200


def test_two_targets_two_cameras_no_ghosts() -> None:
    """Two drones: the four pairings of two cameras' bearings include two ghosts, which the
    ray-miss gate refuses (in 3-D the wrong rays pass metres apart)."""
    cfg = _config()
    tracker = FusionEngine(cfg, classify=False)
    rng = np.random.default_rng(4)
    a = lambda t: np.array([-30.0 + 8 * t, 160.0, 40.0])  # noqa: E731
    b = lambda t: np.array([50.0 - 6 * t, 220.0, 75.0])  # noqa: E731
    _fly(tracker, cfg, [a, b], ["cam-w", "cam-e"], 5.0, rng)
    tracks = _live(tracker, T0 + 4.91)
    assert len(tracks) == 2
    got = sorted((np.array(tr.enu) for tr in tracks), key=lambda p: p[1])
    assert np.linalg.norm(got[0] - a(4.91)) < 3.0
    assert np.linalg.norm(got[1] - b(4.91)) < 3.0
    assert tracker.counters["tracks_triangulated"] == 2


def test_bearings_too_far_apart_in_time_do_not_cross() -> None:
    cfg = _config(bearing_window_s=0.1)
    tracker = FusionEngine(cfg, classify=False)
    rng = np.random.default_rng(5)
    p = np.array([0.0, 120.0, 40.0])
    tracker.process(batch(T0, _ae(cfg, "cam-w", [p], rng), sensor="cam-w", kind="camera"))
    tracker.process(batch(T0 + 0.5, _ae(cfg, "cam-e", [p], rng), sensor="cam-e", kind="camera"))
    assert tracker.n_tracks == 0
    tracker.process(batch(T0 + 0.55, _ae(cfg, "cam-w", [p], rng), sensor="cam-w", kind="camera"))
    assert tracker.n_tracks == 1


def test_camera_updates_a_radar_track_across_north() -> None:
    """A radar track due north of a camera; the camera's azimuths straddle 0/360 deg: the
    wrapped innovation lets them update it (an unwrapped 359.9 vs 0.1 would be 360 deg off)."""
    cfg = _config()
    tracker = FusionEngine(cfg, classify=False)
    cam = CAMS["cam-w"]
    rng = np.random.default_rng(6)
    target = cam + np.array([0.0, 300.0, 40.0])
    for k in range(3):
        tracker.process(batch(T0 + k, [enu_det(target, sigma=15.0)]))
    before = np.trace(tracker.tracker.table.P[0][:3, :3])
    for k, az in enumerate([359.95, 0.05, 359.97, 0.02]):
        el = float(np.degrees(np.arctan2(40.0, 300.0))) + rng.normal(0, 0.01)
        det = wire.Detection(frame="ae", z=(az, el), sigma=(0.05, 0.05), R=(0.0025, 0, 0, 0.0025))
        tracker.process(batch(T0 + 2.1 + 0.1 * k, [det], sensor="cam-w", kind="camera"))
    assert tracker.n_tracks == 1
    assert tracker.counters["associations"] == 2 + 4  # radar birth + 2 updates, 4 bearings
    assert np.trace(tracker.tracker.table.P[0][:3, :3]) < before
    assert abs(tracker.tracker.table.x[0, 0] - cam[0]) < 3.0  # east error squeezed by the bearings
    assert "cam-w" in _live(tracker, T0 + 2.5)[0].sources


def test_a_flood_of_unpaired_bearings_stays_bounded() -> None:
    cfg = _config()
    tracker = FusionEngine(cfg, classify=False)
    rng = np.random.default_rng(7)
    for k in range(30):
        dets = [wire.Detection(frame="ae", z=(float(rng.uniform(0, 360)),
                                              float(rng.uniform(0, 60))),
                               sigma=(0.05, 0.05), R=(0.0025, 0, 0, 0.0025))
                for _ in range(200)]
        tracker.process(batch(T0 + 0.01 * k, dets, sensor="cam-w", kind="camera"))
    assert len(tracker.tracker._bearings) <= 4096
    assert tracker.counters["bearings_dropped"] > 0
    assert tracker.n_tracks == 0


@pytest.mark.parametrize("bad", [(float("nan"), 10.0), (10.0, 95.0)])
def test_bad_bearings_are_refused_at_the_boundary(bad: tuple[float, float]) -> None:
    from cuas.errors import DecodeError

    with pytest.raises(DecodeError):
        wire.decode(wire.encode(wire.Detections(
            src="cam-w", seq=1, t=T0, sensor="cam-w", kind="camera",
            dets=(wire.Detection(frame="ae", z=bad, sigma=(0.1, 0.1)),))))
