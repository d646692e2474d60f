"""The array entry point: a ``detections`` payload decoded and validated straight into columns.

A radar scan of plots (``frame``, ``z``, ``sigma`` or ``R``, optionally ``vel``,
``vel_sigma``, free-form ``attrs`` such as a radar's ``snr_db``, class ``evidence``; one
frame for all) is the bulk of what the daemon receives. Validated one
:class:`~cuas.wire.messages.Detection` at a time it costs some 10 µs per plot and builds an
object the fusion then reads back into arrays. :func:`decode_detections` checks such a
message with numpy over whole columns instead and returns an :class:`ArrayDetections`, whose
:class:`DetectionArrays` the fusion reads directly.

The per-detection path stays the reference: the array path takes only messages it can check
completely (every detection a map of those keys only, one positional frame, each optional
numeric field present in all or none; ``attrs`` and ``evidence`` in any of them), applies
exactly :func:`cuas.wire.checks.check_detection`'s rules, and hands anything else (including
anything it would refuse) to :func:`cuas.wire.codec.from_dict`, so both paths accept and
refuse the same payloads, with the same errors, and give the same values
(tests/wire/test_arrays.py holds them to it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

import msgpack
import numpy as np
from numpy.typing import NDArray

from cuas.errors import DecodeError
from cuas.wire.checks import check_evidence, free_form
from cuas.wire.codec import evidence_dict, from_dict, unpack_payload
from cuas.wire.messages import (
    FRAME_DIM,
    MAX_DISTANCE_M,
    MAX_ITEMS,
    MAX_SPEED_MS,
    SIGMA_MAX,
    SIGMA_MIN,
    VERSION,
    ClassEvidence,
    Detection,
    Detections,
    Message,
)

F64 = NDArray[np.float64]

#: The keys a detection may have to take the array path.
PLAIN_KEYS: Final = frozenset({"frame", "z", "sigma", "R", "vel", "vel_sigma", "attrs",
                               "evidence"})
_NUMBER_TYPES: Final = frozenset({float, int})


@dataclass(frozen=True, slots=True, eq=False)
class DetectionArrays:
    """N validated detections in one ``frame`` as columns (row k is ``dets[k]``).

    ``z`` (N, dim) in the frame's units (azimuths normalised to [0, 360)); ``R`` (N, dim*dim)
    row-major covariance (built from ``sigma`` when only that was sent); ``sigma`` (N, dim)
    when sent, else None; ``vel``/``vel_sigma`` (N, 3) site ENU m/s when sent, else None;
    ``attrs`` each detection's free-form map (the decoded one; ``{}`` where it sent none), or
    None when no detection sent one; ``evidence`` each detection's class evidence (None where
    it sent none), or None when no detection sent any.
    """

    frame: str
    z: F64
    R: F64
    sigma: F64 | None = None
    vel: F64 | None = None
    vel_sigma: F64 | None = None
    attrs: tuple[dict[str, Any], ...] | None = None
    evidence: tuple[ClassEvidence | None, ...] | None = None

    def __len__(self) -> int:
        return len(self.z)

    def detections(self) -> tuple[Detection, ...]:
        """The same detections as objects (what the per-detection path gives)."""
        def rows(a: F64 | None) -> list[Any]:
            return [None] * len(self) if a is None else [tuple(r) for r in a.tolist()]

        attrs: Any = self.attrs if self.attrs is not None else [{} for _ in range(len(self))]
        evidence: Any = self.evidence if self.evidence is not None else [None] * len(self)
        return tuple(Detection(frame=self.frame, z=z, R=r, sigma=s, vel=v,  # type: ignore[arg-type]
                               vel_sigma=vs, attrs=a, evidence=e)
                     for z, r, s, v, vs, a, e in zip(
                         rows(self.z), rows(self.R), rows(self.sigma), rows(self.vel),
                         rows(self.vel_sigma), attrs, evidence, strict=True))

    def without_attrs(self, which: list[int]) -> DetectionArrays:
        """The same columns with the ``attrs`` of detections ``which`` replaced by ``{}``."""
        if self.attrs is None or not which:
            return self
        attrs = list(self.attrs)
        for i in which:
            attrs[i] = {}
        return dataclasses.replace(self, attrs=tuple(attrs))


_DETS_SLOT: Any = Detections.__dict__["dets"]  # the dataclass's own storage for `dets`


class ArrayDetections(Detections):
    """A :class:`Detections` message whose detections came in as :class:`DetectionArrays`.

    It is a ``Detections`` for everything that reads one; ``dets`` (objects) is built only
    when something asks for it (the array-aware fusion does not).
    """

    __slots__ = ("arrays",)
    arrays: DetectionArrays

    def __init__(self, head: Detections, arrays: DetectionArrays) -> None:
        Detections.__init__(self, src=head.src, seq=head.seq, t=head.t, sensor=head.sensor,
                            kind=head.kind, dets=None, origin=head.origin)  # type: ignore[arg-type]
        object.__setattr__(self, "arrays", arrays)

    @property
    def dets(self) -> tuple[Detection, ...]:
        held = _DETS_SLOT.__get__(self)
        if held is None:
            held = self.arrays.detections()
            _DETS_SLOT.__set__(self, held)
        return held

    @dets.setter
    def dets(self, value: tuple[Detection, ...] | None) -> None:
        _DETS_SLOT.__set__(self, value)

    @property
    def n_dets(self) -> int:
        return len(self.arrays)

    @property
    def bare(self) -> bool:
        """No detection carries ``attrs`` or ``evidence``: nothing but the columns to read."""
        return self.arrays.attrs is None and self.arrays.evidence is None

    @property
    def has_evidence(self) -> bool:
        """Some detection carries class ``evidence``."""
        return self.arrays.evidence is not None

    def attrs_list(self) -> list[Any]:
        """Each detection's ``attrs`` (``{}`` where none), without building a detection."""
        attrs = self.arrays.attrs
        return [{}] * len(self.arrays) if attrs is None else list(attrs)

    def as_detections(self) -> Detections:
        """The plain message (objects), e.g. to replace fields of."""
        return Detections(src=self.src, seq=self.seq, t=self.t, sensor=self.sensor,
                          kind=self.kind, dets=self.dets, origin=self.origin)

    def __reduce__(self) -> Any:  # pickled (to a worker thread's queue, a test) as the plain one
        return (Detections, (self.src, self.seq, self.t, self.sensor, self.kind, self.dets,
                             self.origin))


def n_detections(msg: Detections) -> int:
    """How many detections ``msg`` holds, without building objects for an array message."""
    return msg.n_dets if isinstance(msg, ArrayDetections) else len(msg.dets)


def _column(dets: list[dict[str, Any]], name: str, width: int) -> F64 | None:
    """Column ``name`` of every detection as an (N, width) float array, or None when any value
    is not a list of ``width`` plain numbers, or a number is not finite."""
    values: list[Any] = [d.get(name) for d in dets]
    if not all(type(v) is list and len(v) == width for v in values):
        return None
    if not {type(x) for v in values for x in v} <= _NUMBER_TYPES:
        return None  # a bool, None, a string, a map: the reference path says which
    try:
        a = np.array(values, dtype=np.float64)
    except (OverflowError, ValueError, TypeError):
        return None
    if a.shape != (len(dets), width) or not np.isfinite(a).all():
        return None
    return a


def _covariance(dets: list[dict[str, Any]], dim: int) -> tuple[F64, F64 | None] | None:
    """(R, sigma) of every detection as check_detection builds them, None to defer."""
    n = len(dets)
    has_sigma = ["sigma" in d for d in dets]
    has_r = ["R" in d for d in dets]
    if len(set(has_sigma)) > 1 or len(set(has_r)) > 1:
        return None
    if (has_sigma and has_sigma[0] and any(d["sigma"] is None for d in dets)) or (
            has_r and has_r[0] and any(d["R"] is None for d in dets)):
        return None  # an explicit nil is "absent" to the reference path: let it decide
    sigma = None
    if has_sigma[0]:
        sigma = _column(dets, "sigma", dim)
        if sigma is None or not ((sigma >= SIGMA_MIN) & (sigma <= SIGMA_MAX)).all():
            return None
    if has_r[0]:
        r = _column(dets, "R", dim * dim)
        if r is None or (np.abs(r) > SIGMA_MAX * SIGMA_MAX).any():
            return None
        diag = r[:, [i * dim + i for i in range(dim)]]
        if (diag < SIGMA_MIN * SIGMA_MIN).any():
            return None
        mat = r.reshape(n, dim, dim)
        # np.allclose(mat, mat.T, rtol=1e-9, atol=1e-12 * max(1, |mat|max)) per detection.
        atol = 1e-12 * np.maximum(1.0, np.abs(mat).max(axis=(1, 2)))
        tr = np.swapaxes(mat, 1, 2)
        if not (np.abs(mat - tr) <= atol[:, None, None] + 1e-9 * np.abs(tr)).all():
            return None
        try:
            np.linalg.cholesky(mat)
        except np.linalg.LinAlgError:
            return None
        return r, sigma
    if sigma is None:
        return None  # neither: the reference path refuses it
    sq = sigma * sigma
    r = np.zeros((n, dim * dim))
    for i in range(dim):
        r[:, i * dim + i] = sq[:, i]
    return r, sigma


def _az(a: F64) -> F64:
    """Azimuths normalised to [0, 360) exactly as ``checks._azimuth`` does (Python's %)."""
    out: F64 = np.remainder(a, 360.0)
    out[out >= 360.0] = 0.0
    return out


def _evidence(dets: list[dict[str, Any]]) -> tuple[bool, tuple[ClassEvidence | None, ...] | None]:
    """(ok, each detection's ``evidence`` as ``check_detection`` builds it) (None when no
    detection sent any); not ok defers to the reference path (one it would refuse)."""
    if not any(d.get("evidence") is not None for d in dets):
        return True, None
    out: list[ClassEvidence | None] = []
    for d in dets:
        ev = d.get("evidence")
        if ev is None:
            out.append(None)
            continue
        try:
            out.append(check_evidence(ev, "evidence"))
        except DecodeError:
            return False, None
    return True, tuple(out)


def _attrs(dets: list[dict[str, Any]]) -> tuple[bool, tuple[dict[str, Any], ...] | None]:
    """(ok, each detection's ``attrs``) checked as ``check_detection`` checks them (None when
    no detection sent any); not ok defers to the reference path (one it would refuse)."""
    if not any("attrs" in d for d in dets):
        return True, None
    out: list[dict[str, Any]] = []
    for d in dets:
        a = d.get("attrs", {})
        if type(a) is not dict:
            return False, None
        if a:
            try:
                free_form(a, "attrs")
            except DecodeError:
                return False, None  # the reference names the detection and key
        out.append(a)
    return True, tuple(out)


def detection_arrays(raw: Any) -> DetectionArrays | None:
    """``raw`` (a decoded ``dets`` list) as validated columns, or None when the array path
    cannot take it (then the reference path validates it, and accepts or refuses it)."""
    if type(raw) is not list or not raw or len(raw) > MAX_ITEMS:
        return None
    dets: list[dict[str, Any]] = raw
    if not all(type(d) is dict and d.keys() <= PLAIN_KEYS for d in dets):
        return None
    frame = dets[0].get("frame")
    if type(frame) is not str or frame not in FRAME_DIM or frame == "none":
        return None
    if any(d.get("frame") != frame for d in dets):
        return None
    dim = FRAME_DIM[frame]
    z = _column(dets, "z", dim)
    if z is None:
        return None
    if frame == "enu":
        if (np.abs(z) > MAX_DISTANCE_M).any():
            return None
    elif frame == "lla":
        if not ((z[:, 0] >= -90.0) & (z[:, 0] <= 90.0) & (z[:, 1] >= -180.0) & (z[:, 1] <= 180.0)
                & (z[:, 2] >= -12_000.0) & (z[:, 2] <= 1_000_000.0)).all():
            return None
    elif frame == "rae":
        if not ((z[:, 0] > 0.0) & (z[:, 0] <= MAX_DISTANCE_M) & (z[:, 2] >= -90.0)
                & (z[:, 2] <= 90.0)).all():
            return None
        z[:, 1] = _az(z[:, 1])
    else:  # ae
        if not ((z[:, 1] >= -90.0) & (z[:, 1] <= 90.0)).all():
            return None
        z[:, 0] = _az(z[:, 0])
    cov = _covariance(dets, dim)
    if cov is None:
        return None
    vel = vel_sigma = None
    for name in ("vel", "vel_sigma"):
        present = [name in d and d[name] is not None for d in dets]
        if any(present) != all(present) or any(name in d and d[name] is None for d in dets):
            return None
        if not present[0]:
            continue
        col = _column(dets, name, 3)
        if col is None:
            return None
        if name == "vel":
            if (np.abs(col) > MAX_SPEED_MS).any():
                return None
            vel = col
        else:
            if not ((col >= SIGMA_MIN) & (col <= MAX_SPEED_MS)).all():
                return None
            vel_sigma = col
    ok, attrs = _attrs(dets)
    ok_ev, evidence = _evidence(dets) if ok else (False, None)
    if not ok_ev:
        return None
    return DetectionArrays(frame=frame, z=z, R=cov[0], sigma=cov[1], vel=vel,
                           vel_sigma=vel_sigma, attrs=attrs, evidence=evidence)


def decode_detections(payload: bytes) -> Message:
    """:func:`cuas.wire.decode` for the detection endpoint: a plain ``detections`` message
    comes back as an :class:`ArrayDetections`, anything else exactly as ``decode`` gives it
    (or refuses it, with its error)."""
    return from_map(unpack_payload(payload))


def from_map(obj: Any) -> Message:
    """:func:`cuas.wire.codec.from_dict`, with the array path for plain detections."""
    if type(obj) is dict and obj.get("type") == "detections":
        arrays = detection_arrays(obj.get("dets"))
        if arrays is not None:
            head = from_dict({**obj, "dets": []})  # the header, checked by the reference
            assert isinstance(head, Detections)
            return ArrayDetections(head, arrays)
    return from_dict(obj)


def encode_array_detections(msg: ArrayDetections) -> bytes:
    """``encode(msg)`` byte for byte, from the columns (no per-detection object)."""
    arr = msg.arrays
    n, dim = arr.z.shape
    rows: dict[str, list[Any]] = {"z": arr.z.tolist()}
    if arr.sigma is not None:
        rows["sigma"] = arr.sigma.tolist()
        # R goes out unless it is exactly what a reader rebuilds from sigma (codec's rule).
        diag = np.zeros_like(arr.R)
        for i in range(dim):
            diag[:, i * dim + i] = arr.sigma[:, i] * arr.sigma[:, i]
        own_r = (diag != arr.R).any(axis=1).tolist()
    else:
        own_r = [True] * n
    r_rows = arr.R.tolist()
    vel = arr.vel.tolist() if arr.vel is not None else None
    vel_sigma = arr.vel_sigma.tolist() if arr.vel_sigma is not None else None
    attrs = arr.attrs
    evidence = arr.evidence
    dets: list[dict[str, Any]] = []
    for k in range(n):
        d: dict[str, Any] = {"frame": arr.frame, "z": rows["z"][k]}
        if arr.sigma is not None:
            d["sigma"] = rows["sigma"][k]
        if own_r[k]:
            d["R"] = r_rows[k]
        if vel is not None:
            d["vel"] = vel[k]
        if vel_sigma is not None:
            d["vel_sigma"] = vel_sigma[k]
        if attrs is not None and attrs[k]:
            d["attrs"] = dict(attrs[k])
        if evidence is not None and (ev := evidence[k]) is not None:
            d["evidence"] = evidence_dict(ev)
        dets.append(d)
    out: dict[str, Any] = {"v": VERSION, "type": "detections", "src": msg.src, "seq": msg.seq,
                           "t": msg.t, "sensor": msg.sensor, "kind": msg.kind, "dets": dets}
    if msg.origin is not None:
        out["origin"] = list(msg.origin)
    return msgpack.packb(out, use_bin_type=True)
