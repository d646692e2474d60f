"""What the console knows, kept bounded: the live tracks in compact form, their trails, the
alert inbox, sensor and daemon health, and a 15-minute history for the look-back slider.

Browsers get one ``init`` message with all of it, then ``frame`` deltas: positions only of
tracks that moved, the slow fields (class, threat, reasons, identity) only when they change,
and the ids of tracks that ended. Positions are degrees (lon, lat), metres above the
ellipsoid; heading degrees from north; speeds m/s; times UTC s.
"""

from __future__ import annotations

import bisect
import collections
import json
import math
from dataclasses import dataclass, field
from typing import Any, Final

from cuas import wire
from cuas.vocabulary import CLASSES, THREAT_LEVELS

#: Alerts kept in the inbox (the oldest go first).
MAX_ALERTS: Final = 500
#: Bytes of history frames kept at most, whatever ``history_s`` says (memory stays bounded).
MAX_HISTORY_BYTES: Final = 96 << 20
#: Points of trail kept per track at most.
MAX_TRAIL_POINTS: Final = 600
#: A sensor unheard for this long (s) is degraded, and down after ``SENSOR_DOWN_S``.
SENSOR_DEGRADED_S: Final = 10.0
SENSOR_DOWN_S: Final = 60.0


def position(tr: wire.Track) -> list[Any]:
    """[id, lon, lat, h, heading, speed, climb, t_update]: rounded to ~0.1 m, 1 degree,
    0.1 m/s, 0.1 s (what a browser needs; a change below that is no change)."""
    ve, vn, vu = tr.vel
    speed = math.hypot(ve, vn)
    heading = round(math.degrees(math.atan2(ve, vn)) % 360.0) if speed > 0.2 else None
    return [tr.id, round(tr.lla[1], 6), round(tr.lla[0], 6), round(tr.lla[2], 1), heading,
            round(speed, 1), round(vu, 1), round(tr.t_update, 1)]


def meta(tr: wire.Track) -> dict[str, Any]:
    """The slow fields of a track: status, class probabilities (2 dp), threat, malice,
    reasons, sources and identity (with the Remote ID operator's position)."""
    out: dict[str, Any] = {
        "id": tr.id, "st": tr.status,
        "cls": {c: round(float(tr.class_probs.get(c, 0.0)), 2) for c in CLASSES},
        "thr": tr.threat, "mal": tr.malicious, "rs": list(tr.reasons), "src": list(tr.sources),
    }
    ident = tr.ident
    if ident is not None:
        idt: dict[str, Any] = {}
        for key in ("icao", "callsign", "rid"):
            value = getattr(ident, key)
            if value is not None:
                idt[key] = value
        if ident.operator_lla is not None:
            lat, lon, h = ident.operator_lla
            idt["op"] = [round(lon, 6), round(lat, 6), round(h, 1)]
        if ident.aliases:
            idt["al"] = list(ident.aliases)
        out["idt"] = idt
    return out


def past(tr: wire.Track) -> list[Any]:
    """A track in a history frame: [id, lon, lat, h, threat index, top class index, malicious]."""
    top = max(range(len(CLASSES)), key=lambda i: tr.class_probs.get(CLASSES[i], 0.0))
    level = THREAT_LEVELS.index(tr.threat) if tr.threat in THREAT_LEVELS else 0
    return [tr.id, round(tr.lla[1], 5), round(tr.lla[0], 5), round(tr.lla[2]), level, top,
            int(tr.malicious)]


@dataclass(slots=True)
class SensorHealth:
    """One sensor as the daemon last reported it."""

    last_seen: float
    received: int
    rate_hz: float = 0.0
    quarantined: bool = False


@dataclass(slots=True)
class Picture:
    """The console's bounded state, fed by the track stream (see the module docstring)."""

    trail_s: float = 60.0
    history_s: float = 900.0
    history_period_s: float = 1.0
    sensors_known: tuple[str, ...] = ()
    seq: int = -1
    t: float | None = None
    positions: dict[int, list[Any]] = field(default_factory=dict)
    metas: dict[int, dict[str, Any]] = field(default_factory=dict)
    trails: dict[int, collections.deque[list[float]]] = field(default_factory=dict)
    alerts: collections.OrderedDict[str, dict[str, Any]] = field(
        default_factory=collections.OrderedDict)
    sensors: dict[str, SensorHealth] = field(default_factory=dict)
    daemon: dict[str, Any] = field(default_factory=dict)
    history_t: list[float] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    history_bytes: int = 0
    truncated: bool = False

    # ------------------------------------------------------------------ tracks

    def apply(self, snap: wire.Tracks) -> dict[str, Any]:
        """Take a snapshot in; the ``frame`` delta from the previous picture."""
        moved: list[list[Any]] = []
        changed: list[dict[str, Any]] = []
        seen: set[int] = set()
        for tr in snap.tracks:
            seen.add(tr.id)
            pos = position(tr)
            if self.positions.get(tr.id) != pos:
                self.positions[tr.id] = pos
                moved.append(pos)
            m = meta(tr)
            if self.metas.get(tr.id) != m:
                self.metas[tr.id] = m
                changed.append(m)
            self._trail(tr.id, snap.t, pos)
        gone = [i for i in self.positions if i not in seen]
        for i in gone:
            del self.positions[i]
            self.metas.pop(i, None)
            self.trails.pop(i, None)
        self.seq, self.t, self.truncated = snap.seq, snap.t, snap.truncated
        self._keep_history(snap)
        return {"type": "frame", "seq": snap.seq, "t": snap.t, "p": moved, "m": changed,
                "gone": gone, "trunc": snap.truncated}

    def _trail(self, track_id: int, t: float, pos: list[Any]) -> None:
        trail = self.trails.get(track_id)
        if trail is None:
            trail = self.trails[track_id] = collections.deque(maxlen=MAX_TRAIL_POINTS)
        if not trail or t - trail[-1][0] >= 1.0 or t < trail[-1][0]:
            # [t, lon, lat, height, speed]: the trail and the drill-down's chart.
            trail.append([round(t, 1), pos[1], pos[2], pos[3], pos[5]])
        while trail and trail[0][0] < t - self.trail_s:
            trail.popleft()

    def _keep_history(self, snap: wire.Tracks) -> None:
        if self.history_t and snap.t < self.history_t[-1]:
            # Time went back (a replay restarted): the old history is of another time line.
            self.history_t.clear()
            self.history.clear()
            self.history_bytes = 0
        if self.history_t and snap.t - self.history_t[-1] < self.history_period_s:
            return
        frame = json.dumps([past(tr) for tr in snap.tracks], separators=(",", ":"))
        self.history_t.append(snap.t)
        self.history.append(frame)
        self.history_bytes += len(frame)
        while self.history_t and (self.history_t[0] < snap.t - self.history_s
                                  or self.history_bytes > MAX_HISTORY_BYTES):
            self.history_t.pop(0)
            self.history_bytes -= len(self.history.pop(0))

    def past_frame(self, t: float) -> dict[str, Any]:
        """The history frame at or just before ``t`` (the first one if ``t`` is older)."""
        if not self.history_t:
            return {"type": "past", "t": None, "tracks": []}
        i = max(0, bisect.bisect_right(self.history_t, t) - 1)
        return {"type": "past", "t": self.history_t[i], "tracks": json.loads(self.history[i])}

    # ------------------------------------------------------------------ alerts

    def add_alert(self, alert: wire.Alert) -> dict[str, Any]:
        """Put an alert in the inbox; the ``alert`` message for browsers."""
        aid = alert.alert_id
        entry = self.alerts.get(aid)
        if entry is None:
            entry = {"id": aid, "t": alert.t, "track_id": alert.track_id, "threat": alert.threat,
                     "previous": alert.previous, "reasons": list(alert.reasons),
                     "zone": alert.zone, "state": "open", "by": None, "note": "", "at": None,
                     "mal": bool(self.metas.get(alert.track_id, {}).get("mal", False))}
            self.alerts[aid] = entry
            while len(self.alerts) > MAX_ALERTS:
                self.alerts.popitem(last=False)
        return {"type": "alert", "alert": entry}

    def settle(self, aid: str, action: str, user: str, note: str, t: float
               ) -> dict[str, Any] | None:
        """Mark an alert acknowledged or dismissed; the ``alert`` message, or None when the
        inbox does not hold it."""
        entry = self.alerts.get(aid)
        if entry is None:
            return None
        entry.update(state=action, by=user, note=note, at=t)
        return {"type": "alert", "alert": entry}

    # ------------------------------------------------------------------ health

    def status(self, msg: wire.Status) -> dict[str, Any]:
        """Take a daemon heartbeat in; the ``health`` message."""
        c = msg.counters
        previous_t = self.daemon.get("t")
        dt = msg.t - previous_t if isinstance(previous_t, float) else 0.0
        for sensor, seen in msg.last_seen.items():
            received = int(c.get(f"sensor.{sensor}.received", 0))
            old = self.sensors.get(sensor)
            rate = 0.0
            if old is not None and dt > 0:
                rate = max(0.0, (received - old.received) / dt)
            elif old is not None:
                rate = old.rate_hz
            self.sensors[sensor] = SensorHealth(seen, received, rate,
                                                bool(c.get(f"sensor.{sensor}.quarantined", 0)))
        keys = ("received", "batches_fused", "dropped_malformed", "dropped_overflow",
                "dropped_late", "alerts", "tracks", "queue_depth", "auth_rejected",
                "published_tracks")
        self.daemon = {"src": msg.src, "state": msg.state, "t": msg.t, "uptime_s": msg.uptime_s,
                       "counters": {k: int(c[k]) for k in keys if k in c}}
        return self.health()

    def health(self) -> dict[str, Any]:
        """The ``health`` message: the daemon's state and counters, each sensor's state."""
        now = self.daemon.get("t")
        sensors = []
        for name in sorted(set(self.sensors) | set(self.sensors_known)):
            h = self.sensors.get(name)
            if h is None or not isinstance(now, float):
                sensors.append({"id": name, "state": "down", "last_seen": None, "age_s": None,
                                "rate_hz": 0.0})
                continue
            age = max(0.0, now - h.last_seen)
            state = ("down" if age > SENSOR_DOWN_S else
                     "degraded" if age > SENSOR_DEGRADED_S or h.quarantined else "ok")
            sensors.append({"id": name, "state": state, "last_seen": h.last_seen,
                            "age_s": round(age, 1), "rate_hz": round(h.rate_hz, 2)})
        return {"type": "health", "daemon": self.daemon, "sensors": sensors}

    # ------------------------------------------------------------------ everything

    def init(self) -> dict[str, Any]:
        """The ``init`` message: the whole picture for a browser that just connected."""
        return {"type": "init", "seq": self.seq, "t": self.t,
                "p": list(self.positions.values()), "m": list(self.metas.values()),
                "trails": {str(i): list(tr) for i, tr in self.trails.items()},
                "alerts": list(self.alerts.values()), "health": self.health(),
                "history": [self.history_t[0], self.history_t[-1]] if self.history_t else None,
                "trail_s": self.trail_s, "trunc": self.truncated}
