#!/usr/bin/env python3
"""Benchmark: the browser console under load: 1,000 live tracks at 2 Hz.

Three parts on one host: a stand-in daemon in this process (a PUB bound on loopback publishing
``tracks`` snapshots of N moving tracks at R Hz and a ``status`` every second, exactly what
``cuas run`` publishes), the console as its own process (``cuas web``), and a headless Chromium
(Debian's chromium, driven by Selenium) logged in to it. After a warm-up, the page's own
``requestAnimationFrame`` intervals are recorded for the measuring window (frame times; the
frame rate is 1000 / mean interval), and the console's counters give the WebSocket payload
sent to the browser per second (JSON text before permessage-deflate compression: what goes
over the wire is less).

Targets (issue 18): at least 30 frames per second, under 200 kB/s.

Run ``python benchmarks/bench_web.py [--tracks 1000] [--hz 2] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zmq  # noqa: E402

from cuas import bus, wire  # noqa: E402
from tests.web import browser  # noqa: E402
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--hz", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring window (s)")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before measuring")
    parser.add_argument("--screenshot", metavar="PNG", help="save the page at the end")
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
    halt = threading.Event()
    pub = threading.Thread(target=_publisher, args=(
        config.bus.tracks, args.tracks, args.hz, halt, config.site.lat, config.site.lon),
        daemon=True)
    pub.start()
    web = cuas("web", "--config", config.path, log=tmp / "web.log")
    driver = None
    try:
        line = wait_for_line(tmp / "web.log", "console at", web, 60)
        url = line.split("console at ", 1)[1].split()[0]
        driver = browser.chromium(args.width, args.height)
        browser.log_in(driver, url, "olivia", PASSWORDS["olivia"])
        deadline = time.monotonic() + 60
        while driver.execute_script("return window.cuas.state.tracks.size") < args.tracks:
            if time.monotonic() > deadline:
                raise SystemExit("the page never held every track")
            time.sleep(0.5)
        time.sleep(args.warmup)
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
        before = _stats(url, cookie)
        frames0 = driver.execute_script("return window.cuas.state.frames")
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
        after = _stats(url, cookie)
        frames = driver.execute_script("return window.cuas.state.frames") - frames0
        if args.screenshot:
            driver.save_screenshot(args.screenshot)
    finally:
        if driver is not None:
            driver.quit()
        stop(web)
        halt.set()
        pub.join(5)
    sent = after.get("ws_bytes_sent", 0) - before.get("ws_bytes_sent", 0)
    mean = statistics.fmean(intervals)
    ordered = sorted(intervals)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    slow = sum(1 for x in intervals if x > 1000.0 / 30.0) / len(intervals)
    load = os.getloadavg()[0]
    print(f"bench_web: {args.tracks} tracks at {args.hz:g} Hz, {elapsed:.1f} s measured in "
          f"headless Chromium (software WebGL, {args.width}x{args.height}); load average "
          f"{load:.1f} on {os.cpu_count()} CPUs")
    print(f"  frames: {len(intervals)} animation frames, {1000.0 / mean:.1f} fps mean; frame "
          f"time median {statistics.median(intervals):.1f} ms, p95 {p95:.1f} ms, max "
          f"{max(intervals):.1f} ms; {100 * slow:.1f} % of frames over 33.3 ms")
    print(f"  socket: {frames} picture updates received ({frames / elapsed:.2f}/s); "
          f"{sent / elapsed / 1000:.1f} kB/s of JSON payload to the browser (before "
          f"permessage-deflate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
