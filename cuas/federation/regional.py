"""The regional picture: many sites' track snapshots in, one fused ``tracks`` snapshot out.

:class:`Regional` holds no sockets: it validates what a site sent (once, with
:mod:`cuas.wire`), drops and counts what is malformed, replayed or clock-skewed, and builds the
regional snapshot with the batched functions of :mod:`cuas.federation.fuse`. Regional track ids
persist: a cluster keeps the oldest regional id of its members, so a drone moving from one
site's cover into an overlap and out again keeps its number.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack
import numpy as np

from cuas import wire
from cuas.config import FederationConfig
from cuas.errors import DecodeError
from cuas.federation import fuse
from cuas.vocabulary import CLASSES, THREAT_LEVELS

log = logging.getLogger(__name__)

#: Preference among the statuses of a cluster's members.
_STATUS_RANK: Final = {"confirmed": 3, "coasting": 2, "tentative": 1, "deleted": 0}
#: Most alert ids remembered for de-duplication (JetStream redelivers unacked ones).
MAX_SEEN_ALERTS: Final = 100_000
#: Most sites held at once: a flood of invented site names must not grow memory forever.
MAX_SITES: Final = 10_000


@dataclass(slots=True)
class SiteState:
    """What the region knows of one site: its last snapshot and message times."""

    last_seq: int = -1
    last_t: float = 0.0
    tracks: wire.Tracks | None = None
    #: The newest snapshot's envelope and raw tracks, not validated yet (see ``accept``).
    pending: tuple[wire.Tracks, Any] | None = None
    status: wire.Status | None = None


@dataclass(slots=True)
class Regional:
    """Regional fusion state for ``[federation]``; ``counters`` counts every drop by reason."""

    cfg: FederationConfig
    counters: Counter[str] = field(default_factory=Counter)
    sites: dict[str, SiteState] = field(default_factory=dict)
    _ids: dict[tuple[str, int], int] = field(default_factory=dict)
    _next_id: int = 1
    _seq: int = 0
    _seen_alerts: OrderedDict[str, None] = field(default_factory=OrderedDict)

    @property
    def origin(self) -> tuple[float, float, float]:
        """The regional frame's origin (deg, deg, m)."""
        return (self.cfg.region_lat, self.cfg.region_lon, self.cfg.region_h)

    # ------------------------------------------------------------------ input

    def accept(self, site: str, kind: str, payload: bytes, now: float | None = None
               ) -> wire.Message | None:
        """Check one message from ``site`` on its ``kind`` subject; None (counted under
        ``dropped_<reason>``) when malformed, of the wrong type, replayed or clock-skewed.

        Alerts and heartbeats are validated whole here. Of a ``tracks`` snapshot only the
        envelope is (the returned message has no tracks): its tracks are validated when the
        next picture first uses them, so a snapshot superseded before then (a site faster than
        the regional rate, a backlog) costs an unpack, not a validation of every track.
        """
        now = time.time() if now is None else now
        body: Any = None
        try:
            if kind == "trk":
                doc = _unpack(payload)
                body = doc.get("tracks")
                msg = wire.from_dict({**doc, "tracks": []})
            else:
                msg = wire.decode(payload)
        except DecodeError as exc:
            self._drop(site, "malformed", str(exc))
            return None
        expected = {"trk": wire.Tracks, "alert": wire.Alert, "status": wire.Status}.get(kind)
        if expected is None or not isinstance(msg, expected):
            self._drop(site, "wrong_type", f"{msg.type} on {kind}")
            return None
        # Alerts come from a durable stream and may be late by a whole link outage: only a
        # time in the future marks a skewed clock. Snapshots and heartbeats are live.
        late_ok = kind == "alert"
        if msg.t - now > self.cfg.max_skew_s or (not late_ok and now - msg.t > self.cfg.max_skew_s):
            self._drop(site, "skewed", f"t={msg.t:.3f} is {msg.t - now:+.1f} s off")
            return None
        if kind == "alert":
            self.counters["accepted_alert"] += 1
            return msg  # alerts are de-duplicated by id (alert_once), not by seq order
        state = self.sites.get(site)
        if state is None:
            if len(self.sites) >= MAX_SITES:
                self._drop(site, "too_many_sites", "")
                return None
            state = self.sites[site] = SiteState()
        # A replay repeats an old seq with an old time; a restarted daemon starts seq again
        # but with a newer time, and is accepted.
        if msg.seq <= state.last_seq and msg.t <= state.last_t:
            self._drop(site, "replayed", f"seq {msg.seq} after {state.last_seq}")
            return None
        # Snapshots and heartbeats are latest values: one older than the newest accepted (a
        # late delivery, a clock stepped back within max_skew_s) must not replace it.
        if msg.t < state.last_t:
            self._drop(site, "out_of_order", f"t={msg.t:.3f} before {state.last_t:.3f}")
            return None
        state.last_seq, state.last_t = msg.seq, msg.t
        if isinstance(msg, wire.Tracks):
            state.tracks, state.pending = None, (msg, body)
        elif isinstance(msg, wire.Status):
            state.status = msg
        self.counters[f"accepted_{kind}"] += 1
        return msg

    def _snapshot(self, site: str, state: SiteState) -> wire.Tracks | None:
        """The site's newest snapshot with its tracks validated (once: the result is kept);
        None, counted as ``dropped_malformed_tracks``, when a track is not the contract."""
        if state.pending is not None:
            head, body = state.pending
            state.pending = None
            try:
                msg = wire.from_dict({**wire.to_dict(head), "tracks": body})
            except DecodeError as exc:
                self._drop(site, "malformed_tracks", str(exc))
                state.tracks = None
                return None
            assert isinstance(msg, wire.Tracks)
            state.tracks = msg
        return state.tracks

    def _drop(self, site: str, reason: str, detail: str) -> None:
        self.counters[f"dropped_{reason}"] += 1
        # The first few of each reason are logged; a flood must not flood the log too.
        if self.counters[f"dropped_{reason}"] <= 10 or log.isEnabledFor(logging.DEBUG):
            log.warning("dropped a message from site %.64r (%s): %.200s", site, reason, detail)

    def alert_once(self, msg_id: str) -> bool:
        """True the first time an alert id is seen (redeliveries and resends count as dups)."""
        if msg_id in self._seen_alerts:
            self.counters["duplicate_alerts"] += 1
            return False
        self._seen_alerts[msg_id] = None
        if len(self._seen_alerts) > MAX_SEEN_ALERTS:
            self._seen_alerts.popitem(last=False)
        return True

    def regional_alert(self, site: str, alert: wire.Alert, now: float) -> wire.Alert:
        """A site's alert re-issued by the region: regional track id where known, the site and
        its seq in the reasons (``from <site>#<seq>``), the zone as ``<site>/<zone>``."""
        self._seq += 1
        track = self._ids.get((site, alert.track_id), alert.track_id)
        zone = None if alert.zone is None else f"{site}/{alert.zone}"[:wire.MAX_STR]
        return wire.Alert(src=self.cfg.region, seq=self._seq, t=alert.t, track_id=track,
                          threat=alert.threat, previous=alert.previous,
                          reasons=(*alert.reasons, f"from {site}#{alert.seq}"), zone=zone)

    # ------------------------------------------------------------------ output

    def picture(self, now: float) -> wire.Tracks:
        """The regional snapshot at ``now`` (UTC s): fresh site tracks predicted to ``now``,
        brought into the regional frame, associated across sites and fused by CI."""
        rows: list[tuple[str, wire.Track, float]] = []
        for name, state in self.sites.items():
            if now - state.last_t > self.cfg.stale_s:
                continue
            snap = self._snapshot(name, state)
            if snap is None or now - snap.t > self.cfg.stale_s:
                continue
            rows.extend((name, tr, snap.t) for tr in snap.tracks if tr.status != "deleted")
        self._seq += 1
        if not rows:
            self._ids.clear()
            return wire.Tracks(src=self.cfg.region, seq=self._seq, t=now, tracks=())
        lla = np.asarray([tr.lla for _, tr, _ in rows], dtype=np.float64)
        vel = np.asarray([tr.vel for _, tr, _ in rows], dtype=np.float64)
        sig = np.asarray([tr.pos_sigma for _, tr, _ in rows], dtype=np.float64)
        dt = now - np.asarray([t for _, _, t in rows], dtype=np.float64)
        site_names = [s for s, _, _ in rows]
        site_idx = np.unique(np.asarray(site_names), return_inverse=True)[1].astype(np.int64)
        pos, vel_r, cov = fuse.to_regional(lla, vel, sig, self.origin)
        pos = pos + vel_r * dt[:, None]  # snapshots are at their own t: predict to now
        labels = fuse.associate(pos, cov, site_idx, self.cfg.gate_chi2)
        _, members, fpos, fvel, fcov = fuse.fuse_clusters(labels, pos, vel_r, cov)
        fused_lla = _enu_to_lla(fpos, self.origin).tolist()
        sigma = np.sqrt(np.clip(np.diagonal(fcov, axis1=1, axis2=2), 0.0, None)).tolist()
        ids = self._assign_ids(members, rows)
        fpos_l, fvel_l = fpos.tolist(), fvel.tolist()
        out = [_merged_track(ids[m], [rows[i] for i in idx.tolist()], fused_lla[m], fpos_l[m],
                             fvel_l[m], sigma[m]) for m, idx in enumerate(members)]
        out.sort(key=lambda tr: tr.id)
        return wire.Tracks(src=self.cfg.region, seq=self._seq, t=now, tracks=tuple(out))

    def _assign_ids(self, members: list[np.ndarray],
                    rows: list[tuple[str, wire.Track, float]]) -> list[int]:
        """Regional ids per cluster: the oldest id among its members' not already taken this
        round, else a new one; the map then holds exactly the members seen now."""
        ids: list[int] = []
        taken: set[int] = set()
        new_map: dict[tuple[str, int], int] = {}
        for idx in members:
            keys = [(rows[int(i)][0], rows[int(i)][1].id) for i in idx]
            known = sorted(self._ids[k] for k in keys if k in self._ids and self._ids[k] not in taken)
            if known:
                rid = known[0]
            else:
                rid = self._next_id
                self._next_id += 1
            taken.add(rid)
            ids.append(rid)
            for k in keys:
                new_map[k] = rid
        self._ids = new_map
        return ids


def _unpack(payload: bytes) -> dict[str, Any]:
    """The msgpack map of a payload, with the contract's size limit; raises DecodeError."""
    if len(payload) > wire.MAX_PAYLOAD_BYTES:
        raise DecodeError(f"payload of {len(payload)} bytes exceeds {wire.MAX_PAYLOAD_BYTES}")
    try:
        doc = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise DecodeError(f"not a msgpack map: {str(exc) or type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise DecodeError(f"expected a map, got {type(doc).__name__}")
    return doc


def _enu_to_lla(enu: np.ndarray, origin: tuple[float, float, float]) -> np.ndarray:
    import pymap3d

    lat, lon, h = pymap3d.enu2geodetic(enu[:, 0], enu[:, 1], enu[:, 2], *origin)
    return np.column_stack([lat, lon, h])


def _merged_track(rid: int, parts: list[tuple[str, wire.Track, float]], lla: list[float],
                  enu: list[float], vel: list[float], sigma: list[float]) -> wire.Track:
    """One regional track from its members: sources prefixed ``<site>/``, the highest threat
    and status, class probabilities averaged, the first identity found. (Plain Python: this
    runs once per regional track, where numpy's per-call overhead dominated.)"""
    tracks = [tr for _, tr, _ in parts]
    if len(tracks) == 1:
        only = tracks[0]
        probs = {c: only.class_probs.get(c, 0.0) for c in CLASSES}
    else:
        probs = {c: sum(tr.class_probs.get(c, 0.0) for tr in tracks) / len(tracks)
                 for c in CLASSES}
    sources: list[str] = []
    reasons: list[str] = []
    for site, tr, _ in parts:
        sources.extend(f"{site}/{s}"[:wire.MAX_STR] for s in tr.sources)
        reasons.extend(r for r in tr.reasons if r not in reasons)
    return wire.Track(
        id=rid,
        status=max((tr.status for tr in tracks), key=lambda s: _STATUS_RANK.get(s, 0)),
        lla=(lla[0], lla[1], lla[2]),
        enu=(enu[0], enu[1], enu[2]),
        vel=(vel[0], vel[1], vel[2]),
        pos_sigma=(sigma[0], sigma[1], sigma[2]),
        t_update=max(tr.t_update for tr in tracks),
        sources=tuple(sources),
        class_probs=probs,
        threat=max((tr.threat for tr in tracks), key=THREAT_LEVELS.index),
        malicious=any(tr.malicious for tr in tracks),
        reasons=tuple(reasons),
        ident=next((tr.ident for tr in tracks if tr.ident is not None), None),
    )
