"""The alert policy: which threat changes of which tracks reach an operator as an ``alert``.

Operators stop reading a screen that alerts on every gull, so by default (``[alerts]``,
:class:`~cuas.config.alerts.AlertPolicyConfig`) only these alert:

- a level rise to ``min_level`` (``high``) or above, once per change: the level announced is
  remembered, and it follows the level down, so falling and rising again is a new change;
- a likely drone (more probable than every other class) entering a zone it has not been in,
  at once (each zone once per track, so these are bounded);

never a friendly (allow-listed, ADS-B, not spoofed) track, never a tentative or deleted one,
and never two level-rise alerts of one track within ``rate_limit_s``: a change held back is
sent when the time is up if the track still stands there. Every alert has an id (track, count, time)
that a console can acknowledge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cuas.classify import threat
from cuas.config.alerts import AlertPolicyConfig
from cuas.vocabulary import THREAT_LEVELS

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
I8 = NDArray[np.int8]
B = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """What the daemon publishes as an ``alert``; ``id`` is unique per track and alert (the
    exporter prefixes the daemon id)."""

    track_id: int
    threat: str
    previous: str
    reasons: tuple[str, ...]
    zone: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    """Per-track alert memory (N,): the level last announced, the zones already entered (a
    bit mask), when the last alert went (UTC s, -inf never) and how many went."""

    announced: I8
    zones_seen: I64
    last_t: F64
    count: I64


def decide(t: float, ids: I64, level: I8, previous: I8, eligible: B, likely_drone: B, bits: I64,
           zone_ids: tuple[str, ...], zone_level: I8, reasons: tuple[tuple[str, ...], ...],
           st: AlertState, policy: AlertPolicyConfig) -> tuple[list[AlertEvent], AlertState]:
    """This update's alerts and the next alert state, for tracks ``ids`` at levels ``level``
    (indices into THREAT_LEVELS; ``previous``: each one's level before this update, -1 new)
    inside the zones of ``bits`` (bit z: zone z)."""
    min_level = THREAT_LEVELS.index(policy.min_level)
    # The announced level follows the level down (a fall is a change too, but not alerted).
    announced = np.minimum(st.announced, level).astype(np.int8)
    rise = eligible & (level >= min_level) & (level > announced)
    new_zones = np.where(eligible & likely_drone, bits & ~st.zones_seen, 0) \
        if policy.zone_entry else np.zeros(len(ids), dtype=np.int64)
    # A zone entry is alerted at once (each zone once per track: bounded); level rises wait
    # for the rate limit.
    free = t - st.last_t >= policy.rate_limit_s
    send = (rise & free) | (new_zones != 0)
    alerts: list[AlertEvent] = []
    last_t = st.last_t.copy()
    count = st.count.copy()
    n_zones = len(zone_ids)
    for k in np.flatnonzero(send).tolist():
        zone = None
        if new_zones[k]:
            entered = [z for z in range(n_zones) if int(new_zones[k]) >> z & 1]
            zone = zone_ids[max(entered, key=lambda z: int(zone_level[z]))]
        # From the level before this update, or (a change held back, or one made while the
        # track was not yet eligible) from the level last announced.
        prev = int(level[k]) if level[k] <= announced[k] else (
            int(previous[k]) if 0 <= previous[k] < level[k] else int(announced[k]))
        count[k] += 1
        tid = int(ids[k])
        alerts.append(AlertEvent(tid, threat.name(int(level[k])), threat.name(prev), reasons[k],
                                 zone, f"{tid}-{int(count[k])}-{int(t)}"))
        last_t[k] = t
    announced = np.where(send, np.maximum(announced, level), announced).astype(np.int8)
    # A zone is entered once: held-back entries are not replayed when the limit ends (the
    # level rise, if any, still is).
    zones_seen = np.where(eligible & likely_drone, st.zones_seen | bits, st.zones_seen)
    return alerts, AlertState(announced, zones_seen.astype(np.int64), last_t, count)
