"""SAPIENT <-> contract conversion: locations in every coordinate system, range-bearing in
every unit and north reference, velocity units, Dstl's reference DetectionReports, and the
outbound DetectionReports and Alerts (which must pass the ICD validator themselves)."""

from __future__ import annotations

import math
import time

import pytest

from cuas import wire
from cuas.config import SapientConfig, SiteConfig
from cuas.errors import ConversionError
from cuas.sapient import convert, outbound
from cuas.sapient.convert import NodeInfo
from cuas.sapient.outbound import Reporter
from cuas.sapient.proto import Registration, SapientMessage, from_json, is_ulid, ulid_at
from cuas.sapient.validate import validate
from tests.sapient.conftest import MODULE_ID, data_dir, location_report, read_text

S = SapientConfig()
SITE = SiteConfig()
WEMBLEY = (SITE.lat, SITE.lon, SITE.h)


def node(**kw: object) -> NodeInfo:
    return NodeInfo(MODULE_ID, "radar-1", **kw)  # type: ignore[arg-type]


def rb_report(**fields: float) -> SapientMessage:
    msg = convert.envelope(MODULE_ID, time.time())
    rep = msg.detection_report
    rep.report_id = ulid_at(time.time(), b"r")
    rep.object_id = ulid_at(time.time(), b"o")
    for k, v in fields.items():
        setattr(rep.range_bearing, k, v)
    return msg


def test_lat_lng_degrees_x_is_longitude() -> None:
    msg = location_report(MODULE_ID, ulid_at(1.7e9, b"x"), 51.5, -0.3, 80.0)
    batch = convert.report_to_detections(msg, node(), 7, S, SITE)
    det = batch.dets[0]
    assert batch.sensor == "radar-1" and batch.seq == 7 and batch.kind == "sapient"
    assert det.frame == "lla" and det.z == pytest.approx((51.5, -0.3, 80.0))
    # 3 m each way went out as degrees and comes back as metres.
    assert det.sigma == pytest.approx((3.0, 3.0, 3.0), rel=0.01)
    assert det.attrs["classes"] == {"UAV": 0.8}


def test_lat_lng_radians_and_missing_height() -> None:
    msg = location_report(MODULE_ID, ulid_at(1.7e9, b"x"), 0, 0, 0)
    loc = msg.detection_report.location
    loc.coordinate_system = 2  # LAT_LNG_RAD_M
    loc.x, loc.y = math.radians(-0.3), math.radians(51.5)
    loc.ClearField("z")
    loc.ClearField("x_error")
    det = convert.report_to_detections(msg, node(), 1, S, SITE).dets[0]
    assert det.z == pytest.approx((51.5, -0.3, SITE.h))
    assert det.sigma is not None
    assert det.sigma[0] == S.default_sigma_m and det.sigma[2] == S.unknown_height_sigma_m
    assert det.attrs["height"] == "unknown"


def test_utm_on_the_central_meridian_and_southern_zone() -> None:
    msg = location_report(MODULE_ID, ulid_at(1.7e9, b"x"), 0, 0, 10.0)
    loc = msg.detection_report.location
    loc.coordinate_system = 5  # UTM_M
    loc.x, loc.y, loc.utm_zone = 500_000.0, 0.0, "30N"
    loc.x_error = loc.y_error = 4.0
    det = convert.report_to_detections(msg, node(), 1, S, SITE).dets[0]
    # Zone 30's central meridian is 3 degrees west; northing 0 is the equator.
    assert det.z == pytest.approx((0.0, -3.0, 10.0), abs=1e-9)
    assert det.sigma is not None and det.sigma[:2] == (4.0, 4.0)
    loc.y, loc.utm_zone = 10_000_000.0, "30C"  # southern hemisphere: false northing 10,000 km
    assert convert.report_to_detections(msg, node(), 1, S, SITE).dets[0].z[:2] == \
        pytest.approx((0.0, -3.0), abs=1e-9)
    loc.ClearField("utm_zone")
    with pytest.raises(ConversionError, match="utm_zone"):
        convert.report_to_detections(msg, node(), 1, S, SITE)
    # ... unless the module's configuration (or registration) gives the zone.
    det = convert.report_to_detections(msg, node(utm_zone="30C"), 1, S, SITE).dets[0]
    assert det.z[1] == pytest.approx(-3.0)
    loc.utm_zone = "99Z"
    with pytest.raises(ConversionError, match="not a UTM zone"):
        convert.report_to_detections(msg, node(), 1, S, SITE)


def test_range_bearing_units_and_norths() -> None:
    origin = (51.5, -3.0, 20.0)  # on zone 30's central meridian: grid north is true north
    msg = rb_report(range=1.5, azimuth=90.0, elevation=2.0, coordinate_system=3, datum=1,
                    range_error=0.01)
    batch = convert.report_to_detections(msg, node(origin=origin), 1, S, SITE)
    det = batch.dets[0]
    assert det.frame == "rae" and det.z == pytest.approx((1500.0, 90.0, 2.0))
    assert det.sigma == pytest.approx((10.0, S.default_angle_sigma_deg,
                                       S.default_angle_sigma_deg))
    assert batch.origin == origin
    # Radians and metres.
    msg = rb_report(range=800.0, azimuth=math.pi, elevation=0.1, coordinate_system=2, datum=1)
    det = convert.report_to_detections(msg, node(origin=origin), 1, S, SITE).dets[0]
    assert det.z == pytest.approx((800.0, 180.0, math.degrees(0.1)))
    # Grid north on the central meridian is true north; at Wembley it is ~2.1 degrees east.
    msg = rb_report(range=800.0, azimuth=10.0, elevation=1.0, coordinate_system=1, datum=3)
    assert convert.report_to_detections(msg, node(origin=origin), 1, S, SITE).dets[0].z[1] \
        == pytest.approx(10.0, abs=1e-6)
    at_wembley = convert.report_to_detections(msg, node(origin=WEMBLEY), 1, S, SITE).dets[0]
    expected = 10.0 + math.degrees(math.atan(math.tan(math.radians(SITE.lon + 3.0))
                                             * math.sin(math.radians(SITE.lat))))
    assert at_wembley.z[1] == pytest.approx(expected, abs=0.01)
    # Magnetic north needs the configured offset.
    msg = rb_report(range=800.0, azimuth=359.0, elevation=1.0, coordinate_system=1, datum=2)
    with pytest.raises(ConversionError, match="north_offset_deg"):
        convert.report_to_detections(msg, node(origin=origin), 1, S, SITE)
    det = convert.report_to_detections(msg, node(origin=origin, north_offset_deg=2.5), 1, S,
                                       SITE).dets[0]
    assert det.z[1] == pytest.approx(1.5)


def test_range_bearing_that_cannot_be_placed() -> None:
    origin = WEMBLEY
    no_range = rb_report(azimuth=45.0, elevation=3.0, coordinate_system=1, datum=1)
    det = convert.report_to_detections(no_range, node(origin=origin), 1, S, SITE).dets[0]
    assert det.frame == "ae" and det.z == pytest.approx((45.0, 3.0))
    two_d = rb_report(azimuth=45.0, range=100.0, coordinate_system=1, datum=1)
    with pytest.raises(ConversionError, match="elevation"):
        convert.report_to_detections(two_d, node(origin=origin), 1, S, SITE)
    with pytest.raises(ConversionError, match="location is unknown"):
        convert.report_to_detections(no_range, node(), 1, S, SITE)
    unspecified = rb_report(azimuth=45.0, elevation=1.0, coordinate_system=0, datum=1)
    with pytest.raises(ConversionError, match="coordinate_system"):
        convert.report_to_detections(unspecified, node(origin=origin), 1, S, SITE)
    nan = rb_report(azimuth=float("nan"), elevation=1.0, coordinate_system=1, datum=1)
    with pytest.raises(ConversionError, match="finite"):
        convert.report_to_detections(nan, node(origin=origin), 1, S, SITE)


def test_location_outside_the_earth_and_absurd_values() -> None:
    msg = location_report(MODULE_ID, ulid_at(1.7e9, b"x"), 51.5, -0.3, 80.0)
    msg.detection_report.location.y = 95.0
    with pytest.raises(ConversionError, match="outside"):
        convert.report_to_detections(msg, node(), 1, S, SITE)
    msg.detection_report.location.y = 51.5
    msg.detection_report.location.z = 1e9
    with pytest.raises(ConversionError, match="height"):
        convert.report_to_detections(msg, node(), 1, S, SITE)


def test_velocity_in_the_registered_units() -> None:
    reg = from_json(read_text(data_dir("valid") / "Registration.FullMesssage.json")).registration
    units = [dd.velocity_type.enu_velocity_units.east_north_rate_units
             for m in reg.mode_definition for dd in m.detection_definition
             if dd.HasField("velocity_type")]
    assert convert.speed_factor(reg) == (1 / 3.6 if units and units[0] == 2 else 1.0)
    kph = Registration()
    dd = kph.mode_definition.add().detection_definition.add()
    dd.velocity_type.enu_velocity_units.east_north_rate_units = 2  # SPEED_UNITS_KPH
    assert convert.speed_factor(kph) == pytest.approx(1 / 3.6)
    msg = location_report(MODULE_ID, ulid_at(1.7e9, b"x"), 51.5, -0.3, 80.0, vel=(36.0, 0, 0))
    det = convert.report_to_detections(msg, node(speed_factor=1 / 3.6), 1, S, SITE).dets[0]
    assert det.vel == pytest.approx((10.0, 0.0, 0.0))


def test_dstl_reference_detection_reports() -> None:
    """Dstl's examples: each converts. (Their UTM locations hold lat/lon numbers, so they land
    near the equator: the test vectors are valid syntax, not a real geometry.)"""
    for path in sorted(data_dir("valid").glob("DetectionReport*.json")):
        msg = from_json(read_text(path))
        batch = convert.report_to_detections(msg, node(origin=WEMBLEY, utm_zone="30U"), 1, S,
                                             SITE)
        det = batch.dets[0]
        assert batch.t == pytest.approx(1688733857.0276387)
        assert det.vel == (1.0, 2.0, 3.0) and det.vel_sigma == (4.0, 5.0, 6.0)
        assert det.attrs["object_id"] == msg.detection_report.object_id
        if "RangeBearing" in path.name:
            assert det.frame == "rae" and det.z[0] == 1.0
        else:
            assert det.frame == "lla" and abs(det.z[0]) < 0.01
        assert sum(det.attrs["classes"].values()) > 0


def track(tid: int, status: str, threat: str = "none", malicious: bool = False) -> wire.Track:
    return wire.Track(id=tid, status=status, lla=(51.556, -0.279, 120.0), enu=(0, 0, 0),
                      vel=(3.0, -1.0, 0.5), pos_sigma=(6.0, 8.0, 10.0), t_update=1.7e9,
                      sources=("radar-1", "rf-2"),
                      class_probs={"uav": 0.7, "bird": 0.1, "manned": 0.1, "clutter": 0.1},
                      threat=threat, malicious=malicious, reasons=("in zone pitch",))


def test_reporter_exports_confirmed_tracks_with_class_and_threat() -> None:
    rep = Reporter(MODULE_ID)
    snap = wire.Tracks(src="cuas", seq=1, t=1.7e9,
                       tracks=(track(1, "tentative"), track(2, "confirmed", "high", True)))
    out = rep.reports(snap)
    assert len(out) == 1
    msg = out[0]
    assert validate(msg) == []
    dr = msg.detection_report
    assert is_ulid(dr.object_id) and is_ulid(dr.report_id)
    assert (dr.location.y, dr.location.x, dr.location.z) == (51.556, -0.279, 120.0)
    # The horizontal errors go out in degrees and mean 6 m east, 8 m north.
    assert dr.location.y_error * convert.M_PER_DEG == pytest.approx(8.0)
    assert {c.type: round(c.confidence, 3) for c in dr.classification} == {
        "UAV": 0.7, "Bird": 0.1, "Manned Aircraft": 0.1, "Clutter": 0.1}
    assert [b.type for b in dr.behaviour] == ["Threat High", "Malicious"]
    assert {(i.type, i.value) for i in dr.track_info} >= {("reason", "in zone pitch"),
                                                          ("cuas_track_id", "2")}
    assert (dr.enu_velocity.east_rate, dr.enu_velocity.north_rate) == (3.0, -1.0)
    # The same track keeps its object id; deleted, it is reported once more as lost.
    again = rep.reports(wire.Tracks(src="cuas", seq=2, t=1.7e9 + 1,
                                    tracks=(track(2, "coasting"),)))
    assert again[0].detection_report.object_id == dr.object_id
    assert again[0].detection_report.state == "coasting"
    gone = rep.reports(wire.Tracks(src="cuas", seq=3, t=1.7e9 + 2,
                                   tracks=(track(2, "deleted"), track(1, "deleted"))))
    assert [g.detection_report.state for g in gone] == ["lost"]
    assert rep.reports(wire.Tracks(src="cuas", seq=4, t=1.7e9 + 3,
                                   tracks=(track(2, "deleted"),))) == []


def test_reporter_alerts() -> None:
    rep = Reporter(MODULE_ID)
    rep.reports(wire.Tracks(src="cuas", seq=1, t=1.7e9, tracks=(track(5, "confirmed"),)))
    msg = rep.alert(wire.Alert(src="cuas", seq=1, t=1.7e9 + 1, track_id=5, threat="critical",
                               previous="medium", reasons=("entered no-fly zone pitch",),
                               zone="pitch"))
    assert validate(msg) == []
    al = msg.alert
    assert al.alert_type == al.ALERT_TYPE_CRITICAL and al.priority == al.DISCRETE_PRIORITY_HIGH
    assert "medium -> critical" in al.description and "pitch" in al.description
    assert al.location.y == 51.556
    assert al.associated_detection[0].object_id == rep.object_id(5, 0.0)
    # An alert for a track never reported has no location, and is still valid.
    lone = rep.alert(wire.Alert(src="cuas", seq=2, t=1.7e9, track_id=99, threat="low",
                                previous="none", reasons=()))
    assert validate(lone) == [] and not lone.alert.HasField("location")


def test_own_messages_pass_the_icd_rules() -> None:
    t = time.time()
    for msg in (outbound.registration(MODULE_ID, t, "cuas", 5.0),
                outbound.status_report(MODULE_ID, t, "degraded"),
                convert.registration_ack(MODULE_ID, t, MODULE_ID, False, ["full"]),
                convert.error_message(MODULE_ID, t, None, b"\x00" * 10_000, ["bad"])):
        assert validate(msg) == [], msg.WhichOneof("content")
    err = convert.error_message(MODULE_ID, t, None, b"\x00" * 10_000, ["bad"])
    assert len(err.error.packet) == convert.MAX_ECHO


def test_timestamps_round_trip() -> None:
    for t in (1.7e9, 1.7e9 + 0.999999999, 946_684_800.5):
        assert convert.to_unix(convert.timestamp(t)) == pytest.approx(t, abs=1e-6)
    ts = convert.timestamp(1.7e9 + 0.9999999999)
    assert 0 <= ts.nanos <= 999_999_999


def test_registered_utm_zone() -> None:
    reg = from_json(read_text(data_dir("valid") / "Registration.FullMesssage.json")).registration
    assert convert.registered_utm_zone(reg) == "30U"
    assert convert.registered_utm_zone(Registration()) is None
    only_status = Registration()
    only_status.status_definition.location_definition.zone = "31N"
    assert convert.registered_utm_zone(only_status) == "31N"
