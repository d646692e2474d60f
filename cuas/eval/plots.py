"""Figures of a scored run (``cuas eval --plot DIR``): PNG files drawn with matplotlib (Agg).

- ``map.png``: the site's zones and assets, every truth path (threats in red) and every counted
  track (tracks flagged malicious in red), overview and a zoom on the zones;
- ``gospa.png``: GOSPA over time (total, and the localisation, missed and false parts as
  metres), with each threat's zone entry marked;
- ``alerts.png``: a timeline of the tracks' threat levels (the classifier's output), the
  malicious flag, each threat's presence and its zone entry.

Positions in site ENU metres (plotted in km on the overview), times in seconds into the run.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Final

import numpy as np

from cuas import vocabulary
from cuas.config import Config
from cuas.eval.matching import Evaluation
from cuas.eval.tracklog import TrackLog
from cuas.eval.truth import Truth

LEVEL_COLOURS: Final = {"none": "#dddddd", "low": "#f2d649", "medium": "#f29a2e",
                        "high": "#e0412b", "critical": "#7a0a0a"}
CLASS_COLOURS: Final = {"uav": "#1f5fbf", "bird": "#2a9d4b", "manned": "#7f7f7f",
                        "clutter": "#b0b0b0"}
THREAT_COLOUR: Final = "#d62728"
FALSE_ALARM_COLOUR: Final = "#ff8c1a"
#: Most tracks drawn on the alert timeline (the most threatening first).
MAX_TIMELINE_TRACKS: Final = 24


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _track_owner(ev: Evaluation) -> dict[int, str]:
    """Each matched track id -> the truth object it matched (the first one listed)."""
    out: dict[int, str] = {}
    for o in ev.objects.values():
        for tid in o.track_ids:
            out.setdefault(tid, o.id)
    return out


def _counted(tracks: TrackLog, ev: Evaluation) -> np.ndarray[Any, np.dtype[np.bool_]]:
    codes = [vocabulary.TRACK_STATUSES.index(s) for s in ev.statuses]
    return np.isin(tracks.status, codes)


def _zones(ax: Any, config: Config | None, labels: bool) -> None:
    if config is None or not config.zones:
        return
    from cuas.zones import SiteGeometry

    geom = SiteGeometry(config)
    order = np.argsort([-p.area for p in geom.polygons])  # big first, so small ones stay visible
    for k in order.tolist():
        poly, name = geom.polygons[k], geom.zone_names[k]
        level = vocabulary.THREAT_LEVELS[int(geom.zone_level[k])]
        x, y = poly.exterior.xy
        colour = LEVEL_COLOURS.get(level, "#cccccc")
        ax.fill(x, y, color=colour, alpha=0.18 if geom.zone_kinds[k] != "no_fly" else 0.35,
                zorder=0)
        ax.plot(x, y, color=colour, lw=1.4, zorder=1)
        if labels and geom.zone_kinds[k] == "no_fly":
            c = poly.centroid
            ax.annotate(f"{name.upper()}\n({geom.zone_kinds[k].replace('_', '-')})",
                        (c.x, c.y + 0.25 * (poly.bounds[3] - poly.bounds[1])), fontsize=9,
                        ha="center", va="center", weight="bold", color="#5c0000", zorder=8)
        elif labels:
            c = poly.representative_point() if geom.zone_kinds[k] != "perimeter" else None
            if c is not None:
                ax.annotate(name, (c.x, c.y), fontsize=8, ha="center", va="center",
                            color="#333333", zorder=5)
            else:
                ax.annotate(name, (float(np.max(x)), float(np.max(y))), fontsize=8,
                            ha="right", va="bottom", color="#333333", zorder=5)
    for i, name in enumerate(geom.asset_names):
        cx, cy, _ = geom.asset_centre[i]
        ax.add_patch(_circle(cx, cy, float(geom.asset_radius[i])))
        if labels:
            ax.annotate(name, (cx, cy - geom.asset_radius[i]), fontsize=7, ha="center",
                        va="top", color="#5a2d82")


def _circle(x: float, y: float, r: float) -> Any:
    from matplotlib.patches import Circle

    return Circle((x, y), r, fill=False, ls=":", lw=1.0, ec="#5a2d82", zorder=2)


def _map(truth: Truth, tracks: TrackLog, ev: Evaluation, config: Config | None,
         path: Path) -> None:
    plt = _pyplot()
    fig, (ax_all, ax_zoom) = plt.subplots(1, 2, figsize=(16, 8), width_ratios=[1, 1.25])
    counted = _counted(tracks, ev)
    owner = _track_owner(ev)
    flagged = {int(i) for i in np.unique(tracks.ids[counted & tracks.malicious])}
    threat_tracks = {tid for tid, oid in owner.items()
                     if oid in ev.objects and ev.objects[oid].threat}
    infos = truth.header.objects
    for ax, scale, zoom in ((ax_all, 1000.0, False), (ax_zoom, 1.0, True)):
        _zones(ax, config, labels=zoom) if zoom else _zones_km(ax, config)
        for oid, obj in truth.objects.items():
            info = infos.get(oid)
            threat = bool(info and info.threat)
            colour = THREAT_COLOUR if threat else CLASS_COLOURS.get(
                info.object_class if info else "uav", "#444444")
            ax.plot(obj.enu[:, 0] / scale, obj.enu[:, 1] / scale, color=colour,
                    lw=3.5 if threat else 1.0, alpha=0.8 if threat else 0.7,
                    zorder=5 if threat else 3)
            if threat and zoom:
                ax.annotate(f"truth: {oid}", (obj.enu[-1, 0], obj.enu[-1, 1]), fontsize=9,
                            color=THREAT_COLOUR, weight="bold", zorder=6)
        ids = tracks.ids[counted]
        xy = tracks.enu[counted]
        for tid in np.unique(ids).tolist():
            rows = xy[ids == tid]
            bad = tid in flagged
            mine = tid in threat_tracks
            colour = "#000000" if mine else (FALSE_ALARM_COLOUR if bad else "#222222")
            ax.plot(rows[:, 0] / scale, rows[:, 1] / scale, ls="-" if mine or bad else "--",
                    lw=1.3 if mine else (0.8 if bad else 0.6), color=colour,
                    alpha=0.9 if mine else (0.6 if bad else 0.35), zorder=6 if mine else 4)
            if zoom and tid in threat_tracks:
                ax.plot(rows[-1, 0], rows[-1, 1], marker="X", ms=10, color=THREAT_COLOUR,
                        mec="black", zorder=7)
                ax.annotate(f"track {tid} ({owner[tid]}, malicious)" if bad
                            else f"track {tid} ({owner[tid]})", (rows[-1, 0], rows[-1, 1]),
                            xytext=(8, -12), textcoords="offset points", fontsize=9,
                            weight="bold", zorder=7)
        ax.set_aspect("equal")
        ax.grid(True, lw=0.3)
    _limits(ax_zoom, config)
    ax_all.set_title("Whole picture (km, site ENU)")
    ax_all.set_xlabel("east (km)")
    ax_all.set_ylabel("north (km)")
    ax_zoom.set_title("Protected zones (m): stadium bowl, perimeters, Olympic Way")
    ax_zoom.set_xlabel("east (m)")
    ax_zoom.set_ylabel("north (m)")
    from matplotlib.lines import Line2D

    legend = [Line2D([], [], color=THREAT_COLOUR, lw=2.6, label="truth: threat"),
              Line2D([], [], color=CLASS_COLOURS["uav"], label="truth: other drone"),
              Line2D([], [], color=CLASS_COLOURS["bird"], label="truth: bird"),
              Line2D([], [], color=CLASS_COLOURS["manned"], label="truth: manned aircraft"),
              Line2D([], [], color="#222222", ls="--", lw=0.6, label="track"),
              Line2D([], [], color="#000000", lw=1.3, label="the threat's track"),
              Line2D([], [], color=FALSE_ALARM_COLOUR, lw=0.8,
                     label="other track flagged malicious (false alarm)"),
              Line2D([], [], color=THREAT_COLOUR, marker="X", mec="black", ls="",
                     label="the threat's track, last position")]
    ax_zoom.legend(handles=legend, loc="lower right", fontsize=8, framealpha=0.9)
    fig.suptitle(f"Truth and tracks: {len(truth.objects)} objects, {ev.n_track_ids} confirmed "
                 f"track ids, {ev.n_false_alarms} false alarms")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _zones_km(ax: Any, config: Config | None) -> None:
    if config is None or not config.zones:
        return
    from cuas.zones import SiteGeometry

    for poly in SiteGeometry(config).polygons:
        x, y = poly.exterior.xy
        ax.fill(np.asarray(x) / 1000.0, np.asarray(y) / 1000.0, color="#e0412b", alpha=0.25,
                zorder=0)


def _limits(ax: Any, config: Config | None) -> None:
    """Zoom on the zones (with a margin); without zones, 2 km around the origin."""
    if config is not None and config.zones:
        from cuas.zones import SiteGeometry

        bounds = np.array([p.bounds for p in SiteGeometry(config).polygons])
        x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
        x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
        mx, my = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
        ax.set_xlim(x0 - mx, x1 + mx)
        ax.set_ylim(y0 - my, y1 + my)
    else:
        ax.set_xlim(-2000, 2000)
        ax.set_ylim(-2000, 2000)


def _t0(truth: Truth, tracks: TrackLog) -> float:
    starts = [float(tracks.t[0])] if len(tracks.t) else []
    if len(truth.times):
        starts.append(float(truth.times[0]))
    return min(starts) if starts else 0.0


def _gospa(ev: Evaluation, t0: float, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(12, 4.5))
    t = ev.t - t0
    ax.plot(t, ev.gospa, color="black", lw=1.2, label=f"GOSPA total (mean {ev.gospa_mean:.1f} m)")
    root = 1.0 / ev.p
    for part, colour, name in ((ev.localisation, "#1f77b4", "localisation"),
                               (ev.missed, "#ff7f0e", "missed"), (ev.false, "#9467bd", "false")):
        ax.plot(t, part**root, color=colour, lw=0.7, alpha=0.8, label=f"{name} part (m)")
    for o in ev.threats:
        if o.entry_t is not None:
            ax.axvline(o.entry_t - t0, color=THREAT_COLOUR, ls=":", lw=1.2)
            ax.annotate(f"{o.id} enters a zone", (o.entry_t - t0, ax.get_ylim()[1]),
                        rotation=90, va="top", ha="right", fontsize=8, color=THREAT_COLOUR)
    ax.set_xlabel("time into the run (s)")
    ax.set_ylabel(f"metres (c = {ev.c:g} m, p = {ev.p:g})")
    ax.set_title(f"GOSPA over time: mean {ev.gospa_mean:.1f} m, RMS {ev.gospa_rms:.1f} m, "
                 f"{ev.id_switches} ID switches")
    ax.grid(True, lw=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _alerts(truth: Truth, tracks: TrackLog, ev: Evaluation, t0: float, path: Path) -> None:
    plt = _pyplot()
    counted = _counted(tracks, ev)
    owner = _track_owner(ev)
    snap = np.repeat(np.arange(len(tracks.t)), np.diff(tracks.offsets))
    rows = np.flatnonzero(counted)
    ids, lvl, mal, tt = tracks.ids[rows], tracks.threat[rows], tracks.malicious[rows], \
        tracks.t[snap[rows]] - t0
    peak: Counter[int] = Counter()
    first: dict[int, float] = {}
    for tid, lv, t in zip(ids.tolist(), lvl.tolist(), tt.tolist(), strict=True):
        peak[tid] = max(peak[tid], lv)
        first.setdefault(tid, t)
    def of_threat(tid: int) -> bool:
        who = owner.get(tid)
        return who is not None and ev.objects[who].threat

    # The threats' own tracks first, then the most threatening, earliest first.
    chosen = sorted((tid for tid, lv in peak.items() if lv >= 2 or of_threat(tid)),
                    key=lambda k: (not of_threat(k), -peak[k], first[k]))[:MAX_TIMELINE_TRACKS]
    threats = list(ev.threats)
    n = len(chosen) + len(threats)
    fig, ax = plt.subplots(figsize=(12, 1.6 + 0.32 * max(n, 1)))
    labels: list[str] = []
    y = 0
    for o in threats:
        obj = truth.objects[o.id]
        ax.broken_barh([(float(obj.times[0] - t0), float(obj.times[-1] - obj.times[0]))],
                       (y - 0.35, 0.7), color=THREAT_COLOUR, alpha=0.35)
        if o.entry_t is not None:
            ax.plot(o.entry_t - t0, y, marker="|", ms=16, mew=2.5, color="black")
        labels.append(f"truth {o.id} (threat)")
        y += 1
    for tid in chosen:
        sel = ids == tid
        t_s, lv_s, m_s = tt[sel], lvl[sel], mal[sel]
        dt = np.diff(t_s, append=t_s[-1] + 0.5)
        for level in range(1, len(vocabulary.THREAT_LEVELS)):
            on = lv_s == level
            if on.any():
                ax.broken_barh(list(zip(t_s[on].tolist(), dt[on].tolist(), strict=True)),
                               (y - 0.35, 0.7), color=LEVEL_COLOURS[vocabulary.THREAT_LEVELS[level]],
                               lw=0)
        if m_s.any():
            ax.plot(t_s[m_s], np.full(int(m_s.sum()), y), ls="", marker="s", ms=2.0,
                    color="black")
        who = owner.get(tid)
        labels.append(f"track {tid}: {who or 'no truth'}" + (" ← THREAT" if of_threat(tid) else ""))
        y += 1
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for lab in ax.get_yticklabels():
        if "THREAT" in lab.get_text() or "(threat)" in lab.get_text():
            lab.set_color(THREAT_COLOUR)
            lab.set_fontweight("bold")
    ax.invert_yaxis()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(color=LEVEL_COLOURS[lv], label=f"threat {lv}")
                          for lv in vocabulary.THREAT_LEVELS[1:]]
    handles += [Line2D([], [], ls="", marker="s", ms=4, color="black", label="malicious flag"),
                Line2D([], [], ls="", marker="|", ms=10, mew=2, color="black",
                       label="threat enters a zone"),
                Patch(color=THREAT_COLOUR, alpha=0.35, label="threat present (truth)")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8)
    ax.set_xlabel("time into the run (s)")
    ax.set_xlim(0, max(float(tracks.t[-1] - t0) if len(tracks.t) else 1.0, 1.0))
    ax.grid(True, axis="x", lw=0.3)
    shown = "" if len(peak) <= MAX_TIMELINE_TRACKS else f" (first {MAX_TIMELINE_TRACKS})"
    ax.set_title(f"Alert timeline: tracks that reached threat medium or above{shown}; "
                 f"{ev.n_false_alarms} false alarms")
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0.0, 0.75 / height, 1.0, 1.0))  # room for the legend below
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(truth: Truth, tracks: TrackLog, ev: Evaluation, out_dir: str | Path,
                config: Config | None = None) -> list[Path]:
    """Write map.png, gospa.png and alerts.png into ``out_dir`` (created); returns the paths.
    ``config`` gives the zones and assets drawn on the map (none drawn without it)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = _t0(truth, tracks)
    paths = [out / "map.png", out / "gospa.png", out / "alerts.png"]
    _map(truth, tracks, ev, config, paths[0])
    _gospa(ev, t0, paths[1])
    _alerts(truth, tracks, ev, t0, paths[2])
    return paths
