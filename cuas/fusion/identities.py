"""Who the tracks are: fusion's identity registry.

A detection's identity (ICAO address, Remote ID serial, MAC stand-in, aliases) becomes an
integer index here; the tracker compares only those indices. The registry keeps what is known
of each identity (the merged :class:`~cuas.wire.Ident` that tracks export) and the reports the
classifier reads (:class:`~cuas.classify.inputs.IdentReports`: cooperative positions, Remote ID
spoofing evidence per transmitter and receiver).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from cuas import wire
from cuas.classify.inputs import ICAO, RID, IdentReports
from cuas.geo import SiteFrame
from cuas.tracking.measurements import MeasurementBatch

F64 = NDArray[np.float64]

#: Receiver positions kept (site ENU) at most: origins come from messages too.
MAX_RECEIVERS = 10_000


class IdentityKeys:
    """Identity keys (ICAO address, Remote ID, aliases) to registry indices: a union-find, so
    that folding two identities into one costs O(1)-ish (a parent link) however many keys
    either holds, instead of a scan of every key ever registered.

    Bounded: :meth:`evict` forgets the least recently heard identities (a whole merged family
    at a time: its keys, links and indices) and their indices are handed out again, so a
    sender inventing ids grows neither the key table nor the arrays indexed by identity.
    """

    def __init__(self) -> None:
        self._key: dict[str, int] = {}
        self._parent: dict[int, int] = {}  # merged-away index -> the index it joined
        # Root index -> the keys registered under its family, and the indices merged into it.
        self._members: dict[int, list[str]] = {}
        self._children: dict[int, list[int]] = {}
        # Roots, least recently heard first (dicts keep insertion order; a touch re-inserts).
        self._recency: dict[int, None] = {}
        self._free: list[int] = []
        self._next = 0

    def __len__(self) -> int:
        return len(self._key)

    def __contains__(self, key: str) -> bool:
        return key in self._key

    @property
    def n_indices(self) -> int:
        """Indices in use (roots and the indices merged into them)."""
        return len(self._recency) + len(self._parent)

    def find(self, index: int) -> int:
        """The index that identity ``index`` is now known by (itself unless merged)."""
        parent = self._parent
        root = index
        while root in parent:
            root = parent[root]
        while index != root:  # path compression: the next lookup is one step
            up = parent[index]
            parent[index] = root
            index = up
        return root

    def get(self, key: str) -> int | None:
        """The index of ``key``, None if never registered (or forgotten)."""
        found = self._key.get(key)
        return None if found is None else self.find(found)

    def index_of(self, idn: wire.Ident, merged: list[tuple[int, int]] | None = None) -> int:
        """The registry index of an identity: that of the first of its keys (its ICAO address
        or Remote ID, then its aliases) already known, else a new one; every key of it is
        registered to that index. So a drone first heard by its MAC and later by its serial
        (with the MAC as an alias), or over Wi-Fi and Bluetooth at once, is one identity. When
        the keys name two identities known apart until now, the others are folded into the
        first: each (old, new) pair is appended to ``merged``."""
        keys = idn.keys
        table = self._key
        found = [self.find(table[k]) for k in keys if k in table]
        if found:
            index = found[0]
        else:
            index = self._free.pop() if self._free else self._next
            self._next = max(self._next, index + 1)
            self._members[index] = []
            self._children[index] = []
        others = set(found) - {index}
        members, children = self._members[index], self._children[index]
        for other in sorted(others):
            self._parent[other] = index
            members.extend(self._members.pop(other))
            children.append(other)
            children.extend(self._children.pop(other))
            del self._recency[other]
        if merged is not None and others:
            merged.extend((o, index) for o in sorted(others))
        for k in keys:
            if k not in table:
                table[k] = index
                members.append(k)
        self._recency.pop(index, None)
        self._recency[index] = None  # now the most recently heard
        return index

    def evict(self, max_indices: int, in_use: NDArray[np.int64]) -> list[int]:
        """Forget the least recently heard identities until at most ``max_indices`` indices are
        in use (down to 90 % of it, so that eviction is not paid on every message), never one
        in ``in_use`` (held by a live track). Returns every index freed (roots and the indices
        merged into them); they will be handed out again."""
        if self.n_indices <= max_indices:
            return []
        target = max_indices * 9 // 10
        held = set(in_use[in_use >= 0].tolist())
        freed: list[int] = []
        for root in list(self._recency):
            if self.n_indices <= target:
                break
            if root in held:
                continue
            del self._recency[root]
            for k in self._members.pop(root):
                del self._key[k]
            family = self._children.pop(root)
            for child in family:
                del self._parent[child]
            freed.append(root)
            freed.extend(family)
        self._free.extend(freed)
        return freed


class IdentityRegistry:
    """Identity keys to indices, what is known of each index, and the classifier's reports."""

    def __init__(self, site: SiteFrame) -> None:
        self.site = site
        #: Every key (ICAO address, Remote ID, alias) to its identity's index.
        self.index = IdentityKeys()
        #: What is known of each identity, by index.
        self.info: dict[int, wire.Ident] = {}
        #: What the classifier reads about identities.
        self.reports = IdentReports()
        self._receivers: dict[tuple[float, float, float], F64] = {}

    def get(self, index: int) -> wire.Ident | None:
        """What is known of identity ``index`` (None for -1 or an unknown one)."""
        return self.info.get(index) if index >= 0 else None

    def remember(self, batch: wire.Detections, meas: MeasurementBatch,
                 origin: tuple[float, float, float] | None) -> None:
        """Record the identities a batch carried (already indexed in ``meas.ident``);
        ``origin`` is the configured position of the sensor (lat, lon, h) if any."""
        for j in np.flatnonzero(meas.ident >= 0):
            det = batch.dets[int(meas.source[j])]
            assert det.ident is not None
            key = int(meas.ident[j])
            prev = self.info.get(key)
            ident = det.ident
            if prev is not None:  # one message may carry the callsign, another the position
                ident = merge_idents(prev, ident)
            self.info[key] = ident
            if det.ident.icao is not None:
                self.reports.record(key, ICAO, det.ident.icao, ident.callsign, batch.t,
                                    meas.pos[j], meas.vel[j])
            elif ident.rid is not None:
                self.reports.record(key, RID, ident.rid, None, batch.t, meas.pos[j], meas.vel[j])
                self._judge_rid(batch, det, key, meas.pos[j], origin)

    def evict(self, max_indices: int, in_use: NDArray[np.int64]) -> int:
        """Forget the least recently heard identities beyond ``max_indices`` that no live
        track holds (``in_use``: the tracker's identity column); returns how many indices."""
        freed = self.index.evict(max_indices, in_use)
        for index in freed:
            self.info.pop(index, None)
        self.reports.forget(freed)
        return len(freed)

    def merge(self, merged: tuple[tuple[int, int], ...]) -> None:
        """Identities found to be one (``(old, new)`` indices): the new one knows both."""
        for old, new in merged:
            info_old = self.info.pop(old, None)
            info_new = self.info.get(new)
            if info_old is not None:
                self.info[new] = (info_old if info_new is None
                                  else merge_idents(info_old, info_new))

    def _judge_rid(self, batch: wire.Detections, det: wire.Detection, key: int, pos: F64,
                   origin: tuple[float, float, float] | None) -> None:
        """Spoofing evidence of one Remote ID report (jumps, two places at once, a frozen
        signal), judged per transmitter against the receiving sensor's position if known."""
        mac = det.attrs.get("mac")
        rssi = det.attrs.get("rssi_dbm")
        origin = batch.origin or origin
        receiver = None
        if origin is not None:
            receiver = self._receivers.get(origin)
            if receiver is None:
                receiver = self._receivers[origin] = self.site.lla_to_enu(np.asarray([origin]))[0]
                if len(self._receivers) > MAX_RECEIVERS:
                    self._receivers.clear()
        speed = math.hypot(det.vel[0], det.vel[1]) if det.vel is not None else None
        self.reports.record_rid(
            key, batch.t, pos, f"{batch.sensor}/{mac}" if isinstance(mac, str) else None,
            float(rssi) if isinstance(rssi, int | float) and not isinstance(rssi, bool) else None,
            receiver, speed)


def merge_idents(prev: wire.Ident, new: wire.Ident) -> wire.Ident:
    """What is known of one identity after a new report: the newest of each field, except that
    a serial (or other broadcast id) is never replaced by a bare ``mac:`` stand-in, and the
    aliases of both (at most :data:`wire.MAX_ALIASES`)."""
    rid = new.rid or prev.rid
    if new.rid is not None and new.rid.startswith("mac:") and prev.rid is not None \
            and not prev.rid.startswith("mac:"):
        rid = prev.rid
    aliases = tuple(a for a in dict.fromkeys((*prev.aliases, *new.aliases, *(
        [new.rid] if new.rid and new.rid != rid else []), *(
        [prev.rid] if prev.rid and prev.rid != rid else [])))
        if a != rid)[:wire.MAX_ALIASES]
    return wire.Ident(icao=new.icao or prev.icao, callsign=new.callsign or prev.callsign,
                      rid=rid, operator_lla=new.operator_lla or prev.operator_lla,
                      aliases=aliases)
