"""The one place the SAPIENT protobuf bindings (PyPI ``sapient-msg``, BSI Flex 335 v2.0) are
imported, plus the identifier and time helpers every SAPIENT message needs.

Identifiers: node ids are UUIDs (RFC 4122 text form); report, object, alert and task ids are
ULIDs (26 characters of Crockford base32: a 48-bit millisecond UTC time, then 80 bits).
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError

from cuas.errors import CuasError

try:
    from sapient_msg.bsi_flex_335_v2_0.alert_ack_pb2 import AlertAck
    from sapient_msg.bsi_flex_335_v2_0.alert_pb2 import Alert
    from sapient_msg.bsi_flex_335_v2_0.detection_report_pb2 import DetectionReport
    from sapient_msg.bsi_flex_335_v2_0.error_pb2 import Error
    from sapient_msg.bsi_flex_335_v2_0.location_pb2 import Location
    from sapient_msg.bsi_flex_335_v2_0.range_bearing_pb2 import RangeBearing
    from sapient_msg.bsi_flex_335_v2_0.registration_ack_pb2 import RegistrationAck
    from sapient_msg.bsi_flex_335_v2_0.registration_pb2 import Registration
    from sapient_msg.bsi_flex_335_v2_0.sapient_message_pb2 import SapientMessage
    from sapient_msg.bsi_flex_335_v2_0.status_report_pb2 import StatusReport
    from sapient_msg.bsi_flex_335_v2_0.task_ack_pb2 import TaskAck
    from sapient_msg.proto_options_pb2 import field_options, oneof_options
except ImportError as exc:  # an optional extra: say how to get it
    raise CuasError("SAPIENT needs the optional package sapient-msg: "
                    "pip install 'cuas[sapient]'") from exc

#: The ICD version string a Registration carries.
ICD_VERSION: Final = "BSI Flex 335 v2.0"

__all__ = [
    "FIELD_OPTIONS", "ICD_VERSION", "ONEOF_OPTIONS", "Alert", "AlertAck", "DetectionReport",
    "Error", "TaskAck",
    "Location", "ProtobufDecodeError", "RangeBearing", "Registration", "RegistrationAck",
    "SapientMessage", "StatusReport", "from_json", "is_ulid", "is_uuid", "new_ulid",
    "node_uuid", "ulid_at",
]

#: The custom options holding the ICD's validation rules (``is_mandatory``, ``is_uuid``, ...).
FIELD_OPTIONS: Final = field_options
ONEOF_OPTIONS: Final = oneof_options

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ULID_RE: Final = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", re.IGNORECASE)


def is_ulid(text: str) -> bool:
    """True for a 26-character Crockford-base32 ULID whose value fits 128 bits."""
    return bool(_ULID_RE.match(text))


def is_uuid(text: str) -> bool:
    """True for a UUID in its 36-character hyphenated text form."""
    if len(text) != 36:
        return False
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def ulid_at(t: float, entropy: bytes) -> str:
    """The ULID for UTC time ``t`` (s) with 10 bytes of ``entropy`` (padded or cut to 10)."""
    ms = max(0, min(int(t * 1000), (1 << 48) - 1))
    value = (ms << 80) | int.from_bytes(entropy[:10].ljust(10, b"\0"), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def new_ulid(t: float) -> str:
    """A fresh random ULID at UTC time ``t`` (s)."""
    return ulid_at(t, os.urandom(10))


def node_uuid(name: str) -> str:
    """A stable UUID for a cuas component named ``name`` (the same name gives the same id)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:cuas:{name}"))


def from_json(text: str) -> SapientMessage:
    """A ``SapientMessage`` from its protobuf JSON form; raises ``json_format.ParseError``."""
    msg = SapientMessage()
    json_format.Parse(text, msg)
    return msg
