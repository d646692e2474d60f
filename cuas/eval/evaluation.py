"""Scoring a tracker run against ground truth: GOSPA, ID switches, track fragmentation.

The truth file format and the exact definitions of every figure are in ``docs/truth-format.md``.
Units: positions metres ENU at the truth header's site origin, times seconds UTC (Unix epoch),
GOSPA totals metres, GOSPA parts metres**p (as Stone Soup reports them).

Typical use (what ``cuas eval`` does)::

    truth = read_truth("truth.jsonl")
    tracks = read_tracks("out.jsonl")
    print(format_report(evaluate(truth, tracks, c=20.0, p=2.0)))
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pymap3d
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from cuas import wire
from cuas.errors import CuasError, DecodeError

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
StrPath: TypeAlias = str | PathLike[str]

TRUTH_VERSION: Final = 1
TRUTH_HEADER_TYPE: Final = "truth-header"
#: Object classes a truth header may give (the classifier's classes).
OBJECT_CLASSES: Final[tuple[str, ...]] = tuple(wire.CLASSES)
#: GOSPA alpha; fixed at 2, the value for which the metric splits into localisation, missed
#: and false parts (Rahmathullah, Garcia-Fernandez, Svensson 2017).
ALPHA: Final = 2
#: Default GOSPA cutoff c (m) and order p; the reasons are in docs/truth-format.md.
DEFAULT_C: Final = 20.0
DEFAULT_P: Final = 2.0
#: Longest interval (s) across which a truth object's position is interpolated.
DEFAULT_MAX_GAP: Final = 5.0
#: Track statuses that count as tracker output by default.
DEFAULT_STATUSES: Final[tuple[str, ...]] = ("confirmed", "coasting")
#: Median disagreement (m) between a track's ``enu`` and its ``lla`` seen from the truth site
#: above which the report warns that the tracker and the truth used different site origins.
SITE_TOLERANCE_M: Final = 5.0

_NO_MATCH: Final = -1


# --------------------------------------------------------------------------- errors


class EvaluationError(CuasError, ValueError):
    """Scoring parameters or inputs that cannot be used (c <= 0, p < 1, unknown status, ...)."""


class FileFormatError(DecodeError):
    """A line of a truth or tracks file is malformed.

    ``path`` is the file, ``line`` the 1-based line number, ``key`` the dotted key at fault
    (``objects[2].enu``) when there is one.
    """

    def __init__(
        self, problem: str, *, path: str, line: int, key: str | None = None, data: object = None
    ) -> None:
        super().__init__(problem, key=key, data=data)
        self.path = path
        self.line = line
        where = f"{path}:{line}"
        self.args = (f"{where}: {key}: {problem}" if key else f"{where}: {problem}",)


class TruthFormatError(FileFormatError):
    """A truth file does not follow docs/truth-format.md."""


class TracksFormatError(FileFormatError):
    """A tracks file (JSON Lines of ``tracks`` messages) is malformed before its last line."""


# --------------------------------------------------------------------------- truth types


@dataclass(frozen=True)
class Site:
    """Origin of the truth's ENU frame: WGS-84 latitude, longitude (deg), ellipsoidal height (m)."""

    lat: float
    lon: float
    h: float


@dataclass(frozen=True)
class ObjectInfo:
    """What the simulator knows about one truth object; ``extra`` keeps keys this reader ignores."""

    object_class: str
    threat: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TruthHeader:
    """First line of a truth file."""

    site: Site
    objects: Mapping[str, ObjectInfo] = field(default_factory=dict)
    v: int = TRUTH_VERSION


def _readonly(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.flags.writeable = False
    return a


def _points(a: Any, n: int, what: str) -> FloatArray:
    """``a`` as a float (n, 3) array, or an EvaluationError."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0 and n == 0:
        return np.zeros((0, 3))
    if arr.shape != (n, 3):
        raise EvaluationError(f"{what} must have shape ({n}, 3), got {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class TruthSample:
    """The truth at one time ``t`` (UTC s): what one line of a truth file holds.

    ``enu`` (n, 3) metres at the site; ``vel`` (n, 3) m/s and ``lla`` (n, 3) deg/deg/m are
    optional, and a row of NaN in them means "not given" for that object.
    """

    t: float
    ids: tuple[str, ...]
    enu: FloatArray
    vel: FloatArray | None = None
    lla: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        object.__setattr__(self, "ids", tuple(self.ids))
        object.__setattr__(self, "enu", _points(self.enu, n, "enu"))
        if self.vel is not None:
            object.__setattr__(self, "vel", _points(self.vel, n, "vel"))
        if self.lla is not None:
            object.__setattr__(self, "lla", _points(self.lla, n, "lla"))


@dataclass(frozen=True, eq=False)
class TruthObject:
    """All samples of one truth object, struct-of-arrays (read-only).

    ``times`` (N,) UTC s, strictly increasing; ``enu`` (N, 3) m; ``vel`` (N, 3) m/s and ``lla``
    (N, 3) are None when no sample gave them, NaN rows where one sample did not.
    """

    id: str
    times: FloatArray
    enu: FloatArray
    vel: FloatArray | None = None
    lla: FloatArray | None = None


@dataclass(frozen=True, eq=False)
class Truth:
    """A whole truth file: the header, the time of every line ``times`` (T,) and each object."""

    header: TruthHeader
    times: FloatArray
    objects: Mapping[str, TruthObject]

    @property
    def ids(self) -> tuple[str, ...]:
        """Object ids in order of first appearance."""
        return tuple(self.objects)

    @property
    def span(self) -> tuple[float, float] | None:
        """(first, last) line time in UTC s, or None when the file has no sample lines."""
        if len(self.times) == 0:
            return None
        return float(self.times[0]), float(self.times[-1])

    def samples(self) -> Iterator[TruthSample]:
        """The truth line by line again (for rewriting a file; objects in first-seen order)."""
        per_line: list[list[tuple[TruthObject, int]]] = [[] for _ in range(len(self.times))]
        for obj in self.objects.values():
            for i, line in enumerate(np.searchsorted(self.times, obj.times)):
                per_line[int(line)].append((obj, i))
        for t, rows in zip(self.times, per_line, strict=True):
            has_vel = any(o.vel is not None for o, _ in rows)
            has_lla = any(o.lla is not None for o, _ in rows)
            yield TruthSample(
                t=float(t),
                ids=tuple(o.id for o, _ in rows),
                enu=np.array([o.enu[i] for o, i in rows]).reshape(-1, 3),
                vel=_rows(rows, "vel") if has_vel else None,
                lla=_rows(rows, "lla") if has_lla else None,
            )


def _rows(rows: list[tuple[TruthObject, int]], attr: str) -> FloatArray:
    out = np.full((len(rows), 3), np.nan)
    for j, (obj, i) in enumerate(rows):
        a = getattr(obj, attr)
        if a is not None:
            out[j] = a[i]
    return out


# --------------------------------------------------------------------------- truth writing


def _header_dict(header: TruthHeader) -> dict[str, Any]:
    objects = {
        oid: {**dict(info.extra), "class": info.object_class, "threat": bool(info.threat)}
        for oid, info in header.objects.items()
    }
    out: dict[str, Any] = {
        "type": TRUTH_HEADER_TYPE,
        "v": header.v,
        "site": {"lat": header.site.lat, "lon": header.site.lon, "h": header.site.h},
    }
    if objects:
        out["objects"] = objects
    return out


def _vec(row: FloatArray) -> list[float]:
    return [float(x) for x in row]


def write_truth(path: StrPath, header: TruthHeader, samples: Iterable[TruthSample]) -> None:
    """Write a truth file (JSON Lines, docs/truth-format.md); samples must be in time order.

    NaN rows of ``vel``/``lla`` are left out of their object; non-finite ``enu`` raises.
    """
    dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps(_header_dict(header)) + "\n")
        for s in samples:
            objs: list[dict[str, Any]] = []
            for j, oid in enumerate(s.ids):
                o: dict[str, Any] = {"id": oid, "enu": _vec(s.enu[j])}
                if s.vel is not None and np.all(np.isfinite(s.vel[j])):
                    o["vel"] = _vec(s.vel[j])
                if s.lla is not None and np.all(np.isfinite(s.lla[j])):
                    o["lla"] = _vec(s.lla[j])
                objs.append(o)
            try:
                f.write(dumps({"t": float(s.t), "objects": objs}) + "\n")
            except ValueError as exc:  # allow_nan=False
                raise EvaluationError(f"truth sample at t={s.t} is not finite: {exc}") from None


# --------------------------------------------------------------------------- truth reading


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in JSON")


def _json_line(raw: bytes) -> Any:
    """One JSON Lines record; ValueError (incl. decode errors) when it is not valid JSON."""
    return json.loads(raw, parse_constant=_reject_constant)


def _map(v: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise DecodeError(f"expected a map, got {type(v).__name__}", key=key or None)
    return v


def _need(m: Mapping[str, Any], key: str, where: str = "") -> Any:
    full = f"{where}.{key}" if where else key
    if key not in m:
        raise DecodeError("missing required key", key=full)
    return m[key]


def _num(v: Any, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DecodeError(f"expected a number, got {type(v).__name__}", key=key)
    f = float(v)
    if not math.isfinite(f):
        raise DecodeError(f"must be finite, got {f}", key=key)
    return f


def _vec3(v: Any, key: str) -> tuple[float, float, float]:
    if not isinstance(v, list) or len(v) != 3:
        raise DecodeError("expected a list of 3 numbers", key=key)
    return (_num(v[0], f"{key}[0]"), _num(v[1], f"{key}[1]"), _num(v[2], f"{key}[2]"))


def _parse_header(obj: Any) -> TruthHeader:
    m = _map(obj, "")
    if m.get("type") != TRUTH_HEADER_TYPE:
        raise DecodeError(
            f"the first line must be the header with type {TRUTH_HEADER_TYPE!r}", key="type"
        )
    v = _need(m, "v")
    if isinstance(v, bool) or v != TRUTH_VERSION:
        raise DecodeError(f"unsupported truth version {v!r} (this reader speaks 1)", key="v")
    s = _map(_need(m, "site"), "site")
    lat, lon, h = (_num(_need(s, k, "site"), f"site.{k}") for k in ("lat", "lon", "h"))
    if not -90.0 <= lat <= 90.0:
        raise DecodeError(f"latitude {lat} outside [-90, 90]", key="site.lat")
    if not -180.0 <= lon <= 180.0:
        raise DecodeError(f"longitude {lon} outside [-180, 180]", key="site.lon")
    objects: dict[str, ObjectInfo] = {}
    for oid, info in _map(m.get("objects", {}), "objects").items():
        key = f"objects.{oid}"
        om = _map(info, key)
        cls = _need(om, "class", key)
        if cls not in OBJECT_CLASSES:
            raise DecodeError(f"{cls!r} is not one of {OBJECT_CLASSES}", key=f"{key}.class")
        threat = om.get("threat", False)
        if not isinstance(threat, bool):
            raise DecodeError("expected true or false", key=f"{key}.threat")
        extra = {k: x for k, x in om.items() if k not in ("class", "threat")}
        objects[oid] = ObjectInfo(object_class=cls, threat=threat, extra=extra)
    return TruthHeader(site=Site(lat, lon, h), objects=objects, v=TRUTH_VERSION)


_Row: TypeAlias = tuple[str, tuple[float, float, float], tuple[float, ...], tuple[float, ...]]
_NAN3: Final = (math.nan, math.nan, math.nan)


def _parse_sample(obj: Any, t_prev: float | None) -> tuple[float, list[_Row]]:
    m = _map(obj, "")
    if m.get("type") == TRUTH_HEADER_TYPE:
        raise DecodeError("a second header", key="type")
    t = _num(_need(m, "t"), "t")
    if not wire.T_MIN <= t < wire.T_MAX:
        raise DecodeError(f"time {t} is outside 2000..2100 (UTC seconds)", key="t")
    if t_prev is not None and t <= t_prev:
        raise DecodeError(f"time {t} is not after the previous line's {t_prev}", key="t")
    objs = _need(m, "objects")
    if not isinstance(objs, list):
        raise DecodeError("expected a list", key="objects")
    rows: list[_Row] = []
    seen: set[str] = set()
    for i, o in enumerate(objs):
        key = f"objects[{i}]"
        om = _map(o, key)
        oid = _need(om, "id", key)
        if not isinstance(oid, str) or not oid:
            raise DecodeError("expected a non-empty string", key=f"{key}.id")
        if oid in seen:
            raise DecodeError(f"object {oid!r} appears twice at this time", key=f"{key}.id")
        seen.add(oid)
        enu = _vec3(_need(om, "enu", key), f"{key}.enu")
        vel = _vec3(om["vel"], f"{key}.vel") if "vel" in om else _NAN3
        lla = _vec3(om["lla"], f"{key}.lla") if "lla" in om else _NAN3
        rows.append((oid, enu, vel, lla))
    return t, rows


class _ObjectBuilder:
    __slots__ = ("enu", "has_lla", "has_vel", "lla", "times", "vel")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.enu: list[tuple[float, float, float]] = []
        self.vel: list[tuple[float, ...]] = []
        self.lla: list[tuple[float, ...]] = []
        self.has_vel = False
        self.has_lla = False

    def build(self, oid: str) -> TruthObject:
        def arr(rows: list[Any]) -> FloatArray:
            return _readonly(np.array(rows, dtype=np.float64).reshape(-1, 3))

        return TruthObject(
            id=oid,
            times=_readonly(np.array(self.times, dtype=np.float64)),
            enu=arr(self.enu),
            vel=arr(self.vel) if self.has_vel else None,
            lla=arr(self.lla) if self.has_lla else None,
        )


def read_truth(path: StrPath) -> Truth:
    """Read and validate a truth file (docs/truth-format.md) into struct-of-arrays form.

    Raises :class:`TruthFormatError` (a :class:`DecodeError`) naming the line and key at fault.
    Blank lines are ignored; unknown keys are ignored, as in the wire contract.
    """
    spath = str(path)
    header: TruthHeader | None = None
    times: list[float] = []
    builders: dict[str, _ObjectBuilder] = {}
    lineno = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = _json_line(raw)
            except ValueError as exc:
                raise TruthFormatError(f"not valid JSON: {exc}", path=spath, line=lineno) from None
            try:
                if header is None:
                    header = _parse_header(obj)
                    continue
                t, rows = _parse_sample(obj, times[-1] if times else None)
            except DecodeError as exc:
                raise TruthFormatError(
                    exc.problem, path=spath, line=lineno, key=exc.key
                ) from None
            times.append(t)
            for oid, enu, vel, lla in rows:
                b = builders.get(oid)
                if b is None:
                    b = builders[oid] = _ObjectBuilder()
                b.times.append(t)
                b.enu.append(enu)
                b.vel.append(vel)
                b.lla.append(lla)
                b.has_vel |= vel is not _NAN3
                b.has_lla |= lla is not _NAN3
    if header is None:
        raise TruthFormatError("no header line: the file is empty", path=spath, line=lineno + 1)
    return Truth(
        header=header,
        times=_readonly(np.array(times, dtype=np.float64)),
        objects={oid: b.build(oid) for oid, b in builders.items()},
    )


# --------------------------------------------------------------------------- tracks


_STATUS_CODE: Final[Mapping[str, int]] = {s: i for i, s in enumerate(wire.TRACK_STATUSES)}
_THREAT_CODE: Final[Mapping[str, int]] = {s: i for i, s in enumerate(wire.THREAT_LEVELS)}


@dataclass(frozen=True, eq=False)
class TrackLog:
    """The tracker's output as scoring needs it, struct-of-arrays (read-only).

    Snapshot ``i`` at time ``t[i]`` (UTC s) holds rows ``offsets[i]:offsets[i+1]`` of ``ids``,
    ``status`` (index into :data:`cuas.wire.TRACK_STATUSES`), ``enu`` (N, 3) m, ``lla``
    (N, 3) deg/deg/m, ``threat`` (index into :data:`cuas.wire.THREAT_LEVELS`) and the
    classifier's ``malicious`` flag. ``torn_tail`` describes a skipped unparseable last line.
    """

    t: FloatArray
    offsets: IntArray
    ids: IntArray
    status: npt.NDArray[np.int8]
    enu: FloatArray
    lla: FloatArray
    threat: npt.NDArray[np.int8]
    malicious: npt.NDArray[np.bool_]
    torn_tail: str | None = None

    def __len__(self) -> int:
        return len(self.t)

    def snapshot(self, i: int) -> tuple[IntArray, list[str], FloatArray]:
        """(ids, statuses, enu (n, 3) m) of snapshot ``i``."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        names = [wire.TRACK_STATUSES[s] for s in self.status[a:b]]
        return self.ids[a:b], names, self.enu[a:b]


class _TrackLogBuilder:
    def __init__(self) -> None:
        self.t: list[float] = []
        self.offsets: list[int] = [0]
        self.ids: list[int] = []
        self.status: list[int] = []
        self.enu: list[tuple[float, float, float]] = []
        self.lla: list[tuple[float, float, float]] = []
        self.threat: list[int] = []
        self.malicious: list[bool] = []

    def add(self, msg: wire.Tracks) -> None:
        self.t.append(msg.t)
        for tr in msg.tracks:
            self.ids.append(tr.id)
            self.status.append(_STATUS_CODE[tr.status])
            self.enu.append(tr.enu)
            self.lla.append(tr.lla)
            self.threat.append(_THREAT_CODE.get(tr.threat, 0))
            self.malicious.append(tr.malicious)
        self.offsets.append(len(self.ids))

    def build(self, torn_tail: str | None = None) -> TrackLog:
        return TrackLog(
            t=_readonly(np.array(self.t, dtype=np.float64)),
            offsets=_readonly(np.array(self.offsets, dtype=np.int64)),
            ids=_readonly(np.array(self.ids, dtype=np.int64)),
            status=_readonly(np.array(self.status, dtype=np.int8)),
            enu=_readonly(np.array(self.enu, dtype=np.float64).reshape(-1, 3)),
            lla=_readonly(np.array(self.lla, dtype=np.float64).reshape(-1, 3)),
            threat=_readonly(np.array(self.threat, dtype=np.int8)),
            malicious=_readonly(np.array(self.malicious, dtype=np.bool_)),
            torn_tail=torn_tail,
        )


def tracks_from_messages(messages: Iterable[wire.Tracks]) -> TrackLog:
    """A :class:`TrackLog` from in-memory ``tracks`` messages (time order is checked)."""
    b = _TrackLogBuilder()
    for msg in messages:
        if b.t and msg.t < b.t[-1]:
            raise EvaluationError(f"tracks message at t={msg.t} is before t={b.t[-1]}")
        b.add(msg)
    return b.build()


def read_tracks(path: StrPath) -> TrackLog:
    """Read a tracks file: JSON Lines, one ``tracks`` message (contract map) per line, in time order.

    Each line is validated by :func:`cuas.wire.from_dict`. A last line that is not valid JSON
    (a writer killed mid-line) is skipped and described in ``TrackLog.torn_tail``; any other
    problem raises :class:`TracksFormatError` with the line number and the key.
    """
    spath = str(path)
    b = _TrackLogBuilder()
    pending: tuple[int, str] | None = None  # an unparseable line, fatal unless it is the last
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            if pending is not None:
                raise TracksFormatError(pending[1], path=spath, line=pending[0])
            try:
                obj = _json_line(raw)
            except ValueError as exc:
                pending = (lineno, f"not valid JSON: {exc}")
                continue
            try:
                msg = wire.from_dict(obj)
            except DecodeError as exc:
                raise TracksFormatError(
                    exc.problem, path=spath, line=lineno, key=exc.key
                ) from None
            if not isinstance(msg, wire.Tracks):
                raise TracksFormatError(
                    f"expected a 'tracks' message, got {msg.type!r}",
                    path=spath, line=lineno, key="type",
                )
            if b.t and msg.t < b.t[-1]:
                raise TracksFormatError(
                    f"time {msg.t} is before the previous line's {b.t[-1]}",
                    path=spath, line=lineno, key="t",
                )
            b.add(msg)
    torn = None if pending is None else f"{spath}:{pending[0]}: torn last line skipped"
    return b.build(torn_tail=torn)


# --------------------------------------------------------------------------- truth at track times


@dataclass(frozen=True, eq=False)
class TruthAt:
    """Truth at query times ``t`` (S,): objects ``ids`` (K,), ``enu`` (S, K, 3) m (NaN where not
    alive), ``alive`` (S, K), and ``scored`` (S,): whether the truth covers time ``t[s]``."""

    t: FloatArray
    ids: tuple[str, ...]
    enu: FloatArray
    alive: BoolArray
    scored: BoolArray


def _bracket(
    sample_t: FloatArray, query_t: FloatArray, max_gap: float
) -> tuple[IntArray, IntArray, FloatArray, BoolArray]:
    """For each query time: bracketing sample indices (lo, hi), weight of hi, and whether the
    query is covered (on a sample, or between two samples at most ``max_gap`` s apart)."""
    n, q = len(sample_t), len(query_t)
    if n == 0:
        zi = np.zeros(q, dtype=np.int64)
        return zi, zi, np.zeros(q), np.zeros(q, dtype=bool)
    j = np.searchsorted(sample_t, query_t, side="right")
    lo = np.clip(j - 1, 0, n - 1)
    hi = np.clip(j, 0, n - 1)
    exact = (j >= 1) & (sample_t[lo] == query_t)
    span = sample_t[hi] - sample_t[lo]
    between = (j >= 1) & (j < n) & (span <= max_gap) & ~exact
    w = np.zeros(q)
    w[between] = (query_t[between] - sample_t[lo[between]]) / span[between]
    return lo, hi, w, exact | between


def truth_at(
    truth: Truth, times: npt.ArrayLike, *, max_gap: float = DEFAULT_MAX_GAP
) -> TruthAt:
    """Truth positions at ``times`` (UTC s) by linear interpolation, vectorised over times.

    An object is alive at t when t is one of its samples, or lies between two consecutive
    samples of it at most ``max_gap`` s apart. A time is scored when the truth lines cover it
    the same way (inside the truth span, not in a gap of the file longer than ``max_gap``).
    """
    qt = np.asarray(times, dtype=np.float64).reshape(-1)
    ids = truth.ids
    enu = np.full((len(qt), len(ids), 3), np.nan)
    alive = np.zeros((len(qt), len(ids)), dtype=bool)
    for k, obj in enumerate(truth.objects.values()):
        lo, hi, w, ok = _bracket(obj.times, qt, max_gap)
        pos = obj.enu[lo] + w[:, None] * (obj.enu[hi] - obj.enu[lo])
        enu[ok, k] = pos[ok]
        alive[:, k] = ok
    scored = _bracket(truth.times, qt, max_gap)[3]
    return TruthAt(t=qt, ids=ids, enu=enu, alive=alive, scored=scored)


# --------------------------------------------------------------------------- GOSPA


@dataclass(frozen=True, eq=False)
class GospaResult:
    """GOSPA (alpha = 2) between a truth set and a track set at one time.

    ``total`` in metres; ``localisation``, ``missed``, ``false`` in metres**p, with
    ``total**p == localisation + missed + false`` (Stone Soup's convention).
    ``assignment`` (n,) gives, per truth, the index of its track, or -1 when it is missed
    (unassigned, or assigned at a distance >= c).
    """

    total: float
    localisation: float
    missed: float
    false: float
    assignment: IntArray

    @property
    def n_assigned(self) -> int:
        """Number of truth-track pairs closer than c."""
        return int(np.count_nonzero(self.assignment >= 0))


def _check_cp(c: float, p: float) -> None:
    if not (math.isfinite(c) and c > 0.0):
        raise EvaluationError(f"GOSPA cutoff c must be a positive number of metres, got {c}")
    if not (math.isfinite(p) and p >= 1.0):
        raise EvaluationError(f"GOSPA order p must be >= 1, got {p}")


def _as_set(x: npt.ArrayLike, what: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return a.reshape(0, a.shape[-1] if a.ndim == 2 else 3)
    if a.ndim != 2:
        raise EvaluationError(f"{what} must be an (n, d) array of positions, got shape {a.shape}")
    return a


def gospa(
    truth_xyz: npt.ArrayLike,
    track_xyz: npt.ArrayLike,
    c: float = DEFAULT_C,
    p: float = DEFAULT_P,
) -> GospaResult:
    """GOSPA with alpha = 2 between truth positions (n, 3) and track positions (m, 3), metres.

    The optimal assignment minimises sum(min(d, c)**p) (scipy ``linear_sum_assignment``); pairs
    with d < c form the localisation part, every other truth costs c**p / 2 (missed) and every
    other track c**p / 2 (false).
    """
    _check_cp(c, p)
    x = _as_set(truth_xyz, "truth_xyz")
    y = _as_set(track_xyz, "track_xyz")
    n, m = len(x), len(y)
    assignment = np.full(n, _NO_MATCH, dtype=np.int64)
    loc = 0.0
    if n and m:
        if x.shape[1] != y.shape[1]:
            raise EvaluationError(f"truth is {x.shape[1]}-D but tracks are {y.shape[1]}-D")
        d = cdist(x, y)
        rows, cols = linear_sum_assignment(np.minimum(d, c) ** p)
        dij = d[rows, cols]
        close = dij < c
        loc = float(np.sum(dij[close] ** p))
        assignment[rows[close]] = cols[close]
    k = int(np.count_nonzero(assignment >= 0))
    half = c**p / ALPHA
    missed = half * (n - k)
    false = half * (m - k)
    total = (loc + missed + false) ** (1.0 / p)
    return GospaResult(total, loc, missed, false, assignment)


# --------------------------------------------------------------------------- over a run


@dataclass(frozen=True)
class ObjectScore:
    """Identity figures of one truth object over the scored steps at which it is alive."""

    id: str
    steps: int
    matched_steps: int
    id_switches: int
    fragmentations: int
    #: Track ids matched to this object, in order of first match.
    track_ids: tuple[int, ...]
    #: UTC s: first scored step at which the object is alive; first at which a counted track
    #: matches it (None: never); first at which the matched track is flagged malicious.
    t_first: float | None = None
    t_matched: float | None = None
    t_flagged: float | None = None
    #: The truth's class and threat flag, and (UTC s) when it first entered a protected zone
    #: (header ``entry_t``; None when the truth does not say).
    object_class: str | None = None
    threat: bool = False
    entry_t: float | None = None

    @property
    def time_to_confirm_s(self) -> float | None:
        """Seconds from the object's first scored step to its first match by a counted track."""
        if self.t_matched is None or self.t_first is None:
            return None
        return self.t_matched - self.t_first

    @property
    def time_to_flag_s(self) -> float | None:
        """Seconds from the threat's entry into a protected zone (or, when the truth gives no
        entry time, its first scored step) to the first malicious flag on its track; negative
        when flagged before entering. None when never flagged or not a threat."""
        start = self.entry_t if self.entry_t is not None else self.t_first
        if not self.threat or self.t_flagged is None or start is None:
            return None
        return self.t_flagged - start


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Scores of a run. Per-step arrays cover the scored steps only, at times ``t`` (UTC s).

    GOSPA totals are metres; parts metres**p. Means are over scored steps (NaN if none).
    ``gospa_rms`` is sqrt(mean(total**2)). A match is a GOSPA assignment with d < c.
    """

    c: float
    p: float
    max_gap: float
    statuses: tuple[str, ...]
    n_snapshots: int
    t: FloatArray
    gospa: FloatArray
    localisation: FloatArray
    missed: FloatArray
    false: FloatArray
    n_truths: IntArray
    n_tracks: IntArray
    n_matched: IntArray
    id_switches: int
    fragmentations: int
    objects: Mapping[str, ObjectScore]
    #: Distinct track ids counted at scored steps, and how many of them never matched a truth.
    n_track_ids: int
    n_unmatched_track_ids: int
    notes: tuple[str, ...] = ()
    #: Counted track ids flagged malicious at a scored step that never matched a threat truth.
    false_alarm_track_ids: tuple[int, ...] = ()

    @property
    def span_s(self) -> float:
        """Seconds from the first to the last scored step (0 with fewer than two)."""
        return float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0

    def _per_hour(self, n: int) -> float:
        return n * 3600.0 / self.span_s if self.span_s > 0 else math.nan

    @property
    def false_tracks_per_hour(self) -> float:
        """Counted track ids that never matched any truth, per hour of scored time."""
        return self._per_hour(self.n_unmatched_track_ids)

    @property
    def n_false_alarms(self) -> int:
        """Tracks flagged malicious that never matched a threat (a bird, a friendly, clutter)."""
        return len(self.false_alarm_track_ids)

    @property
    def false_alarms_per_hour(self) -> float:
        """False alarms (see :attr:`n_false_alarms`) per hour of scored time."""
        return self._per_hour(self.n_false_alarms)

    @property
    def threats(self) -> tuple[ObjectScore, ...]:
        """Scores of the truth objects flagged as threats (alive at a scored step)."""
        return tuple(o for o in self.objects.values() if o.threat and o.steps)

    @property
    def n_steps(self) -> int:
        """Number of scored time steps."""
        return len(self.t)

    def _mean(self, a: FloatArray) -> float:
        return float(np.mean(a)) if len(a) else math.nan

    @property
    def gospa_mean(self) -> float:
        """Mean GOSPA total over scored steps (m)."""
        return self._mean(self.gospa)

    @property
    def gospa_rms(self) -> float:
        """sqrt(mean(total**2)) over scored steps (m)."""
        return math.sqrt(self._mean(self.gospa**2)) if len(self.gospa) else math.nan

    @property
    def localisation_mean(self) -> float:
        """Mean localisation part (m**p)."""
        return self._mean(self.localisation)

    @property
    def missed_mean(self) -> float:
        """Mean missed part (m**p)."""
        return self._mean(self.missed)

    @property
    def false_mean(self) -> float:
        """Mean false part (m**p)."""
        return self._mean(self.false)

    @property
    def n_truth_objects(self) -> int:
        """Truth objects alive at one scored step at least."""
        return sum(1 for o in self.objects.values() if o.steps)

    @property
    def n_truth_instances(self) -> int:
        """Sum over scored steps of the truths alive (object-steps)."""
        return int(self.n_truths.sum())

    @property
    def n_track_instances(self) -> int:
        """Sum over scored steps of the tracks counted (track-steps)."""
        return int(self.n_tracks.sum())

    @property
    def n_missed_instances(self) -> int:
        """Object-steps with no track closer than c."""
        return int((self.n_truths - self.n_matched).sum())

    @property
    def n_false_instances(self) -> int:
        """Track-steps not matched to a truth."""
        return int((self.n_tracks - self.n_matched).sum())


def _identity_match(truth_xyz: FloatArray, track_xyz: FloatArray, track_ids: IntArray,
                    previous: IntArray, c: float) -> IntArray:
    """The track id matched to each truth object at one step (-1 = none), CLEAR-MOT style.

    A truth keeps last step's track while that track is still closer than ``c`` (m); only the
    rest are matched by optimal assignment on distance. Without this, two tracks that are both
    within ``c`` of two crossing targets would be counted as swapping ids whenever the
    instantaneous optimum flips, although neither track ever changed target.
    """
    out = np.full(len(truth_xyz), _NO_MATCH, dtype=np.int64)
    if len(truth_xyz) == 0 or len(track_xyz) == 0:
        return out
    dist = np.linalg.norm(truth_xyz[:, None, :] - track_xyz[None, :, :], axis=2)
    free_truth = np.ones(len(truth_xyz), dtype=bool)
    free_track = np.ones(len(track_xyz), dtype=bool)
    col_of = {int(t): j for j, t in enumerate(track_ids.tolist())}
    for k, tid in enumerate(previous.tolist()):
        j = col_of.get(tid) if tid != _NO_MATCH else None
        if j is not None and free_track[j] and dist[k, j] < c:
            out[k] = tid
            free_truth[k] = free_track[j] = False
    rows, cols = np.flatnonzero(free_truth), np.flatnonzero(free_track)
    if len(rows) and len(cols):
        sub = dist[np.ix_(rows, cols)]
        r, q = linear_sum_assignment(np.where(sub < c, sub, c * 1e3))
        ok = sub[r, q] < c
        out[rows[r[ok]]] = track_ids[cols[q[ok]]]
    return out


def _identity(seq: IntArray) -> tuple[int, int]:
    """(ID switches, fragmentations) of one object's matched-id sequence (-1 = no match)."""
    if len(seq) == 0:
        return 0, 0
    some = seq != _NO_MATCH
    ids = seq[some]
    switches = int(np.count_nonzero(ids[1:] != ids[:-1]))
    segments = int(some[0]) + int(np.count_nonzero(some[1:] & ~some[:-1]))
    return switches, max(segments - 1, 0)


def _status_codes(statuses: Collection[str]) -> tuple[str, ...]:
    if isinstance(statuses, str):
        statuses = (statuses,)
    out = tuple(dict.fromkeys(statuses))
    for s in out:
        if s not in _STATUS_CODE:
            raise EvaluationError(f"unknown track status {s!r}; expected {wire.TRACK_STATUSES}")
    if not out:
        raise EvaluationError("no track status counts: statuses is empty")
    return out


def site_offset_m(truth: Truth, tracks: TrackLog, *, max_points: int = 2000) -> float | None:
    """Median distance (m) between tracks' ``enu`` and their ``lla`` converted to ENU at the
    truth site; large when the tracker and the simulator used different site origins.
    None when there are no tracks."""
    n = len(tracks.ids)
    if n == 0:
        return None
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(np.int64))
    lla = tracks.lla[idx]
    s = truth.header.site
    e, nn, u = pymap3d.geodetic2enu(lla[:, 0], lla[:, 1], lla[:, 2], s.lat, s.lon, s.h)
    enu = np.column_stack([e, nn, u])
    return float(np.median(np.linalg.norm(enu - tracks.enu[idx], axis=1)))


def evaluate(
    truth: Truth,
    tracks: TrackLog,
    *,
    c: float = DEFAULT_C,
    p: float = DEFAULT_P,
    statuses: Collection[str] = DEFAULT_STATUSES,
    max_gap: float = DEFAULT_MAX_GAP,
) -> Evaluation:
    """Score ``tracks`` against ``truth`` at every tracks snapshot the truth covers.

    ``c`` GOSPA cutoff (m), ``p`` GOSPA order, ``statuses`` the track statuses that count,
    ``max_gap`` the longest truth interval (s) interpolated across.
    """
    _check_cp(c, p)
    if not (math.isfinite(max_gap) and max_gap >= 0.0):
        raise EvaluationError(f"max_gap must be a non-negative number of seconds, got {max_gap}")
    names = _status_codes(statuses)
    counted = np.isin(tracks.status, [_STATUS_CODE[s] for s in names])

    at = truth_at(truth, tracks.t, max_gap=max_gap)
    steps = np.flatnonzero(at.scored)
    n_steps, n_obj = len(steps), len(at.ids)
    total, loc, missed, false = (np.zeros(n_steps) for _ in range(4))
    n_truths, n_tracks, n_matched = (np.zeros(n_steps, dtype=np.int64) for _ in range(3))
    matched = np.full((n_steps, n_obj), _NO_MATCH, dtype=np.int64)
    alive = at.alive[steps]
    seen_ids: list[IntArray] = []
    infos = truth.header.objects
    is_threat = np.array([infos[o].threat if o in infos else False for o in at.ids], dtype=bool)
    flagged = np.zeros((n_steps, n_obj), dtype=bool)  # the object's matched track is malicious
    malicious_ids: set[int] = set()
    threat_track_ids: set[int] = set()
    for i, s in enumerate(steps):
        a, b = int(tracks.offsets[s]), int(tracks.offsets[s + 1])
        keep = counted[a:b]
        ids = tracks.ids[a:b][keep]
        objs = np.flatnonzero(alive[i])
        r = gospa(at.enu[s, objs], tracks.enu[a:b][keep], c, p)
        total[i], loc[i], missed[i], false[i] = r.total, r.localisation, r.missed, r.false
        n_truths[i], n_tracks[i], n_matched[i] = len(objs), len(ids), r.n_assigned
        prev = matched[i - 1, objs] if i else np.full(len(objs), _NO_MATCH, dtype=np.int64)
        matched[i, objs] = _identity_match(at.enu[s, objs], tracks.enu[a:b][keep], ids, prev, c)
        seen_ids.append(ids)
        mal_ids = ids[tracks.malicious[a:b][keep]]
        if len(mal_ids):
            malicious_ids.update(mal_ids.tolist())
            flagged[i, objs] = np.isin(matched[i, objs], mal_ids)
        threat_track_ids.update(matched[i, objs][is_threat[objs]].tolist())

    objects: dict[str, ObjectScore] = {}
    t_steps = tracks.t[steps]

    def first(mask: npt.NDArray[np.bool_]) -> float | None:
        k = np.flatnonzero(mask)
        return float(t_steps[k[0]]) if len(k) else None

    for k, oid in enumerate(at.ids):
        seq = matched[alive[:, k], k]
        sw, fr = _identity(seq)
        hits = seq[seq != _NO_MATCH]
        info = infos.get(oid)
        entry = info.extra.get("entry_t") if info is not None else None
        objects[oid] = ObjectScore(
            id=oid,
            steps=len(seq),
            matched_steps=len(hits),
            id_switches=sw,
            fragmentations=fr,
            track_ids=tuple(int(x) for x in dict.fromkeys(hits.tolist())),
            t_first=first(alive[:, k]),
            t_matched=first(alive[:, k] & (matched[:, k] != _NO_MATCH)),
            t_flagged=first(flagged[:, k]),
            object_class=info.object_class if info is not None else None,
            threat=bool(is_threat[k]),
            entry_t=float(entry) if isinstance(entry, int | float)
            and not isinstance(entry, bool) and math.isfinite(entry) else None,
        )
    all_ids = np.unique(np.concatenate(seen_ids)) if seen_ids else np.zeros(0, dtype=np.int64)
    matched_ids = np.unique(matched[matched != _NO_MATCH])

    notes: list[str] = []
    if tracks.torn_tail:
        notes.append(tracks.torn_tail)
    unscored = len(tracks) - n_steps
    if unscored:
        notes.append(
            f"{unscored} of {len(tracks)} snapshots not scored "
            f"(outside the truth span or in a truth gap longer than {max_gap:g} s)"
        )
    if n_steps == 0:
        notes.append("no snapshot was scored: do the truth and tracks files cover the same time?")
    offset = site_offset_m(truth, tracks)
    if offset is not None and offset > SITE_TOLERANCE_M:
        notes.append(
            f"tracks' enu and lla disagree by {offset:.1f} m (median) at the truth site: "
            "the tracker and the truth may use different site origins"
        )

    return Evaluation(
        c=float(c),
        p=float(p),
        max_gap=float(max_gap),
        statuses=names,
        n_snapshots=len(tracks),
        t=tracks.t[steps],
        gospa=total,
        localisation=loc,
        missed=missed,
        false=false,
        n_truths=n_truths,
        n_tracks=n_tracks,
        n_matched=n_matched,
        id_switches=sum(o.id_switches for o in objects.values()),
        fragmentations=sum(o.fragmentations for o in objects.values()),
        objects=objects,
        n_track_ids=len(all_ids),
        n_unmatched_track_ids=int(np.count_nonzero(~np.isin(all_ids, matched_ids))),
        notes=tuple(notes),
        false_alarm_track_ids=tuple(sorted(malicious_ids - threat_track_ids)),
    )


# --------------------------------------------------------------------------- report


def _f(x: float, unit: str) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f} {unit}"


def format_report(ev: Evaluation) -> str:
    """The plain-text report ``cuas eval`` prints; always states c and p."""
    pu = f"m^{ev.p:g}"
    lines = [
        f"GOSPA (alpha = {ALPHA}, c = {ev.c:g} m, p = {ev.p:g}), "
        f"{ev.n_steps} of {ev.n_snapshots} snapshots scored",
        f"  {'total':<14} mean {_f(ev.gospa_mean, 'm'):>14}    rms {_f(ev.gospa_rms, 'm')}",
        f"  {'localisation':<14} mean {_f(ev.localisation_mean, pu):>14}",
        f"  {'missed':<14} mean {_f(ev.missed_mean, pu):>14}",
        f"  {'false':<14} mean {_f(ev.false_mean, pu):>14}",
        f"Identity (matches closer than c = {ev.c:g} m, kept while they stay so)",
        f"  {'ID switches':<22}{ev.id_switches:>8}",
        f"  {'fragmentations':<22}{ev.fragmentations:>8}",
        f"Counts (tracks counted: {', '.join(ev.statuses)})",
        f"  {'truth objects':<22}{ev.n_truth_objects:>8}   "
        f"({ev.n_truth_instances} object-steps, {ev.n_missed_instances} missed)",
        f"  {'track ids':<22}{ev.n_track_ids:>8}   "
        f"({ev.n_unmatched_track_ids} never matched a truth)",
        f"  {'track-steps':<22}{ev.n_track_instances:>8}   "
        f"({ev.n_false_instances} false)",
    ]
    lines.extend(_timing_lines(ev))
    if ev.notes:
        lines.append("Notes")
        lines.extend(f"  - {n}" for n in ev.notes)
    return "\n".join(lines) + "\n"


def _secs(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.1f} s"


def _dur(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.1f} s"


def _confirm_times(ev: Evaluation) -> list[float]:
    return [x for o in ev.objects.values() if o.steps
            for x in (o.time_to_confirm_s,) if x is not None]


def _timing_lines(ev: Evaluation) -> list[str]:
    ttc = _confirm_times(ev)
    median = float(np.median(ttc)) if ttc else math.nan
    worst = max(ttc) if ttc else math.nan
    lines = [
        "Timing (from an object's first scored step to its first match by a counted track)",
        f"  {'time to confirm':<22}median {_dur(median)}, max {_dur(worst)}   "
        f"({len(ttc)} of {ev.n_truth_objects} objects ever matched)",
        f"  {'false tracks':<22}{ev.n_unmatched_track_ids:>8}   "
        f"({ev.false_tracks_per_hour:.1f} per hour over {ev.span_s:.0f} s)",
        "Threats (time from entering a protected zone to the first malicious flag)",
    ]
    for o in ev.threats:
        start = "zone entry" if o.entry_t is not None else "first seen"
        flag = ("never flagged malicious" if o.t_flagged is None
                else f"malicious at {start} {_secs(o.time_to_flag_s)}")
        lines.append(f"  {o.id:<22}{flag}")
    if not ev.threats:
        lines.append("  (no threat in the truth)")
    lines.append(f"  {'false alarms':<22}{ev.n_false_alarms:>8}   "
                 f"({ev.false_alarms_per_hour:.1f} per hour; malicious tracks that never "
                 "matched a threat)")
    return lines


def _num_or_none(x: float | None, ndigits: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), ndigits)


def to_json(ev: Evaluation) -> dict[str, Any]:
    """The figures of :func:`format_report` as one JSON-ready map (keys in docs/truth-format.md,
    "JSON output"); NaN and missing values are ``None``."""
    ttc = _confirm_times(ev)
    return {
        "c": ev.c, "p": ev.p, "steps": ev.n_steps, "snapshots": ev.n_snapshots,
        "span_s": _num_or_none(ev.span_s),
        "gospa_mean": _num_or_none(ev.gospa_mean), "gospa_rms": _num_or_none(ev.gospa_rms),
        "localisation_mean": _num_or_none(ev.localisation_mean),
        "missed_mean": _num_or_none(ev.missed_mean), "false_mean": _num_or_none(ev.false_mean),
        "id_switches": ev.id_switches, "fragmentations": ev.fragmentations,
        "truth_objects": ev.n_truth_objects, "track_ids": ev.n_track_ids,
        "unmatched_track_ids": ev.n_unmatched_track_ids,
        "false_tracks_per_hour": _num_or_none(ev.false_tracks_per_hour),
        "time_to_confirm_median_s": _num_or_none(float(np.median(ttc)) if ttc else None),
        "time_to_confirm_max_s": _num_or_none(max(ttc) if ttc else None),
        "false_alarms": ev.n_false_alarms,
        "false_alarm_track_ids": list(ev.false_alarm_track_ids),
        "false_alarms_per_hour": _num_or_none(ev.false_alarms_per_hour),
        "threats": {o.id: {"entry_t": o.entry_t, "flagged_t": o.t_flagged,
                           "time_to_flag_s": _num_or_none(o.time_to_flag_s)}
                    for o in ev.threats},
        "objects": {o.id: {"class": o.object_class, "threat": o.threat, "steps": o.steps,
                           "matched_steps": o.matched_steps, "id_switches": o.id_switches,
                           "fragmentations": o.fragmentations,
                           "time_to_confirm_s": _num_or_none(o.time_to_confirm_s),
                           "track_ids": list(o.track_ids)}
                    for o in ev.objects.values() if o.steps},
        "gospa_t": [round(float(x), 3) for x in ev.t],
        "gospa": [round(float(x), 3) for x in ev.gospa],
        "notes": list(ev.notes),
    }
