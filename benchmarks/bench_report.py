"""How long ``cuas report`` takes: the bundled 10-minute demo, and a 2-hour recording.

The bundled recording holds detections only; a recording made beside a live daemon
(``cuas record``) also holds its ``trk`` snapshots (``daemon.snapshot_hz``, 2 Hz by default,
plus one after each alert) and ``alert`` messages. This script makes that recording once: the
demo's detections through the fusion engine offline (a few minutes, not timed), snapshots kept
at 2 Hz and at every alert, written with a manifest as the recorder writes it. ``--dense``
keeps every snapshot (one per detections message, ~13 Hz: a pessimistic case). The 2-hour
recording is 12 copies of it, shifted by 600 s each (times) and 100,000 (track ids).

Then it times ``cuas report`` (reading, integrity check, rendering) for each format, in this
process, and prints the figures.

    python benchmarks/bench_report.py                    # 10 min, every format; 2 h: pdf, geojson
    python benchmarks/bench_report.py --dense --formats pdf
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import msgpack

from cuas import wire
from cuas.cli.main import main as cuas
from cuas.fusion.export import alert_message
from cuas.fusion.offline import replay_offline
from cuas.record.recording import RecordingReader, t_to_ns
from cuas.record.writer import RecordingWriter

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recordings" / "wembley-demo.mcap"
CONFIG = ROOT / "configs" / "wembley.toml"
SHIFT_S = 600.0
ID_SHIFT = 100_000


def build_live_like(out: Path, snapshot_hz: float | None) -> None:
    """The demo as recorded beside a live daemon (see the module docstring)."""
    from cuas.config import load_config

    snaps: list[wire.Tracks] = []
    alerts: list[wire.Alert] = []
    started = time.perf_counter()

    def on_alert(ev: object, t: float) -> None:
        alerts.append(alert_message(ev, "cuas", len(alerts), t))  # type: ignore[arg-type]

    replay_offline(DEMO, io.StringIO(), config=load_config(CONFIG), on_snapshot=snaps.append,
                   on_alert=on_alert)
    # The daemon publishes at most snapshot_hz, and right after an alert (an alert's t is
    # its batch's t, which is its snapshot's t).
    alert_times = {a.t for a in alerts}
    msgs: list[tuple[float, str, bytes]] = []
    last = -1e18
    for snap in snaps:
        if snapshot_hz is None or snap.t - last >= 1.0 / snapshot_hz or snap.t in alert_times:
            msgs.append((snap.t, "trk", wire.encode(snap)))
            last = snap.t
    msgs += [(a.t, "alert", wire.encode(a)) for a in alerts]
    msgs += [(r.publish_time_ns / 1e9, r.topic, r.payload) for r in RecordingReader(DEMO)]
    msgs.sort(key=lambda m: m[0])
    with RecordingWriter(out, manifest=True) as w:
        for t, topic, payload in msgs:
            w.write(topic, payload, log_time_ns=t_to_ns(t), publish_time_ns=t_to_ns(t))
    print(f"built {out.name}: {len(msgs)} messages, {out.stat().st_size / 1e6:.0f} MB "
          f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def build_long(src: Path, out: Path, copies: int) -> None:
    """``copies`` back-to-back copies of ``src``, times and track ids shifted."""
    started = time.perf_counter()
    with RecordingWriter(out, manifest=True) as w:
        for k in range(copies):
            dt = k * SHIFT_S
            for r in RecordingReader(src):
                if k == 0:
                    w.write(r.topic, r.payload, log_time_ns=r.log_time_ns,
                            publish_time_ns=r.publish_time_ns)
                    continue
                d = msgpack.unpackb(r.payload)
                d["t"] += dt
                for tr in d.get("tracks", ()):
                    tr["t_update"] += dt
                    tr["id"] += k * ID_SHIFT
                if "track_id" in d:
                    d["track_id"] += k * ID_SHIFT
                if r.topic == "alert":
                    d["seq"] += k * 100_000
                shift = round(dt * 1e9)
                w.write(r.topic, msgpack.packb(d), log_time_ns=r.log_time_ns + shift,
                        publish_time_ns=r.publish_time_ns + shift)
    print(f"built {out.name}: {copies} x {src.name}, {out.stat().st_size / 1e6:.0f} MB in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)


def time_report(rec: Path, fmt: str, out_dir: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``cuas report`` run in this process. On a shared machine
    the wall time includes waiting for a core; the CPU time does not."""
    ext = "mcap" if fmt == "foxglove" else fmt
    out = out_dir / f"{rec.stem}.report.{ext}"
    started, cpu = time.perf_counter(), time.process_time()
    code = cuas(["report", str(rec), "--config", str(CONFIG), "--out", str(out)])
    elapsed = time.perf_counter() - started, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"cuas report failed ({code}) on {rec} as {fmt}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--work", type=Path, default=Path("/tmp/cuas-bench-report"),
                    help="where the generated recordings and reports go (kept between runs)")
    ap.add_argument("--formats", default="pdf,html,kml,geojson,csv,gpx,foxglove",
                    help="formats timed on the 10-minute recording")
    ap.add_argument("--long-formats", default="pdf,geojson",
                    help="formats timed on the 2-hour recording ('' skips it)")
    ap.add_argument("--hours", type=float, default=2.0, help="length of the long recording")
    ap.add_argument("--dense", action="store_true",
                    help="keep every snapshot (~13 Hz) instead of the daemon's 2 Hz")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    tag = "dense" if args.dense else "2hz"
    demo = args.work / f"demo-{tag}.mcap"
    if not demo.exists():
        build_live_like(demo, None if args.dense else 2.0)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| recording | size | format | wall time | CPU time |\n|---|---|---|---|---|")
    for fmt in filter(None, args.formats.split(",")):
        wall, cpu = time_report(demo, fmt, args.work)
        print(f"| 10 min ({tag}) | {demo.stat().st_size / 1e6:.0f} MB | {fmt} | {wall:.1f} s "
              f"| {cpu:.1f} s |", flush=True)
    if args.long_formats:
        copies = max(1, round(args.hours * 3600 / SHIFT_S))
        long = args.work / f"long-{copies}x-{tag}.mcap"
        if not long.exists():
            build_long(demo, long, copies)
        for fmt in filter(None, args.long_formats.split(",")):
            wall, cpu = time_report(long, fmt, args.work)
            print(f"| {copies * SHIFT_S / 3600:.1f} h ({tag}) | {long.stat().st_size / 1e6:.0f} MB "
                  f"| {fmt} | {wall:.1f} s | {cpu:.1f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
