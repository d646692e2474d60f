"""The ICD validator on Dstl's SAPIENT test-harness messages (tests/data/sapient): every valid one
accepted, in JSON form and after a protobuf round trip; every invalid one rejected with a
reason naming the rule and the field its file name says."""

from __future__ import annotations

import re

import pytest

from cuas.sapient.framing import encode, parse
from cuas.sapient.proto import SapientMessage, from_json
from cuas.sapient.validate import MAX_VIOLATIONS, validate, validate_json
from tests.sapient.conftest import SHARED, data_dir, read_text

#: What each invalid file breaks: (rule, field path the reason must name).
EXPECTED = {
    "0001.Timestamp.Error.json": ("json_mapping", "timestamp"),
    "0007.Content.Missing.json": ("mandatory_oneof", "content"),
    "0014.Location.x.Missing.json": ("is_mandatory", "alert.location.x"),
    "0016.Location.CoordinateSystem.Missing.json": ("is_mandatory",
                                                    "alert.location.coordinate_system"),
    "0059.DetectionReport.Category.Missing.json": (
        "is_mandatory", "registration.mode_definition[0].detection_definition[0]"
        ".detection_report[0].category"),
    "0098.StatusReport.ReportId.Missing.json": ("is_mandatory", "status_report.report_id"),
}


def test_all_38_valid_messages_are_accepted_in_json_and_binary() -> None:
    files = sorted(data_dir("valid").glob("*.json"))
    assert len(files) == 38
    contents = set()
    for path in files:
        msg, violations = validate_json(read_text(path))
        assert violations == [], (path.name, [v.reason() for v in violations])
        assert msg is not None
        contents.add(msg.WhichOneof("content"))
        # The same message as it travels: framed, cut from a stream, checked again.
        frames, rest = parse(encode(msg))
        assert rest == b"" and len(frames) == 1 and frames[0].message == msg
        assert validate(frames[0].message) == []
    assert contents == {"registration", "registration_ack", "status_report",
                        "detection_report", "task", "task_ack", "alert", "alert_ack", "error"}


def test_all_6_invalid_messages_are_rejected_naming_the_rule() -> None:
    files = sorted(data_dir("invalid").glob("*.json"))
    assert [p.name for p in files] == sorted(EXPECTED)
    for path in files:
        rule, field = EXPECTED[path.name]
        _, violations = validate_json(read_text(path))
        assert violations, path.name
        assert [v.rule for v in violations] == [rule], (path.name, violations)
        assert violations[0].path == field
        reason = violations[0].reason()
        assert field in reason and rule in reason


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_file_names_agree_with_the_reasons() -> None:
    """The Dstl file name (``0016.Location.CoordinateSystem.Missing``) names the field the
    reason names (``...location.coordinate_system``)."""
    for path in sorted(data_dir("invalid").glob("*.json")):
        parts = path.stem.split(".")[1:-1]  # drop the number and the verdict
        _, violations = validate_json(read_text(path))
        reason = violations[0].reason().lower()
        assert _camel_to_snake(parts[-1]) in reason, (path.name, reason)


@pytest.mark.parametrize("field,value,rule", [
    ("node_id", "not-a-uuid", "is_uuid"),
    ("destination_id", "a8654cdf4328", "is_uuid"),
])
def test_uuid_rule(field: str, value: str, rule: str) -> None:
    msg = from_json(read_text(data_dir("valid") / "Alert.FullMessage.json"))
    setattr(msg, field, value)
    assert [v.rule for v in validate(msg)] == [rule]


def test_ulid_rule_and_bad_enum_and_time() -> None:
    msg = from_json(read_text(data_dir("valid") / "DetectionReport.FullMessage.json"))
    msg.detection_report.object_id = "01GGYFBAXH4VYRQYEX7S3XGK3I"  # I is not Crockford base32
    msg.detection_report.location.coordinate_system = 42  # proto3 keeps unknown enum values
    msg.timestamp.seconds = 0  # 1970: an unset clock
    rules = {v.rule: v for v in validate(msg)}
    assert set(rules) == {"is_ulid", "enum_defined", "timestamp_range"}
    assert rules["is_ulid"].path == "detection_report.object_id"
    assert rules["enum_defined"].path == "detection_report.location.coordinate_system"
    assert rules["timestamp_range"].path == "timestamp"


def test_mandatory_enum_left_unspecified() -> None:
    msg = from_json(read_text(data_dir("valid") / "StatusReport.FullMessage.json"))
    msg.status_report.system = 0
    assert [(v.rule, v.path) for v in validate(msg)] == [
        ("mandatory_enum_set", "status_report.system")]


def test_violations_are_capped() -> None:
    msg = SapientMessage()
    reg = msg.registration
    for _ in range(100):
        reg.capabilities.add()  # each lacks its two mandatory strings
    assert len(validate(msg)) == MAX_VIOLATIONS


def test_json_that_is_not_json() -> None:
    msg, violations = validate_json("{not json")
    assert msg is None and violations[0].rule == "json_mapping"


def test_copies_match_the_shared_originals() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not at {SHARED}: nothing to compare the copies with")
    for kind in ("valid", "invalid"):
        ours = {p.name: p.read_bytes() for p in data_dir(kind).glob("*.json")}
        theirs = {p.name: p.read_bytes() for p in (SHARED / kind).glob("*.json")}
        assert ours == theirs
