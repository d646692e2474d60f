"""The fusion node's protocol logic without sockets: registration, the configured module
settings, re-registration, the node limit, and what happens to each kind of message."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.config import parse_config, reference_config
from cuas.sapient.framing import Frame, encode, parse
from cuas.sapient.proto import SapientMessage, from_json, node_uuid, ulid_at
from cuas.sapient.validate import validate
from cuas.sensors.sapient import node_state as fusion
from cuas.sensors.sapient.node_state import FusionNodeState
from tests.sapient.conftest import MODULE_ID, data_dir, location_report, read_text, status_report


def frame_of(msg: SapientMessage) -> Frame:
    frames, _ = parse(encode(msg))
    return frames[0]


def registration(node_id: str = MODULE_ID) -> SapientMessage:
    msg = from_json(read_text(data_dir("valid") / "Registration.Small.Messsage.json"))
    msg.node_id = node_id
    return msg


def test_registration_is_acknowledged_and_every_reference_message_is_accepted() -> None:
    state = FusionNodeState(reference_config())
    assert state.node_id == node_uuid("cuas")
    out = state.handle(frame_of(registration()), time.time())
    (ack,) = out.replies
    assert ack.registration_ack.acceptance and ack.destination_id == MODULE_ID
    assert state.nodes[MODULE_ID].info.sensor_id == f"sapient-{MODULE_ID}"
    assert state.nodes[MODULE_ID].info.node_type == "camera"
    # Every Dstl message passes the checks (reports from unregistered Dstl nodes get an
    # Error saying so, which is not a rejection of the message).
    files = sorted(data_dir("valid").glob("*.json"))
    for path in files:
        state.handle(frame_of(from_json(read_text(path))), time.time())
    assert state.counters["accepted"] == 1 + len(files) and state.counters["rejected"] == 0
    for path in sorted(data_dir("invalid").glob("*.json")):
        msg = SapientMessage()
        try:
            msg = from_json(read_text(path))
        except Exception:
            continue  # 0001 cannot even be built from its JSON (see test_validate)
        out = state.handle(frame_of(msg), time.time())
        assert out.replies[0].WhichOneof("content") == "error"
        assert "ICD rule" in out.replies[0].error.error_message[0]
    assert state.counters["rejected"] == 5


def test_configured_module_gets_its_sensor_id_origin_and_north() -> None:
    cfg = parse_config({"sensors": {"north-radar": {
        "kind": "radar", "origin": [51.56, -0.28, 90.0],
        "sapient": {"node_id": MODULE_ID.upper(), "north_offset_deg": 1.25}}}})
    state = FusionNodeState(cfg)
    state.handle(frame_of(registration()), time.time())
    info = state.nodes[MODULE_ID].info
    assert info.sensor_id == "north-radar" and info.origin == (51.56, -0.28, 90.0)
    assert info.north_offset_deg == 1.25
    # A StatusReport with the module's location takes over; a re-registration keeps it.
    state.handle(frame_of(status_report(MODULE_ID, 51.57, -0.29, 95.0)), time.time())
    state.handle(frame_of(registration()), time.time())
    assert state.nodes[MODULE_ID].info.origin == (51.57, -0.29, 95.0)
    out = state.handle(frame_of(location_report(MODULE_ID, ulid_at(time.time(), b"o"), 51.5,
                                                -0.3, 50.0)), time.time())
    (batch,) = out.publish
    assert isinstance(batch, wire.Detections) and batch.sensor == "north-radar"
    assert batch.seq == 1


def test_status_reports_become_contract_status() -> None:
    state = FusionNodeState(reference_config())
    state.handle(frame_of(registration()), time.time())
    bye = from_json(read_text(data_dir("valid") / "StatusReport.Goodbye.json"))
    bye.node_id = MODULE_ID
    (status,) = state.handle(frame_of(bye), time.time()).publish
    assert isinstance(status, wire.Status) and status.state == "down"


def test_node_limit() -> None:
    state = FusionNodeState(reference_config())
    reg = registration()
    for i in range(fusion.MAX_NODES):
        state.nodes[f"{i:08x}-0000-4000-8000-000000000000"] = state.nodes.get(MODULE_ID) or \
            fusion.NodeRecord(fusion.NodeInfo("x", "x"), reg.registration)
    out = state.handle(frame_of(reg), time.time())
    assert not out.replies[0].registration_ack.acceptance
    assert state.counters["registrations_refused"] == 1


def test_unconvertible_report_is_answered_with_the_reason() -> None:
    state = FusionNodeState(reference_config())
    state.handle(frame_of(registration()), time.time())
    rb = from_json(read_text(data_dir("valid") / "DetectionReport.RangeBearing.FullMessage.json"))
    rb.node_id = MODULE_ID
    out = state.handle(frame_of(rb), time.time())
    assert out.publish == ()
    assert "location is unknown" in out.replies[0].error.error_message[0]
    assert state.counters["unconvertible"] == 1


# --------------------------------------------------------------------------- fuzzing


def _registered_state() -> FusionNodeState:
    cfg = parse_config({"sensors": {"m": {"origin": [51.55, -0.28, 90.0], "sapient": {
        "node_id": "a8654cdf-4328-47de-81fa-c495589e30c8", "utm_zone": "30U"}}}})
    state = FusionNodeState(cfg)
    for node_id in ("a8654cdf-4328-47de-81fa-c495589e30c8",
                    "a8654cdf-4328-47de-81fa-c495589e30c9"):
        state.handle(frame_of(registration(node_id)), time.time())
    return state


@settings(max_examples=200, deadline=None)
@given(pick=st.integers(0, 37), flips=st.lists(st.tuples(st.integers(0, 5000),
                                                         st.integers(0, 255)), max_size=6))
def test_fuzz_mutated_reference_messages_never_raise(pick: int,
                                                     flips: list[tuple[int, int]]) -> None:
    """Reference messages with bytes overwritten: each frame is accepted, or rejected and
    answered with an Error; nothing escapes."""
    files = sorted(data_dir("valid").glob("*.json"))
    body = bytearray(from_json(read_text(files[pick])).SerializeToString())
    for pos, byte in flips:
        body[pos % len(body)] = byte
    state = _registered_state()
    before = state.counters["accepted"] + state.counters["rejected"]
    frames, rest = parse(len(body).to_bytes(4, "little") + bytes(body))
    assert rest == b"" and len(frames) == 1
    out = state.handle(frames[0], time.time())
    assert state.counters["accepted"] + state.counters["rejected"] == before + 1
    if state.counters["rejected"]:
        assert out.replies[0].WhichOneof("content") == "error"


@settings(max_examples=150, deadline=None)
@given(x=st.floats(allow_nan=True, allow_infinity=True),
       y=st.floats(allow_nan=True, allow_infinity=True),
       z=st.one_of(st.none(), st.floats()), cs=st.sampled_from([0, 1, 2, 5, 9]),
       zone=st.sampled_from(["", "30U", "30C", "61X", "0", "ZZ"]),
       rb=st.booleans(), a=st.floats(), e=st.one_of(st.none(), st.floats()),
       r=st.one_of(st.none(), st.floats()), datum=st.integers(0, 5))
def test_fuzz_detection_values_give_a_detection_or_a_reason(
        x: float, y: float, z: float | None, cs: int, zone: str, rb: bool, a: float,
        e: float | None, r: float | None, datum: int) -> None:
    """Any numbers in a DetectionReport: a published contract detection, or an Error."""
    state = _registered_state()
    msg = location_report("a8654cdf-4328-47de-81fa-c495589e30c8", ulid_at(time.time(), b"o"),
                          0.0, 0.0, 0.0)
    rep = msg.detection_report
    if rb:
        rep.range_bearing.azimuth = a
        rep.range_bearing.coordinate_system = cs % 5
        rep.range_bearing.datum = datum % 5
        if e is not None:
            rep.range_bearing.elevation = e
        if r is not None:
            rep.range_bearing.range = r
    else:
        loc = rep.location
        loc.x, loc.y, loc.coordinate_system = x, y, cs
        loc.utm_zone = zone
        if z is None:
            loc.ClearField("z")
        else:
            loc.z = z
    out = state.handle(frame_of(msg), time.time())
    if out.publish:
        (batch,) = out.publish
        assert isinstance(batch, wire.Detections)
        assert all(v == v for v in batch.dets[0].z)  # no NaN gets through
    else:
        assert out.replies and out.replies[0].WhichOneof("content") == "error"


def test_module_alert_is_acknowledged_and_a_task_refused() -> None:
    state = FusionNodeState(reference_config())
    state.handle(frame_of(registration()), time.time())
    alert = from_json(read_text(data_dir("valid") / "Alert.FullMessage.json"))
    alert.node_id = MODULE_ID
    (ack,) = state.handle(frame_of(alert), time.time()).replies
    assert ack.alert_ack.alert_id == alert.alert.alert_id
    assert ack.alert_ack.alert_ack_status == ack.alert_ack.ALERT_ACK_STATUS_ACCEPTED
    task = from_json(read_text(data_dir("valid") / "Task.FullMessage.LookAt.json"))
    task.node_id = MODULE_ID
    (tack,) = state.handle(frame_of(task), time.time()).replies
    assert tack.task_ack.task_id == task.task.task_id
    assert tack.task_ack.task_status == tack.task_ack.TASK_STATUS_REJECTED
    for reply in (ack, tack):
        assert validate(reply) == [] and reply.destination_id == MODULE_ID


def test_registration_of_another_icd_version_is_refused() -> None:
    state = FusionNodeState(reference_config())
    old = registration()
    old.registration.icd_version = "SAPIENT v7"
    (ack,) = state.handle(frame_of(old), time.time()).replies
    assert not ack.registration_ack.acceptance
    assert "BSI Flex 335 v2" in ack.registration_ack.ack_response_reason[0]
    assert MODULE_ID not in state.nodes
    for spelling in ("BSI Flex 335 v2.0", "bsi flex 335 V2.1", "BSI_Flex_335_v2.0"):
        ok = registration()
        ok.registration.icd_version = spelling
        (ack,) = state.handle(frame_of(ok), time.time()).replies
        assert ack.registration_ack.acceptance, spelling
