"""A ``tracks`` snapshot held as columns, and its msgpack payload built from them.

A snapshot of 10,000 tracks made one :class:`~cuas.wire.messages.Track` per track, then one
dict per track to encode: most of a snapshot's cost. :class:`TrackColumns` keeps the arrays
the tracker has, and :func:`encode_track_columns` writes the payload from them: each run of
fixed-width fields (``lla`` to ``t_update``, the ``class`` map, ``modes``) is one numpy block of
big-endian doubles between constant key bytes, the few variable fields are packed once per
distinct value, and each track is one join of those pieces. The bytes are exactly
``encode(cols.to_message(...))`` (tests/wire/test_columns.py holds it so over random columns).

Units and frames as in :mod:`cuas.wire.messages` (metres site ENU, degrees WGS-84, UTC s).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack
import numpy as np
from numpy.typing import NDArray

from cuas.vocabulary import CLASSES, MOTION_MODES, THREAT_LEVELS, TRACK_STATUSES
from cuas.wire.codec import _ident_dict
from cuas.wire.messages import NEUTRAL_CLASS, VERSION, Ident, Track, Tracks

F64 = NDArray[np.float64]

_pack = msgpack.Packer(use_bin_type=True).pack


def _key(name: str) -> bytes:
    return _pack(name)


_F64_TAG: Final = b"\xcb"  # msgpack float 64, the encoding of every Python float


@dataclass(frozen=True, slots=True)
class TrackColumns:
    """N tracks of a snapshot as columns (row k is one track).

    ``status`` indexes ``TRACK_STATUSES``; ``lla`` (N,3) degrees/metres, ``enu``/``vel``/
    ``pos_sigma`` (N,3) site ENU metres and m/s, ``t_update`` (N,) UTC s; ``sources`` (N,S)
    marks which of ``source_names`` (S names, "" for an unnamed column) saw each track.
    ``probs`` (N,4) over ``CLASSES``, ``level`` (N,) index into ``THREAT_LEVELS``,
    ``malicious`` (N,) and ``reasons`` (N tuples) are the classifier's, or all None for the
    contract's neutral values. ``idents`` maps a row to its identity (rows absent have none);
    ``modes`` (N,3) over ``MOTION_MODES`` is left out of the message when None.
    """

    ids: NDArray[np.int64]
    status: NDArray[np.int8]
    lla: F64
    enu: F64
    vel: F64
    pos_sigma: F64
    t_update: F64
    sources: NDArray[np.bool_]
    source_names: tuple[str, ...]
    probs: F64 | None = None
    level: NDArray[np.integer[Any]] | None = None
    malicious: NDArray[np.bool_] | None = None
    reasons: tuple[tuple[str, ...], ...] | None = None
    idents: Mapping[int, Ident] = field(default_factory=dict)
    modes: F64 | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> TrackColumns:
        z3 = np.zeros((0, 3))
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8), z3, z3, z3, z3,
                   np.zeros(0), np.zeros((0, 1), dtype=bool), ("",))

    def take(self, rows: NDArray[np.int64]) -> TrackColumns:
        """The tracks of rows ``rows``, in that order."""
        where = {int(r): k for k, r in enumerate(rows.tolist())}
        return TrackColumns(
            self.ids[rows], self.status[rows], self.lla[rows], self.enu[rows], self.vel[rows],
            self.pos_sigma[rows], self.t_update[rows], self.sources[rows], self.source_names,
            None if self.probs is None else self.probs[rows],
            None if self.level is None else self.level[rows],
            None if self.malicious is None else self.malicious[rows],
            None if self.reasons is None else tuple(self.reasons[r] for r in rows.tolist()),
            {where[r]: i for r, i in self.idents.items() if r in where},
            None if self.modes is None else self.modes[rows])

    def threat_rank(self) -> NDArray[np.int64]:
        """Each track's threat level as an index into ``THREAT_LEVELS`` (0 when unclassified)."""
        if self.level is None:
            return np.zeros(len(self), dtype=np.int64)
        return self.level.astype(np.int64)

    def tracks(self) -> tuple[Track, ...]:
        """The same tracks as :class:`Track` objects (for consumers that want objects)."""
        names = np.asarray(self.source_names)
        ids, st, t_upd = self.ids.tolist(), self.status.tolist(), self.t_update.tolist()
        lla, enu, vel, sig = (a.tolist() for a in (self.lla, self.enu, self.vel, self.pos_sigma))
        modes = self.modes.tolist() if self.modes is not None else None
        classified = self.probs is not None
        if classified:
            assert self.level is not None and self.malicious is not None
            assert self.reasons is not None
            probs = self.probs.tolist()  # type: ignore[union-attr]
            level, mal = self.level.tolist(), self.malicious.tolist()
        out = []
        for k in range(len(ids)):
            extra: dict[str, Any] = (
                {"class_probs": dict(zip(CLASSES, probs[k], strict=True)),
                 "threat": THREAT_LEVELS[level[k]], "malicious": mal[k],
                 "reasons": self.reasons[k]} if classified  # type: ignore[index]
                else {"class_probs": NEUTRAL_CLASS})
            out.append(Track(
                id=ids[k], status=TRACK_STATUSES[st[k]],
                lla=(lla[k][0], lla[k][1], lla[k][2]), enu=(enu[k][0], enu[k][1], enu[k][2]),
                vel=(vel[k][0], vel[k][1], vel[k][2]), pos_sigma=(sig[k][0], sig[k][1], sig[k][2]),
                t_update=t_upd[k], sources=tuple(names[self.sources[k]].tolist()),
                ident=self.idents.get(k),
                modes=dict(zip(MOTION_MODES, modes[k], strict=True)) if modes is not None else {},
                **extra))
        return tuple(out)

    def track_dicts(self) -> list[dict[str, Any]]:
        """Each track's contract map, exactly ``[track_dict(tr) for tr in self.tracks()]``
        (same keys, order and values), without the :class:`Track` objects: what the offline
        replay writes as JSON."""
        names = np.asarray(self.source_names)
        ids, st, t_upd = self.ids.tolist(), self.status.tolist(), self.t_update.tolist()
        lla, enu, vel, sig = (a.tolist() for a in (self.lla, self.enu, self.vel, self.pos_sigma))
        src = self.sources
        # Sources: one list per distinct row of the sources matrix, copied per track.
        uniq, inv = (np.unique(src, axis=0, return_inverse=True) if len(src)
                     else (src, np.zeros(0, dtype=np.int64)))
        src_lists = [names[u].tolist() for u in uniq]
        which = inv.reshape(-1).tolist()
        modes = self.modes.tolist() if self.modes is not None else None
        if self.probs is not None:
            assert self.level is not None and self.malicious is not None
            assert self.reasons is not None
            probs = self.probs.tolist()
            level, mal, why = self.level.tolist(), self.malicious.tolist(), self.reasons
        out: list[dict[str, Any]] = []
        for k in range(len(ids)):
            d: dict[str, Any] = {
                "id": ids[k], "status": TRACK_STATUSES[st[k]], "lla": lla[k], "enu": enu[k],
                "vel": vel[k], "pos_sigma": sig[k], "t_update": t_upd[k],
                "sources": list(src_lists[which[k]])}
            if self.probs is not None:
                d["class"] = dict(zip(CLASSES, probs[k], strict=True))
                d["threat"] = THREAT_LEVELS[level[k]]
                d["malicious"] = mal[k]
                d["reasons"] = list(why[k])
            else:
                d["class"] = dict(NEUTRAL_CLASS)
                d["threat"] = THREAT_LEVELS[0]
                d["malicious"] = False
                d["reasons"] = []
            ident = self.idents.get(k)
            if ident is not None:
                d["ident"] = _ident_dict(ident)
            if modes is not None:
                d["modes"] = dict(zip(MOTION_MODES, modes[k], strict=True))
            out.append(d)
        return out

    def message_dict(self, src: str, seq: int, t: float, truncated: bool = False
                     ) -> dict[str, Any]:
        """``to_dict(self.to_message(src, seq, t, truncated))`` without per-track objects."""
        out: dict[str, Any] = {"v": VERSION, "type": "tracks", "src": src, "seq": seq, "t": t,
                               "tracks": self.track_dicts()}
        if truncated:
            out["truncated"] = True
        return out

    def to_message(self, src: str, seq: int, t: float, truncated: bool = False) -> Tracks:
        """The ``tracks`` message of these columns (objects; see :func:`encode_track_columns`)."""
        return Tracks(src=src, seq=seq, t=t, tracks=self.tracks(), truncated=truncated)


def _fixed_block(prefixes: Sequence[bytes], values: Sequence[F64], n: int) -> list[bytes]:
    """Per track, ``prefixes[i]`` then ``values[i]`` (n, w_i) as msgpack doubles, for each i:
    one (n, width) byte array holding a template row (prefixes and float tags) into which
    each run of doubles is written in one assignment through a strided big-endian view,
    then cut into n rows."""
    template = bytearray()
    runs: list[tuple[int, F64]] = []
    for p, v in zip(prefixes, values, strict=True):
        template += p
        runs.append((len(template) + 1, v))  # the first double's bytes, after its tag
        template += (_F64_TAG + bytes(8)) * v.shape[1]
    width = len(template)
    out = np.empty((n, width), dtype=np.uint8)
    out[:] = np.frombuffer(bytes(template), dtype=np.uint8)
    for offset, v in runs:
        # Doubles 9 bytes apart (tag, value) in rows `width` apart: unaligned, which numpy's
        # strided copy handles (and swaps to big-endian as it goes).
        view = np.ndarray(shape=v.shape, dtype=">f8", buffer=out, offset=offset,
                          strides=(width, 9))
        view[...] = v
    buf = out.tobytes()
    return [buf[i:i + width] for i in range(0, n * width, width)]


_K_ID = _key("id")
_STATUS = tuple(_key("status") + _pack(s) for s in TRACK_STATUSES)
_LLA_TO_T = (_key("lla") + b"\x93", _key("enu") + b"\x93", _key("vel") + b"\x93",
             _key("pos_sigma") + b"\x93", _key("t_update"))
_K_SOURCES = _key("sources")
_K_CLASS = _key("class")
_NEUTRAL = _K_CLASS + _pack(dict(NEUTRAL_CLASS))
_CLASS_KEYS = tuple(_key(c) for c in CLASSES)
# threat then malicious, for each (level, malicious) pair
_THREAT_MAL = tuple(_key("threat") + _pack(lv) + _key("malicious") + _pack(m)
                    for lv in THREAT_LEVELS for m in (False, True))
_K_REASONS = _key("reasons")
_THREAT_MAL_REASONS = tuple(p + _K_REASONS for p in _THREAT_MAL)
_NO_REASONS = _K_REASONS + _pack([])
_K_IDENT = _key("ident")
_MODE_KEYS = tuple(_key(m) for m in MOTION_MODES)


def _track_payloads(cols: TrackColumns) -> list[bytes]:
    """Each track's packed map, exactly as ``packb(track_dict(track))``."""
    n = len(cols)
    n_keys = 12 + (cols.modes is not None)
    heads = [bytes([0x80 | n_keys]) + _K_ID] * n  # a fixmap header
    for r in cols.idents:
        heads[r] = bytes([0x80 | (n_keys + 1)]) + _K_ID
    ids = list(map(_pack, cols.ids.tolist()))
    status = list(map(_STATUS.__getitem__, cols.status.tolist()))
    t_col = cols.t_update.reshape(n, 1)
    kin = _fixed_block(_LLA_TO_T, (cols.lla, cols.enu, cols.vel, cols.pos_sigma, t_col), n)
    # Sources: packed once per distinct row of the sources matrix.
    src = cols.sources
    if src.shape[1] <= 62:  # each row as one integer: unique over ints, not over byte rows
        code = src.astype(np.int64) @ (np.int64(1) << np.arange(src.shape[1], dtype=np.int64))
        _, first, inv = np.unique(code, return_index=True, return_inverse=True)
        uniq = src[first]
    else:
        uniq, inv = np.unique(src, axis=0, return_inverse=True)
    names = np.asarray(cols.source_names)
    packed_src = [_K_SOURCES + _pack(names[u].tolist()) for u in uniq]
    sources = list(map(packed_src.__getitem__, inv.reshape(-1).tolist()))
    if cols.probs is None:
        cls: list[bytes] = [_NEUTRAL] * n
        threat = [_THREAT_MAL[0]] * n
        reasons = [_NO_REASONS] * n
    else:
        assert cols.level is not None and cols.malicious is not None and cols.reasons is not None
        cls = _fixed_block((_K_CLASS + b"\x84" + _CLASS_KEYS[0], *_CLASS_KEYS[1:]),
                           tuple(cols.probs[:, j:j + 1] for j in range(len(CLASSES))), n)
        code = cols.level.astype(np.int64) * 2 + cols.malicious.astype(np.int64)
        # Threat, malicious and the reasons key from one table; the reasons quote each
        # track's speed and range, so nearly every track's differ: one C call each (msgpack
        # packs a tuple as an array).
        threat = list(map(_THREAT_MAL_REASONS.__getitem__, code.tolist()))
        reasons = list(map(_pack, cols.reasons))
    parts = [heads, ids, status, kin, sources, cls, threat, reasons]
    if cols.idents:
        tail = [b""] * n
        for r, ident in cols.idents.items():
            tail[r] = _K_IDENT + _pack(_ident_dict(ident))
        parts.append(tail)
    if cols.modes is not None:
        parts.append(_fixed_block((_key("modes") + b"\x83" + _MODE_KEYS[0], *_MODE_KEYS[1:]),
                                  tuple(cols.modes[:, j:j + 1] for j in range(len(MOTION_MODES))),
                                  n))
    return [b"".join(p) for p in zip(*parts, strict=True)]


def encode_track_columns(cols: TrackColumns, src: str, seq: int, t: float,
                         truncated: bool = False) -> bytes:
    """The msgpack payload of the ``tracks`` message of ``cols``: byte for byte
    ``encode(cols.to_message(src, seq, t, truncated))``, without a per-track object."""
    packer = msgpack.Packer(use_bin_type=True)
    head = [packer.pack_map_header(7 if truncated else 6)]
    for k, v in (("v", VERSION), ("type", "tracks"), ("src", src), ("seq", seq), ("t", t)):
        head += [_pack(k), _pack(v)]
    head += [_pack("tracks"), packer.pack_array_header(len(cols))]
    tail = [_pack("truncated"), _pack(True)] if truncated else []
    return b"".join([*head, *_track_payloads(cols), *tail]) if len(cols) else b"".join(
        [*head, *tail])
