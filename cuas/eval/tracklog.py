"""The tracker's output as scoring needs it: a struct-of-arrays log of ``tracks`` snapshots,
built from messages in memory or read from a JSON Lines tracks file (line and key named on error).

Units: times seconds UTC, ``enu`` metres at the tracker's site, ``lla`` WGS-84 deg/deg/m.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from cuas import vocabulary, wire
from cuas.errors import DecodeError, EvaluationError, TracksFormatError
from cuas.eval.truth import FloatArray, IntArray, StrPath, json_line, readonly

# --------------------------------------------------------------------------- tracks


#: Status and threat names by code: the codes a :class:`TrackLog` stores.
STATUS_CODE: Final[Mapping[str, int]] = {s: i for i, s in enumerate(vocabulary.TRACK_STATUSES)}
_THREAT_CODE: Final[Mapping[str, int]] = {s: i for i, s in enumerate(vocabulary.THREAT_LEVELS)}


@dataclass(frozen=True, eq=False)
class TrackLog:
    """The tracker's output as scoring needs it, struct-of-arrays (read-only).

    Snapshot ``i`` at time ``t[i]`` (UTC s) holds rows ``offsets[i]:offsets[i+1]`` of ``ids``,
    ``status`` (index into :data:`cuas.vocabulary.TRACK_STATUSES`), ``enu`` (N, 3) m, ``lla``
    (N, 3) deg/deg/m, ``threat`` (index into :data:`cuas.vocabulary.THREAT_LEVELS`) and the
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
        names = [vocabulary.TRACK_STATUSES[s] for s in self.status[a:b]]
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
            self.status.append(STATUS_CODE[tr.status])
            self.enu.append(tr.enu)
            self.lla.append(tr.lla)
            self.threat.append(_THREAT_CODE.get(tr.threat, 0))
            self.malicious.append(tr.malicious)
        self.offsets.append(len(self.ids))

    def build(self, torn_tail: str | None = None) -> TrackLog:
        return TrackLog(
            t=readonly(np.array(self.t, dtype=np.float64)),
            offsets=readonly(np.array(self.offsets, dtype=np.int64)),
            ids=readonly(np.array(self.ids, dtype=np.int64)),
            status=readonly(np.array(self.status, dtype=np.int8)),
            enu=readonly(np.array(self.enu, dtype=np.float64).reshape(-1, 3)),
            lla=readonly(np.array(self.lla, dtype=np.float64).reshape(-1, 3)),
            threat=readonly(np.array(self.threat, dtype=np.int8)),
            malicious=readonly(np.array(self.malicious, dtype=np.bool_)),
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
                obj = json_line(raw)
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


