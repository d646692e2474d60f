"""The incident report as PDF or HTML, drawn with matplotlib (no browser needed).

Contents: a summary (recording, its SHA-256, the manifest's verdict, the audit log's chain),
a map (track paths, zones, first and last sightings, Remote ID operators), a timeline of threat
levels with the alerts, which sensors saw each track and when, the identities, the alerts with
their reasons and the acknowledgements. "Notable" tracks (an alert, a threat above none, or a
likely drone) are drawn; the rest are counted.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cuas.report.model import THREATS, Incident, TrackPath, iso, threat_rank

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["notable", "summary_lines", "write_html", "write_pdf"]

#: At most this many tracks are drawn (most threatening first).
MAX_DRAWN = 25
_COLOURS = {"none": "#9e9e9e", "low": "#f0c000", "medium": "#ff8000", "high": "#e00000",
            "critical": "#9000c0"}
_PAGE = (8.27, 11.69)  # A4 portrait, inches
_LINES_PER_PAGE = 62


def notable(inc: Incident) -> list[TrackPath]:
    """Tracks worth drawing: alerted, threat above none, or most likely a drone; most
    threatening first, at most :data:`MAX_DRAWN`."""
    alerted = {a.track_id for a in inc.alerts}
    keep = [t for t in inc.tracks
            if t.id in alerted or t.max_threat != "none" or t.label == "uav"]
    keep.sort(key=lambda t: (-threat_rank(t.max_threat), -(t.last_t - t.first_t), t.id))
    return keep[:MAX_DRAWN]


def summary_lines(inc: Incident) -> list[str]:
    """The report's opening facts, one per line."""
    lines = [f"Recording: {inc.recording.name} ({inc.size:,} bytes)",
             f"SHA-256:   {inc.sha256}",
             f"Site:      {inc.site_name} ({inc.site[0]:.5f}, {inc.site[1]:.5f})",
             f"Window:    {iso(inc.t_start)} to {iso(inc.t_end)} "
             f"({inc.t_end - inc.t_start:.0f} s)"]
    if inc.integrity is not None:
        lines.append(f"Integrity: {inc.integrity.status.upper()}: "
                     f"{inc.integrity.message.split(': ', 1)[-1]}")
    if inc.torn:
        lines.append("Note:      the recording is torn (cut short); read up to its last "
                     "complete record")
    if not inc.counters.get("trk_messages"):
        lines.append("Note:      no track snapshots (trk) in this window: a detections-only "
                     "recording? Record a daemon's output (cuas record) to report tracks")
    if inc.audit is not None:
        lines.append(f"Audit log: {inc.audit.message}")
    n_notable = len(notable(inc))
    lines.append(f"Tracks:    {len(inc.tracks)} confirmed, {n_notable} notable "
                 f"(drawn), {len(inc.alerts)} alerts, {len(inc.acks)} acknowledgements")
    bad = sum(v for k, v in inc.counters.items() if k.startswith("malformed"))
    if bad:
        lines.append(f"Skipped:   {bad} malformed messages or tracks")
    return lines


def _tables(inc: Incident) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the report's tables."""
    drawn = notable(inc)
    t0 = inc.t_start
    tracks = [[str(t.id), t.label, f"{t.label_prob:.0%}", t.max_threat, iso(t.first_t)[11:19],
               iso(t.last_t)[11:19], ", ".join(t.sources), t.rid or t.callsign or t.icao or ""]
              for t in drawn]
    sensors = [[f"{t.id}", s, f"+{a - t0:.0f} s", f"+{b - t0:.0f} s"]
               for t in drawn for s, (a, b) in t.sources.items()]
    ids = [[str(t.id), "Remote ID" if t.rid else "ADS-B", t.rid or f"{t.callsign or ''} "
            f"{t.icao or ''}".strip(),
            "; ".join(f"{iso(o[0])[11:19]} {o[1]:.5f}, {o[2]:.5f}" for o in t.operators[-3:])]
           for t in inc.tracks if t.rid or t.icao or t.callsign]
    alerts = [[iso(a.t)[11:23], a.alert_id, str(a.track_id), f"{a.previous}->{a.threat}",
               a.zone or "", "; ".join(a.reasons)] for a in inc.alerts]
    acks = [[iso(k.t)[11:19], k.user + (f" ({k.role})" if k.role else ""), k.action,
             k.alert_id or "", "" if k.track_id is None else str(k.track_id), k.origin, k.note]
            for k in inc.acks]
    return [
        ("Notable tracks", ["track", "class", "p", "max threat", "first", "last", "sensors",
                            "identity"], tracks),
        ("Which sensors saw them, and when (after the window's start)",
         ["track", "sensor", "first", "last"], sensors),
        ("Identities", ["track", "kind", "serial / callsign", "operator (latest)"], ids),
        ("Alerts", ["time", "alert id", "track", "threat", "zone", "reasons"], alerts),
        ("Acknowledgements", ["time", "user", "action", "alert id", "track", "from", "note"],
         acks),
    ]


# --------------------------------------------------------------------------- figures


def _map_figure(inc: Incident, drawn: list[TrackPath]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 7.5))
    ax = fig.add_subplot()
    lat0 = inc.site[0]
    for z in inc.zones:
        xs = [p[1] for p in z.ring] + [z.ring[0][1]]
        ys = [p[0] for p in z.ring] + [z.ring[0][0]]
        ax.fill(xs, ys, alpha=0.08, color="red")
        ax.plot(xs, ys, color="red", lw=0.8)
        ax.annotate(z.name, (max(xs), max(ys)), fontsize=6, color="darkred")
    local = [t for t in drawn if t.label != "manned"] or drawn
    for t in drawn:
        c = _COLOURS.get(t.max_threat, "k")
        ax.plot(t.lla[:, 1], t.lla[:, 0], color=c, lw=1.2)
        ax.plot(t.lla[0, 1], t.lla[0, 0], "^", color=c, ms=6, mec="k", mew=0.5)
        ax.plot(t.lla[-1, 1], t.lla[-1, 0], "v", color=c, ms=6, mec="k", mew=0.5)
        ax.annotate(str(t.id), (t.lla[0, 1], t.lla[0, 0]), fontsize=6)
        for _, lat, lon, _h in t.operators[-1:]:
            ax.plot(lon, lat, "x", color="k", ms=7)
            ax.annotate(f"op {t.id}", (lon, lat), fontsize=6)
    ax.plot(inc.site[1], inc.site[0], "*", color="k", ms=9)
    pts = [(la, lo) for t in local for la, lo in t.lla[:, :2]]
    pts += [p for z in inc.zones for p in z.ring]
    if pts:
        lats, lons = [p[0] for p in pts], [p[1] for p in pts]
        pad_lat = max(max(lats) - min(lats), 0.002) * 0.08
        pad_lon = max(max(lons) - min(lons), 0.003) * 0.08
        ax.set_xlim(min(lons) - pad_lon, max(lons) + pad_lon)
        ax.set_ylim(min(lats) - pad_lat, max(lats) + pad_lat)
    ax.set_aspect(1.0 / math.cos(math.radians(lat0)))
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.set_title("Track paths (colour: highest threat; ^ first seen, v last seen, x operator)",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.ticklabel_format(useOffset=False)
    return fig


def _timeline_figure(inc: Incident, drawn: list[TrackPath]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 9.0))
    ax1, ax2 = fig.subplots(2, 1, height_ratios=[1, 1.2])
    t0 = inc.t_start
    for i, t in enumerate(drawn):
        ranks = [threat_rank(x) + (i - len(drawn) / 2) * 0.012 for x in t.threat]
        ax1.step(t.t - t0, ranks, where="post", lw=1, label=str(t.id))
    for a in inc.alerts:
        ax1.plot(a.t - t0, threat_rank(a.threat), "o", color=_COLOURS.get(a.threat, "k"), ms=4)
    ax1.set_yticks(range(len(THREATS)), THREATS)
    ax1.set_xlabel(f"seconds after {iso(t0)}")
    ax1.set_title("Threat level over time (dots: alerts)", fontsize=9)
    ax1.grid(alpha=0.3)
    if 0 < len(drawn) <= 15:
        ax1.legend(fontsize=6, ncols=5, title="track", title_fontsize=6)
    rows: list[str] = []
    for t in drawn:
        for s, (first, last) in t.sources.items():
            rows.append(f"{t.id} {s}")
            ax2.broken_barh([(first - t0, max(last - first, 0.5))], (len(rows) - 1.4, 0.8),
                            color=_COLOURS.get(t.max_threat, "k"))
    ax2.set_yticks(range(len(rows)), rows, fontsize=5)
    ax2.invert_yaxis()
    ax2.set_xlabel(f"seconds after {iso(t0)}")
    ax2.set_title("Which sensors saw each track, and when", fontsize=9)
    ax2.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- PDF


def _text_pages(inc: Incident) -> Iterator[list[str]]:
    lines = ["INCIDENT REPORT", "", *summary_lines(inc), ""]
    for title, header, rows in _tables(inc):
        lines += [title.upper(), " | ".join(header)]
        for r in rows or [["(none)"]]:
            lines += textwrap.wrap(" | ".join(r), 110, subsequent_indent="    ") or [""]
        lines.append("")
    for i in range(0, len(lines), _LINES_PER_PAGE):
        yield lines[i:i + _LINES_PER_PAGE]


def write_pdf(inc: Incident, out: str | os.PathLike[str]) -> None:
    """Write the report as a PDF: text pages, the map and the timelines."""
    drawn = notable(inc)
    # The PDF's 14 standard fonts (Courier for the text pages) need no glyph layout or
    # embedding: several times faster than TrueType on long tables.
    meta = {"Title": f"cuas incident report: {inc.recording.name}",
            "Subject": f"recording SHA-256 {inc.sha256}", "Creator": "cuas report"}
    fm_log = logging.getLogger("matplotlib.font_manager")
    level = fm_log.level
    fm_log.setLevel(logging.ERROR)  # "Failed to find font weight normal for Helvetica": harmless
    try:
        _pdf(inc, out, drawn, meta)
    finally:
        fm_log.setLevel(level)


def _pdf(inc: Incident, out: str | os.PathLike[str], drawn: list[TrackPath],
         meta: dict[str, str]) -> None:
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"pdf.use14corefonts": True}), PdfPages(out, metadata=meta) as pdf:
        pages = list(_text_pages(inc))
        for n, page in enumerate(pages, start=1):
            fig = Figure(figsize=_PAGE)
            fig.text(0.06, 0.96, "\n".join(page), va="top", ha="left", family="monospace",
                     fontsize=6.5, linespacing=1.35)
            fig.text(0.94, 0.02, f"{inc.recording.name}  page {n}/{len(pages)}", ha="right",
                     fontsize=6)
            pdf.savefig(fig)
        pdf.savefig(_map_figure(inc, drawn))
        pdf.savefig(_timeline_figure(inc, drawn))


# --------------------------------------------------------------------------- HTML


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return base64.b64encode(buf.getvalue()).decode()


def write_html(inc: Incident, out: str | os.PathLike[str]) -> None:
    """Write the report as one self-contained HTML file (figures embedded as PNG)."""
    e = html.escape
    drawn = notable(inc)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>cuas incident report: {e(inc.recording.name)}</title>",
             "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
             "table{border-collapse:collapse;font-size:0.85em}"
             "td,th{border:1px solid #bbb;padding:2px 6px;text-align:left}"
             "pre{background:#f4f4f4;padding:0.6em}</style></head><body>",
             "<h1>Incident report</h1>",
             f"<pre>{e(chr(10).join(summary_lines(inc)))}</pre>",
             f'<img alt="map of the track paths" src="data:image/png;base64,'
             f'{_png(_map_figure(inc, drawn))}">',
             f'<img alt="threat timeline and sensors" src="data:image/png;base64,'
             f'{_png(_timeline_figure(inc, drawn))}">']
    for title, header, rows in _tables(inc):
        parts.append(f"<h2>{e(title)}</h2><table><tr>"
                     + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>")
    parts.append("</body></html>")
    Path(out).write_text("\n".join(parts), encoding="utf-8")
