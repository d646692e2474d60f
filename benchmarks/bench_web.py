#!/usr/bin/env python3
"""Benchmark: the browser console under load: 1,000 live tracks at 2 Hz.

Three parts on one host: a stand-in daemon in this process (a PUB bound on loopback publishing
``tracks`` snapshots of N moving tracks at R Hz and a ``status`` every second, exactly what
``cuas run`` publishes), the console as its own process (``cuas web``), and a headless Chromium
(Debian's chromium, driven by Selenium) logged in to it. After a warm-up (65 s: the trails
fill over 60 s), the page's own ``requestAnimationFrame`` intervals are recorded for the
measuring window (frame times; the frame rate is 1000 / mean interval), the map's redraws and
the renderer's main-thread time are counted, and the console's counters give the WebSocket payload
sent to the browser per second (JSON text before permessage-deflate compression: what goes
over the wire is less).

Targets (issue 18): at least 30 frames per second, under 200 kB/s.

``--baseline main`` first measures the console as it is at that git ref (its ``cuas/`` unpacked
from git and run the same way, same publisher, same browser), then this checkout's: before and
after in one run, on the same machine load. ``--trace PREFIX`` records a Chrome trace after each
measuring window and prints where the time went (the renderer's main thread, the GPU process
where software WebGL runs, the map's worker).

Run ``python benchmarks/bench_web.py [--tracks 1000] [--hz 2] [--seconds 20] [--baseline main]
[--trace out/web-trace]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zmq  # noqa: E402

from cuas import bus, wire  # noqa: E402
from tests.web import browser, chrome_trace  # noqa: E402
from tests.web.helpers import PASSWORDS, site_config  # noqa: E402
from tests.web.stack import cuas, stop, wait_for_line  # noqa: E402


def _snapshot(n: int, seq: int, t: float, lat0: float, lon0: float) -> wire.Tracks:
    """``n`` tracks on circles round the site, a tenth of them threats, a few malicious."""
    tracks = []
    levels = ("none", "low", "medium", "high", "critical")
    for i in range(n):
        radius = 200.0 + (i % 50) * 40.0
        omega = 0.02 + (i % 7) * 0.005
        phase = i * 0.618
        a = phase + omega * t
        e, nn = radius * math.cos(a), radius * math.sin(a)
        lat = lat0 + nn / 111_250.0
        lon = lon0 + e / (111_250.0 * math.cos(math.radians(lat0)))
        ve, vn = -radius * omega * math.sin(a), radius * omega * math.cos(a)
        cls = ("uav", "bird", "manned", "clutter")[i % 4]
        probs = {c: (0.7 if c == cls else 0.1) for c in ("uav", "bird", "manned", "clutter")}
        threat = levels[4 if i % 97 == 0 else 3 if i % 31 == 0 else 2 if i % 10 == 0 else 0]
        tracks.append(wire.Track(
            id=i + 1, status="confirmed", lla=(lat, lon, 120.0 + (i % 30) * 5.0),
            enu=(e, nn, 30.0), vel=(ve, vn, 0.0), pos_sigma=(3.0, 3.0, 5.0), t_update=t,
            sources=("radar-north",), class_probs=probs, threat=threat,
            malicious=i % 97 == 0, reasons=(f"{cls} by motion",) if threat != "none" else ()))
    return wire.Tracks("bench", seq, t, tuple(tracks))


def _publisher(endpoint: str, n: int, hz: float, stop_at: threading.Event, lat0: float,
               lon0: float) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.bind(endpoint)
    seq = 0
    next_status = 0.0
    try:
        while not stop_at.is_set():
            started = time.time()
            sock.send_multipart(bus.frames(_snapshot(n, seq, started, lat0, lon0)))
            seq += 1
            if started >= next_status:
                sock.send_multipart(bus.frames(wire.Status(
                    "bench", seq, started, "ok", 1.0, {"tracks": n},
                    {"radar-north": started})))
                next_status = started + 1.0
            stop_at.wait(max(0.0, 1.0 / hz - (time.time() - started)))
    finally:
        sock.close(0)
        ctx.term()


def _stats(url: str, cookie: str) -> dict[str, int]:
    req = urllib.request.Request(url + "api/stats", headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=10) as r:
        counters: dict[str, int] = json.load(r)["counters"]
        return counters


def _metrics(driver: Any) -> dict[str, float]:
    got = driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    return {m["name"]: float(m["value"]) for m in got}


def _extract(ref: str, into: Path) -> Path:
    """The package as it stands at git ``ref`` (``cuas/`` only), unpacked under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "cuas"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _measure(args: argparse.Namespace, config_path: str, tmp: Path, root: Path,
             name: str) -> dict[str, Any]:
    """Start the console from ``root``, log a browser in, warm up, measure (see the module)."""
    web = cuas("web", "--config", config_path, log=tmp / f"web-{name}.log", root=root)
    driver = None
    try:
        line = wait_for_line(tmp / f"web-{name}.log", "console at", web, 60)
        url = line.split("console at ", 1)[1].split()[0]
        driver = browser.chromium(args.width, args.height)
        browser.log_in(driver, url, "olivia", PASSWORDS["olivia"])
        deadline = time.monotonic() + 60
        while driver.execute_script("return window.cuas.state.tracks.size") < args.tracks:
            if time.monotonic() > deadline:
                raise SystemExit("the page never held every track")
            time.sleep(0.5)
        time.sleep(args.warmup)
        load_before = os.getloadavg()[0]
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
        before = _stats(url, cookie)
        frames0 = driver.execute_script("return window.cuas.state.frames")
        # The map's redraws (MapLibre's "render" events) and the renderer's main-thread time
        # (Chrome's Performance metrics): what each picture update costs, whatever the load.
        driver.execute_script("const m = window.cuas.state.map; window.__redraws = 0;"
                              "m.on('render', () => { window.__redraws++; });")
        driver.execute_cdp_cmd("Performance.enable", {})
        metrics0 = _metrics(driver)
        started = time.monotonic()
        intervals = driver.execute_async_script("""
            const done = arguments[arguments.length - 1], until = performance.now() + arguments[0];
            const out = []; let last = null;
            const tick = (now) => {
              if (last !== null) out.push(now - last);
              last = now;
              if (now < until) requestAnimationFrame(tick); else done(out);
            };
            requestAnimationFrame(tick);""", args.seconds * 1000.0)
        elapsed = time.monotonic() - started
        metrics1 = _metrics(driver)
        load = (load_before + os.getloadavg()[0]) / 2.0
        redraws = driver.execute_script("return window.__redraws")
        after = _stats(url, cookie)
        frames = driver.execute_script("return window.cuas.state.frames") - frames0
        traced = None
        if args.trace:
            traced = chrome_trace.record(driver, args.trace_seconds,
                                         Path(f"{args.trace}-{name}.json"))
        if args.screenshot:
            driver.save_screenshot(f"{args.screenshot}-{name}.png")
    finally:
        if driver is not None:
            driver.quit()
        stop(web)
    return {"intervals": intervals, "elapsed": elapsed, "load": load, "redraws": redraws,
            "frames": frames, "metrics": (metrics0, metrics1), "traced": traced,
            "sent": after.get("ws_bytes_sent", 0) - before.get("ws_bytes_sent", 0)}


def _report(args: argparse.Namespace, name: str, m: dict[str, Any]) -> float:
    """Print one console's figures; its mean frame rate."""
    intervals, elapsed, frames, redraws = m["intervals"], m["elapsed"], m["frames"], m["redraws"]
    mean = statistics.fmean(intervals)
    ordered = sorted(intervals)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    slow = sum(1 for x in intervals if x > 1000.0 / 30.0) / len(intervals)
    print(f"{name}: {elapsed:.1f} s measured; load average {m['load']:.1f} on "
          f"{os.cpu_count()} CPUs (mean of the window's start and end)")
    print(f"  frames: {len(intervals)} animation frames, {1000.0 / mean:.1f} fps mean; frame "
          f"time median {statistics.median(intervals):.1f} ms, p95 {p95:.1f} ms, max "
          f"{max(intervals):.1f} ms; {100 * slow:.1f} % of frames over 33.3 ms")
    m0, m1 = m["metrics"]
    busy = {k: 1000.0 * (m1[k] - m0[k]) / max(frames, 1) for k in ("TaskDuration", "ScriptDuration")}
    print(f"  map: {redraws} redraws ({redraws / max(frames, 1):.2f} per picture update); "
          f"renderer main thread busy {busy['TaskDuration']:.0f} ms per update, of which "
          f"JavaScript {busy['ScriptDuration']:.0f} ms")
    print(f"  socket: {frames} picture updates received ({frames / elapsed:.2f}/s); "
          f"{m['sent'] / elapsed / 1000:.1f} kB/s of JSON payload to the browser (before "
          f"permessage-deflate)")
    if m["traced"] is not None:
        print("  trace: " + chrome_trace.summary(m["traced"]))
    return 1000.0 / mean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--hz", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring window (s)")
    # Trails fill over web.trail_s (60 s): measuring sooner would time a lighter picture than
    # the one an operator watches all day.
    parser.add_argument("--warmup", type=float, default=65.0, help="seconds before measuring")
    parser.add_argument("--baseline", metavar="REF",
                        help="first measure the console as it is at git REF (e.g. main), then "
                             "this checkout's, in the same run")
    parser.add_argument("--trace", metavar="PREFIX",
                        help="after measuring, record a Chrome trace to PREFIX-NAME.json and "
                             "print where the time went")
    parser.add_argument("--trace-seconds", type=float, default=8.0)
    parser.add_argument("--screenshot", metavar="PREFIX", help="save the page to PREFIX-NAME.png")
    parser.add_argument("--width", type=int, default=1280, help="browser window (CSS px)")
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args()
    why = browser.missing()
    if why:
        print(f"bench_web: cannot run: {why}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    config = site_config(tmp)
    assert config.path is not None
    runs: list[tuple[str, Path]] = []
    if args.baseline:
        runs.append((args.baseline, _extract(args.baseline, tmp / "baseline")))
    runs.append(("this checkout", ROOT))
    halt = threading.Event()
    pub = threading.Thread(target=_publisher, args=(
        config.bus.tracks, args.tracks, args.hz, halt, config.site.lat, config.site.lon),
        daemon=True)
    pub.start()
    results = []
    try:
        for name, root in runs:
            tag = "baseline" if root != ROOT else "this"
            results.append((name, _measure(args, str(config.path), tmp, root, tag)))
    finally:
        halt.set()
        pub.join(5)
    print(f"bench_web: {args.tracks} tracks at {args.hz:g} Hz in headless Chromium (software "
          f"WebGL, {args.width}x{args.height}), measured after {args.warmup:g} s")
    fps = [_report(args, name, m) for name, m in results]
    if len(fps) == 2:
        print(f"  this checkout / {args.baseline}: {fps[1] / fps[0]:.2f}x the frame rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
