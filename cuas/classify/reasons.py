"""The reasons an operator reads beside each track: short sentences, strongest first, one
column per kind of reason (deny list, spoofing, loitering, zones, approach, identity, RF, class,
motion), written in one vectorised pass with the texts cached by their rounded numbers.

Texts are interned: every distinct sentence has an integer code, the columns hold codes, the
ordering is a compiled pass over the weights (:func:`cuas.classify.kernels.order_reasons`) and a
track whose chosen codes are those of its previous update keeps its previous tuple, so strings
are only touched where a reason changed.

Imports only ``cuas.classify`` siblings; :class:`~cuas.classify.classifier.Classifier` owns one
:class:`ReasonWriter` and keeps its identity ``labels`` up to date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from cuas.classify.features import Features
from cuas.classify.inputs import ICAO, IdentReports, RfReport
from cuas.classify.model import BIRD, CLUTTER, MANNED, UAV, kernels
from cuas.classify.spoofing import SpoofEvidence
from cuas.zones import Approach, SiteGeometry

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
I32 = NDArray[np.int32]
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
#: Most distinct sentences interned before the tables start afresh (rounded values repeat,
#: but not forever).
MAX_TEXTS = 200_000




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
        self.id_cache: dict[tuple[str, int], str] = {}
        self._start_tables()

    def _start_tables(self) -> None:
        """Empty text tables (code 0: no reason) with the fixed sentences interned."""
        self.texts: list[str | None] = [None]
        # The same as an object array (grown by doubling) for gathering by code.
        self.text_arr = np.empty(1024, dtype=object)
        self.n_arr = 0
        self.code_of: dict[str, int] = {}
        #: Formatted sentences' codes: per tag, by their rounded numbers packed in one int.
        self.text_cache: dict[str, dict[int, int]] = {}
        self.approach_cache: dict[tuple[int, int, int], int] = {}
        g = self.geometry
        self.zone_code = self._intern(
            [f"inside the {nm} ({KIND_WORDS.get(k, 'zone')})" for nm, k in
             zip(g.zone_names, g.zone_kinds, strict=True)] or [""])
        self.class_code = self._intern(_CLASS_TEXT.ravel().tolist()).reshape(_CLASS_TEXT.shape)
        # The previous update's chosen codes (N, MAX_REASONS) and tuples, by sorted track id.
        self.prev_ids = np.zeros(0, dtype=np.int64)
        self.prev_codes = np.zeros((0, MAX_REASONS), dtype=np.int32)
        self.prev_out = np.empty(0, dtype=object)

    def _code(self, text: str) -> int:
        code = self.code_of.get(text)
        if code is None:
            code = self.code_of[text] = len(self.texts)
            self.texts.append(text)
        return code

    def _intern(self, texts: Any) -> I32:
        """The codes of ``texts`` (a sequence of str), new ones added."""
        get, code = self.code_of.get, self._code
        return np.asarray([c if (c := get(s)) is not None else code(s) for s in texts],
                          dtype=np.int32)

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
        if len(self.texts) > MAX_TEXTS:
            self._start_tables()
        W = np.zeros((n, _N_SLOTS))
        # Text codes (0 where a slot has no reason: its weight is 0, so it is never picked).
        T = np.zeros((n, _N_SLOTS), dtype=np.int32)
        rows = np.arange(n)
        best = np.argmax(probs, axis=1)

        def put(slot: int, where: B, weight: F64 | float, texts: object) -> NDArray[np.int64]:
            idx = np.flatnonzero(where)
            if len(idx):
                W[idx, slot] = weight if np.isscalar(weight) else np.asarray(weight)[idx]
                if isinstance(texts, str):
                    T[idx, slot] = self._code(texts)
                else:
                    got = texts(idx) if callable(texts) else texts
                    T[idx, slot] = got if isinstance(got, np.ndarray) and got.dtype == np.int32 \
                        else self._intern(got)
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
        put(_ZONE, c_zone > 0, c_zone, lambda idx: self.zone_code[top_zone[idx]])
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
            T[sensed[0], _SENSED] = self._intern(sensed[1])
        if held is not None:
            put(_HELD, held >= HELD_REASON_S, 0.55, lambda idx: self._cached(
                "held", "hovered {} s", np.rint(held[idx])))
        if switched_s is not None:  # seconds since the track dropped another object's evidence
            put(_SWITCH, switched_s <= SWITCH_REASON_S, 0.35, lambda idx: self._cached(
                "sw", "changed objects in a crowd {} s ago: older evidence dropped",
                np.rint(switched_s[idx])))
        pct = np.rint(probs[rows, best] * 100).astype(np.int64)
        W[:, _CLASS] = 0.3
        T[:, _CLASS] = self.class_code[best, pct]
        self._motion(W, T, best, kin, f)
        return self._assemble(ids, W, T)

    def _assemble(self, ids: I64, W: F64, T: I32) -> tuple[tuple[str, ...], ...]:
        """Each row's texts by descending weight (ties in slot order), at most MAX_REASONS;
        a track whose codes are those of its previous update keeps its previous tuple."""
        n = len(W)
        kern = kernels()
        if kern is not None:
            order = np.zeros((n, MAX_REASONS), dtype=np.int64)
            count = np.zeros(n, dtype=np.int64)
            kern.order_reasons(W, MAX_REASONS, order, count)
        else:  # the oracle: a stable argsort of the negated weights
            order = np.argsort(-W, axis=1, kind="stable")[:, :MAX_REASONS]
            count = np.minimum((W > 0).sum(axis=1), MAX_REASONS)
        codes = np.take_along_axis(T, order, axis=1)
        codes[np.arange(MAX_REASONS)[None, :] >= count[:, None]] = 0
        prev = self.prev_ids
        out = np.empty(n, dtype=object)
        if len(prev) == n and np.array_equal(prev, ids):  # the usual case: the same tracks
            same = (codes == self.prev_codes).all(axis=1)
            out[same] = self.prev_out[same]
        elif len(prev) and n:
            r = np.minimum(np.searchsorted(prev, ids), len(prev) - 1)
            same = (prev[r] == ids) & (codes == self.prev_codes[r]).all(axis=1)
            out[same] = self.prev_out[r[same]]
        else:
            same = np.zeros(n, dtype=bool)
        texts = self._text_array()
        # Rows grouped by how many reasons they have: one gather and one tuple per row, in C.
        changed_count = np.where(same, -1, count)
        for c in range(MAX_REASONS + 1):
            rows = np.flatnonzero(changed_count == c)
            if len(rows):
                out[rows] = np.fromiter(map(tuple, texts[codes[rows, :c]].tolist()),
                                        dtype=object, count=len(rows))
        if len(ids) < 2 or bool((ids[1:] > ids[:-1]).all()):
            self.prev_ids, self.prev_codes, self.prev_out = ids.copy(), codes, out
        else:
            o = np.argsort(ids, kind="stable")
            self.prev_ids, self.prev_codes, self.prev_out = ids[o], codes[o], out[o]
        return tuple(out.tolist())

    def _text_array(self) -> NDArray[np.object_]:
        """The interned texts as an object array indexed by code."""
        n = len(self.texts)
        if n > len(self.text_arr):
            grown = np.empty(max(n, 2 * len(self.text_arr)), dtype=object)
            grown[: self.n_arr] = self.text_arr[: self.n_arr]
            self.text_arr = grown
        if n > self.n_arr:
            new = np.empty(n - self.n_arr, dtype=object)
            new[:] = self.texts[self.n_arr:]
            self.text_arr[self.n_arr: n] = new
            self.n_arr = n
        return self.text_arr

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

    def _motion(self, W: F64, T: I32, best: I64, kin: F64, f: Features) -> None:
        """The kinematic or track-quality phrase that goes with each track's best class."""
        clutter = best == CLUTTER
        short = clutter & (f.age < 5.0)
        patchy = clutter & ~short & (f.n_sources <= 1) & (f.hit_ratio < 0.7)
        W[short, _MOTION], T[short, _MOTION] = 0.2, self._code("short-lived track")
        W[patchy, _MOTION] = 0.2
        T[patchy, _MOTION] = self._code("single-sensor track, detected intermittently")
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

    def _cached(self, tag: str, fmt: str, *values: F64) -> I32:
        """The codes of ``fmt`` filled with each row of the whole numbers ``values`` (columns
        of equal length), one text per distinct row, each formatted once and kept in the text
        cache (many tracks share their rounded speed and height)."""
        # One int64 code per row (each of at most two values in 32 bits, offset to be
        # non-negative); values outside that range are formatted row by row.
        ints = [v.astype(np.int64) for v in values]
        if len(ints) > 2 or any(((v < -2**31) | (v >= 2**31)).any() for v in ints):
            return self._intern([fmt.format(*row) for row in zip(
                *(v.tolist() for v in ints), strict=True)])
        key = ints[0] + 2**31
        for v in ints[1:]:
            key = (key << 32) | (v + 2**31)
        # One dict look-up per row: cheaper than finding the distinct rows first.
        cache = self.text_cache.setdefault(tag, {})
        get = cache.get
        keys = key.tolist()
        out = [get(k, -1) for k in keys]
        if -1 in out:
            for r, k in enumerate(keys):
                if out[r] < 0:
                    got = get(k)
                    if got is None:
                        got = cache[k] = self._code(fmt.format(*(int(v[r]) for v in ints)))
                    out[r] = got
        return np.asarray(out, dtype=np.int32)

    def _friend_text(self, idents: IdentReports | None, i: int, allow_list: B) -> str:
        if idents is None or not 0 <= i < idents.n:
            return "friendly"
        if i < len(self.labels) and allow_list[i]:
            return self.labels[i]
        return "ADS-B aircraft" if idents.kind[i] == ICAO else "friendly"

    def _approach_texts(self, appr: Approach, idx: NDArray[np.int64]) -> I32:
        cache = self.approach_cache
        names = self.geometry.asset_names
        a = appr.asset[idx].tolist()
        v = np.rint(appr.closing[idx]).astype(np.int64).tolist()
        s = np.rint(np.where(appr.tta[idx] > 0, appr.tta[idx], -1.0)).astype(np.int64).tolist()
        out = []
        for ai, vi, si in zip(a, v, s, strict=True):
            key = (ai, vi, si)
            code = cache.get(key)
            if code is None:
                code = cache[key] = self._code(f"over {names[ai]}" if si < 0 else
                                               f"closing at {vi} m/s, {si} s to {names[ai]}")
            out.append(code)
        return np.asarray(out, dtype=np.int32)

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
