"""Read a recording (and a web-console audit log) into an :class:`~cuas.report.model.Incident`.

This is where recorded data enters a report, so it is validated here, once: a message that is
not msgpack, or a track, alert or acknowledgement whose fields have the wrong types or
non-finite numbers, is counted (``malformed``) and logged, never fatal. ``trk`` snapshots are
read with msgpack directly instead of :func:`cuas.wire.decode` (which checks much more than a
report needs and is the bulk of the time on long recordings); each track is thinned to one
point per ``step_s`` (plus every change of threat level, and its last point).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from cuas.config import Config
from cuas.geo import SiteFrame
from cuas.record.manifest import Verdict, verify
from cuas.record.recording import RecordingReader
from cuas.report.model import (
    AckRow,
    AlertRow,
    AuditCheck,
    Incident,
    SensorRow,
    TrackPath,
    ZoneShape,
    threat_rank,
)

__all__ = ["file_sha256", "load_incident", "read_audit_log"]

log = logging.getLogger(__name__)

#: Track states that make a track worth reporting (tentative ones are mostly clutter).
_REPORTED = frozenset({"confirmed", "coasting"})


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _num(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise ValueError(f"not a finite number: {x!r}")
    return float(x)


def _vec3(x: Any) -> tuple[float, float, float]:
    if not isinstance(x, list | tuple) or len(x) != 3:
        raise ValueError(f"not a 3-vector: {x!r}")
    return _num(x[0]), _num(x[1]), _num(x[2])


def _str(x: Any, default: str | None = None) -> str:
    if x is None and default is not None:
        return default
    if not isinstance(x, str):
        raise ValueError(f"not a string: {x!r}")
    return x


def _opt_str(x: Any) -> str | None:
    return None if x is None else _str(x)


def _int(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise ValueError(f"not an integer: {x!r}")
    return x


@dataclass
class _Acc:
    """A track being gathered from snapshots."""

    id: int
    step_s: float
    rows: list[tuple[float, float, float, float, float, float, float]] = field(default_factory=list)
    threats: list[str] = field(default_factory=list)
    last_kept: float = -math.inf
    last_threat: str | None = None
    pending: tuple[float, dict[str, Any]] | None = None
    sources: dict[str, list[float]] = field(default_factory=dict)
    label: str = "unknown"
    label_prob: float = -1.0
    max_threat: str = "none"
    reasons: tuple[str, ...] = ()
    rid: str | None = None
    icao: str | None = None
    callsign: str | None = None
    operators: list[tuple[float, float, float, float]] = field(default_factory=list)

    def add(self, t: float, d: dict[str, Any]) -> None:
        """Take one snapshot of the track: kept (and validated) when a step has passed or
        the threat level changed, else held as the possible last point."""
        threat = d.get("threat", "none")
        sources = d.get("sources") or ()
        if not isinstance(sources, list | tuple):
            raise ValueError("sources is not a list")
        for s in sources:
            span = self.sources.get(s)
            if span is None:
                self.sources[_str(s)] = [t, t]
            else:
                span[1] = t
        if t - self.last_kept >= self.step_s or threat != self.last_threat:
            self._keep(t, d)
            self.pending = None
        else:
            self.pending = (t, d)

    def _keep(self, t: float, d: dict[str, Any]) -> None:
        lla = _vec3(d["lla"])
        enu = _vec3(d["enu"])
        threat = _str(d.get("threat"), "none")
        probs = d.get("class") or {}
        if not isinstance(probs, dict):
            raise ValueError("class is not a map")
        self.rows.append((t, *lla, *enu))
        self.threats.append(threat)
        self.last_kept = t
        self.last_threat = threat
        if probs:
            best = max(probs, key=lambda k: _num(probs[k]))
            if _num(probs[best]) > self.label_prob:
                self.label, self.label_prob = _str(best), float(probs[best])
        if threat_rank(threat) > threat_rank(self.max_threat):
            self.max_threat = threat
        reasons = d.get("reasons") or ()
        if isinstance(reasons, list | tuple):
            self.reasons = tuple(_str(r) for r in reasons)
        ident = d.get("ident")
        if isinstance(ident, dict):
            self.rid = _opt_str(ident.get("rid")) or self.rid
            self.icao = _opt_str(ident.get("icao")) or self.icao
            self.callsign = _opt_str(ident.get("callsign")) or self.callsign
            op = ident.get("operator_lla")
            if op is not None:
                o = _vec3(op)
                if not self.operators or self.operators[-1][1:] != o:
                    self.operators.append((t, *o))

    def finish(self) -> TrackPath:
        if self.pending is not None:
            # A malformed last snapshot: the path ends at the last good point.
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self._keep(*self.pending)
        a = np.asarray(self.rows, dtype=np.float64).reshape(-1, 7)
        return TrackPath(
            id=self.id, t=a[:, 0].copy(), lla=a[:, 1:4].copy(), enu=a[:, 4:7].copy(),
            threat=tuple(self.threats), label=self.label, label_prob=max(self.label_prob, 0.0),
            max_threat=self.max_threat,
            sources={k: (v[0], v[1]) for k, v in sorted(self.sources.items())},
            reasons=self.reasons, rid=self.rid, icao=self.icao, callsign=self.callsign,
            operators=tuple(self.operators))


def _alert(d: dict[str, Any]) -> AlertRow:
    reasons = d.get("reasons") or ()
    if not isinstance(reasons, list | tuple):
        raise ValueError("reasons is not a list")
    alert_id = d.get("id")
    if alert_id is None:
        alert_id = f"{_str(d['src'])}:{_int(d['seq'])}"
    return AlertRow(t=_num(d["t"]), alert_id=_str(alert_id), track_id=_int(d["track_id"]),
                    threat=_str(d["threat"]), previous=_str(d.get("previous"), "none"),
                    reasons=tuple(_str(r) for r in reasons), zone=_opt_str(d.get("zone")))


def _ack(d: dict[str, Any], origin: str) -> AckRow:
    track = d.get("track_id")
    return AckRow(t=_num(d["t"]), user=_str(d["user"]), action=_str(d["action"]),
                  alert_id=_opt_str(d.get("alert_id")),
                  track_id=None if track is None else _int(track),
                  note=_str(d.get("note"), ""), role=_str(d.get("role"), ""), origin=origin)


def read_audit_log(path: str | os.PathLike[str]) -> tuple[AuditCheck, list[AckRow]]:
    """Check a web-console audit log's hash chain and take its acknowledgements.

    Each line is a JSON object whose ``prev`` is the SHA-256 (hex) of the previous line's bytes
    without the newline (``""`` on the first line). Entries after a break are still read (and
    marked by the check), since an incident report should show what the log says either way.
    """
    p = Path(path)
    acks: list[AckRow] = []
    prev = ""
    bad: int | None = None
    why = ""
    n = 0
    with open(p, "rb") as f:
        for n, raw in enumerate(f, start=1):
            line = raw.rstrip(b"\r\n")
            try:
                d = json.loads(line)
                if not isinstance(d, dict):
                    raise ValueError("not a JSON object")
                link = d.get("prev")
            except (ValueError, UnicodeDecodeError) as exc:
                d, link = None, None
                if bad is None:
                    bad, why = n, f"line {n} is not a JSON object ({exc})"
            if d is not None and link != prev and bad is None:
                bad, why = n, f"line {n}'s prev does not match line {n - 1}" if n > 1 else \
                    "line 1's prev is not empty"
            prev = hashlib.sha256(line).hexdigest()
            if d is not None and d.get("action") in ("acknowledged", "dismissed"):
                try:
                    acks.append(_ack(d, "audit log"))
                except (KeyError, ValueError) as exc:
                    log.warning("%s:%d: skipped a malformed entry: %s", p, n, exc)
    if bad is None:
        check = AuditCheck(p, n, True, f"{p.name}: {n} entries, hash chain intact")
    else:
        check = AuditCheck(p, n, False, f"{p.name}: hash chain BROKEN: {why}", bad_line=bad)
    return check, acks


def _zones(config: Config) -> tuple[ZoneShape, ...]:
    frame = SiteFrame(config.site)
    out = []
    for z in config.zones:
        if z.lla is not None:
            ring = tuple((float(a), float(b)) for a, b in z.lla)
        else:
            assert z.enu is not None
            enu = np.array([[e, n, 0.0] for e, n in z.enu], dtype=np.float64)
            lla = frame.enu_to_lla(enu)
            ring = tuple((float(r[0]), float(r[1])) for r in lla)
        out.append(ZoneShape(z.id, z.name, z.kind, z.level, ring, z.floor_m, z.ceiling_m))
    return tuple(out)


def load_incident(path: str | os.PathLike[str], config: Config, *,
                  t_from: float | None = None, t_to: float | None = None,
                  track_ids: Collection[int] | None = None, step_s: float = 1.0,
                  audit_log: str | os.PathLike[str] | None = None,
                  trusted_key: bytes | None = None, check_integrity: bool = True) -> Incident:
    """Read a recording into an incident for ``[t_from, t_to]`` (UTC s; None: unbounded).

    ``track_ids``: only these tracks (and their alerts and acknowledgements). ``step_s``: path
    thinning (s). ``audit_log``: the web console's audit log (JSON Lines). The recording's
    manifest is verified (``trusted_key``: the signer's public key) unless ``check_integrity``
    is False. Raises :class:`~cuas.errors.RecordingError` for a file that is not a recording.
    """
    if not step_s >= 0:
        raise ValueError(f"step_s must be >= 0 s, got {step_s}")
    p = Path(path)
    reader = RecordingReader(p)
    lo = -math.inf if t_from is None else t_from
    hi = math.inf if t_to is None else t_to
    wanted = None if track_ids is None else frozenset(track_ids)
    counters: Counter[str] = Counter()
    accs: dict[int, _Acc] = {}
    confirmed: set[int] = set()
    alerts: list[AlertRow] = []
    acks: list[AckRow] = []
    sensors: dict[str, list[float]] = {}
    t_min, t_max = math.inf, -math.inf
    for rec in reader:
        t = rec.publish_time_ns / 1e9
        if not lo <= t <= hi:
            continue
        t_min, t_max = min(t_min, t), max(t_max, t)
        topic = rec.topic
        if topic.startswith("det."):
            s = sensors.setdefault(topic[4:], [0, t, t])
            s[0] += 1
            s[2] = t
            continue
        if topic not in ("trk", "alert", "ack"):
            continue
        counters[f"{topic}_messages"] += 1
        try:
            d = msgpack.unpackb(rec.payload, raw=False, strict_map_key=False)
            if not isinstance(d, dict):
                raise ValueError("not a map")
            if topic == "trk":
                _take_tracks(d, accs, confirmed, wanted, step_s, counters)
            elif topic == "alert":
                a = _alert(d)
                if wanted is None or a.track_id in wanted:
                    alerts.append(a)
            else:
                k = _ack(d, "recording")
                if wanted is None or k.track_id is None or k.track_id in wanted:
                    acks.append(k)
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
            counters["malformed"] += 1
            if counters["malformed"] <= 10:
                log.warning("%s: skipped a malformed %s message: %s", p, topic, exc)
    counters["skipped_records"] += reader.skipped
    audit = None
    if audit_log is not None:
        audit, logged = read_audit_log(audit_log)
        acks.extend(a for a in logged if lo <= a.t <= hi
                    and (wanted is None or a.track_id is None or a.track_id in wanted))
    integrity: Verdict | None = verify(p, trusted_key=trusted_key) if check_integrity else None
    tracks = tuple(accs[i].finish() for i in sorted(accs) if i in confirmed and accs[i].rows)
    if not math.isfinite(t_min):
        t_min = t_max = lo if math.isfinite(lo) else 0.0
    return Incident(
        recording=p, sha256=file_sha256(p), size=p.stat().st_size, t_start=t_min, t_end=t_max,
        site=(config.site.lat, config.site.lon, config.site.h), site_name=config.site.name,
        tracks=tracks, alerts=tuple(sorted(alerts, key=lambda a: a.t)),
        acks=tuple(sorted(acks, key=lambda a: a.t)),
        sensors=tuple(SensorRow(k, int(v[0]), v[1], v[2]) for k, v in sorted(sensors.items())),
        zones=_zones(config), integrity=integrity, audit=audit, torn=reader.torn,
        counters=dict(counters))


def _take_tracks(d: dict[str, Any], accs: dict[int, _Acc], confirmed: set[int],
                 wanted: frozenset[int] | None, step_s: float, counters: Counter[str]) -> None:
    t = _num(d["t"])
    tracks = d["tracks"]
    if not isinstance(tracks, Iterable):
        raise ValueError("tracks is not a list")
    for tr in tracks:
        try:
            tid = _int(tr["id"])
            if wanted is not None and tid not in wanted:
                continue
            status = _str(tr["status"])
            if status not in _REPORTED:
                continue
            confirmed.add(tid)
            acc = accs.get(tid)
            if acc is None:
                acc = accs[tid] = _Acc(tid, step_s)
            acc.add(t, tr)
        except (ValueError, KeyError, TypeError) as exc:
            counters["malformed_tracks"] += 1
            if counters["malformed_tracks"] <= 10:
                log.warning("skipped a malformed track: %s", exc)
