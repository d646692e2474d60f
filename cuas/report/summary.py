"""Pattern of life over many recordings (``cuas report --summary DIR``).

A *drone* is a reported track whose most likely class is ``uav`` or that carried a Remote ID
serial. For each: when it was first seen (hour of day and day of week, UTC), where (first
sightings gathered into 200 m cells of the site's ENU grid: likely launch areas), and its
Remote ID serial and operator positions, counted across recordings.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cuas.config import Config
from cuas.errors import CuasError
from cuas.report.load import load_incident
from cuas.report.model import iso

__all__ = ["Drone", "PatternOfLife", "pattern_of_life", "write_summary"]

log = logging.getLogger(__name__)

#: Size of a hotspot cell (m, east and north).
CELL_M = 200.0
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Drone:
    """One drone track of one recording: first sighting (UTC s, lat, lon, h, east, north)."""

    recording: str
    track_id: int
    first_t: float
    lat: float
    lon: float
    h: float
    east_m: float
    north_m: float
    max_threat: str
    rid: str | None
    operator: tuple[float, float, float] | None


@dataclass(frozen=True, slots=True)
class Hotspot:
    """A cell of first sightings: its centre (mean lat, lon) and how many."""

    lat: float
    lon: float
    count: int


@dataclass(frozen=True, slots=True)
class Serial:
    """A Remote ID serial seen in ``recordings`` recordings on ``tracks`` tracks."""

    rid: str
    recordings: int
    tracks: int
    operators: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True, slots=True)
class PatternOfLife:
    """The summary: drones by weekday (rows, Monday first) and hour (columns, UTC)."""

    directory: Path
    recordings: int
    drones: tuple[Drone, ...]
    by_day_hour: np.ndarray
    hotspots: tuple[Hotspot, ...]
    serials: tuple[Serial, ...]
    integrity: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]


def pattern_of_life(directory: str | os.PathLike[str], config: Config, *,
                    step_s: float = 5.0, top: int = 10) -> PatternOfLife:
    """Read every ``*.mcap`` and ``*.jsonl`` recording in ``directory`` (not recursive)."""
    d = Path(directory)
    if not d.is_dir():
        raise CuasError(f"{d}: not a directory")
    files = sorted(p for p in d.iterdir() if p.suffix in (".mcap", ".jsonl") and p.is_file()
                   and not p.name.endswith(".truth.jsonl"))
    drones: list[Drone] = []
    integrity: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    read = 0
    for p in files:
        try:
            inc = load_incident(p, config, step_s=step_s)
        except (CuasError, OSError) as exc:
            skipped.append((p.name, str(exc)))
            log.warning("%s: skipped: %s", p, exc)
            continue
        read += 1
        integrity.append((p.name, inc.integrity.status if inc.integrity else "unchecked"))
        for tr in inc.tracks:
            if tr.label != "uav" and not tr.rid:
                continue
            lat, lon, h = (float(x) for x in tr.lla[0])
            op = tr.operators[-1][1:] if tr.operators else None
            drones.append(Drone(p.name, tr.id, tr.first_t, lat, lon, h, float(tr.enu[0, 0]),
                                float(tr.enu[0, 1]), tr.max_threat, tr.rid, op))
    grid = np.zeros((7, 24), dtype=np.int64)
    for dr in drones:
        when = datetime.fromtimestamp(dr.first_t, UTC)
        grid[when.weekday(), when.hour] += 1
    cells: dict[tuple[int, int], list[Drone]] = defaultdict(list)
    for dr in drones:
        cells[(int(dr.east_m // CELL_M), int(dr.north_m // CELL_M))].append(dr)
    hot = sorted(cells.values(), key=lambda c: -len(c))[:top]
    hotspots = tuple(Hotspot(float(np.mean([x.lat for x in c])),
                             float(np.mean([x.lon for x in c])), len(c)) for c in hot)
    by_rid: dict[str, list[Drone]] = defaultdict(list)
    for dr in drones:
        if dr.rid:
            by_rid[dr.rid].append(dr)
    serials = tuple(sorted(
        (Serial(rid, len({x.recording for x in v}), len(v),
                tuple(dict.fromkeys(x.operator for x in v if x.operator is not None)))
         for rid, v in by_rid.items()), key=lambda s: (-s.recordings, -s.tracks, s.rid)))
    return PatternOfLife(d, read, tuple(drones), grid, hotspots, serials, tuple(integrity),
                         tuple(skipped))


def _lines(pol: PatternOfLife) -> list[str]:
    days = Counter(DAYS[datetime.fromtimestamp(x.first_t, UTC).weekday()] for x in pol.drones)
    lines = [f"PATTERN OF LIFE: {pol.directory}", "",
             f"{pol.recordings} recordings read, {len(pol.skipped)} skipped; "
             f"{len(pol.drones)} drone tracks", "Busiest days (UTC): "
             + (", ".join(f"{k} {n}" for k, n in days.most_common()) or "none"), "",
             f"HOTSPOTS OF FIRST SIGHTINGS ({CELL_M:.0f} m cells; likely launch areas)"]
    lines += [f"  {h.count:4d}  {h.lat:.5f}, {h.lon:.5f}" for h in pol.hotspots] or ["  none"]
    lines += ["", "REMOTE ID SERIALS (recordings, tracks, operator positions)"]
    for s in pol.serials:
        ops = "; ".join(f"{o[0]:.5f}, {o[1]:.5f}" for o in s.operators[:4])
        lines.append(f"  {s.rid}: {s.recordings} recordings, {s.tracks} tracks; {ops}")
    if not pol.serials:
        lines.append("  none")
    lines += ["", "RECORDINGS (manifest verdict)"]
    lines += [f"  {name}: {v}" for name, v in pol.integrity]
    lines += [f"  {name}: SKIPPED: {why}" for name, why in pol.skipped]
    return lines


def _figure(pol: PatternOfLife) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 9.0))
    ax1, ax2 = fig.subplots(2, 1)
    im = ax1.imshow(pol.by_day_hour, aspect="auto", cmap="Reds", origin="upper")
    ax1.set_yticks(range(7), DAYS)
    ax1.set_xticks(range(0, 24, 2))
    ax1.set_xlabel("hour of day (UTC)")
    ax1.set_title("Drones first seen, by day of week and hour", fontsize=9)
    fig.colorbar(im, ax=ax1, label="drone tracks")
    if pol.drones:
        ax2.scatter([d.lon for d in pol.drones], [d.lat for d in pol.drones], s=8, alpha=0.5,
                    label="first sighting")
        ops = [d.operator for d in pol.drones if d.operator]
        if ops:
            ax2.scatter([o[1] for o in ops], [o[0] for o in ops], marker="x", c="k", s=20,
                        label="RID operator")
        for h in pol.hotspots[:5]:
            ax2.annotate(str(h.count), (h.lon, h.lat), fontsize=8, color="darkred")
        ax2.legend(fontsize=7)
        lat0 = float(np.mean([d.lat for d in pol.drones]))
        ax2.set_aspect(1.0 / np.cos(np.radians(lat0)))
    ax2.set_xlabel("longitude (deg)")
    ax2.set_ylabel("latitude (deg)")
    ax2.set_title("First sightings (numbers: hotspot counts)", fontsize=9)
    ax2.ticklabel_format(useOffset=False)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def write_summary(pol: PatternOfLife, out: str | os.PathLike[str]) -> None:
    """Write the summary as ``.pdf``, ``.html`` or ``.json`` (by the file's extension)."""
    p = Path(out)
    suffix = p.suffix.lower()
    if suffix == ".json":
        doc = {"directory": str(pol.directory), "recordings": pol.recordings,
               "drones": [{**asdict(x), "first_seen": iso(x.first_t)} for x in pol.drones],
               "by_day_hour_utc": pol.by_day_hour.tolist(), "days": list(DAYS),
               "hotspots": [asdict(h) for h in pol.hotspots],
               "serials": [asdict(s) for s in pol.serials],
               "integrity": dict(pol.integrity), "skipped": dict(pol.skipped)}
        p.write_text(json.dumps(doc, indent=1, allow_nan=False), encoding="utf-8")
    elif suffix == ".pdf":
        from matplotlib.backends.backend_pdf import PdfPages
        from matplotlib.figure import Figure

        with PdfPages(p, metadata={"Title": "cuas pattern of life", "Creator": "cuas report"}) as pdf:
            lines = _lines(pol)
            for i in range(0, max(len(lines), 1), 62):
                fig = Figure(figsize=(8.27, 11.69))
                fig.text(0.06, 0.96, "\n".join(lines[i:i + 62]), va="top", family="monospace",
                         fontsize=6.5, linespacing=1.35)
                pdf.savefig(fig)
            pdf.savefig(_figure(pol))
    elif suffix in (".html", ".htm"):
        import base64
        import html
        import io

        buf = io.BytesIO()
        _figure(pol).savefig(buf, format="png", dpi=110)
        png = base64.b64encode(buf.getvalue()).decode()
        p.write_text("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>cuas pattern of life</title></head><body>"
                     f"<pre>{html.escape(chr(10).join(_lines(pol)))}</pre>"
                     f'<img alt="heatmap and first sightings" src="data:image/png;base64,{png}">'
                     "</body></html>", encoding="utf-8")
    else:
        raise CuasError(f"{p}: the summary is written as .pdf, .html or .json")
