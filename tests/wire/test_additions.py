"""The contract's additions of 2026-12-07 (docs/wire-changes.md): class evidence on detections,
motion-mode probabilities on tracks, alert ids and the ``ack`` message. Each round-trips through
msgpack, is valid against the project's schema (``docs/wire.schema.json``), and bad values are
refused naming their key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.errors import DecodeError
from cuas.vocabulary import CLASSES, MOTION_MODES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "wire.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
T0 = 1_765_000_000.0


def _detections(evidence: Any) -> dict[str, Any]:
    det = {"frame": "ae", "z": [10.0, 5.0], "sigma": [0.5, 0.5], "evidence": evidence}
    return {"v": 1, "type": "detections", "src": "cam-1", "seq": 3, "t": T0, "sensor": "cam-1",
            "kind": "camera", "dets": [det]}


def _track(modes: Any) -> dict[str, Any]:
    return {"v": 1, "type": "tracks", "src": "cuasd", "seq": 1, "t": T0, "tracks": [{
        "id": 7, "status": "confirmed", "lla": [51.556, -0.2796, 80.0], "enu": [1.0, 2.0, 3.0],
        "vel": [0.0, 0.0, 0.0], "pos_sigma": [1.0, 1.0, 1.0], "t_update": T0, "sources": ["r1"],
        "class": {c: 0.25 for c in CLASSES}, "threat": "none", "malicious": False,
        "reasons": [], "modes": modes}]}


def _round_trip(d: dict[str, Any]) -> wire.Message:
    msg = wire.from_dict(d)
    out = wire.to_dict(msg)
    assert not list(VALIDATOR.iter_errors(out)), list(VALIDATOR.iter_errors(out))[:3]
    assert wire.decode(wire.encode(msg)) == msg
    return msg


def test_evidence_round_trips_and_is_schema_valid() -> None:
    ev = {"likelihood": {"uav": 0.9, "bird": 0.05, "manned": 0.01, "clutter": 0.04},
          "confidence": 0.8, "label": "drone", "basis": "appearance"}
    msg = _round_trip(_detections(ev))
    assert isinstance(msg, wire.Detections)
    got = msg.dets[0].evidence
    assert got == wire.ClassEvidence(likelihood=ev["likelihood"], confidence=0.8,
                                     label="drone", basis="appearance")


@pytest.mark.parametrize(("evidence", "key"), [
    ({"likelihood": {"uav": 0.9, "bird": 0.1, "manned": 0.0}, "confidence": 1.0},
     "dets[0].evidence.likelihood.clutter"),
    ({"likelihood": {c: 0.0 for c in CLASSES}, "confidence": 1.0},
     "dets[0].evidence.likelihood"),
    ({"likelihood": {**{c: 0.5 for c in CLASSES}, "uav": 1.5}, "confidence": 1.0},
     "dets[0].evidence.likelihood.uav"),
    ({"likelihood": {**{c: 0.5 for c in CLASSES}, "kite": 0.5}, "confidence": 1.0},
     "dets[0].evidence.likelihood.kite"),
    ({"likelihood": {c: 0.5 for c in CLASSES}, "confidence": -0.1},
     "dets[0].evidence.confidence"),
    ({"likelihood": {c: 0.5 for c in CLASSES}}, "dets[0].evidence.confidence"),
    ({"likelihood": {c: 0.5 for c in CLASSES}, "confidence": float("nan")},
     "dets[0].evidence.confidence"),
    ([0.9, 0.1], "dets[0].evidence"),
])
def test_bad_evidence_is_refused_naming_its_key(evidence: Any, key: str) -> None:
    with pytest.raises(DecodeError) as err:
        wire.from_dict(_detections(evidence))
    assert err.value.key == key


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(likelihood=st.fixed_dictionaries({c: st.floats(0.0, 1.0) for c in CLASSES}),
       confidence=st.floats(0.0, 1.0))
def test_any_valid_evidence_round_trips(likelihood: dict[str, float], confidence: float) -> None:
    ev = {"likelihood": likelihood, "confidence": confidence}
    if not any(likelihood.values()):
        with pytest.raises(DecodeError):
            wire.from_dict(_detections(ev))
        return
    msg = _round_trip(_detections(ev))
    assert isinstance(msg, wire.Detections)
    assert msg.dets[0].evidence is not None
    assert dict(msg.dets[0].evidence.likelihood) == likelihood


def test_modes_round_trip_and_are_optional() -> None:
    modes = {"hover": 0.7, "constant_velocity": 0.2, "manoeuvre": 0.1}
    msg = _round_trip(_track(modes))
    assert isinstance(msg, wire.Tracks)
    assert dict(msg.tracks[0].modes) == modes
    assert set(modes) == set(MOTION_MODES)
    plain = _track(None)
    del plain["tracks"][0]["modes"]
    msg = _round_trip(plain)
    assert isinstance(msg, wire.Tracks)
    assert msg.tracks[0].modes == {}
    assert "modes" not in wire.to_dict(msg)["tracks"][0]  # absent stays absent


@pytest.mark.parametrize(("modes", "key"), [
    ({"hover": 1.2}, "tracks[0].modes.hover"),
    ({"loiter": 0.5}, "tracks[0].modes.loiter"),
    ([0.1, 0.9], "tracks[0].modes"),
])
def test_bad_modes_are_refused(modes: Any, key: str) -> None:
    with pytest.raises(DecodeError) as err:
        wire.from_dict(_track(modes))
    assert err.value.key == key


def _alert(**extra: Any) -> dict[str, Any]:
    return {"v": 1, "type": "alert", "src": "cuasd", "seq": 12, "t": T0, "track_id": 4,
            "threat": "high", "previous": "low", "reasons": ["in zone pitch"], **extra}


def test_alert_id_is_sent_or_derived() -> None:
    with_id = _round_trip(_alert(id="cuasd-0004-3"))
    assert isinstance(with_id, wire.Alert)
    assert with_id.alert_id == "cuasd-0004-3"
    without = _round_trip(_alert())
    assert isinstance(without, wire.Alert)
    assert without.id is None and without.alert_id == "cuasd:12"


def _ack(**extra: Any) -> dict[str, Any]:
    return {"v": 1, "type": "ack", "src": "web", "seq": 1, "t": T0, "alert_id": "cuasd:12",
            "action": "acknowledged", "user": "alice", **extra}


def test_ack_round_trips_on_its_topic() -> None:
    msg = _round_trip(_ack(note="seen on camera 3, steward sent", track_id=4))
    assert msg == wire.Ack(src="web", seq=1, t=T0, alert_id="cuasd:12", action="acknowledged",
                           user="alice", note="seen on camera 3, steward sent", track_id=4)
    assert wire.topic_for(msg) == "ack"
    bare = _round_trip(_ack(action="dismissed"))
    assert isinstance(bare, wire.Ack) and bare.note == "" and bare.track_id is None


@pytest.mark.parametrize(("extra", "key"), [
    ({"action": "ignored"}, "action"),
    ({"user": ""}, "user"),
    ({"note": "x" * (wire.MAX_NOTE + 1)}, "note"),
    ({"track_id": -1}, "track_id"),
    ({"alert_id": 12}, "alert_id"),
])
def test_bad_acks_are_refused(extra: dict[str, Any], key: str) -> None:
    with pytest.raises(DecodeError) as err:
        wire.from_dict(_ack(**extra))
    assert err.value.key == key
