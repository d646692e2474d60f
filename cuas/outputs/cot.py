"""Cursor on Target (CoT) events for TAK (ATAK, WinTAK, iTAK, TAK Server), built from tracks.

Pure functions: a :class:`~cuas.wire.Track` (and the site's policy) in, CoT XML bytes out; the
I/O (UDP multicast, TCP, TLS) is in :mod:`cuas.outputs.cot_sender`. The conventions are those TAK
users expect of drone-detection gateways (``shared/spec/tak.md``):

* ``uid`` stable for the life of the track: ``adsb-<icao>`` for an aircraft with an ICAO
  address, else ``cuas-<site>-<track id>``;
* ``type`` from the classifier's class and threat, never by accident: a UAV is hostile
  ``a-h-A-M-F-Q`` (malicious, or threat high/critical), suspect ``a-s-A-M-F-Q`` (medium),
  friendly ``a-f-A-M-F-Q`` (on the site's allow list and not malicious) or unknown
  ``a-u-A-M-F-Q``; a manned aircraft neutral civil ``a-n-A-C-F`` (hostile when malicious);
  birds and clutter are not sent unless asked for;
* ``time``/``start`` now (the wall clock), ``stale`` when cuas would delete the track if
  nothing more is heard; a deleted track is sent once with ``stale`` = now so that TAK drops it
  too. A replayed stream (snapshot times over :data:`REPLAY_SKEW_S` from the wall clock) is
  moved onto the wall clock, so that a replay looks live on TAK; ``__cuas`` then says
  ``replay="true"`` and gives the recording's own time;
* ``point`` WGS-84 degrees and ``hae`` (m above the ellipsoid), ``ce``/``le`` the 1-sigma
  horizontal/vertical error (m) from the track's covariance;
* ``detail``: ``track`` (course degrees true, speed m/s), ``contact`` callsign, ``remarks``
  (threat and reasons on one line, separated by :data:`REMARKS_SEPARATOR`), ``__cuas``
  (machine-readable: track id, class probabilities, threat, sources, identity).

Remarks are written for what TAK servers do to them (FreeTAKServer 2.2.1): a bare
``<remarks>`` element is relayed as an attribute of ``detail``, which ATAK does not show, and
line breaks are removed. So ``remarks`` always carries ``source="cuas"`` (an element with an
attribute is relayed as an element) and never holds a newline or any other control character.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cuas import vocabulary, wire

#: CoT types (MIL-STD-2525 atoms as TAK uses them).
HOSTILE_UAV = "a-h-A-M-F-Q"
SUSPECT_UAV = "a-s-A-M-F-Q"
UNKNOWN_UAV = "a-u-A-M-F-Q"
FRIENDLY_UAV = "a-f-A-M-F-Q"
NEUTRAL_CIVIL_FIXED_WING = "a-n-A-C-F"
HOSTILE_CIVIL_FIXED_WING = "a-h-A-C-F"
UNKNOWN_AIR = "a-u-A"
PILOT = "b-m-p-s-m"
GROUND_SENSOR = "a-f-G-E-S"

#: How the event was made (CoT ``how``): machine-generated, fused.
HOW = "m-f"

#: TAK draws an unknown error as this (m); used only for a missing sigma, never for a fix.
_NO_ERROR = 9_999_999.0

#: Between the threat line and each reason in ``remarks``: visible on a phone, and kept by TAK
#: servers that remove line breaks.
REMARKS_SEPARATOR = " | "
#: The attribute every ``remarks`` element carries, so that a TAK server relays it as an element
#: (FreeTAKServer moves a bare ``<remarks>`` into an attribute ATAK does not read).
REMARKS_SOURCE = "cuas"

#: A snapshot whose time is further than this (s) from the wall clock is a replay of the past:
#: a live daemon stamps its snapshots with the wall clock (and never runs ahead of it), so only
#: a daemon in replay mode (``cuas run --replay``) publishes times this far off.
REPLAY_SKEW_S = 60.0

#: What remarks may not hold: C0 and C1 control characters (newlines and tabs included), DEL,
#: lone surrogates and the two non-characters XML 1.0 forbids.
_UNPRINTABLE = re.compile(r"\s*[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+\s*")


@dataclass(frozen=True, slots=True)
class CotPolicy:
    """What the site decides about the CoT it sends.

    ``site``: the name in uids (``cuas-<site>-<id>``). ``friendly_rid``/``friendly_icao``: the
    allow list (Remote ID serials, ICAO addresses in lower-case hex). ``delete_after_s``: how
    long a confirmed track survives silence (s), ``delete_after_s_identified`` one with a
    cooperative identity: the ``stale`` horizon. ``send_all``: send birds and clutter too.
    """

    site: str = "cuas"
    friendly_rid: frozenset[str] = field(default_factory=frozenset)
    friendly_icao: frozenset[str] = field(default_factory=frozenset)
    delete_after_s: float = 12.0
    delete_after_s_identified: float = 60.0
    send_all: bool = False


def cot_time(t: float) -> str:
    """A CoT time stamp (ISO 8601 UTC, millisecond precision, ``Z``) from UTC seconds."""
    dt = datetime.fromtimestamp(t, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def dominant_class(track: wire.Track) -> str:
    """The most probable class (``uav``, ``bird``, ``manned``, ``clutter``); ties go to the
    order of :data:`vocabulary.CLASSES` (``uav`` first: a tie must not hide a drone)."""
    probs = track.class_probs
    return max(vocabulary.CLASSES, key=lambda c: (probs.get(c, 0.0), -vocabulary.CLASSES.index(c)))


def is_friendly(track: wire.Track, policy: CotPolicy) -> bool:
    """On the site's allow list (by Remote ID serial or ICAO address) and not flagged."""
    ident = track.ident
    if ident is None or track.malicious:
        return False
    return ((ident.rid is not None and ident.rid in policy.friendly_rid)
            or (ident.icao is not None and ident.icao in policy.friendly_icao))


def event_type(track: wire.Track, policy: CotPolicy) -> str | None:
    """The CoT type of a track, or None when it is not to be sent (a bird or clutter)."""
    cls = dominant_class(track)
    hostile = track.malicious or track.threat in ("high", "critical")
    if cls == "uav":
        if hostile:
            return HOSTILE_UAV
        if is_friendly(track, policy):
            return FRIENDLY_UAV
        if track.threat == "medium":
            return SUSPECT_UAV
        return UNKNOWN_UAV
    if cls == "manned":
        return HOSTILE_CIVIL_FIXED_WING if hostile else NEUTRAL_CIVIL_FIXED_WING
    if hostile:  # a "bird" the classifier still calls a threat is sent, as an unknown air track
        return UNKNOWN_AIR
    return UNKNOWN_AIR if policy.send_all else None


def track_uid(track: wire.Track, policy: CotPolicy) -> str:
    """The stable CoT uid of a track (see the module docstring)."""
    if track.ident is not None and track.ident.icao:
        return f"adsb-{track.ident.icao}"
    return f"cuas-{policy.site}-{track.id}"


def callsign(track: wire.Track) -> str:
    """A short, human callsign: the ADS-B callsign, the Remote ID serial, else ``UAV 17``
    (what came over the air, control characters removed)."""
    ident = track.ident
    if ident is not None:
        for heard in (ident.callsign, ident.rid, (ident.icao or "").upper()):
            text = clean_text(heard or "")
            if text:
                return text
    label = {"uav": "UAV", "manned": "Aircraft", "bird": "Bird"}.get(dominant_class(track),
                                                                     "Track")
    return f"{label} {track.id}"


def clean_text(text: str) -> str:
    """``text`` on one line: every run of control characters (with the spaces around it)
    becomes one space, and the ends are trimmed (XML escaping is left to the serializer)."""
    return _UNPRINTABLE.sub(" ", text).strip()


def remarks(track: wire.Track) -> str:
    """Threat level, reasons and sources on one line, separated by :data:`REMARKS_SEPARATOR`
    (TAK servers remove line breaks; a phone wraps the line)."""
    parts = [f"Threat: {track.threat.upper()}" + (" (malicious)" if track.malicious else "")]
    parts.extend(track.reasons)
    parts.append("Sources: " + (", ".join(track.sources) or "none"))
    return REMARKS_SEPARATOR.join(p for p in map(clean_text, parts) if p)


def _remarks(detail: ET.Element, text: str) -> None:
    """The ``remarks`` element: with its ``source`` attribute, control characters removed."""
    ET.SubElement(detail, "remarks", source=REMARKS_SOURCE).text = clean_text(text)


def replay_offset(snapshot_t: float, now: float) -> float | None:
    """For a replayed stream, what to add to its times (s) to put them on the wall clock
    ``now`` (UTC s); None for a live one. The rule: a snapshot more than
    :data:`REPLAY_SKEW_S` from the wall clock is a replay (the wire contract has no marker)."""
    offset = now - snapshot_t
    return offset if abs(offset) > REPLAY_SKEW_S else None


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def _horizontal_sigma(sigma: Sequence[float]) -> float:
    """1-sigma horizontal error (m): the larger of the east and north sigmas."""
    s = max(float(sigma[0]), float(sigma[1]))
    return s if math.isfinite(s) and s >= 0 else _NO_ERROR


def _point(parent: ET.Element, lla: Sequence[float], ce: float, le: float) -> None:
    ET.SubElement(parent, "point", lat=_num(lla[0], 7), lon=_num(lla[1], 7),
                  hae=_num(lla[2], 1), ce=_num(ce, 1), le=_num(le, 1))


def _event(uid: str, cot_type: str, now: float, stale: float) -> ET.Element:
    return ET.Element("event", version="2.0", uid=uid, type=cot_type, how=HOW,
                      time=cot_time(now), start=cot_time(now), stale=cot_time(stale))


def _valid_lla(lla: Sequence[float]) -> bool:
    lat, lon, h = (float(v) for v in lla)
    return (all(math.isfinite(v) for v in (lat, lon, h)) and -90 <= lat <= 90
            and -180 <= lon <= 180)


def track_events(track: wire.Track, now: float, policy: CotPolicy, *,
                 replay_offset_s: float | None = None) -> list[bytes]:
    """The CoT events (XML bytes) for one track at ``now`` (UTC s): the track itself, and the
    pilot when Remote ID gives the operator position. Empty when the track is not sent
    (tentative, a bird or clutter, or no valid position).

    ``replay_offset_s``: the stream is a replay, and its times plus this (s) are on the wall
    clock (:func:`replay_offset`); None for a live stream."""
    if track.status == "tentative":
        return []
    cot_type = event_type(track, policy)
    if cot_type is None or not _valid_lla(track.lla):
        return []
    uid = track_uid(track, policy)
    identified = track.ident is not None and track.ident.key is not None
    horizon = policy.delete_after_s_identified if identified else policy.delete_after_s
    # Stale when cuas would delete it; a deleted track goes stale now (TAK drops it). A replay's
    # last update is moved onto the wall clock first, so the 12 s / 60 s lifetimes still hold.
    t_update = track.t_update + (replay_offset_s or 0.0)
    stale = now if track.status == "deleted" else max(now + 1.0, t_update + horizon)
    ev = _event(uid, cot_type, now, stale)
    _point(ev, track.lla, _horizontal_sigma(track.pos_sigma),
           float(track.pos_sigma[2]) if math.isfinite(track.pos_sigma[2]) else _NO_ERROR)
    detail = ET.SubElement(ev, "detail")
    ve, vn = float(track.vel[0]), float(track.vel[1])
    course = math.degrees(math.atan2(ve, vn)) % 360.0
    ET.SubElement(detail, "track", course=_num(course, 1), speed=_num(math.hypot(ve, vn), 2))
    ET.SubElement(detail, "contact", callsign=callsign(track))
    _remarks(detail, remarks(track))
    machine = ET.SubElement(detail, "__cuas", track_id=str(track.id), status=track.status,
                            threat=track.threat, malicious=str(track.malicious).lower(),
                            sources=clean_text(",".join(track.sources)))
    if replay_offset_s is not None:
        machine.set("replay", "true")
        machine.set("stream_time", cot_time(now - replay_offset_s))
    for cls in vocabulary.CLASSES:
        machine.set(f"p_{cls}", _num(float(track.class_probs.get(cls, 0.0)), 3))
    ident = track.ident
    if ident is not None:
        for key in ("icao", "callsign", "rid"):
            value = getattr(ident, key)
            if value:
                machine.set(key, clean_text(str(value)))
        if ident.aliases:
            machine.set("aliases", clean_text(" ".join(ident.aliases)))
    events = [ET.tostring(ev, encoding="utf-8", xml_declaration=True)]
    if (ident is not None and ident.operator_lla is not None and _valid_lla(ident.operator_lla)
            and track.status != "deleted"):
        pilot = _event(f"pilot-{uid}", PILOT, now, stale)
        _point(pilot, ident.operator_lla, _NO_ERROR, _NO_ERROR)
        pdetail = ET.SubElement(pilot, "detail")
        ET.SubElement(pdetail, "contact", callsign=f"Pilot of {callsign(track)}")
        ET.SubElement(pdetail, "link", uid=uid, type=cot_type, relation="p-p")
        _remarks(pdetail, f"Operator position from Remote ID ({uid})")
        events.append(ET.tostring(pilot, encoding="utf-8", xml_declaration=True))
    return events


def snapshot_events(snapshot: wire.Tracks, policy: CotPolicy,
                    now: float | None = None) -> list[bytes]:
    """The CoT events of every track of a snapshot, at ``now`` (UTC s; the snapshot's ``t`` by
    default). A snapshot far from ``now`` is a replay and is moved onto it
    (:func:`replay_offset`)."""
    when = snapshot.t if now is None else now
    offset = replay_offset(snapshot.t, when)
    out: list[bytes] = []
    for track in snapshot.tracks:
        out.extend(track_events(track, when, policy, replay_offset_s=offset))
    return out


def node_event(site_lla: Sequence[float], name: str, now: float,
               health: Mapping[str, object] | None = None, period_s: float = 30.0) -> bytes:
    """The cuas node itself as a friendly ground sensor at the site, its health in the
    remarks (``key: value`` pairs separated by :data:`REMARKS_SEPARATOR`); stale after three
    periods. A stream sender sends it first on every connection: TAK servers take the first
    event of a connection as the client's login."""
    ev = _event(f"cuas-{name}-node", GROUND_SENSOR, now, now + 3 * period_s)
    ev.set("how", "h-e")
    _point(ev, site_lla, 10.0, 10.0)
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "contact", callsign=f"cuas {name}")
    pairs = [clean_text(f"{k}: {v}") for k, v in (health or {}).items()]
    _remarks(detail, REMARKS_SEPARATOR.join(pairs) or "cuas node")
    return ET.tostring(ev, encoding="utf-8", xml_declaration=True)
