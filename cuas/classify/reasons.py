"""The reasons an operator reads beside each track: short sentences, strongest first, one
column per kind of reason (deny list, spoofing, loitering, zones, approach, identity, RF, class,
motion), written in one vectorised pass with the texts cached by their rounded numbers.

Imports only ``cuas.classify`` siblings; :class:`~cuas.classify.classifier.Classifier` owns one
:class:`ReasonWriter` and keeps its identity ``labels`` up to date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from cuas.classify.features import Features
from cuas.classify.inputs import ICAO, IdentReports, RfReport
from cuas.classify.model import BIRD, CLUTTER, MANNED, UAV
from cuas.classify.spoofing import SpoofEvidence
from cuas.zones import Approach, SiteGeometry

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

#: Most reasons per track (the strongest first).
MAX_REASONS = 6
CLASS_WORDS = {UAV: "a drone", BIRD: "a bird", MANNED: "a manned aircraft", CLUTTER: "clutter"}
KIND_WORDS = {"no_fly": "no-fly zone", "perimeter": "perimeter", "crowd": "crowd area",
              "takeoff_exclusion": "take-off exclusion zone"}

(_DENY, _SPOOF, _SHADOW, _LOITER, _ZONE, _APPROACH, _ALLOW, _ADSB, _RID, _NO_RID, _RF, _CLASS,
 _MOTION, _JUMP, _TWO, _FROZEN, _LOCK, _FAST, _SENSED, _HELD, _SWITCH) = range(21)
_N_SLOTS = 21
#: What a Remote ID's authentication state adds to its sentence.
_AUTH_WORDS = {"present": " (signed)", "partial": " (partly signed)", "absent": " (unsigned)"}
#: A sustained hover is a reason from this many seconds (s).
HELD_REASON_S = 10.0
#: A track that dropped another object's evidence says so for this long (s).
SWITCH_REASON_S = 30.0




class ReasonWriter:
    """Writes every track's reasons for one site; caches texts across updates.

    ``rf_link_uav``: the drone term of an RF control link (its reason's weight scales with it).
    ``labels``: the allow/deny list label of each identity registry index (the classifier
    appends and rewrites them, calling :meth:`forget` for one whose label changed).
    """

    def __init__(self, geometry: SiteGeometry, rf_link_uav: float) -> None:
        self.geometry = geometry
        self.rf_link_uav = rf_link_uav
        self.labels: list[str] = []
        # Per zone, per identity, and formatted ones by their rounded numbers.
        self.zone_text = np.asarray(
            [f"inside the {nm} ({KIND_WORDS.get(k, 'zone')})" for nm, k in
             zip(geometry.zone_names, geometry.zone_kinds, strict=True)] or [""],
            dtype=object)
        self.id_cache: dict[tuple[str, int], str] = {}
        self.text_cache: dict[tuple[object, ...], str] = {}

    def forget(self, i: int) -> None:
        """Identity ``i`` changed (its value or list label): drop its cached sentences."""
        for what in ("deny", "allow", "adsb", "rid"):
            self.id_cache.pop((what, i), None)

    def write(self, n: int, probs: F64, kin: F64, f: Features, g: F64, inside: B,
              top_zone: I64, c_zone: F64, appr: Approach, c_appr: F64, loiter: B,
              loiter_s: F64, c_loiter: F64, no_rid: B, rid: B, icao: B, allow: B, deny: B,
              mismatch: B, miss_m: F64, miss_v: F64, rf_on: B, rf_last: RfReport | None,
              ident: I64, idents: IdentReports | None, shadow_of: I64, shadow_d: F64,
              ids: I64, allow_list: B, ev: SpoofEvidence | None = None,
              sensed: tuple[I64, list[str], F64] | None = None, held: F64 | None = None,
              auth: NDArray[np.object_] | None = None, switched_s: F64 | None = None
              ) -> tuple[tuple[str, ...], ...]:
        """Short sentences per track, strongest first.

        Each kind of reason is a column of a weight matrix (0 = absent) and of a text matrix;
        texts are gathered from per-zone, per-identity and per-percentage tables or formatted
        from rounded numbers through a cache, so the only per-track Python left is slicing the
        sorted row into a tuple.
        """
        W = np.zeros((n, _N_SLOTS))
        # None where a slot has no reason (its weight is 0, so it is never picked): an empty
        # object array is ten times cheaper to make than one filled with "".
        T = np.empty((n, _N_SLOTS), dtype=object)
        rows = np.arange(n)
        best = np.argmax(probs, axis=1)

        def put(slot: int, where: B, weight: F64 | float, texts: object) -> NDArray[np.int64]:
            idx = np.flatnonzero(where)
            if len(idx):
                W[idx, slot] = weight if np.isscalar(weight) else np.asarray(weight)[idx]
                T[idx, slot] = texts(idx) if callable(texts) else texts
            return idx

        put(_DENY, deny, 1.0, lambda idx: [self._id_text(idents, i, "deny") for i in
                                           ident[idx].tolist()])
        put(_SPOOF, mismatch, 0.9, lambda idx: [
            f"Remote ID position {m:.0f} m off the track: possible spoof" if m > 0 else
            f"Remote ID velocity {v:.0f} m/s off the track: possible spoof"
            for m, v in zip(miss_m[idx].tolist(), miss_v[idx].tolist(), strict=True)])
        if ev is not None:
            self._spoof_reasons(put, ev, ident, idents, ids)
        crowd_zone = np.argmax(inside & self.geometry.zone_crowd[None, :], axis=1) \
            if self.geometry.n_zones else np.zeros(n, dtype=np.int64)
        put(_LOITER, loiter, c_loiter + 0.01, lambda idx: [
            f"loitering over the {self.geometry.zone_names[z]} for {w:.0f} s"
            for z, w in zip(crowd_zone[idx].tolist(), loiter_s[idx].tolist(), strict=True)])
        put(_SHADOW, shadow_of >= 0, 0.92, lambda idx: [
            f"{d:.0f} m from track {ids[j]} ({self._friend_text(idents, int(ident[j]), allow_list)}): "
            "probably the same aircraft"
            for d, j in zip(shadow_d[idx].tolist(), shadow_of[idx].tolist(), strict=True)])
        put(_ZONE, c_zone > 0, c_zone, lambda idx: self.zone_text[top_zone[idx]])
        put(_APPROACH, c_appr > 0, c_appr, lambda idx: self._approach_texts(appr, idx))
        put(_ALLOW, allow & ~deny, 0.95, lambda idx: [self._id_text(idents, i, "allow") for i in
                                                      ident[idx].tolist()])
        put(_ADSB, icao, 0.8, lambda idx: [self._id_text(idents, i, "adsb") for i in
                                           ident[idx].tolist()])
        put(_RID, rid & ~allow & ~deny, 0.5, lambda idx: [
            self._id_text(idents, i, "rid") + _AUTH_WORDS.get(
                auth[k] if auth is not None else "", "")
            for i, k in zip(ident[idx].tolist(), idx.tolist(), strict=True)])
        if auth is not None:  # a signed broadcast that the sensors contradict says so
            put(_SPOOF, mismatch & (auth == "present"), 0.91, lambda idx: [
                f"signed Remote ID, but its position is {m:.0f} m off the track" if m > 0 else
                f"signed Remote ID, but its velocity is {v:.0f} m/s off the track"
                for m, v in zip(miss_m[idx].tolist(), miss_v[idx].tolist(), strict=True)])
        put(_NO_RID, no_rid & (g > 0), 0.45 * g + 0.05, "no Remote ID")
        if rf_last is not None:
            put(_RF, rf_on & (best == UAV), self.rf_link_uav * 0.4,
                f"{rf_last.describe()} control link active")
        if sensed is not None and len(sensed[0]):
            # A sensor's own classification, named ("cam-1: drone 0.93 over 14 looks").
            W[sensed[0], _SENSED] = 0.3 + 0.4 * sensed[2]
            T[sensed[0], _SENSED] = sensed[1]
        if held is not None:
            put(_HELD, held >= HELD_REASON_S, 0.55, lambda idx: self._cached(
                "held", "hovered {} s", np.rint(held[idx])))
        if switched_s is not None:  # seconds since the track dropped another object's evidence
            put(_SWITCH, switched_s <= SWITCH_REASON_S, 0.35, lambda idx: self._cached(
                "sw", "changed objects in a crowd {} s ago: older evidence dropped",
                np.rint(switched_s[idx])))
        pct = np.rint(probs[rows, best] * 100).astype(np.int64)
        W[:, _CLASS] = 0.3
        T[:, _CLASS] = _CLASS_TEXT[best, pct]
        self._motion(W, T, best, kin, f)

        order = np.argsort(-W, axis=1, kind="stable")[:, :MAX_REASONS]
        count = np.minimum((W > 0).sum(axis=1), MAX_REASONS)
        picked = np.take_along_axis(T, order, axis=1).tolist()
        return tuple(tuple(r[:c]) for r, c in zip(picked, count.tolist(), strict=True))

    def _spoof_reasons(self, put: Any, ev: SpoofEvidence, ident: I64,
                       idents: IdentReports | None, ids: I64) -> None:
        """Reasons of the Remote ID spoofing evidence (one slot each)."""
        def value(i: int) -> str:
            return idents.value[i] if idents is not None and 0 <= i < idents.n else "?"

        put(_JUMP, ev.jump, 0.89, lambda idx: [
            f"Remote ID position jumped at {v:.0f} m/s: possible spoof"
            for v in ev.jump_speed[idx].tolist()])
        put(_FAST, ev.fast, 0.89, lambda idx: [
            f"Remote ID claims {v:.0f} m/s, faster than any drone: possible spoof"
            for v in ev.fast_speed[idx].tolist()])
        put(_TWO, ev.two, 0.89, lambda idx: [
            f"Remote ID {value(i)} broadcast from two places {d:.0f} m apart: possible spoof"
            for i, d in zip(ident[idx].tolist(), ev.two_dist[idx].tolist(), strict=True)])
        put(_FROZEN, ev.frozen, 0.88, lambda idx: [
            f"signal strength frozen at {r:.0f} dBm while the claimed position moved {m:.0f} m: "
            "possible spoof"
            for r, m in zip(ev.frozen_rssi[idx].tolist(), ev.frozen_move[idx].tolist(),
                            strict=True)])
        put(_LOCK, ev.lock_of >= 0, 0.9, lambda idx: [
            (f"Remote ID position {d:.0f} m from track {ids[j]}, which other sensors see moving "
             "alike: possible spoof") if ident[k] >= 0 else
            (f"moves like Remote ID {value(int(ident[j]))} {d:.0f} m away (track {ids[j]}): "
             "possible spoofed position")
            for k, j, d in zip(idx.tolist(), ev.lock_of[idx].tolist(), ev.lock_d[idx].tolist(),
                               strict=True)])

    def _motion(self, W: F64, T: NDArray[np.object_], best: I64, kin: F64, f: Features) -> None:
        """The kinematic or track-quality phrase that goes with each track's best class."""
        clutter = best == CLUTTER
        short = clutter & (f.age < 5.0)
        patchy = clutter & ~short & (f.n_sources <= 1) & (f.hit_ratio < 0.7)
        W[short, _MOTION], T[short, _MOTION] = 0.2, "short-lived track"
        W[patchy, _MOTION] = 0.2
        T[patchy, _MOTION] = "single-sensor track, detected intermittently"
        rest = ~short & ~patchy
        hover = rest & (np.nan_to_num(f.hover_s) >= 3.0)
        moving = rest & ~hover & np.isfinite(f.speed)
        idx = np.flatnonzero(hover)
        if len(idx):
            W[idx, _MOTION] = 0.25
            T[idx, _MOTION] = self._cached("h", "hovering at {} m for {} s",
                                           np.rint(f.height[idx]), np.rint(f.hover_s[idx]))
        idx = np.flatnonzero(moving)
        if len(idx):
            support = np.abs(kin[idx, best[idx]])
            W[idx, _MOTION] = 0.2 * np.minimum(1.0, support + 0.2)
            T[idx, _MOTION] = self._cached("m", "{} m/s at {} m", np.rint(f.speed[idx]),
                                           np.rint(f.height[idx]))

    def _cached(self, tag: str, fmt: str, *values: F64) -> NDArray[np.object_]:
        """``fmt`` filled with each row of the whole numbers ``values`` (columns of equal
        length), one text per distinct row, each formatted once and kept in the text cache
        (many tracks share their rounded speed and height)."""
        # One int64 code per row (each of at most two values in 32 bits, offset to be
        # non-negative); values outside that range are formatted row by row.
        ints = [v.astype(np.int64) for v in values]
        if len(ints) > 2 or any(((v < -2**31) | (v >= 2**31)).any() for v in ints):
            return np.asarray([fmt.format(*row) for row in zip(
                *(v.tolist() for v in ints), strict=True)] + [None])[:-1]
        code = ints[0] + 2**31
        for v in ints[1:]:
            code = (code << 32) | (v + 2**31)
        uniq, inv = np.unique(code, return_inverse=True)
        first = np.zeros(len(uniq), dtype=np.int64)
        first[inv[::-1]] = np.arange(len(code) - 1, -1, -1)  # a row holding each code
        rows = [col[first].tolist() for col in ints]
        cache = self.text_cache
        if len(cache) > 100_000:  # bounded: rounded values repeat, but not forever
            cache.clear()
        out = np.empty(len(uniq), dtype=object)
        for k, row in enumerate(zip(*rows, strict=True)):
            key = (tag, *row)
            text = cache.get(key)
            if text is None:
                text = cache[key] = fmt.format(*row)
            out[k] = text
        return out[inv]

    def _friend_text(self, idents: IdentReports | None, i: int, allow_list: B) -> str:
        if idents is None or not 0 <= i < idents.n:
            return "friendly"
        if i < len(self.labels) and allow_list[i]:
            return self.labels[i]
        return "ADS-B aircraft" if idents.kind[i] == ICAO else "friendly"

    def _approach_texts(self, appr: Approach, idx: NDArray[np.int64]) -> list[str]:
        cache = self.text_cache
        names = self.geometry.asset_names
        a = appr.asset[idx].tolist()
        v = np.rint(appr.closing[idx]).astype(np.int64).tolist()
        s = np.rint(np.where(appr.tta[idx] > 0, appr.tta[idx], -1.0)).astype(np.int64).tolist()
        out = []
        for ai, vi, si in zip(a, v, s, strict=True):
            key = ("a", ai, vi, si)
            text = cache.get(key)
            if text is None:
                text = cache[key] = (f"over {names[ai]}" if si < 0 else
                                     f"closing at {vi} m/s, {si} s to {names[ai]}")
            out.append(text)
        return out

    def _id_text(self, idents: IdentReports | None, i: int, what: str) -> str:
        """An identity's sentence of kind ``what`` (deny, allow, adsb, rid), cached."""
        key = (what, i)
        text = self.id_cache.get(key)
        if text is not None:
            return text
        if idents is None or not 0 <= i < idents.n:
            return "identity"
        value = idents.value[i]
        named = f"ICAO {value}" if idents.kind[i] == ICAO else f"Remote ID {value}"
        if what == "deny":
            text = f"{named} on deny list: {self.labels[i]}"
        elif what == "allow":
            text = f"{named} on allow list: {self.labels[i]}"
        elif what == "adsb":
            cs = idents.callsign[i]
            text = f"ADS-B {f'{cs} ({value})' if cs else value}: manned aircraft"
        else:
            text = f"Remote ID {value}"
        if what != "adsb" or idents.callsign[i]:  # a callsign may still arrive
            self.id_cache[key] = text
        return text



_CLASS_TEXT = np.asarray([[f"likely {CLASS_WORDS[c]} ({p}%)" for p in range(101)]
                          for c in range(4)], dtype=object)
