"""Every CoT event type cuas emits, parsed by takproto (the TAK protocol library TAK tools use)
as XML, and converted to TAK protocol version 1 (mesh and stream protobuf) and back, with
nothing lost that ATAK reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
import takproto

from cuas import wire
from cuas.outputs import cot

NOW = 1_800_000_000.0
POLICY = cot.CotPolicy(site="wembley", friendly_rid=frozenset({"VENUE-DRONE-1"}),
                       send_all=True)
UAV = {"uav": 0.9, "bird": 0.05, "manned": 0.03, "clutter": 0.02}
MANNED = {"uav": 0.0, "bird": 0.0, "manned": 1.0, "clutter": 0.0}
BIRD = {"uav": 0.05, "bird": 0.9, "manned": 0.0, "clutter": 0.05}


def track(**kw: object) -> wire.Track:
    base: dict[str, object] = dict(
        id=17, status="confirmed", lla=(51.5565, -0.2790, 150.0), enu=(40.0, 55.0, 60.0),
        vel=(10.0, 0.0, 0.0), pos_sigma=(4.0, 6.0, 9.0), t_update=NOW - 1.0,
        sources=("radar-north", "rf-1"), class_probs=UAV, threat="low", malicious=False,
        reasons=("RF link: DJI OcuSync & <5.8 GHz>",))
    base.update(kw)
    return wire.Track(**base)  # type: ignore[arg-type]


def every_event() -> list[bytes]:
    """One event of each type cuas sends: every track type, a deleted track, a replayed one,
    the pilot and the node."""
    pilot_ident = wire.Ident(rid="1581F5FJD239C00DW22E", operator_lla=(51.55, -0.28, 92.0))
    tracks = [
        track(threat="high", malicious=True, ident=pilot_ident),  # hostile UAV, and its pilot
        track(threat="medium"),
        track(threat="low"),
        track(threat="none", ident=wire.Ident(rid="VENUE-DRONE-1")),
        track(threat="none", class_probs=MANNED, ident=wire.Ident(icao="4ca7b5",
                                                                    callsign="RYR12AB")),
        track(threat="high", malicious=True, class_probs=MANNED),
        track(threat="none", class_probs=BIRD),
        track(status="deleted"),
    ]
    events = [x for t in tracks for x in cot.track_events(t, NOW, POLICY)]
    events += cot.track_events(track(), NOW, POLICY, replay_offset_s=1.8e6)
    events.append(cot.node_event((51.556, -0.2796, 90.0), "wembley", NOW,
                                 {"daemon": "ok", "tracks": 3}))
    return events


def test_every_type_is_covered() -> None:
    types = {ET.fromstring(x).get("type") for x in every_event()}
    assert types == {cot.HOSTILE_UAV, cot.SUSPECT_UAV, cot.UNKNOWN_UAV, cot.FRIENDLY_UAV,
                     cot.NEUTRAL_CIVIL_FIXED_WING, cot.HOSTILE_CIVIL_FIXED_WING,
                     cot.UNKNOWN_AIR, cot.PILOT, cot.GROUND_SENSOR}


def _ms(stamp: str) -> int:
    return round(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize("xml", every_event(),
                         ids=lambda x: f"{ET.fromstring(x).get('type')}:"
                                       f"{ET.fromstring(x).get('uid')}")
def test_takproto_reads_every_event(xml: bytes) -> None:
    ev = ET.fromstring(xml)
    message = takproto.parse_proto(bytearray(xml))
    assert message is not None
    got = message.cotEvent
    assert (got.type, got.uid, got.how) == (ev.get("type"), ev.get("uid"), ev.get("how"))
    assert got.sendTime == _ms(ev.get("time", ""))
    assert got.startTime == _ms(ev.get("start", ""))
    assert got.staleTime == _ms(ev.get("stale", ""))
    assert got.staleTime >= got.startTime
    point = ev.find("point")
    assert point is not None
    for key in ("lat", "lon", "hae", "ce", "le"):
        assert getattr(got, key) == pytest.approx(float(point.get(key, "nan")))
    contact = ev.find("detail/contact")
    assert contact is not None and got.detail.contact.callsign == contact.get("callsign")
    course = ev.find("detail/track")
    if course is not None:
        assert got.detail.track.course == pytest.approx(float(course.get("course", "nan")))
        assert got.detail.track.speed == pytest.approx(float(course.get("speed", "nan")))
    # What has no protobuf field travels as XML: the remarks element with its attribute, the
    # link and __cuas, escaped and on one line.
    extra = ET.fromstring(f"<detail>{got.detail.xmlDetail}</detail>")
    remarks = extra.find("remarks")
    assert remarks is not None and remarks.get("source") == "cuas"
    assert remarks.text == ev.findtext("detail/remarks")
    assert "\n" not in (remarks.text or "")
    if ev.get("type") not in (cot.PILOT, cot.GROUND_SENSOR):
        machine = extra.find("__cuas")
        assert machine is not None and machine.get("track_id") == "17"
    # TAK protocol version 1, as a TAK server or ATAK would send it on: the same event.
    for version in (takproto.TAKProtoVer.MESH, takproto.TAKProtoVer.STREAM):
        again = takproto.parse_proto(takproto.xml2proto(xml, version))
        assert again == message


def test_remarks_escaped_in_xml_are_read_back_intact() -> None:
    (xml,) = cot.track_events(track(reasons=("a < b & c > d", 'say "hi"')), NOW, POLICY)
    assert b"a &lt; b &amp; c &gt; d" in xml
    message = takproto.parse_proto(bytearray(xml))
    extra = ET.fromstring(f"<detail>{message.cotEvent.detail.xmlDetail}</detail>")
    assert (extra.findtext("remarks") or "").split(" | ")[1:3] == ["a < b & c > d",
                                                                   'say "hi"']


def test_identities_heard_over_the_air_cannot_break_the_xml() -> None:
    """A Remote ID serial or callsign with control characters (a hostile broadcaster) still
    gives an event every TAK parser reads, on one line."""
    hostile = wire.Ident(rid="EVIL\x00SERIAL\n<1>", callsign="\x1b[31mRED\x07",
                         aliases=("mac:00\x0b11",))
    (xml,) = cot.track_events(track(ident=hostile), NOW, POLICY)
    ev = ET.fromstring(xml)
    contact = ev.find("detail/contact")
    assert contact is not None and contact.get("callsign") == "[31mRED"
    machine = ev.find("detail/__cuas")
    assert machine is not None
    assert (machine.get("rid"), machine.get("aliases")) == ("EVIL SERIAL <1>", "mac:00 11")
    body = xml.partition(b"?>")[2].strip()  # after the XML declaration
    assert b"\n" not in body and b"\x00" not in body
    message = takproto.parse_proto(bytearray(xml))
    assert message is not None and message.cotEvent.detail.contact.callsign == "[31mRED"
