"""The operator's live view: a terminal table of the tracks, rendered from wire messages.

Everything here is pure (no I/O, no clock): the caller passes ``now`` and the terminal size, so
the same messages always render to the same text. ``cuas tracks`` (:mod:`cuas.cli.tracks`)
feeds it from the bus.

Position is shown as ground range (m) and bearing (degrees true, clockwise from north) from
the site origin, plus height (m) above the site origin: an operator at a stadium passes on
"400 m, bearing 230, 60 m up" and matches it to the stands, whereas latitude, longitude and
height above the WGS-84 ellipsoid (about 90 m at ground level at Wembley) mean nothing at a
glance. The ENU "up" is height above the tangent plane at the origin, within 1 m of height
above the origin's level out to 3.5 km. Latitude and longitude (5 decimals, about 1 m) are
added in a wide terminal, for handing a position to a map or to the police.

Speed is ground speed (m/s) plus climb rate (m/s, negative when descending); heading is
degrees true, blank when the ground speed is below :data:`MIN_HEADING_SPEED_MS`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Final

from cuas import vocabulary, wire

#: Below this ground speed (m/s) a heading is noise, and is left blank.
MIN_HEADING_SPEED_MS: Final = 0.5
#: A snapshot older than this (s) is flagged STALE (the daemon publishes at 2 Hz).
STALE_TRACKS_S: Final = 3.0
#: A status older than this (s) is flagged STALE (the contract: a heartbeat at least every 5 s).
STALE_STATUS_S: Final = 5.0
#: Alerts younger than this (s) highlight their track's row.
ALERT_RECENT_S: Final = 30.0
#: At most this many alerts are listed above the table, newest first.
MAX_ALERTS_SHOWN: Final = 5
#: From this width (columns) on, latitude and longitude get a column of their own.
WIDE_COLUMNS: Final = 140

#: ANSI select-graphic-rendition sequences (only used when ``color`` is on).
RESET: Final = "\x1b[0m"
ALARM: Final = "\x1b[7;31m"  # reverse video, red: rows and alerts that need attention
WARN: Final = "\x1b[1;31m"  # bold red: a stale or unhealthy feed
OLD: Final = "\x1b[31m"  # red: alerts older than ALERT_RECENT_S
MARK: Final = "!!"

_THREAT_RANK: Final[Mapping[str, int]] = {lvl: i for i, lvl in enumerate(vocabulary.THREAT_LEVELS)}

#: (title, width, right-aligned) of the fixed columns, after the 2-character marker.
_FIXED: Final[tuple[tuple[str, int, bool], ...]] = (
    ("id", 5, True),
    ("status", 9, False),
    ("class", 12, False),
    ("threat", 8, False),
    ("rng m", 6, True),
    ("brg", 3, True),
    ("hgt m", 5, True),
    ("speed", 5, True),
    ("climb", 5, True),
    ("hdg", 3, True),
    ("age", 5, True),
)
_IDENT_W: Final = 20
_SOURCES_W_WIDE: Final = 24
_LATLON_W: Final = 20


def clean(text: str) -> str:
    """``text`` with every non-printable character replaced by ``?``.

    Strings on the wire are only checked to be UTF-8, and a sensor id or reason carrying an
    escape sequence must not be able to rewrite the operator's screen.
    """
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def ground_speed(vel: wire.Vec3) -> float:
    """Horizontal speed (m/s) of a velocity (ve, vn, vu)."""
    return math.hypot(vel[0], vel[1])


def heading(vel: wire.Vec3) -> float | None:
    """Course over ground in degrees true [0, 360) (atan2(ve, vn)); None when slower than
    :data:`MIN_HEADING_SPEED_MS`."""
    if ground_speed(vel) < MIN_HEADING_SPEED_MS:
        return None
    return _compass(math.degrees(math.atan2(vel[0], vel[1])))


def range_bearing(enu: wire.Vec3) -> tuple[float, float | None]:
    """Ground range (m) and bearing (degrees true) of an ENU position from the site origin;
    the bearing is None within 1 m of the origin."""
    rng = math.hypot(enu[0], enu[1])
    return rng, (_compass(math.degrees(math.atan2(enu[0], enu[1]))) if rng >= 1.0 else None)


def _compass(deg: float) -> float:
    """Degrees normalised to [0, 360), rounded to whole degrees (359.6 is 0, not 360)."""
    return float(round(deg) % 360)


def top_class(probs: Mapping[str, float]) -> tuple[str, float]:
    """The most probable class and its probability (ties go to the contract's class order)."""
    order = {c: i for i, c in enumerate(vocabulary.CLASSES)}
    name = max(probs, key=lambda c: (probs[c], -order.get(c, len(order))))
    return name, probs[name]


def class_text(probs: Mapping[str, float]) -> str:
    """``uav 0.97``: the most probable class and its probability; ``unclassified`` when two
    classes share the top (the neutral prior of a new track is not evidence of a UAV)."""
    name, p = top_class(probs)
    if sum(1 for q in probs.values() if q >= p) > 1:
        return "unclassified"
    return f"{name} {p:.2f}"


def ident_text(ident: wire.Ident | None) -> str:
    """Callsign, ICAO address and Remote ID serial, those that are known, space-separated."""
    if ident is None:
        return ""
    return " ".join(clean(x) for x in (ident.callsign, ident.icao, ident.rid) if x)


def duration(s: float) -> str:
    """A compact duration: ``4.2s``, ``3m05s``, ``2h10m``, ``3d04h`` (negative: clock skew)."""
    if s < 59.95:
        return f"{s:.1f}s"
    n = int(s)
    if n < 3600:
        return f"{n // 60}m{n % 60:02d}s"
    if n < 86400:
        return f"{n // 3600}h{n % 3600 // 60:02d}m"
    return f"{n // 86400}d{n % 86400 // 3600:02d}h"


def utc(t: float) -> str:
    """UTC time ``YYYY-MM-DD HH:MM:SS.sZ`` of epoch seconds."""
    tenths = int(round(t * 10))
    whole, frac = divmod(tenths, 10)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(whole)) + f".{frac}Z"


def _num(x: float, width: int, decimals: int = 0, *, sign: bool = False) -> str:
    """``x`` in at most ``width`` characters: fewer decimals, then thousands (``k``), then ``#``."""
    plus = "+" if sign else ""
    for d in range(decimals, -1, -1):
        s = f"{x:{plus}.{d}f}"
        if len(s) <= width:
            return s
    s = f"{x / 1000:{plus}.0f}k"
    return s if len(s) <= width else "#" * width


def _cell(text: str, width: int, right: bool) -> str:
    text = text if len(text) <= width else text[: max(width - 1, 0)] + "~"
    return text.rjust(width) if right else text.ljust(width)


def _paint(line: str, sgr: str | None, color: bool) -> str:
    return f"{sgr}{line}{RESET}" if color and sgr else line


def counters_summary(counters: Mapping[str, int]) -> str:
    """What an operator checks in a heartbeat, as ``key=value``: the message totals received
    and published (not bytes, not the per-sensor ``sensor.<id>.*`` ones), then every non-zero counter of
    drops, rejects, errors and sequence gaps (those are news, per sensor too)."""
    def wanted(k: str) -> bool:
        return "received" in k or "published" in k

    def bad(k: str) -> bool:
        return counters[k] != 0 and any(
            w in k for w in ("drop", "reject", "malformed", "mismatch", "error", "gap"))

    totals = [k for k in counters
              if wanted(k) and not k.startswith("sensor.") and not k.endswith("bytes")]
    keys = (sorted(k for k in totals if "received" in k)
            + sorted(k for k in totals if "received" not in k)
            + sorted(k for k in counters if bad(k) and k not in totals))
    return " ".join(f"{clean(k)}={counters[k]}" for k in keys) or "no counters"


def track_row(tr: wire.Track, *, now: float, wide: bool) -> list[str]:
    """The cells of one track's row (marker excluded), in column order."""
    rng, brg = range_bearing(tr.enu)
    hdg = heading(tr.vel)
    cells = [
        str(tr.id),
        tr.status,
        class_text(tr.class_probs),
        tr.threat,
        _num(rng, 6),
        f"{brg:03.0f}" if brg is not None else "",
        _num(tr.enu[2], 5),
        _num(ground_speed(tr.vel), 5, 1),
        _num(tr.vel[2], 5, 1, sign=True),
        f"{hdg:03.0f}" if hdg is not None else "",
        duration(now - tr.t_update),
        ident_text(tr.ident),
        ",".join(clean(s) for s in tr.sources),
    ]
    if wide:
        cells.append(f"{tr.lla[0]:.5f} {tr.lla[1]:.5f}")
    return cells


def sort_tracks(tracks: Sequence[wire.Track]) -> list[wire.Track]:
    """The tracks to show: not deleted, highest threat first (critical on top), then by id."""
    live = [tr for tr in tracks if tr.status != "deleted"]
    return sorted(live, key=lambda tr: (-_THREAT_RANK.get(tr.threat, 0), tr.id))


def _header(tracks: wire.Tracks | None, *, now: float, status: wire.Status | None,
            bad: int, endpoint: str | None) -> tuple[tuple[str, bool], tuple[str, bool]]:
    """The two header lines, each with whether it must be flagged (stale or unhealthy)."""
    if tracks is None:
        where = f" on {clean(endpoint)}" if endpoint else ""
        first = (f"waiting for tracks{where}", True)
    else:
        counts = {s: 0 for s in ("confirmed", "coasting", "tentative")}
        for tr in tracks.tracks:
            if tr.status in counts:
                counts[tr.status] += 1
        age = now - tracks.t
        stale = age > STALE_TRACKS_S
        total = sum(counts.values())
        by_status = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        first = (f"{clean(tracks.src)}  trk #{tracks.seq}  {utc(tracks.t)}  "
                 f"({duration(age)} ago{' STALE' if stale else ''})  "
                 f"{total} track{'' if total == 1 else 's'}"
                 + (f": {by_status}" if by_status else ""), stale)
    viewer = f"  |  viewer: {bad} malformed skipped" if bad else ""
    if status is None:
        second = (f"status: none received{viewer}", True)
    else:
        age = now - status.t
        stale = age > STALE_STATUS_S
        state = status.state if status.state == "ok" else status.state.upper()
        second = (f"status {state} from {clean(status.src)} "
                  f"({duration(age)} ago{' STALE' if stale else ''}), "
                  f"up {duration(status.uptime_s)}{viewer}  |  {counters_summary(status.counters)}",
                  stale or status.state != "ok")
    return first, second


def _alert_line(a: wire.Alert, now: float) -> str:
    zone = f" in {clean(a.zone)}" if a.zone else ""
    reasons = "; ".join(clean(r) for r in a.reasons)
    return (f"{MARK} {utc(a.t)[11:]} ({duration(now - a.t)} ago)  track {a.track_id} "
            f"{a.threat.upper()} (was {a.previous}){zone}" + (f": {reasons}" if reasons else ""))


def render_table(
    tracks: wire.Tracks | None,
    *,
    now: float,
    alerts: Sequence[wire.Alert] = (),
    status: wire.Status | None = None,
    width: int = 120,
    height: int = 40,
    color: bool = False,
    bad: int = 0,
    endpoint: str | None = None,
) -> str:
    """The operator's view as text: ``height`` lines at most, each ``width`` characters at most
    (ANSI sequences excluded), no trailing newline.

    ``now`` is the UTC time (s) that ages are measured against; ``alerts`` are the latest alerts
    in arrival order; ``status`` the daemon's latest heartbeat; ``bad`` the messages the viewer
    dropped as malformed; ``endpoint`` is named while no snapshot has arrived. With ``color``,
    flagged lines are wrapped in ANSI codes; without, the text alone says it all (``STALE``, a
    ``!!`` marker on highlighted rows and on alerts).
    """
    width = max(width, 20)
    height = max(height, 4)
    out: list[str] = []
    for text, flagged in _header(tracks, now=now, status=status, bad=bad, endpoint=endpoint):
        out.append(_paint(text[:width], WARN if flagged else None, color))

    # Header, alerts, column titles and at least one row (or the "+N more" line) fit.
    n_alerts = min(MAX_ALERTS_SHOWN, height - 4)
    shown = list(alerts)[-n_alerts:][::-1] if n_alerts > 0 else []
    recent_ids = {a.track_id for a in alerts if now - a.t <= ALERT_RECENT_S}
    for a in shown:
        recent = now - a.t <= ALERT_RECENT_S
        out.append(_paint(_alert_line(a, now)[:width], ALARM if recent else OLD, color))

    wide = width >= WIDE_COLUMNS
    columns = [*_FIXED, ("ident", _IDENT_W, False)]
    columns.append(("sources", _SOURCES_W_WIDE if wide else width, False))
    if wide:
        columns.append(("lat lon", _LATLON_W, False))

    def line(mark: str, cells: Sequence[str]) -> str:
        text = " ".join(_cell(c, w, right) for c, (_, w, right) in zip(cells, columns, strict=True))
        return f"{mark} {text}".rstrip()[:width]

    out.append(line("  ", [title for title, _, _ in columns]))
    rows = sort_tracks(tracks.tracks) if tracks is not None else []
    room = height - len(out)
    if len(rows) > room:
        keep = room - 1
        hidden = len(rows) - keep
        rows = rows[:keep]
    else:
        hidden = 0
    for tr in rows:
        hot = tr.malicious or tr.id in recent_ids
        out.append(_paint(line(MARK if hot else "  ", track_row(tr, now=now, wide=wide)),
                          ALARM if hot else None, color))
    if hidden:
        out.append(f"+{hidden} more")
    return "\n".join(out[:height])
