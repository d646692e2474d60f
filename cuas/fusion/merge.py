"""Cooperative feeds' messages released together, fused as one tracker step.

ADS-B and Remote ID send one message per aircraft report, each with one detection; fused one
by one, every message pays a whole tracker step (predicting every track, gating, the life
cycle), so the cost grows with messages × tracks. Their reports are not scans: two reports
from one receiver a few milliseconds apart are of two aircraft, and belong in one look. So
the messages of one cooperative sensor that the reorder buffer releases together are fused
as one batch, when they lie within ``window_s`` of the first of them:

* the merged batch is at its last message's time ``t1`` (so a track's ``t_update`` is the
  stamp of the newest report it used); an earlier detection that reports its velocity is
  moved on to ``t1`` along it (``enu`` and ``lla``: by ``|v| (t1 - t)``, a few metres); one
  without keeps its point, off by at most the target's speed times ``window_s`` (25 m for an
  airliner at 0.1 s, inside ADS-B's own position accuracy; 3 m for a drone);
* one aircraft cannot be in two places in one look: a message repeating an identity the
  group already holds starts a new group;
* groups go out in the order of their times (a stable sort), so the tracker still sees time
  order, even when two receivers' messages, or a radar's scans, interleave with them.

Scanning and imaging sensors (radar, camera, RF, SAPIENT) are never merged: two of their
messages are two looks, and one target would show twice in one batch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Final

from cuas import wire
from cuas.fusion.measurements import MAX_SPEED_MS
from cuas.sensors import registry
from cuas.vocabulary import EARTH_RADIUS_M
from cuas.wire.arrays import ArrayDetections, n_detections

#: Most detections one merged batch gathers (a merged look stays a small step).
MAX_MERGED_DETECTIONS: Final = 2_000


def mergeable(kind: str) -> bool:
    """Whether ``kind``'s messages are reports of single aircraft (cooperative feeds)."""
    return registry.get(kind).cooperative


def _ident_keys(batch: wire.Detections) -> set[str]:
    if isinstance(batch, ArrayDetections):
        return set()  # the array path takes no identities
    return {k for d in batch.dets if d.ident is not None for k in d.ident.keys}


def _moved(det: wire.Detection, dt: float) -> wire.Detection:
    """``det`` moved by ``dt`` seconds along its reported velocity (unchanged without one,
    outside ``enu``/``lla``, or with a velocity the fusion would not trust)."""
    vel = det.vel
    if vel is None or dt == 0.0 or det.frame not in ("enu", "lla"):
        return det
    if math.hypot(*vel) > MAX_SPEED_MS:
        return det
    e, n, u = (v * dt for v in vel)
    z = det.z
    if det.frame == "enu":
        return dataclasses.replace(det, z=(z[0] + e, z[1] + n, z[2] + u))
    lat = z[0] + math.degrees(n / EARTH_RADIUS_M)
    if not -90.0 <= lat <= 90.0:  # within metres of a pole: leave the report as it is
        return det
    coslat = max(math.cos(math.radians(z[0])), 1e-6)
    lon = z[1] + math.degrees(e / (EARTH_RADIUS_M * coslat))
    if not -180.0 <= lon <= 180.0:
        lon = (lon + 180.0) % 360.0 - 180.0
    return dataclasses.replace(det, z=(lat, lon, z[2] + u))


def merged(parts: Sequence[wire.Detections]) -> wire.Detections:
    """One batch at the last part's time holding every part's detections, in order (see the
    module docstring); ``src``/``seq`` are the last part's."""
    last = parts[-1]
    if len(parts) == 1:
        return last
    dets: list[wire.Detection] = []
    for part in parts[:-1]:
        dt = last.t - part.t
        dets.extend(_moved(d, dt) for d in part.dets)
    dets.extend(last.dets)
    return wire.Detections(src=last.src, seq=last.seq, t=last.t, sensor=last.sensor,
                           kind=last.kind, dets=tuple(dets), origin=last.origin)


def merge_runs(batches: Sequence[wire.Detections], window_s: float
               ) -> list[tuple[wire.Detections, tuple[wire.Detections, ...]]]:
    """``batches`` (released in time order) as the batches to fuse, each with the messages it
    stands for, in time order. Nothing merges when ``window_s`` <= 0."""
    groups: list[list[wire.Detections]] = []
    keys: list[set[str]] = []
    sizes: list[int] = []
    open_: dict[tuple[str, str, tuple[float, float, float] | None], int] = {}
    for batch in batches:
        if window_s <= 0.0 or not mergeable(batch.kind):
            groups.append([batch])
            keys.append(set())
            sizes.append(n_detections(batch))
            continue
        feed = (batch.sensor, batch.kind, batch.origin)
        found = open_.get(feed)
        mine = _ident_keys(batch)
        if (found is not None and batch.t - groups[found][0].t <= window_s
                and not (mine & keys[found])
                and sizes[found] + n_detections(batch) <= MAX_MERGED_DETECTIONS):
            groups[found].append(batch)
            keys[found] |= mine
            sizes[found] += n_detections(batch)
            continue
        open_[feed] = len(groups)
        groups.append([batch])
        keys.append(mine)
        sizes.append(n_detections(batch))
    out = [(merged(g), tuple(g)) for g in groups]
    out.sort(key=lambda run: run[0].t)  # stable: equal times keep their arrival order
    return out
