"""Exports of an incident: GeoJSON (RFC 7946), KML 2.2, GPX 1.1 and CSV.

Each holds the track paths (positions with times and heights), the alerts (placed where their
track was at the alert's time), the first and last sighting of each track, Remote ID operator
positions and the site's zones. Heights are metres above the WGS-84 ellipsoid, as cuas keeps
them; KML's ``absolute`` and GPX's ``ele`` mean above mean sea level, so around London a
reader draws them about 46 m too high (no geoid model is applied).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import numpy as np

from cuas.report.model import AlertRow, Incident, TrackPath, ZoneShape, iso

__all__ = ["EXPORTERS", "alert_position", "to_csv", "to_geojson", "to_gpx", "to_kml"]

KML_NS = "http://www.opengis.net/kml/2.2"
GPX_NS = "http://www.topografix.com/GPX/1/1"
CREATOR = "cuas report"


def _r(x: float, nd: int) -> float:
    return round(float(x), nd)


def alert_position(inc: Incident, a: AlertRow) -> tuple[float, float, float] | None:
    """Where the alert's track was at the alert's time (lat, lon, h), interpolated; None if
    the track is not in the report."""
    tr = inc.track(a.track_id)
    if tr is None:
        return None
    return (float(np.interp(a.t, tr.t, tr.lla[:, 0])), float(np.interp(a.t, tr.t, tr.lla[:, 1])),
            float(np.interp(a.t, tr.t, tr.lla[:, 2])))


def _ccw(ring: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """(lon, lat) vertices counter-clockwise (RFC 7946 exterior rings), closed."""
    pts = [(lon, lat) for lat, lon in ring]
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True))
    if area2 < 0:
        pts.reverse()
    return [*pts, pts[0]]


def _track_props(tr: TrackPath) -> dict[str, Any]:
    return {"track_id": tr.id, "name": tr.name, "label": tr.label,
            "label_probability": _r(tr.label_prob, 3), "max_threat": tr.max_threat,
            "first_seen": iso(tr.first_t), "last_seen": iso(tr.last_t),
            "sensors": list(tr.sources), "rid": tr.rid, "icao": tr.icao,
            "callsign": tr.callsign, "reasons": list(tr.reasons)}


# --------------------------------------------------------------------------- GeoJSON


def to_geojson(inc: Incident) -> str:
    """A GeoJSON FeatureCollection (RFC 7946: WGS-84 lon/lat/h, no ``crs``, CCW rings).

    Features carry ``properties.kind``: ``track`` (LineString, or Point for a one-point track,
    with ``times`` UTC ISO 8601 per vertex and ``threats``), ``first_seen``/``last_seen``
    (Point), ``alert`` (Point, or null geometry when its track is not in the report),
    ``operator`` (Point) and ``zone`` (Polygon).
    """
    feats: list[dict[str, Any]] = []
    for tr in inc.tracks:
        coords = [[_r(lon, 7), _r(lat, 7), _r(h, 2)] for lat, lon, h in tr.lla]
        geom = ({"type": "LineString", "coordinates": coords} if len(coords) >= 2
                else {"type": "Point", "coordinates": coords[0]})
        feats.append({"type": "Feature", "id": f"track-{tr.id}", "geometry": geom,
                      "properties": {"kind": "track", **_track_props(tr),
                                     "times": [iso(t) for t in tr.t],
                                     "threats": list(tr.threat)}})
        for kind, i in (("first_seen", 0), ("last_seen", -1)):
            feats.append({"type": "Feature", "geometry": {"type": "Point",
                                                          "coordinates": coords[i]},
                          "properties": {"kind": kind, "track_id": tr.id,
                                         "time": iso(float(tr.t[i]))}})
        for t, lat, lon, h in tr.operators:
            feats.append({"type": "Feature", "geometry": {
                "type": "Point", "coordinates": [_r(lon, 7), _r(lat, 7), _r(h, 2)]},
                "properties": {"kind": "operator", "track_id": tr.id, "rid": tr.rid,
                               "time": iso(t)}})
    for a in inc.alerts:
        pos = alert_position(inc, a)
        feats.append({"type": "Feature", "id": f"alert-{a.alert_id}",
                      "geometry": None if pos is None else {
                          "type": "Point", "coordinates": [_r(pos[1], 7), _r(pos[0], 7),
                                                           _r(pos[2], 2)]},
                      "properties": {"kind": "alert", "alert_id": a.alert_id,
                                     "track_id": a.track_id, "time": iso(a.t),
                                     "threat": a.threat, "previous": a.previous,
                                     "reasons": list(a.reasons), "zone": a.zone}})
    for z in inc.zones:
        feats.append({"type": "Feature", "id": f"zone-{z.id}",
                      "geometry": {"type": "Polygon", "coordinates": [
                          [[_r(x, 7), _r(y, 7)] for x, y in _ccw(z.ring)]]},
                      "properties": {"kind": "zone", "zone_id": z.id, "name": z.name,
                                     "rule": z.kind, "level": z.level,
                                     "floor_m": z.floor_m, "ceiling_m": z.ceiling_m}})
    doc = {"type": "FeatureCollection", "features": feats,
           "recording": inc.recording.name, "recording_sha256": inc.sha256,
           "from": iso(inc.t_start), "to": iso(inc.t_end)}
    return json.dumps(doc, allow_nan=False, separators=(",", ":"))


# --------------------------------------------------------------------------- KML


def _k(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{KML_NS}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def _kml_data(pm: ET.Element, values: dict[str, Any]) -> None:
    ext = _k(pm, "ExtendedData")
    for key, v in values.items():
        if v is None or v == [] or v == ():
            continue
        d = _k(ext, "Data", name=key)
        _k(d, "value", ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v))


_KML_COLOURS = {"none": "ff9e9e9e", "low": "ff00c8ff", "medium": "ff0080ff", "high": "ff0000ff",
                "critical": "ff8000ff"}  # aabbggrr


def _kml_point(parent: ET.Element, name: str, lla: tuple[float, float, float], t: float | None,
               style: str, desc: str = "", data: dict[str, Any] | None = None) -> None:
    pm = _k(parent, "Placemark")
    _k(pm, "name", name)
    if desc:
        _k(pm, "description", desc)
    if t is not None:
        ts = _k(pm, "TimeStamp")
        _k(ts, "when", iso(t))
    _k(pm, "styleUrl", f"#{style}")
    if data:
        _kml_data(pm, data)
    pt = _k(pm, "Point")
    _k(pt, "altitudeMode", "absolute")
    _k(pt, "coordinates", f"{lla[1]:.7f},{lla[0]:.7f},{lla[2]:.2f}")


def to_kml(inc: Incident) -> str:
    """A KML 2.2 document: a folder per track (its path with a TimeSpan, first and last
    sighting, operator positions), a folder of alerts (TimeStamp) and one of zones."""
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = _k(root, "Document")
    _k(doc, "name", f"cuas report: {inc.recording.name}")
    _k(doc, "description", f"{inc.site_name}, {iso(inc.t_start)} to {iso(inc.t_end)}; "
       f"recording SHA-256 {inc.sha256}")
    for level, colour in _KML_COLOURS.items():
        st = _k(doc, "Style", id=f"threat-{level}")
        ls = _k(st, "LineStyle")
        _k(ls, "color", colour)
        _k(ls, "width", "2")
    st = _k(doc, "Style", id="zone")
    ls = _k(st, "LineStyle")
    _k(ls, "color", "ff0000ff")
    ps = _k(st, "PolyStyle")
    _k(ps, "color", "330000ff")
    tracks = _k(doc, "Folder")
    _k(tracks, "name", "tracks")
    for tr in inc.tracks:
        f = _k(tracks, "Folder")
        _k(f, "name", tr.name)
        pm = _k(f, "Placemark")
        _k(pm, "name", f"{tr.name} path")
        _k(pm, "description", f"{tr.label} ({tr.label_prob:.0%}), max threat {tr.max_threat}; "
           f"sensors {', '.join(tr.sources)}")
        span = _k(pm, "TimeSpan")
        _k(span, "begin", iso(tr.first_t))
        _k(span, "end", iso(tr.last_t))
        _k(pm, "styleUrl", f"#threat-{tr.max_threat}")
        _kml_data(pm, {**_track_props(tr),
                       "times_s_after_first_seen": [f"{t - tr.first_t:.1f}" for t in tr.t]})
        if len(tr.t) >= 2:
            geom = _k(pm, "LineString")
            _k(geom, "altitudeMode", "absolute")
            _k(geom, "coordinates", " ".join(f"{lon:.7f},{lat:.7f},{h:.2f}"
                                            for lat, lon, h in tr.lla))
        else:
            geom = _k(pm, "Point")
            _k(geom, "altitudeMode", "absolute")
            lat, lon, h = tr.lla[0]
            _k(geom, "coordinates", f"{lon:.7f},{lat:.7f},{h:.2f}")
        for what, i in (("first seen", 0), ("last seen", -1)):
            _kml_point(f, f"{tr.name} {what}", tuple(tr.lla[i]), float(tr.t[i]),
                       f"threat-{tr.max_threat}")
        for t, lat, lon, h in tr.operators:
            _kml_point(f, f"operator of {tr.name}", (lat, lon, h), t, "threat-none")
    alerts = _k(doc, "Folder")
    _k(alerts, "name", "alerts")
    for a in inc.alerts:
        pos = alert_position(inc, a)
        if pos is not None:
            _kml_point(alerts, f"{a.threat} alert, track {a.track_id}", pos, a.t,
                       f"threat-{a.threat if a.threat in _KML_COLOURS else 'none'}",
                       "; ".join(a.reasons), {"alert_id": a.alert_id, "previous": a.previous,
                                              "zone": a.zone})
    zones = _k(doc, "Folder")
    _k(zones, "name", "zones")
    for z in inc.zones:
        _kml_zone(zones, z, inc.site[2])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _kml_zone(parent: ET.Element, z: ZoneShape, site_h: float) -> None:
    pm = _k(parent, "Placemark")
    _k(pm, "name", z.name)
    _k(pm, "description", f"{z.kind}, {z.level}; {z.floor_m:g} to {z.ceiling_m:g} m above the "
       "site origin")
    _k(pm, "styleUrl", "#zone")
    poly = _k(pm, "Polygon")
    _k(poly, "altitudeMode", "clampToGround")
    ob = _k(poly, "outerBoundaryIs")
    lr = _k(ob, "LinearRing")
    _k(lr, "coordinates", " ".join(f"{x:.7f},{y:.7f}" for x, y in _ccw(z.ring)))


# --------------------------------------------------------------------------- GPX


def _g(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{GPX_NS}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def _gpx_pt(parent: ET.Element, tag: str, lla: tuple[float, float, float], t: float | None,
            name: str | None = None, desc: str | None = None, kind: str | None = None) -> None:
    p = _g(parent, tag, lat=f"{lla[0]:.7f}", lon=f"{lla[1]:.7f}")
    _g(p, "ele", f"{lla[2]:.2f}")
    if t is not None:
        _g(p, "time", iso(t))
    if name:
        _g(p, "name", name)
    if desc:
        _g(p, "desc", desc)
    if kind:
        _g(p, "type", kind)


def to_gpx(inc: Incident) -> str:
    """A GPX 1.1 document: waypoints (alerts, first and last sightings, operators), a route
    per zone (its closed outline) and a track per cuas track (one segment, times and heights)."""
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", version="1.1", creator=CREATOR)
    md = _g(root, "metadata")
    _g(md, "name", f"cuas report: {inc.recording.name}")
    _g(md, "desc", f"{inc.site_name}, {iso(inc.t_start)} to {iso(inc.t_end)}; recording "
       f"SHA-256 {inc.sha256}")
    _g(md, "time", iso(inc.t_end))
    for a in inc.alerts:
        pos = alert_position(inc, a)
        if pos is not None:
            _gpx_pt(root, "wpt", pos, a.t, f"{a.threat} alert, track {a.track_id}",
                    "; ".join(a.reasons), "alert")
    for tr in inc.tracks:
        for what, i in (("first seen", 0), ("last seen", -1)):
            _gpx_pt(root, "wpt", tuple(tr.lla[i]), float(tr.t[i]), f"{tr.name} {what}",
                    None, what.replace(" ", "_"))
        for t, lat, lon, h in tr.operators:
            _gpx_pt(root, "wpt", (lat, lon, h), t, f"operator of {tr.name}", None, "operator")
    for z in inc.zones:
        rte = _g(root, "rte")
        _g(rte, "name", z.name)
        _g(rte, "desc", f"{z.kind}, {z.level}")
        _g(rte, "type", "zone")
        for lon, lat in _ccw(z.ring):
            _gpx_pt(rte, "rtept", (lat, lon, inc.site[2]), None)
    for tr in inc.tracks:
        trk = _g(root, "trk")
        _g(trk, "name", tr.name)
        _g(trk, "desc", f"{tr.label} ({tr.label_prob:.0%}), max threat {tr.max_threat}; "
           f"sensors {', '.join(tr.sources)}")
        _g(trk, "type", tr.label)
        seg = _g(trk, "trkseg")
        for t, (lat, lon, h) in zip(tr.t, tr.lla, strict=True):
            _gpx_pt(seg, "trkpt", (lat, lon, h), float(t))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


# --------------------------------------------------------------------------- CSV

CSV_COLUMNS = ("kind", "track_id", "time_utc", "t_s", "lat_deg", "lon_deg", "h_m", "east_m",
               "north_m", "up_m", "threat", "label", "alert_id", "zone", "detail")


def to_csv(inc: Incident) -> str:
    """One table, a row per track point (``kind`` = ``point``), alert, operator position and
    zone vertex; ``h_m`` above the WGS-84 ellipsoid, ENU metres from the site origin."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for tr in inc.tracks:
        for t, (lat, lon, h), (e, n, u), threat in zip(tr.t, tr.lla, tr.enu, tr.threat,
                                                      strict=True):
            w.writerow(("point", tr.id, iso(t), f"{t:.3f}", f"{lat:.7f}", f"{lon:.7f}",
                        f"{h:.2f}", f"{e:.2f}", f"{n:.2f}", f"{u:.2f}", threat, tr.label, "", "",
                        tr.rid or tr.callsign or ""))
        for t, lat, lon, h in tr.operators:
            w.writerow(("operator", tr.id, iso(t), f"{t:.3f}", f"{lat:.7f}", f"{lon:.7f}",
                        f"{h:.2f}", "", "", "", "", "", "", "", tr.rid or ""))
    for a in inc.alerts:
        pos = alert_position(inc, a)
        lat, lon, h = (f"{pos[0]:.7f}", f"{pos[1]:.7f}", f"{pos[2]:.2f}") if pos else ("", "", "")
        w.writerow(("alert", a.track_id, iso(a.t), f"{a.t:.3f}", lat, lon, h, "", "", "",
                    a.threat, "", a.alert_id, a.zone or "", "; ".join(a.reasons)))
    for z in inc.zones:
        for lat, lon in z.ring:
            w.writerow(("zone", "", "", "", f"{lat:.7f}", f"{lon:.7f}", "", "", "", "", z.level,
                        "", "", z.id, f"{z.name} ({z.kind})"))
    return buf.getvalue()


EXPORTERS: dict[str, Callable[[Incident], str]] = {
    "geojson": to_geojson, "kml": to_kml, "gpx": to_gpx, "csv": to_csv,
}
