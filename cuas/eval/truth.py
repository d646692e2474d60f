"""Ground truth files: the types a truth file holds, writing and reading them (validated, with
line and key named on error), and the truth interpolated at the tracker's snapshot times.

The format is ``docs/truth-format.md``. Units: positions metres ENU at the header's site
origin, times seconds UTC (Unix epoch).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from cuas import vocabulary, wire
from cuas.errors import DecodeError, EvaluationError, TruthFormatError
from cuas.validation import latitude, longitude, mapping, need, number

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
StrPath: TypeAlias = str | PathLike[str]

TRUTH_VERSION: Final = 1
TRUTH_HEADER_TYPE: Final = "truth-header"
#: Object classes a truth header may give (the classifier's classes).
OBJECT_CLASSES: Final[tuple[str, ...]] = tuple(vocabulary.CLASSES)
#: Longest interval (s) across which a truth object's position is interpolated.
DEFAULT_MAX_GAP: Final = 5.0


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


def readonly(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``a`` itself, made read-only (the frozen struct-of-arrays types share their arrays)."""
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


def json_line(raw: bytes) -> Any:
    """One JSON Lines record; ValueError (incl. decode errors) when it is not valid JSON."""
    return json.loads(raw, parse_constant=_reject_constant)


def _vec3(v: Any, key: str) -> tuple[float, float, float]:
    if not isinstance(v, list) or len(v) != 3:
        raise DecodeError("expected a list of 3 numbers", key=key)
    return (number(v[0], f"{key}[0]"), number(v[1], f"{key}[1]"), number(v[2], f"{key}[2]"))


def _parse_header(obj: Any) -> TruthHeader:
    m = mapping(obj, None)
    if m.get("type") != TRUTH_HEADER_TYPE:
        raise DecodeError(
            f"the first line must be the header with type {TRUTH_HEADER_TYPE!r}", key="type"
        )
    v = need(m, "v")
    if isinstance(v, bool) or v != TRUTH_VERSION:
        raise DecodeError(f"unsupported truth version {v!r} (this reader speaks 1)", key="v")
    s = mapping(need(m, "site"), "site")
    lat, lon, h = (number(need(s, k, "site"), f"site.{k}") for k in ("lat", "lon", "h"))
    latitude(lat, "site.lat")
    longitude(lon, "site.lon")
    objects: dict[str, ObjectInfo] = {}
    for oid, info in mapping(m.get("objects", {}), "objects").items():
        key = f"objects.{oid}"
        om = mapping(info, key)
        cls = need(om, "class", key)
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
    m = mapping(obj, None)
    if m.get("type") == TRUTH_HEADER_TYPE:
        raise DecodeError("a second header", key="type")
    t = number(need(m, "t"), "t")
    if not wire.T_MIN <= t < wire.T_MAX:
        raise DecodeError(f"time {t} is outside 2000..2100 (UTC seconds)", key="t")
    if t_prev is not None and t <= t_prev:
        raise DecodeError(f"time {t} is not after the previous line's {t_prev}", key="t")
    objs = need(m, "objects")
    if not isinstance(objs, list):
        raise DecodeError("expected a list", key="objects")
    rows: list[_Row] = []
    seen: set[str] = set()
    for i, o in enumerate(objs):
        key = f"objects[{i}]"
        om = mapping(o, key)
        oid = need(om, "id", key)
        if not isinstance(oid, str) or not oid:
            raise DecodeError("expected a non-empty string", key=f"{key}.id")
        if oid in seen:
            raise DecodeError(f"object {oid!r} appears twice at this time", key=f"{key}.id")
        seen.add(oid)
        enu = _vec3(need(om, "enu", key), f"{key}.enu")
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
            return readonly(np.array(rows, dtype=np.float64).reshape(-1, 3))

        return TruthObject(
            id=oid,
            times=readonly(np.array(self.times, dtype=np.float64)),
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
                obj = json_line(raw)
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
        times=readonly(np.array(times, dtype=np.float64)),
        objects={oid: b.build(oid) for oid, b in builders.items()},
    )


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


