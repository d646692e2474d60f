"""The classifier: class probabilities, threat level, ``malicious``, reasons and alerts for
every track of a snapshot, in one vectorised pass.

Per update: features (:mod:`.features`) -> evidence terms (:mod:`.model`, shapes from
``likelihoods.toml``) plus cooperative identity and RF terms -> probabilities; zones, assets,
allow and deny lists -> a threat score -> a level with hysteresis (:mod:`.threat`); then reason
sentences and alerts. State kept between updates (position history, levels, zones entered) is
struct-of-arrays keyed by track id and evicted when a track is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cuas.classify import threat
from cuas.classify.features import Features, History, features
from cuas.classify.inputs import ICAO, RID, IdentReports, RfReport
from cuas.classify.model import (
    BIRD,
    CLASSES,
    CLUTTER,
    MANNED,
    UAV,
    EvidenceModel,
    combine,
    load_model,
)
from cuas.classify.zones import Approach, SiteGeometry
from cuas.config import Config
from cuas.geo import SiteFrame

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
I8 = NDArray[np.int8]
B = NDArray[np.bool_]

#: Most reasons per track (the strongest first).
MAX_REASONS = 6
#: Loitering: a history of at least this long (s) within this radius (m), or this much hovering.
LOITER_MIN_S = 10.0
LOITER_RADIUS_M = 50.0
LOITER_HOVER_S = 5.0
#: Time-to-asset (s) -> threat score of an approach (scaled by how drone-like the track is).
TTA_S = np.asarray([0.0, 30.0, 60.0, 120.0, 300.0])
TTA_SCORE = np.asarray([0.85, 0.7, 0.5, 0.3, 0.0])
#: The drone probability at which threat terms start to count, and where they count fully.
G_LOW = 0.1
G_HIGH = 0.6
#: Most a track with a friendly (allow-listed, not spoofed) or ADS-B identity can score.
FRIENDLY_CAP = 0.3
DENY_SCORE = 0.95
NO_RID_BUMP = 0.1
RID_MISMATCH_BUMP = 0.15
#: A Remote ID report older than this (s) is not compared with its track.
RID_FRESH_S = 5.0

CLASS_WORDS = {UAV: "a drone", BIRD: "a bird", MANNED: "a manned aircraft", CLUTTER: "clutter"}
KIND_WORDS = {"no_fly": "no-fly zone", "perimeter": "perimeter", "crowd": "crowd area",
              "takeoff_exclusion": "take-off exclusion zone"}


@dataclass(frozen=True, slots=True)
class TrackInputs:
    """N tracks as the tracker holds them, states predicted to ``t`` (UTC s), site ENU."""

    t: float
    ids: I64  # (N,)
    x: F64  # (N, 6) [e, n, u, ve, vn, vu], m and m/s
    pos_sigma: F64  # (N, 3) m
    vel_sigma: F64  # (N, 3) m/s
    firm: B  # confirmed or coasting
    deleted: B  # reported for the last time
    t_birth: F64  # UTC s
    hit_ratio: F64  # 0..1
    n_sources: F64  # sensors that contributed
    ident: I64  # identity registry index, -1 = none


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """What the daemon publishes as an ``alert``."""

    track_id: int
    threat: str
    previous: str
    reasons: tuple[str, ...]
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    """One update's output, row-aligned with the inputs."""

    ids: I64
    probs: F64  # (N, 4) over CLASSES, rows sum to 1
    score: F64  # (N,) threat score 0..1
    level: I8  # (N,) index into THREAT_LEVELS
    malicious: B
    inside: B  # (N, Z) zones each track is in
    reasons: tuple[tuple[str, ...], ...]
    alerts: tuple[AlertEvent, ...] = ()
    features: Features | None = field(default=None, repr=False)

    def class_map(self, k: int) -> dict[str, float]:
        return dict(zip(CLASSES, self.probs[k].tolist(), strict=True))


class _Keyed:
    """Per-track state columns keyed by sorted track id, rebuilt for each snapshot's ids."""

    def __init__(self, **columns: tuple[np.dtype[np.generic] | type, float, tuple[int, ...]]
                 ) -> None:
        self.spec = columns
        self.ids = np.zeros(0, dtype=np.int64)
        self.cols = {k: np.full((0, *shape), fill, dtype=dt) for k, (dt, fill, shape) in
                     columns.items()}

    def gather(self, ids: I64) -> dict[str, NDArray[np.generic]]:
        n = len(ids)
        out = {k: np.full((n, *shape), fill, dtype=dt) for k, (dt, fill, shape) in
               self.spec.items()}
        if len(self.ids) and n:
            r = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
            found = self.ids[r] == ids
            for k in out:
                out[k][found] = self.cols[k][r[found]]
        return out

    def store(self, ids: I64, cols: dict[str, NDArray[np.generic]], keep: B) -> None:
        order = np.argsort(ids[keep], kind="stable")
        self.ids = ids[keep][order]
        self.cols = {k: v[keep][order] for k, v in cols.items()}


class Classifier:
    """Classification and threat for one site (see the module docstring)."""

    def __init__(self, config: Config, site: SiteFrame | None = None,
                 model: EvidenceModel | None = None) -> None:
        self.config = config
        self.cfg = config.classify
        self.site = site if site is not None else SiteFrame(config.site)
        self.model = model if model is not None else load_model()
        self.geometry = SiteGeometry(config, self.site)
        self.history = History()
        self._state = _Keyed(
            level=(np.int8, -1, ()), below=(np.float64, np.nan, ()),
            announced=(np.int8, 0, ()), zones_seen=(np.int64, 0, ()),
        )
        # Allow/deny per identity registry index, resolved once per identity.
        self._lists_n = 0
        self._allow = np.zeros(0, dtype=bool)
        self._deny = np.zeros(0, dtype=bool)
        self._label: list[str] = []
        # RF link activity, followed across updates.
        self._rf_seen_t = -np.inf
        self._rf_onset = -np.inf
        self._rf_last: RfReport | None = None

    # ------------------------------------------------------------------ identity lists

    def _lists(self, reports: IdentReports) -> None:
        """Resolve allow/deny for identities registered since the last update."""
        n = reports.n
        if n <= self._lists_n:
            return
        allow = np.zeros(n, dtype=bool)
        deny = np.zeros(n, dtype=bool)
        allow[: self._lists_n] = self._allow
        deny[: self._lists_n] = self._deny
        for i in range(self._lists_n, n):
            kind, value = int(reports.kind[i]), reports.value[i]
            lists = ("rid", self.config.allow.rid, self.config.deny.rid) if kind == RID else (
                "icao", self.config.allow.icao, self.config.deny.icao)
            label = ""
            if value in lists[2]:
                deny[i], label = True, lists[2][value]
            elif value in lists[1]:
                allow[i], label = True, lists[1][value]
            self._label.append(label)
        self._allow, self._deny, self._lists_n = allow, deny, n

    # ------------------------------------------------------------------ RF

    def _rf(self, t: float, rf: Sequence[RfReport]) -> tuple[bool, float, RfReport | None]:
        """(link active at t, onset time of the current activity, latest report)."""
        window = self.cfg.rf_window_s
        for rep in rf:
            if rep.t <= self._rf_seen_t or rep.t > t:
                continue
            if rep.t - self._rf_seen_t > window:
                self._rf_onset = rep.t
            self._rf_seen_t = rep.t
            self._rf_last = rep
        active = t - self._rf_seen_t <= window
        return active, self._rf_onset, self._rf_last if active else None

    # ------------------------------------------------------------------ update

    def classify(self, inp: TrackInputs, idents: IdentReports | None = None,
                 rf: Sequence[RfReport] = ()) -> Classification:
        """Classify all tracks of one snapshot. Deterministic in its inputs and past updates."""
        t, n = inp.t, len(inp.ids)
        keep = ~inp.deleted
        window = self.history.update(t, inp.ids, inp.x[:, :3], keep)
        f = features(t, inp.x, inp.pos_sigma, inp.vel_sigma, inp.t_birth, inp.hit_ratio,
                     inp.n_sources, window)
        m = self.model

        # Kinematic and quality terms.
        terms = np.zeros((n, 4))
        kin = np.zeros((n, 4))
        for name, curve in m.curves.items():
            v = getattr(f, name, None)
            if v is None:
                continue
            term = curve(v)
            terms += term
            if name in ("speed", "height", "climb", "turn_rate", "straightness", "hover_s"):
                kin += term

        # Cooperative identity.
        has_id = inp.ident >= 0
        kind = np.zeros(n, dtype=np.int8)
        allow = np.zeros(n, dtype=bool)
        deny = np.zeros(n, dtype=bool)
        mismatch = np.zeros(n, dtype=bool)
        miss_m = np.zeros(n)
        if idents is not None and has_id.any():
            self._lists(idents)
            idx = np.where(has_id, inp.ident, 0)
            ok = has_id & (idx < idents.n)
            kind[ok] = idents.kind[idx[ok]]
            allow[ok] = self._allow[idx[ok]]
            deny[ok] = self._deny[idx[ok]]
            # Remote ID: where the broadcast says the drone is, propagated to t, vs the track.
            age = t - idents.t[idx]
            rep_pos = idents.pos[idx] + np.nan_to_num(idents.vel[idx]) * np.clip(age, 0, None)[
                :, None]
            off = np.linalg.norm(rep_pos - inp.x[:, :3], axis=1)
            # Only a track that other sensors also see can disagree with its broadcast.
            judge = (ok & (kind == RID) & (inp.n_sources >= 2) & (age <= RID_FRESH_S)
                     & np.isfinite(off))
            mismatch = judge & (off > np.maximum(self.cfg.rid_mismatch_m,
                                                 3 * np.linalg.norm(inp.pos_sigma, axis=1)))
            miss_m = np.where(mismatch, off, 0.0)
        icao = kind == ICAO
        rid = kind == RID
        terms[icao] += m.adsb
        terms[rid] += m.remote_id

        # RF control link heard while the track is up.
        active, onset, last = self._rf(t, rf)
        rf_on = np.zeros(n, dtype=bool)
        if active:
            rf_on = inp.t_birth <= t  # every live track is up while the link is
            terms[rf_on] += m.rf_link
            near = rf_on & (np.abs(onset - inp.t_birth) <= m.rf_onset_s)
            terms[near] += m.rf_onset
            if last is not None and last.protocol and last.protocol.lower() in m.rf_protocols:
                terms[rf_on] += m.rf_protocol
        probs = combine(m.log_prior, terms)

        # Threat score.
        p_uav = probs[:, UAV]
        # How drone-like, as a weight on every threat term: 0 at p<=0.1, 1 at p>=0.6. Over a
        # crowd an even chance of a drone is already worth a flag; a likely bird is not.
        g = np.clip((p_uav - G_LOW) / (G_HIGH - G_LOW), 0.0, 1.0)
        geo = self.geometry
        inside = geo.inside(inp.x[:, :3])
        zone_lvl = np.where(inside, geo.zone_level[None, :], 0) if geo.n_zones else np.zeros(
            (n, 0), dtype=np.int8)
        top_zone = np.argmax(zone_lvl, axis=1) if geo.n_zones else np.zeros(n, dtype=np.int64)
        in_any = inside.any(axis=1)
        c_zone = np.where(in_any, threat.LEVEL_SCORE[zone_lvl.max(axis=1, initial=0)], 0.0) * g
        appr = geo.approach(inp.x[:, :3], inp.x[:, 3:])
        c_appr = np.where(np.isfinite(appr.tta), np.interp(appr.tta, TTA_S, TTA_SCORE), 0.0) * g
        over_crowd = (inside & geo.zone_crowd[None, :]).any(axis=1) if geo.n_zones else \
            np.zeros(n, dtype=bool)
        loiter = over_crowd & (f.window_s >= LOITER_MIN_S) & (
            (f.loiter_radius <= LOITER_RADIUS_M) | (f.hover_s >= LOITER_HOVER_S))
        c_loiter = np.where(loiter, threat.LEVEL_SCORE[threat.CRITICAL], 0.0) * g
        c_base = 0.3 * g
        score = np.maximum.reduce([c_base, c_zone, c_appr, c_loiter])
        no_rid = ~rid & ~icao
        score += np.where(no_rid & (score > 0), NO_RID_BUMP * g, 0.0)
        score += np.where(mismatch, RID_MISMATCH_BUMP, 0.0)
        friendly = (allow | icao) & ~deny & ~mismatch
        score = np.where(deny, np.maximum(score, DENY_SCORE), score)
        score = np.clip(np.where(friendly, np.minimum(score, FRIENDLY_CAP), score), 0.0, 1.0)

        # Levels with hysteresis; caps at once.
        st = self._state.gather(inp.ids)
        level, below = threat.hysteresis(t, score, st["level"].astype(np.int8),
                                         st["below"].astype(np.float64), self.cfg.hysteresis,
                                         self.cfg.hold_s)
        cap = np.where(friendly, threat.level_of(np.full(n, FRIENDLY_CAP)), threat.CRITICAL)
        level = np.minimum(level, cap).astype(np.int8)
        malicious = level >= threat.MALICIOUS_LEVEL

        reasons = self._reasons(
            n, probs, kin, f, g, inside, top_zone, c_zone, appr, c_appr, loiter, c_loiter,
            no_rid, rid, icao, allow, deny, mismatch, miss_m, rf_on, last, inp.ident, idents)

        # Alerts: a level rise (once per change) or a zone entered (once per zone per track),
        # for established tracks that are some threat at all.
        announced = st["announced"].astype(np.int8)
        zones_seen = st["zones_seen"].astype(np.int64)
        bits = (inside.astype(np.int64) << np.arange(geo.n_zones, dtype=np.int64)).sum(axis=1) \
            if geo.n_zones else np.zeros(n, dtype=np.int64)
        eligible = inp.firm & ~inp.deleted
        rise = eligible & (level > announced)
        entered = np.where(eligible & (level > threat.NONE), bits & ~zones_seen, 0)
        alerts: list[AlertEvent] = []
        for k in np.flatnonzero(rise | (entered != 0)).tolist():
            zone = None
            if entered[k]:
                new = [z for z in range(geo.n_zones) if entered[k] >> z & 1]
                zone = geo.zone_ids[max(new, key=lambda z: int(geo.zone_level[z]))]
            prev = int(announced[k]) if rise[k] else int(level[k])
            alerts.append(AlertEvent(int(inp.ids[k]), threat.name(int(level[k])),
                                     threat.name(prev), reasons[k], zone))
        announced = np.where(eligible, level, announced).astype(np.int8)
        zones_seen = np.where(eligible & (level > threat.NONE), zones_seen | bits, zones_seen)
        self._state.store(inp.ids, {"level": level, "below": below, "announced": announced,
                                    "zones_seen": zones_seen}, keep)
        return Classification(inp.ids, probs, score, level, malicious, inside, reasons,
                              tuple(alerts), f)

    # ------------------------------------------------------------------ reasons

    def _reasons(self, n: int, probs: F64, kin: F64, f: Features, g: F64, inside: B,
                 top_zone: I64, c_zone: F64, appr: Approach, c_appr: F64, loiter: B,
                 c_loiter: F64, no_rid: B, rid: B, icao: B, allow: B, deny: B, mismatch: B,
                 miss_m: F64, rf_on: B, rf_last: RfReport | None, ident: I64,
                 idents: IdentReports | None) -> tuple[tuple[str, ...], ...]:
        """Short sentences per track, strongest first. The only per-track Python loop: text
        cannot be vectorised, so every number it needs is computed above."""
        geo = self.geometry
        best = np.argmax(probs, axis=1)
        p_best = probs[np.arange(n), best]
        in_any: B = np.asarray(inside.any(axis=1))
        # The kinematic term that most supports each track's best class, as a short phrase.
        hover: NDArray[np.bool_] = np.asarray(np.nan_to_num(f.hover_s) >= 3.0)
        rf_text = f"{rf_last.describe()} control link active" if rf_last is not None else ""
        rf_w = float(self.model.rf_link[UAV]) * 0.4
        out: list[tuple[str, ...]] = []
        lists_label = self._label
        for k in range(n):
            items: list[tuple[float, str]] = []
            i = int(ident[k])
            if deny[k]:
                items.append((1.0, f"{self._ident_text(idents, i)} on deny list: "
                                   f"{lists_label[i]}"))
            if mismatch[k]:
                items.append((0.9, f"Remote ID position {miss_m[k]:.0f} m off the track: "
                                   "possible spoof"))
            if loiter[k]:
                items.append((c_loiter[k] + 0.01, f"loitering over the crowd for "
                                                  f"{f.window_s[k]:.0f} s"))
            if in_any[k]:
                z = int(top_zone[k])
                items.append((c_zone[k], f"inside the {geo.zone_names[z]} "
                                         f"({KIND_WORDS.get(geo.zone_kinds[z], 'zone')})"))
            if c_appr[k] > 0:
                a = geo.asset_names[int(appr.asset[k])]
                if appr.tta[k] <= 0:
                    items.append((c_appr[k], f"over {a}"))
                else:
                    items.append((c_appr[k], f"closing at {appr.closing[k]:.0f} m/s, "
                                             f"{appr.tta[k]:.0f} s to {a}"))
            if allow[k] and not deny[k]:
                items.append((0.95, f"{self._ident_text(idents, i)} on allow list: "
                                    f"{lists_label[i]}"))
            if icao[k]:
                items.append((0.8, f"ADS-B {self._ident_text(idents, i, bare=True)}: "
                                   "manned aircraft"))
            elif rid[k] and not allow[k] and not deny[k]:
                items.append((0.5, f"Remote ID {self._ident_text(idents, i, bare=True)}"))
            elif no_rid[k] and g[k] > 0:
                items.append((0.45 * g[k] + 0.05, "no Remote ID"))
            if rf_on[k] and rf_text and best[k] == UAV:
                items.append((rf_w, rf_text))
            items.append((0.3, f"likely {CLASS_WORDS[int(best[k])]} ({p_best[k]:.0%})"))
            items.append(self._motion_phrase(k, int(best[k]), kin, f, hover))
            items.sort(key=lambda it: -it[0])
            out.append(tuple(text for w, text in items[:MAX_REASONS] if text and w > 0))
        return tuple(out)

    @staticmethod
    def _motion_phrase(k: int, cls: int, kin: F64, f: Features, hover: NDArray[np.bool_]
                       ) -> tuple[float, str]:
        h = f.height[k]
        if cls == CLUTTER:
            if f.age[k] < 5.0:
                return 0.2, "short-lived track"
            if f.n_sources[k] <= 1 and f.hit_ratio[k] < 0.7:
                return 0.2, "single-sensor track, detected intermittently"
        if hover[k]:
            return 0.25, f"hovering at {h:.0f} m for {f.hover_s[k]:.0f} s"
        if np.isfinite(f.speed[k]):
            return 0.2 * min(1.0, abs(float(kin[k, cls])) + 0.2), \
                f"{f.speed[k]:.0f} m/s at {h:.0f} m"
        return 0.0, ""

    @staticmethod
    def _ident_text(idents: IdentReports | None, i: int, bare: bool = False) -> str:
        if idents is None or i < 0 or i >= idents.n:
            return "identity"
        value = idents.value[i]
        if idents.kind[i] == ICAO:
            cs = idents.callsign[i]
            return (f"{cs} ({value})" if cs else value) if bare else f"ICAO {value}"
        return value if bare else f"Remote ID {value}"
