"""Checks a ``SapientMessage`` against the rules of the BSI Flex 335 v2.0 ICD.

The rules are read from the bindings themselves: the ICD marks fields with custom options
(``is_mandatory``, ``is_uuid``, ``is_ulid``) and mandatory oneofs, so one walk over any message
applies all of them. Added here: enum values must be defined ones, a timestamp must be a real
time (nanos within a second, inside 2000..2100 UTC), and a mandatory enum must not be left
``*_UNSPECIFIED``. Each violation names its rule and the offending field's path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from cuas import wire
from cuas.sapient.proto import FIELD_OPTIONS, ONEOF_OPTIONS, SapientMessage, is_ulid, is_uuid

#: Stop after this many violations (a hostile message could hold thousands).
MAX_VIOLATIONS: Final = 32
#: Deeper nesting than this is not a real message (sub-class trees are a few levels deep).
MAX_DEPTH: Final = 32

_TIMESTAMP: Final = "google.protobuf.Timestamp"
_JSON_FIELD: Final = re.compile(r"SapientMessage\.([A-Za-z_][\w.\[\]]*[\w\]])")


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: ``rule`` (``is_mandatory``, ``mandatory_oneof``, ``is_uuid``,
    ``is_ulid``, ``enum_defined``, ``mandatory_enum_set``, ``timestamp_range``,
    ``json_mapping``, ``max_depth``), the dotted ``path`` of the field, and a ``detail``."""

    rule: str
    path: str
    detail: str

    def reason(self) -> str:
        """One line for a log or an Error message: path, what is wrong, which rule."""
        return f"{self.path}: {self.detail} (ICD rule {self.rule})"


def validate(msg: SapientMessage) -> list[Violation]:
    """Every violation in ``msg`` (empty: the message is valid), at most :data:`MAX_VIOLATIONS`."""
    out: list[Violation] = []
    _walk(msg, "", out, 0)
    return out[:MAX_VIOLATIONS]


def validate_json(text: str) -> tuple[SapientMessage | None, list[Violation]]:
    """Parse a message's protobuf JSON form and validate it. A document the JSON mapping
    refuses (for example a timestamp that is not RFC 3339) is one ``json_mapping`` violation."""
    msg = SapientMessage()
    try:
        json_format.Parse(text, msg)
    except (json_format.ParseError, ValueError, RecursionError) as exc:
        return None, [Violation("json_mapping", _json_path(str(exc)), str(exc)[:300])]
    return msg, validate(msg)


def _json_path(err: str) -> str:
    """The field a ``json_format`` error names (``... at SapientMessage.timestamp``)."""
    m = _JSON_FIELD.search(err)
    return m.group(1) if m else "<document>"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(msg: Message, path: str, out: list[Violation], depth: int) -> None:
    if len(out) >= MAX_VIOLATIONS:
        return
    if depth > MAX_DEPTH:
        out.append(Violation("max_depth", path, f"nested deeper than {MAX_DEPTH} levels"))
        return
    desc: Descriptor = msg.DESCRIPTOR
    if desc.full_name == _TIMESTAMP:
        _check_timestamp(msg, path, out)
        return
    for oneof in desc.oneofs:
        if oneof.GetOptions().Extensions[ONEOF_OPTIONS].is_mandatory \
                and msg.WhichOneof(oneof.name) is None:
            names = ", ".join(f.name for f in oneof.fields)
            out.append(Violation("mandatory_oneof", _join(path, oneof.name),
                                 f"one of {names} is mandatory; none is set"))
    for fd in desc.fields:
        _check_field(msg, fd, _join(path, fd.name), out, depth)


def _is_repeated(fd: FieldDescriptor) -> bool:
    # protobuf >= 5.29 has ``is_repeated`` and deprecates ``label``; older ones only ``label``.
    flag = getattr(fd, "is_repeated", None)
    if isinstance(flag, bool):
        return flag
    return bool(fd.label == FieldDescriptor.LABEL_REPEATED)


def _check_field(msg: Message, fd: FieldDescriptor, path: str, out: list[Violation],
                 depth: int) -> None:
    opts = fd.GetOptions().Extensions[FIELD_OPTIONS]
    repeated = _is_repeated(fd)
    if repeated:
        values = list(getattr(msg, fd.name))
        present = bool(values)
    else:
        present = msg.HasField(fd.name) if fd.has_presence else True
        values = [getattr(msg, fd.name)] if present else []
    if opts.is_mandatory and not present:
        out.append(Violation("is_mandatory", path, "mandatory field is missing"))
        return
    for i, value in enumerate(values):
        where = f"{path}[{i}]" if repeated else path
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            _walk(value, where, out, depth + 1)
        elif fd.type == FieldDescriptor.TYPE_STRING:
            if opts.is_mandatory and value == "":
                out.append(Violation("is_mandatory", where, "mandatory field is empty"))
            elif opts.is_uuid and not is_uuid(value):
                out.append(Violation("is_uuid", where, f"{wire._brief(value)} is not a UUID"))
            elif opts.is_ulid and not is_ulid(value):
                out.append(Violation("is_ulid", where, f"{wire._brief(value)} is not a ULID"))
        elif fd.type == FieldDescriptor.TYPE_ENUM:
            enum = fd.enum_type
            if enum.values_by_number.get(value) is None:
                out.append(Violation("enum_defined", where,
                                     f"{value} is not a value of {enum.name}"))
            elif opts.is_mandatory and value == 0 and enum.values[0].name.endswith("UNSPECIFIED"):
                out.append(Violation("mandatory_enum_set", where,
                                     f"mandatory {enum.name} is left unspecified"))


def _check_timestamp(ts: Message, path: str, out: list[Violation]) -> None:
    seconds = getattr(ts, "seconds", 0)
    nanos = getattr(ts, "nanos", 0)
    if not 0 <= nanos < 1_000_000_000:
        out.append(Violation("timestamp_range", path, f"nanos {nanos} outside 0..999999999"))
    elif not wire.T_MIN <= seconds < wire.T_MAX:
        out.append(Violation("timestamp_range", path,
                             f"{seconds} s is outside 2000-01-01..2100-01-01 UTC"))


def reasons(violations: list[Violation]) -> list[str]:
    """The violations as Error-message lines."""
    return [v.reason() for v in violations]
