"""Tests of the wire contract (cuas.wire) against the spec: examples, JSON Schema, fuzzing.

The rule under test: malformed input of any kind raises :class:`cuas.errors.DecodeError` whose
``key`` names the offending field; never a bare KeyError, TypeError, OverflowError,
RecursionError or a numpy warning (warnings are errors in this module). What the decoder
accepts, ``to_dict`` re-emits as schema-valid and ``encode``/``decode`` round-trip unchanged.

The spec examples and schema are read from ``tests/data/spec-examples`` (verbatim copies, so
that a fresh clone runs these tests too); :func:`test_spec_copies_match_shared` keeps them in
step with ``../shared/spec`` when that is present.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import reprlib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import jsonschema
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.errors import DecodeError

pytestmark = pytest.mark.filterwarnings("error")

DATA = Path(__file__).resolve().parents[1] / "data" / "spec-examples"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"

#: Deterministic and deadline-free: these run in CI on machines of any speed.
FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

T = TypeVar("T")


# --------------------------------------------------------------------------- helpers


def _read_examples() -> list[tuple[str, str | None, dict[str, Any]]]:
    """(name, topic or None, message map) of every spec example."""
    out: list[tuple[str, str | None, dict[str, Any]]] = []
    lines = (DATA / "detections.jsonl").read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if line.strip():
            rec = json.loads(line)
            out.append((f"detections.jsonl:{n}", rec["topic"], rec["msg"]))
    out.append(("tracks.json", None, json.loads((DATA / "tracks.json").read_text("utf-8"))))
    return out


EXAMPLES = _read_examples()
SCHEMA = json.loads((DATA / "wire.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _assert_schema_valid(d: dict[str, Any]) -> None:
    errors = sorted(VALIDATOR.iter_errors(d), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def _brief(value: Any) -> str:
    """A repr safe for any test value (1000-deep lists, 10**5000, 10**6-element lists)."""
    try:
        return reprlib.repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__}>"


def _strict(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn`` with every warning raised as an error (numpy RuntimeWarnings included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


def _rejects(fn: Callable[..., Any], *args: Any) -> DecodeError:
    """``fn(*args)`` must raise DecodeError and nothing else (anything else propagates)."""
    try:
        got = _strict(fn, *args)
    except DecodeError as exc:
        assert exc.key is None or isinstance(exc.key, str)
        return exc
    raise AssertionError(f"accepted: {_brief(got)}")


def _decode_or_reject(payload: bytes) -> wire.Message | None:
    """Decode; a DecodeError is fine, any other exception fails the test."""
    try:
        msg = _strict(wire.decode, payload)
    except DecodeError:
        return None
    _assert_accepted_is_sound(msg)
    return msg


def _from_dict_or_reject(d: Any) -> wire.Message | None:
    try:
        msg = _strict(wire.from_dict, d)
    except DecodeError:
        return None
    _assert_accepted_is_sound(msg)
    return msg


def _assert_accepted_is_sound(msg: wire.Message) -> None:
    """What the decoder accepted is schema-valid as re-emitted and round-trips unchanged."""
    d = wire.to_dict(msg)
    _assert_schema_valid(d)
    assert _strict(wire.decode, wire.encode(msg)) == msg
    assert _strict(wire.from_dict, d) == msg


def _packable(obj: Any) -> bytes | None:
    """msgpack bytes of ``obj``, or None when msgpack cannot encode it (ints >= 2**64, lone
    surrogates): such values can reach ``from_dict`` from JSON but never ``decode``."""
    try:
        return msgpack.packb(obj, use_bin_type=True)
    except (OverflowError, UnicodeEncodeError, ValueError, TypeError):
        return None


def _envelope(mtype: str, **body: Any) -> dict[str, Any]:
    return {"v": 1, "type": mtype, "src": "radar-north", "seq": 7, "t": 1_790_000_000.0, **body}


def _det_msg(*dets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return _envelope("detections", sensor="radar-north", kind="radar", dets=list(dets), **extra)


def _nested_list(depth: int) -> Any:
    x: Any = 0
    for _ in range(depth):
        x = [x]
    return x


def _nested_map(depth: int) -> Any:
    x: Any = 0
    for _ in range(depth):
        x = {"a": x}
    return x


def _key_names(key: str | None, want: str) -> bool:
    """True when the error key ``key`` is the field ``want`` or inside it."""
    return key is not None and (key == want or key.startswith((want + ".", want + "[")))


# --------------------------------------------------------------------------- spec examples


def test_spec_copies_match_shared() -> None:
    spec = SHARED / "spec"
    if not spec.is_dir():
        pytest.skip(f"{spec} is absent (a fresh clone has only the copies in {DATA}); "
                    "nothing to compare them with")
    for name, src in (("detections.jsonl", spec / "examples" / "detections.jsonl"),
                      ("tracks.json", spec / "examples" / "tracks.json"),
                      ("wire.schema.json", spec / "wire.schema.json")):
        assert (DATA / name).read_bytes() == src.read_bytes(), (
            f"tests/data/spec-examples/{name} differs from {src}: copy the spec again")


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_examples_cover_the_sensor_kinds_and_an_empty_scan() -> None:
    # `enu` has no example in the spec; the hand-made fixtures below cover it.
    frames = {det["frame"] for _, _, d in EXAMPLES for det in d.get("dets", [])}
    assert frames == {"lla", "rae", "ae", "none"}
    assert any(d.get("dets") == [] for _, _, d in EXAMPLES)


@pytest.mark.parametrize(("name", "topic", "d"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_round_trips(name: str, topic: str | None, d: dict[str, Any]) -> None:
    _assert_schema_valid(d)
    msg = _strict(wire.from_dict, d)
    # The examples are canonical: re-emitting gives back exactly the map that was read.
    assert wire.to_dict(msg) == d
    assert _strict(wire.from_dict, wire.to_dict(msg)) == msg
    assert _strict(wire.decode, wire.encode(msg)) == msg
    assert _strict(wire.decode, msgpack.packb(d, use_bin_type=True)) == msg
    assert _strict(wire.from_dict, json.loads(json.dumps(wire.to_dict(msg)))) == msg
    if topic is not None:
        assert wire.topic_for(msg) == topic


# --------------------------------------------------------------------------- strategies


def _finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


times = st.floats(wire.T_MIN, wire.T_MAX, exclude_max=True)
srcs = st.text(min_size=1, max_size=wire.MAX_SRC)
names = st.text(min_size=1, max_size=24)
seqs = st.integers(0, 2**63 - 1)
llas = st.tuples(_finite(-90, 90), _finite(-180, 180), _finite(-12_000, 1_000_000))
vec3s = st.tuples(_finite(-1e7, 1e7), _finite(-1e7, 1e7), _finite(-1e7, 1e7))
azimuths = st.floats(0.0, 360.0, exclude_max=True)
elevations = _finite(-90, 90)
sigmas = _finite(wire.SIGMA_MIN, wire.SIGMA_MAX)
pos_sigmas = st.tuples(_finite(0, 1e6), _finite(0, 1e6), _finite(0, 1e6))
texts = st.text(max_size=16)

idents = st.builds(
    wire.Ident,
    # The decoder normalises ICAO addresses to lower case and strips callsigns (an empty one
    # becomes None), so valid dataclasses carry the normalised forms.
    icao=st.none() | st.text("0123456789abcdef", min_size=6, max_size=6),
    callsign=st.none() | st.text(min_size=1, max_size=8).map(str.strip).filter(bool),
    rid=st.none() | names,
    operator_lla=st.none() | llas,
)

attr_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
                | _finite(-1e300, 1e300) | texts)  # JSON's types only (issue 21)
attr_values = st.recursive(
    attr_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
attrs = st.dictionaries(texts, attr_values, max_size=4)


def _diag(sig: Sequence[float]) -> tuple[float, ...]:
    n = len(sig)
    return tuple(sig[i] * sig[i] if i == j else 0.0 for i in range(n) for j in range(n))


@st.composite
def spd_matrices(draw: st.DrawFn, dim: int) -> tuple[float, ...]:
    """A well-conditioned symmetric positive definite dim x dim matrix, row-major, exactly
    symmetric (each off-diagonal entry computed once)."""
    low = [[0.0] * dim for _ in range(dim)]
    for i in range(dim):
        for j in range(i):
            low[i][j] = draw(_finite(-1.0, 1.0))
        low[i][i] = draw(_finite(0.5, 10.0))
    scale = draw(st.sampled_from((1e-4, 1.0, 37.5, 1e4)))
    r = [[0.0] * dim for _ in range(dim)]
    for i in range(dim):
        for j in range(i + 1):
            r[i][j] = r[j][i] = scale * sum(low[i][k] * low[j][k] for k in range(dim))
    return tuple(r[i][j] for i in range(dim) for j in range(dim))


@st.composite
def detections_(draw: st.DrawFn) -> wire.Detection:
    frame = cast(wire.Frame, draw(st.sampled_from(wire.FRAMES)))
    z: tuple[float, ...]
    if frame == "lla":
        z = draw(llas)
    elif frame == "enu":
        z = draw(st.tuples(*[_finite(-wire.MAX_DISTANCE_M, wire.MAX_DISTANCE_M)] * 3))
    elif frame == "rae":
        z = (draw(_finite(1e-3, 1e6)), draw(azimuths), draw(elevations))
    elif frame == "ae":
        z = (draw(azimuths), draw(elevations))
    else:
        z = ()
    sigma = R = None
    if z:
        how = draw(st.sampled_from(("sigma", "R", "both")))
        if how != "R":
            sigma = tuple(draw(st.lists(sigmas, min_size=len(z), max_size=len(z))))
        # With sigma alone the reader builds R = diag(sigma^2); with R (alone or both) R wins.
        R = draw(spd_matrices(len(z))) if how != "sigma" else _diag(sigma or ())
    return wire.Detection(
        frame=frame, z=z, R=R, sigma=sigma,
        vel=draw(st.none() | st.tuples(*[_finite(-wire.MAX_SPEED_MS, wire.MAX_SPEED_MS)] * 3)),
        vel_sigma=draw(st.none() | st.tuples(_finite(1e-3, 1e3), _finite(1e-3, 1e3),
                                             _finite(1e-3, 1e3))),
        ident=draw(st.none() | idents),
        attrs=draw(attrs),
    )


detections_msgs = st.builds(
    wire.Detections, src=srcs, seq=seqs, t=times,
    sensor=st.text(min_size=1, max_size=wire.MAX_STR), kind=names,
    dets=st.lists(detections_(), max_size=4).map(tuple), origin=st.none() | llas,
)
tracks_ = st.builds(
    wire.Track,
    id=seqs, status=st.sampled_from(wire.TRACK_STATUSES), lla=llas, enu=vec3s, vel=vec3s,
    pos_sigma=pos_sigmas, t_update=times,
    sources=st.lists(texts, max_size=3).map(tuple),
    class_probs=st.fixed_dictionaries({c: _finite(0.0, 1.0) for c in wire.CLASSES}),
    threat=st.sampled_from(wire.THREAT_LEVELS), malicious=st.booleans(),
    reasons=st.lists(st.text(max_size=40), max_size=3).map(tuple),
    ident=st.none() | idents,
)
tracks_msgs = st.builds(wire.Tracks, src=srcs, seq=seqs, t=times,
                        tracks=st.lists(tracks_, max_size=3).map(tuple))
alerts = st.builds(
    wire.Alert, src=srcs, seq=seqs, t=times, track_id=seqs,
    threat=st.sampled_from(wire.THREAT_LEVELS), previous=st.sampled_from(wire.THREAT_LEVELS),
    reasons=st.lists(st.text(max_size=40), max_size=3).map(tuple),
    zone=st.none() | st.text(min_size=1, max_size=wire.MAX_STR),
)
statuses = st.builds(
    wire.Status, src=srcs, seq=seqs, t=times, state=st.sampled_from(wire.STATES),
    uptime_s=_finite(0.0, 1e9),
    counters=st.dictionaries(texts, st.integers(0, 2**63 - 1), max_size=4),
)
messages = st.one_of(detections_msgs, tracks_msgs, alerts, statuses)


# --------------------------------------------------------------------------- valid messages


@FUZZ
@given(messages)
def test_generated_messages_are_schema_valid_and_round_trip(msg: wire.Message) -> None:
    d = wire.to_dict(msg)
    _assert_schema_valid(d)
    assert _strict(wire.from_dict, d) == msg
    assert _strict(wire.decode, wire.encode(msg)) == msg
    text = json.dumps(d, allow_nan=False)  # attrs hold JSON's types only: always possible
    assert _strict(wire.from_dict, json.loads(text)) == msg


@pytest.mark.parametrize("frame", ["lla", "enu", "rae", "ae"])
def test_sigma_and_R_both_sent_R_wins_and_survives_round_trip(frame: str) -> None:
    dim = wire.FRAME_DIM[frame]
    z = {"lla": [51.5, -0.28, 100.0], "enu": [1.0, 2.0, 3.0], "rae": [100.0, 10.0, 5.0],
         "ae": [10.0, 5.0]}[frame]
    R = (4.0, 1.0, 0.5, 1.0, 9.0, 0.25, 0.5, 0.25, 16.0) if dim == 3 else (4.0, 1.0, 1.0, 9.0)
    msg = wire.from_dict(_det_msg({"frame": frame, "z": z, "sigma": [1.0] * dim, "R": list(R)}))
    assert isinstance(msg, wire.Detections)
    assert msg.dets[0].R == R and msg.dets[0].sigma == (1.0,) * dim
    # Regression: to_dict used to emit sigma only, so decode(encode(m)) lost the full R.
    assert wire.decode(wire.encode(msg)) == msg


# --------------------------------------------------------------------------- fuzzing: bytes


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_raise_only_decode_error(payload: bytes) -> None:
    _decode_or_reject(payload)


@FUZZ
@given(messages, st.data())
def test_corrupted_valid_payloads_raise_only_decode_error(msg: wire.Message,
                                                          data: st.DataObject) -> None:
    payload = bytearray(wire.encode(msg))
    for _ in range(data.draw(st.integers(1, 4), label="n_edits")):
        i = data.draw(st.integers(0, len(payload) - 1), label="at")
        edit = data.draw(st.sampled_from(("flip", "delete", "insert", "truncate")), label="edit")
        byte = data.draw(st.integers(0, 255), label="byte")
        if edit == "flip":
            payload[i] = byte
        elif edit == "delete":
            del payload[i]
        elif edit == "insert":
            payload.insert(i, byte)
        else:
            del payload[i:]
        if not payload:
            break
    _decode_or_reject(bytes(payload))


# --------------------------------------------------------------------------- fuzzing: structures


HUGE_INTS = (-(2**63) - 1, 10**400, -(10**400), 10**5000)
junk_scalars = (st.none() | st.booleans() | st.integers()  # unbounded: includes huge ints
                | st.integers(min_value=2**63 - 2, max_value=2**64 + 2)
                # (mapped from an index: hypothesis itself cannot repr a 5000-digit int)
                | st.integers(0, 3).map(lambda i: HUGE_INTS[i])
                | st.floats()  # includes nan, inf, -inf, -0.0, subnormals
                | st.text(max_size=12) | st.binary(max_size=12))
junk = st.recursive(
    junk_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=5),
    max_leaves=16,
)


@FUZZ
@given(junk)
def test_random_structures_raise_only_decode_error(obj: Any) -> None:
    _rejects(wire.from_dict, obj)
    payload = _packable(obj)
    if payload is not None:
        _rejects(wire.decode, payload)


DET_KEYS = ("frame", "z", "sigma", "R", "vel", "vel_sigma", "ident", "attrs")
TRACK_KEYS = ("id", "status", "lla", "enu", "vel", "pos_sigma", "t_update", "sources", "class",
              "threat", "malicious", "reasons", "ident")
BODY_KEYS = ("sensor", "kind", "origin", "dets", "tracks", "track_id", "threat", "previous",
             "reasons", "zone", "state", "uptime_s", "counters")
frames_or_junk = st.sampled_from(wire.FRAMES) | junk_scalars
small_junk = st.recursive(
    junk_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=4), inner, max_size=3), max_leaves=5)


@st.composite
def envelope_with_junk(draw: st.DrawFn) -> dict[str, Any]:
    """A valid envelope whose body keys (and detection/track keys) hold random values, so that
    the fuzzing reaches past the envelope checks."""
    d = _envelope(draw(st.sampled_from(("detections", "tracks", "alert", "status"))))
    d.update(draw(st.dictionaries(st.sampled_from(BODY_KEYS), small_junk, max_size=4)))
    junk_det = st.fixed_dictionaries(
        {"frame": frames_or_junk, "z": st.lists(junk_scalars, max_size=4)},
        optional={k: small_junk for k in DET_KEYS[2:]})
    if draw(st.booleans()):
        d["dets"] = draw(st.lists(junk_det | small_junk, max_size=2))
    if draw(st.booleans()):
        d["tracks"] = draw(st.lists(st.dictionaries(st.sampled_from(TRACK_KEYS), small_junk),
                                    max_size=2))
    return d


@FUZZ
@given(envelope_with_junk())
def test_junk_bodies_raise_only_decode_error(d: dict[str, Any]) -> None:
    # A junk body can happen to be valid (an empty `tracks` list): then it must be sound.
    _from_dict_or_reject(d)
    payload = _packable(d)
    if payload is not None:
        _decode_or_reject(payload)


@FUZZ
@given(junk)
def test_anything_in_attrs_is_rejected_or_sound(value: Any) -> None:
    d = _det_msg({"frame": "none", "z": [], "attrs": {"x": value}})
    _from_dict_or_reject(d)
    payload = _packable(d)
    if payload is not None:
        _decode_or_reject(payload)


# --------------------------------------------------------------------------- mutations


ENVELOPE = {"v": "version", "type": "type", "src": "src", "seq": "int", "t": "time"}
BODY = {
    "detections": {"sensor": "str", "kind": "str", "origin": "lla", "dets": "items"},
    "tracks": {"tracks": "items"},
    "alert": {"track_id": "int", "threat": "enum", "previous": "enum", "reasons": "strs",
              "zone": "str"},
    "status": {"state": "enum", "uptime_s": "uptime", "counters": "counters"},
}
REQUIRED = {"detections": {"sensor", "kind", "dets"}, "tracks": {"tracks"},
            "alert": {"track_id", "threat", "previous", "reasons"},
            "status": {"state", "uptime_s", "counters"}}
DETECTION = {"frame": "frame", "z": "z", "sigma": "sigma", "R": "R", "vel": "vec3",
             "vel_sigma": "vel_sigma", "ident": "ident", "attrs": "attrs"}
TRACK = {"id": "int", "status": "enum", "lla": "lla", "enu": "vec3", "vel": "vec3",
         "pos_sigma": "pos_sigma", "t_update": "time", "sources": "strs", "class": "class",
         "threat": "enum", "malicious": "bool", "reasons": "strs", "ident": "ident"}
IDENT = {"icao": "icao", "callsign": "callsign", "rid": "str", "operator_lla": "lla"}

Path_ = tuple[str | int, ...]


@dataclasses.dataclass(frozen=True)
class Field:
    path: Path_
    kind: str
    required: bool
    frame: str = ""

    @property
    def key(self) -> str:
        out = ""
        for p in self.path:
            out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
        return out


def _fields(d: dict[str, Any]) -> list[Field]:
    """Every typed field of a valid message map, with its kind (which mutations apply)."""
    mtype = d["type"]
    out = [Field((k,), kind, True) for k, kind in ENVELOPE.items()]
    out += [Field((k,), kind, k in REQUIRED[mtype]) for k, kind in BODY[mtype].items() if k in d]

    def ident(base: Path_, m: dict[str, Any]) -> None:
        out.extend(Field((*base, k), kind, False) for k, kind in IDENT.items() if k in m)

    for i, det in enumerate(d.get("dets", []) if mtype == "detections" else []):
        frame = det["frame"]
        for k, kind in DETECTION.items():
            if k not in det or (k in ("sigma", "R") and frame == "none"):
                continue  # sigma and R of a `none` detection are not read
            required = k in ("frame", "z") or (k == "sigma" and "R" not in det)
            out.append(Field(("dets", i, k), kind, required, frame))
        if "ident" in det:
            ident(("dets", i, "ident"), det["ident"])
    for i, tr in enumerate(d.get("tracks", []) if mtype == "tracks" else []):
        out += [Field(("tracks", i, k), kind, k != "ident") for k, kind in TRACK.items() if k in tr]
        if "ident" in tr:
            ident(("tracks", i, "ident"), tr["ident"])
    return out


DROP = object()
NAN, INF = math.nan, math.inf
#: 10**6 elements: far more than any list of the contract may hold (shared, never copied).
HUGE: list[int] = [0] * 1_000_000
#: Nesting that msgpack still unpacks but that broke repr() in error messages.
DEEP = _nested_list(1000)
Y1970, Y2200 = 86_400.0, 7_258_118_400.0
VEC3_BAD: list[Any] = [[NAN, 0.0, 0.0], [0.0, INF, 0.0], [0.0, 0.0, -INF], [0.0, 0.0],
                       [0.0, 0.0, 0.0, 0.0], [True, 0.0, 0.0], [0.0, "1", 0.0], "abc", 5, {}]
LLA_BAD: list[Any] = VEC3_BAD + [[91.0, 0.0, 0.0], [-90.5, 0.0, 0.0], [0.0, 180.5, 0.0],
                                 [0.0, -181.0, 0.0], [0.0, 0.0, 2e6], [0.0, 0.0, -2e4]]
THREE_CLASSES = {"uav": 0.25, "bird": 0.25, "manned": 0.5}


def _bad_values(f: Field) -> list[Any]:
    """Values that must make field ``f`` invalid (whatever the rest of the message is)."""
    dim = wire.FRAME_DIM.get(f.frame, 0)
    by_kind: dict[str, list[Any]] = {
        "version": [2, 0, -1, "1", True, 1.5, [1]],
        "type": [5, "", "bogus", True, b"tracks"],
        "src": ["", 5, "x" * (wire.MAX_SRC + 1), b"src", "\ud800"],
        "str": ["", 5, "x" * (wire.MAX_STR + 1), b"x", True, ["a"], 1.5, "\udfff"],
        "callsign": [5, "x" * (wire.MAX_STR + 1), True, b"x", "\ud800"],
        "icao": ["", "12345", "1234567", "zzzzzz", "43c6e 1", 5, b"43c6e1"],
        "int": [True, False, 1.5, "1", -1, 2**63, 2**64, 10**5000, [1]],
        "time": [NAN, INF, -INF, 0.0, Y1970, Y2200, True, "1790000000", 10**400, [1.79e9]],
        "uptime": [-1.0, NAN, INF, True, "1", 10**400],
        "enum": ["bogus", "", 5, True, 1.5, ["ok"]],
        "frame": ["bogus", "ecef", "", 5, True, ["lla"]],
        "lla": LLA_BAD,
        "vec3": VEC3_BAD,
        "vel_sigma": VEC3_BAD + [[0.0, 1.0, 1.0], [1.0, -1.0, 1.0]],
        "pos_sigma": VEC3_BAD + [[-1.0, 1.0, 1.0]],
        "z": [[0.0] * (dim + 1), "abc", 5] + (
            [[0.0] * (dim - 1), [NAN] * dim, [INF] * dim, [True] * dim] if dim else []) + {
            "rae": [[0.0, 10.0, 5.0], [-1.0, 10.0, 5.0], [100.0, 10.0, 90.5],
                    [100.0, 10.0, -91.0]],
            "ae": [[10.0, 90.5], [10.0, -95.0]],
            "lla": [[95.0, 0.0, 0.0], [0.0, 200.0, 0.0], [0.0, 0.0, 5e6]],
        }.get(f.frame, []),
        "sigma": [[0.0] * dim, [-1.0] * dim, [1e-12] * dim, [1e8] * dim, [1.0] * (dim + 1),
                  [1.0] * (dim - 1), [NAN] * dim, [INF] * dim, [True] * dim, "abc"],
        "R": [[1.0] * (dim * dim + 1), [NAN] * (dim * dim), [1e300] * (dim * dim), "abc",
              # not symmetric
              [1.0 if i == j else (0.5 if (i, j) == (0, 1) else 0.0)
               for i in range(dim) for j in range(dim)],
              # symmetric, positive diagonal, indefinite (eigenvalues 3 and -1)
              [1.0 if i == j else (2.0 if {i, j} == {0, 1} else 0.0)
               for i in range(dim) for j in range(dim)],
              # negative diagonal
              [-1.0 if i == j else 0.0 for i in range(dim) for j in range(dim)]],
        "ident": [5, "abc", [1], True, 1.5],
        "attrs": [5, "abc", [1], True, {"snr_db": NAN}, {"snr_db": INF}, {"n": 2**64},
                  {"n": 10**5000}, {"deep": _nested_map(40)}, {"deep": _nested_list(40)},
                  {"bbox": [1, 2, [NAN]]}, {"s": "\ud800"}, {"\ud800": 1}],
        "class": [5, [0.25] * 4, {c: 0.25 for c in wire.CLASSES} | {"uav": 1.5},
                  {c: 0.25 for c in wire.CLASSES} | {"bird": -0.1},
                  {c: 0.25 for c in wire.CLASSES} | {"uav": NAN},
                  {c: 0.25 for c in wire.CLASSES} | {"uav": "0.25"},
                  {c: 0.25 for c in wire.CLASSES} | {"uav": True},
                  {c: 0.25 for c in wire.CLASSES} | {"uav": 10**400},
                  THREE_CLASSES, {}],
        "counters": [5, [1], {"rx": -1}, {"rx": True}, {"rx": 1.5}, {"rx": 2**63},
                     {"rx": NAN}, {"rx": "1"}, {"rx": 10**5000}],
        "strs": ["abc", 5, {"a": 1}, [5], ["x" * (wire.MAX_STR + 1)], [None], [["a"]],
                 ["ok", "\ud800"]],
        "bool": [1, 0, "true", 1.0, [True]],
        "items": ["abc", 5, {"a": 1}, [5], [[]], [None], ["x"]],
    }
    bad = by_kind[f.kind] + [DEEP, HUGE]
    if f.required:
        bad += [DROP, None]
    return bad


def _mutate(d: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(d)
    node: Any = out
    for p in path[:-1]:
        node = node[p]
    if value is DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_PLACEHOLDER = "\x00 the 10**6-element list goes here \x00"
_HUGE_PACKED = msgpack.packb(HUGE)


def _packable_mutation(d: dict[str, Any], f: Field, bad: Any) -> bytes | None:
    if bad is HUGE:  # splice the pre-packed list in: packing it each time costs ~20 ms
        payload = _packable(_mutate(d, f.path, _PLACEHOLDER))
        ph = msgpack.packb(_PLACEHOLDER)
        assert payload is not None and payload.count(ph) == 1
        return payload.replace(ph, _HUGE_PACKED)
    return _packable(_mutate(d, f.path, bad))


def _check_mutation(d: dict[str, Any], f: Field, bad: Any, *, via_msgpack: bool = True) -> None:
    mutated = _mutate(d, f.path, bad)

    def label() -> str:  # only built on failure: repr(HUGE) alone takes 50 ms
        return f"{f.key} := {'<dropped>' if bad is DROP else _brief(bad)}"

    try:
        exc = _rejects(wire.from_dict, mutated)
    except AssertionError as err:
        raise AssertionError(f"{label()}: from_dict {err}") from None
    assert _key_names(exc.key, f.key), f"{label()}: from_dict blamed {exc.key!r}: {exc}"
    if via_msgpack:
        payload = _packable_mutation(d, f, bad)
        if payload is not None:
            try:
                exc = _rejects(wire.decode, payload)
            except AssertionError as err:
                raise AssertionError(f"{label()}: decode {err}") from None
            assert _key_names(exc.key, f.key), f"{label()}: decode blamed {exc.key!r}: {exc}"


def _fixtures() -> list[tuple[str, dict[str, Any]]]:
    """Valid messages exercising every field: the spec examples plus hand-made ones."""
    out = [(name, d) for name, _, d in EXAMPLES]
    out.append(("enu-R-and-both", _det_msg(
        {"frame": "enu", "z": [10.0, -20.0, 30.0], "R": [4.0, 1.0, 0.0, 1.0, 4.0, 0.0,
                                                          0.0, 0.0, 9.0]},
        {"frame": "ae", "z": [10.0, 20.0], "sigma": [0.1, 0.1], "R": [0.01, 0.0, 0.0, 0.02]},
        {"frame": "lla", "z": [51.5, -0.3, 80.0], "sigma": [5.0, 5.0, 8.0],
         "ident": {"icao": "abc123", "callsign": "BAW1", "rid": "X1",
                   "operator_lla": [51.5, -0.3, 50.0]}},
    )))
    out.append(("alert", _envelope("alert", track_id=17, threat="high", previous="low",
                                   reasons=["entered the no-fly zone"], zone="stadium")))
    out.append(("status", _envelope("status", state="degraded", uptime_s=12.5,
                                    counters={"rx": 10, "dropped_malformed": 2})))
    return out


FIXTURES = _fixtures()
#: Field kinds already given a 10**6-element list through msgpack (across fixtures).
_HUGE_DECODED: set[str] = set()


def test_fixtures_are_valid() -> None:
    for _, d in FIXTURES:
        _assert_accepted_is_sound(wire.from_dict(d))


@pytest.mark.parametrize(("name", "d"), FIXTURES, ids=[n for n, _ in FIXTURES])
def test_every_mutation_of_every_field_names_that_field(name: str, d: dict[str, Any]) -> None:
    """Exhaustive: each field of each fixture, each bad value of its kind (dropped keys,
    wrong types, NaN, inf, zero and negative sigma, wrong z length, 1970 and 2200, deep junk,
    10**6-element lists, bools for ints, huge ints, lone surrogates)."""
    failures = []
    for f in _fields(d):
        for bad in _bad_values(f):
            # Unpacking 10**6 elements costs ~30 ms: through msgpack once per kind is enough.
            via = bad is not HUGE or f.kind not in _HUGE_DECODED
            if bad is HUGE:
                _HUGE_DECODED.add(f.kind)
            try:
                _check_mutation(d, f, bad, via_msgpack=via)
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures[:20])


@FUZZ
@given(messages, st.data())
def test_mutations_of_generated_messages_name_the_field(msg: wire.Message,
                                                        data: st.DataObject) -> None:
    d = wire.to_dict(msg)
    f = data.draw(st.sampled_from(_fields(d)), label="field")
    bad = data.draw(st.sampled_from(_bad_values(f)), label="bad value")
    _check_mutation(d, f, bad)


@FUZZ
@given(messages, st.data())
def test_junk_in_any_field_is_rejected_or_sound(msg: wire.Message, data: st.DataObject) -> None:
    d = wire.to_dict(msg)
    f = data.draw(st.sampled_from(_fields(d)), label="field")
    mutated = _mutate(d, f.path, data.draw(junk, label="junk"))
    got = _from_dict_or_reject(mutated)
    payload = _packable(mutated)
    if payload is not None:
        assert _decode_or_reject(payload) == got


# --------------------------------------------------------------------------- size and depth


def test_oversized_payload_is_rejected_before_unpacking(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_unpackb = msgpack.unpackb

    def spy(payload: Any, **kw: Any) -> Any:
        calls.append(len(payload))
        return real_unpackb(payload, **kw)

    monkeypatch.setattr(wire.codec.msgpack, "unpackb", spy)
    big = b"\xc0" * (wire.MAX_PAYLOAD_BYTES + 1)
    for payload in (big, bytearray(big), memoryview(big)):
        exc = _rejects(wire.decode, payload)
        assert "exceeds" in str(exc)
    # A memoryview's len() counts items, not bytes: 4-byte items must not slip through.
    exc = _rejects(wire.decode, memoryview(b"\0" * (wire.MAX_PAYLOAD_BYTES + 4)).cast("I"))
    assert "exceeds" in str(exc)
    assert calls == []
    _rejects(wire.decode, b"\xc0" * wire.MAX_PAYLOAD_BYTES)  # at the limit it is unpacked
    assert calls == [wire.MAX_PAYLOAD_BYTES]


@pytest.mark.parametrize("depth", [100, 1000, 1024, 1025, 5000, 1_000_000])
@pytest.mark.parametrize("container", [b"\x91", b"\x81\xa1k"])
def test_deeply_nested_msgpack_is_a_decode_error(depth: int, container: bytes) -> None:
    nested = container * depth + b"\xc0"
    # As the whole payload, as the value of `src`, and inside free-form `attrs`.
    _rejects(wire.decode, nested)
    head = msgpack.packb(_envelope("status", state="ok", uptime_s=1.0, counters={}))
    src_at = head.index(b"\xa3src") + 4
    end_of_src = src_at + 1 + len("radar-north")
    _rejects(wire.decode, head[:src_at] + nested + head[end_of_src:])
    det = msgpack.packb(_det_msg({"frame": "none", "z": [], "attrs": {"x": None}}))
    _rejects(wire.decode, det.replace(b"\xa1x\xc0", b"\xa1x" + nested))


def test_deep_python_structures_are_decode_errors() -> None:
    deep = _nested_list(100_000)
    for d in (_envelope("status", state=deep, uptime_s=1.0, counters={}),
              _envelope("status", state="ok", uptime_s=1.0, counters=deep),
              _envelope(deep),
              {**_envelope("status", state="ok", uptime_s=1.0, counters={}), "v": deep},
              _det_msg({"frame": deep, "z": []}),
              _det_msg({"frame": "none", "z": [], "attrs": {"a": deep}}),
              _det_msg({"frame": "none", "z": [], "attrs": _nested_map(100_000)})):
        _rejects(wire.from_dict, d)


def test_million_element_lists_are_rejected_with_the_key() -> None:
    exc = _rejects(wire.decode, msgpack.packb(_envelope(
        "detections", sensor="radar-north", kind="radar", dets=[None] * 1_000_000)))
    assert exc.key == "dets"
    exc = _rejects(wire.decode, msgpack.packb(_det_msg({"frame": "enu", "z": HUGE})))
    assert exc.key == "dets[0].z"


# --------------------------------------------------------------------------- specific rules


def _one_det(**det: Any) -> wire.Detection:
    msg = _strict(wire.from_dict, _det_msg(det))
    assert isinstance(msg, wire.Detections)
    return msg.dets[0]


def test_R_not_symmetric_is_rejected() -> None:
    exc = _rejects(wire.from_dict, _det_msg(
        {"frame": "enu", "z": [0, 0, 0], "R": [4, 1, 0, 0, 4, 0, 0, 0, 4]}))
    assert exc.key == "dets[0].R" and "symmetric" in str(exc)


def test_R_not_positive_definite_is_rejected() -> None:
    exc = _rejects(wire.from_dict, _det_msg(
        {"frame": "enu", "z": [0, 0, 0], "R": [1, 2, 0, 2, 1, 0, 0, 0, 1]}))
    assert exc.key == "dets[0].R" and "positive definite" in str(exc)
    exc = _rejects(wire.from_dict, _det_msg({"frame": "ae", "z": [0, 0], "R": [1, 1, 1, 1]}))
    assert exc.key == "dets[0].R" and "positive definite" in str(exc)


def test_R_with_extreme_entries_is_rejected_without_numpy_warnings() -> None:
    # Used to overflow in numpy's symmetry check (RuntimeWarning) before being rejected.
    for R in ([1e308, -1e308, 0, 1e308, 1e308, 0, 0, 0, 1],
              [1e308, 0, 0, 0, 1e308, 0, 0, 0, 1e308]):
        exc = _rejects(wire.from_dict, _det_msg({"frame": "enu", "z": [0, 0, 0], "R": R}))
        assert _key_names(exc.key, "dets[0].R")


@pytest.mark.parametrize("frame", ["lla", "enu", "rae", "ae"])
def test_positional_frame_needs_sigma_or_R(frame: str) -> None:
    z = [51.5, -0.28, 100.0] if frame == "lla" else [100.0, 10.0, 5.0][: wire.FRAME_DIM[frame]]
    exc = _rejects(wire.from_dict, _det_msg({"frame": frame, "z": z}))
    assert exc.key == "dets[0].sigma"
    built = _one_det(frame=frame, z=z, sigma=[1.0] * len(z)).R
    assert built == _diag([1.0] * len(z))


def test_tiny_sigma_is_rejected_instead_of_giving_R_zero() -> None:
    exc = _rejects(wire.from_dict, _det_msg({"frame": "enu", "z": [0, 0, 0],
                                             "sigma": [1e-200, 1, 1]}))
    assert exc.key == "dets[0].sigma[0]"


def test_none_frame_with_empty_z_is_fine() -> None:
    det = _one_det(frame="none", z=[], attrs={"freq_hz": 868e6})
    assert det.z == () and det.R is None and det.sigma is None
    # sigma and R mean nothing without a position; they are not read.
    assert _one_det(frame="none", z=[], sigma=[1.0]).R is None
    exc = _rejects(wire.from_dict, _det_msg({"frame": "none", "z": [1.0]}))
    assert exc.key == "dets[0].z"


@pytest.mark.parametrize(("az", "want"), [(-90.0, 270.0), (720.5, 0.5), (360.0, 0.0),
                                          (-360.0, 0.0), (359.5, 359.5), (0.0, 0.0),
                                          (-1e-20, 0.0), (-1e-300, 0.0)])
def test_azimuth_is_normalised(az: float, want: float) -> None:
    assert _one_det(frame="rae", z=[100.0, az, 1.0], sigma=[1, 1, 1]).z[1] == pytest.approx(want)
    assert _one_det(frame="ae", z=[az, 1.0], sigma=[1, 1]).z[0] == pytest.approx(want)


@FUZZ
@given(_finite(-1e12, 1e12))
def test_azimuth_always_lands_in_0_360(az: float) -> None:
    # -1e-20 % 360.0 == 360.0 in floating point: that used to leak through.
    for det in (_one_det(frame="rae", z=[100.0, az, 1.0], sigma=[1, 1, 1]),
                _one_det(frame="ae", z=[az, 1.0], sigma=[1, 1])):
        a = det.z[1] if det.frame == "rae" else det.z[0]
        assert 0.0 <= a < 360.0


def test_icao_is_normalised_to_lower_case() -> None:
    det = _one_det(frame="lla", z=[51.5, -0.3, 400.0], sigma=[10, 10, 10],
                   ident={"icao": "43C6E1", "callsign": " NPAS14 "})
    assert det.ident == wire.Ident(icao="43c6e1", callsign="NPAS14")
    assert det.ident is not None and det.ident.key == "icao:43c6e1"


def test_unknown_keys_are_ignored() -> None:
    for _, d in FIXTURES:
        extended = copy.deepcopy(d)
        extended["future_key"] = {"anything": [1, 2.5, None]}
        for item in extended.get("dets", []) + extended.get("tracks", []):
            item["future_key"] = "x"
            if "ident" in item:
                item["ident"]["future_key"] = 3
        assert _strict(wire.from_dict, extended) == wire.from_dict(d)
        assert _strict(wire.decode, msgpack.packb(extended)) == wire.from_dict(d)


def test_unknown_message_type_is_rejected_with_key_type() -> None:
    for d in (_envelope("hello"), _envelope("tracks ", tracks=[]), _envelope("Tracks", tracks=[])):
        assert _rejects(wire.from_dict, d).key == "type"
        assert _rejects(wire.decode, msgpack.packb(d)).key == "type"


def test_top_level_must_be_a_map() -> None:
    for obj in (None, 1, "x", [1], b"\x00"):
        _rejects(wire.from_dict, obj)
        _rejects(wire.decode, msgpack.packb(obj))
    _rejects(wire.decode, "not bytes")
    _rejects(wire.decode, b"")
    _rejects(wire.decode, msgpack.packb(_envelope("tracks", tracks=[])) + b"\x00")  # trailing


def test_src_length_follows_the_schema() -> None:
    ok = _envelope("tracks", tracks=[]) | {"src": "s" * wire.MAX_SRC}
    _assert_accepted_is_sound(wire.from_dict(ok))
    assert _rejects(wire.from_dict, ok | {"src": "s" * (wire.MAX_SRC + 1)}).key == "src"


def test_numbers_too_big_for_float_from_json_are_decode_errors() -> None:
    # json.loads happily returns int(1e400); float() of it raised OverflowError.
    d = json.loads(json.dumps(_envelope("tracks", tracks=[])).replace(
        "1790000000.0", "1" + "0" * 400))
    assert _rejects(wire.from_dict, d).key == "t"
    status = _envelope("status", state="ok", uptime_s=10**400, counters={})
    assert _rejects(wire.from_dict, status).key == "uptime_s"
    # Formatting an int of more than 4300 digits raises ValueError.
    assert _rejects(wire.from_dict, _envelope("tracks", tracks=[]) | {"seq": -(10**5000)}).key \
        == "seq"
    assert _rejects(wire.from_dict, _envelope("tracks", tracks=[]) | {"v": 10**5000}).key == "v"


def test_error_messages_stay_short() -> None:
    exc = _rejects(wire.from_dict, _envelope("status", state="x" * 10**6, uptime_s=1.0,
                                             counters={}))
    assert exc.key == "state" and len(str(exc)) < 300
    exc = _rejects(wire.from_dict, _det_msg({"frame": HUGE, "z": []}))
    assert exc.key == "dets[0].frame" and len(str(exc)) < 300


@pytest.mark.parametrize(("det", "key"), [
    ({"frame": "enu", "z": [1e9, 0.0, 0.0], "sigma": [1.0, 1.0, 1.0]}, "dets[0].z[0]"),
    ({"frame": "rae", "z": [1e9, 10.0, 1.0], "sigma": [1.0, 1.0, 1.0]}, "dets[0].z[0]"),
    ({"frame": "enu", "z": [0.0, 0.0, 0.0], "sigma": [1.0, 1.0, 1.0], "vel": [1e300, 0.0, 0.0]},
     "dets[0].vel"),
    ({"frame": "enu", "z": [0.0, 0.0, 0.0], "sigma": [1.0, 1.0, 1.0], "vel": [1.0, 0.0, 0.0],
      "vel_sigma": [1e300, 1.0, 1.0]}, "dets[0].vel_sigma"),
])
def test_absurd_magnitudes_are_rejected_before_they_reach_the_filter(det: dict[str, Any],
                                                                    key: str) -> None:
    exc = _rejects(wire.from_dict, _det_msg(det))
    assert exc.key == key


@pytest.mark.parametrize("value", [b"raw", msgpack.ExtType(5, b"xyz"), [1, b"in a list"],
                                   {"deep": msgpack.ExtType(1, b"")}])
def test_attrs_hold_json_types_only(value: Any) -> None:
    """Issue 21: bytes or a msgpack extension in ``attrs`` passed validation and then made the
    JSON recording writer raise."""
    d = _det_msg({"frame": "enu", "z": [1.0, 2.0, 3.0], "sigma": [1.0] * 3,
                  "attrs": {"x": value}})
    with pytest.raises(DecodeError, match="unsupported value"):
        wire.decode(msgpack.packb(d, use_bin_type=True))


def test_a_truncated_snapshot_says_so_and_round_trips() -> None:
    msg = wire.Tracks(src="cuas", seq=1, t=1.8e9, tracks=(), truncated=True)
    d = wire.to_dict(msg)
    assert d["truncated"] is True
    _assert_schema_valid(d)
    assert wire.decode(wire.encode(msg)) == msg
    assert "truncated" not in wire.to_dict(dataclasses.replace(msg, truncated=False))
