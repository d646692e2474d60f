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
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from cuas import wire
from cuas.sapient.proto import FIELD_OPTIONS, ONEOF_OPTIONS, SapientMessage, is_ulid, is_uuid
from cuas.validation import brief

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


@dataclass(frozen=True, slots=True)
class _FieldRule:
    """The ICD's rules of one field, read once from its descriptor."""

    name: str
    kind: int  # FieldDescriptor.TYPE_*
    repeated: bool
    has_presence: bool
    mandatory: bool
    uuid: bool
    ulid: bool
    enum: EnumDescriptor | None
    enum_numbers: frozenset[int]
    enum_unspecified_zero: bool


@dataclass(frozen=True, slots=True)
class _Plan:
    """The rules of one message type: its mandatory fields and oneofs, every field's checks."""

    mandatory: tuple[_FieldRule, ...]
    mandatory_oneofs: tuple[tuple[str, str], ...]  # (oneof name, its field names)
    by_name: dict[str, _FieldRule]


_PLANS: dict[str, _Plan] = {}


def _plan(desc: Descriptor) -> _Plan:
    """The rules of ``desc``, built on first use: the descriptor's options are slow to read,
    and the message types are few."""
    plan = _PLANS.get(desc.full_name)
    if plan is not None:
        return plan
    rules = []
    for fd in desc.fields:
        opts = fd.GetOptions().Extensions[FIELD_OPTIONS]
        enum = fd.enum_type if fd.type == FieldDescriptor.TYPE_ENUM else None
        rules.append(_FieldRule(
            name=fd.name, kind=fd.type, repeated=_is_repeated(fd),
            has_presence=fd.has_presence, mandatory=opts.is_mandatory, uuid=opts.is_uuid,
            ulid=opts.is_ulid, enum=enum,
            enum_numbers=frozenset(v.number for v in enum.values) if enum else frozenset(),
            enum_unspecified_zero=bool(enum and enum.values
                                       and enum.values_by_number.get(0) is not None
                                       and enum.values_by_number[0].name.endswith("UNSPECIFIED"))))
    oneofs = tuple((o.name, ", ".join(f.name for f in o.fields)) for o in desc.oneofs
                   if o.GetOptions().Extensions[ONEOF_OPTIONS].is_mandatory)
    plan = _PLANS[desc.full_name] = _Plan(tuple(r for r in rules if r.mandatory), oneofs,
                                          {r.name: r for r in rules})
    return plan


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
    plan = _plan(desc)
    for name, fields in plan.mandatory_oneofs:
        if msg.WhichOneof(name) is None:
            out.append(Violation("mandatory_oneof", _join(path, name),
                                 f"one of {fields} is mandatory; none is set"))
    for rule in plan.mandatory:
        if rule.repeated:
            present = len(getattr(msg, rule.name)) > 0
        elif rule.has_presence:
            present = msg.HasField(rule.name)
        else:  # proto3 without presence: a default value is all one can see
            present = not (rule.enum_unspecified_zero and getattr(msg, rule.name) == 0)
        if not present:
            out.append(Violation("is_mandatory", _join(path, rule.name),
                                 "mandatory field is missing"))
    # Only what is set can break the remaining rules: ListFields gives just that.
    for fd, value in msg.ListFields():
        checks = plan.by_name.get(fd.name)
        if checks is None:  # an extension
            continue
        where = _join(path, checks.name)
        values = value if checks.repeated else (value,)
        for i, v in enumerate(values):
            _check_value(checks, v, f"{where}[{i}]" if checks.repeated else where, out, depth)


def _is_repeated(fd: FieldDescriptor) -> bool:
    # protobuf >= 5.29 has ``is_repeated`` and deprecates ``label``; older ones only ``label``.
    flag = getattr(fd, "is_repeated", None)
    if isinstance(flag, bool):
        return flag
    return bool(fd.label == FieldDescriptor.LABEL_REPEATED)


def _check_value(rule: _FieldRule, value: Any, where: str, out: list[Violation],
                 depth: int) -> None:
    if rule.kind == FieldDescriptor.TYPE_MESSAGE:
        _walk(value, where, out, depth + 1)
    elif rule.kind == FieldDescriptor.TYPE_STRING:
        if rule.mandatory and value == "":
            out.append(Violation("is_mandatory", where, "mandatory field is empty"))
        elif rule.uuid and not is_uuid(value):
            out.append(Violation("is_uuid", where, f"{brief(value)} is not a UUID"))
        elif rule.ulid and not is_ulid(value):
            out.append(Violation("is_ulid", where, f"{brief(value)} is not a ULID"))
    elif rule.enum is not None:
        if value not in rule.enum_numbers:
            out.append(Violation("enum_defined", where,
                                 f"{value} is not a value of {rule.enum.name}"))
        elif rule.mandatory and value == 0 and rule.enum_unspecified_zero:
            out.append(Violation("mandatory_enum_set", where,
                                 f"mandatory {rule.enum.name} is left unspecified"))


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
