"""``cuas demo``: the whole system on the bundled stadium recording, no hardware.

Starts the fusion daemon on loopback, replays the recording onto its detection endpoint,
shows the operator's live view (on a terminal), and ends with a summary: tracks, alerts, and
the evaluation against the recording's ground truth when it has one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cuas.fusion.daemon import Daemon

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RECORDING = ROOT / "recordings" / "wembley-demo.mcap"
DEFAULT_CONFIG = ROOT / "configs" / "wembley.toml"
#: Longest wait (s) after the replay for the daemon to read what was sent to it.
DRAIN_WAIT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recording", metavar="FILE", default=str(DEFAULT_RECORDING),
                        help="recording to replay (default: the bundled Wembley recording)")
    parser.add_argument("--truth", metavar="TRUTH",
                        help="ground truth to score against (default: <recording>.truth.jsonl "
                             "beside it, when present)")
    parser.add_argument("--config", metavar="CFG",
                        help="site configuration (default: configs/wembley.toml)")
    parser.add_argument("--speed", type=float, default=10.0,
                        help="replay speed: 1 real time, X times faster, 0 as fast as possible "
                             "(default 10)")
    parser.add_argument("--tracks-out", metavar="OUT.jsonl",
                        help="also write every tracks snapshot received (JSON Lines)")
    parser.add_argument("--no-view", action="store_true",
                        help="no live table, only the summary")
    parser.add_argument("--no-web", action="store_true",
                        help="do not start the browser console")
    parser.add_argument("--web-listen", metavar="HOST:PORT", default="127.0.0.1:0",
                        help="where the console listens (default: a free loopback port)")
    parser.add_argument("--plot", metavar="DIR",
                        help="also write the evaluation's figures (map, GOSPA, alert timeline) "
                             "into DIR")


def _taken_in(daemon: Daemon) -> int:
    """Detection messages the daemon has read off the bus so far (valid or not)."""
    c = daemon.state.counters
    return (sum(h.received for h in daemon.state.sensors.values()) + c["dropped_malformed"]
            + c["dropped_wrong_type"] + c["sensors_untracked"])


def _truth_for(recording: Path) -> Path | None:
    stem = recording.name.split(".")[0]
    candidate = recording.with_name(f"{stem}.truth.jsonl")
    return candidate if candidate.exists() else None


def run(args: argparse.Namespace) -> int:
    from cuas.config import load_config, reference_config

    recording = Path(args.recording)
    if args.config:
        config = load_config(args.config)
    elif DEFAULT_CONFIG.exists():
        config = load_config(DEFAULT_CONFIG)
    else:
        config = reference_config()
    if args.speed < 0:
        print("cuas demo: error: --speed must be >= 0", file=sys.stderr)
        return 2
    truth = Path(args.truth) if args.truth else _truth_for(recording)
    view = not args.no_view and sys.stdout.isatty()
    return asyncio.run(_demo(recording, truth, config, args.speed, view, args.tracks_out,
                             args.plot, None if args.no_web else args.web_listen))


async def _start_console(config: object, daemon: Daemon, listen: str,
                         stop: asyncio.Event) -> asyncio.Task[None]:
    """The browser console on the demo's daemon, with a one-off operator account (its files in
    a temporary directory); prints its URL and the account."""
    import secrets
    import tempfile

    from cuas.config import Config
    from cuas.web.accounts import Accounts
    from cuas.web.server import Console

    assert isinstance(config, Config)
    files = Path(tempfile.mkdtemp(prefix="cuas-demo-web-"))
    password = secrets.token_urlsafe(9)
    Accounts(files / "users.json").add("demo", "operator", password)
    web = dataclasses.replace(config.web, users_file=str(files / "users.json"),
                              audit_log=str(files / "audit.jsonl"))
    console = Console(dataclasses.replace(config, web=web), listen=listen,
                      tracks_endpoint=daemon.bound.tracks, ack_endpoint=daemon.bound.detections)
    task = asyncio.create_task(console.run(stop))
    await asyncio.wait_for(console.ready.wait(), 20)
    print(f"cuas demo: console at {console.url} (user demo, password {password}; audit log "
          f"{files / 'audit.jsonl'})", file=sys.stderr, flush=True)
    return task


async def _demo(recording: Path, truth_path: Path | None, config: object, speed: float,
                view: bool, tracks_out: str | None, plot_dir: str | None = None,
                web_listen: str | None = None) -> int:
    import zmq.asyncio

    from cuas import bus, wire
    from cuas.cli.tracks import watch
    from cuas.config import Config
    from cuas.fusion.daemon import Daemon, warm_up
    from cuas.outputs.operator import render_table
    from cuas.outputs.stream import TrackStream
    from cuas.record.bus_replay import replay_on_bus

    assert isinstance(config, Config)
    # Ephemeral loopback ports: the demo must not collide with a daemon already running.
    loopback = bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
    # Keep about two snapshots per second of the recording's own time.
    snapshot_hz = min(50.0, max(config.daemon.snapshot_hz, 2.0 * (speed or 25.0)))
    # As `cuas run` does: compile the tracker's and classifier's kernels (tens of seconds on a
    # fresh machine's first run) before the replay starts, not while it plays at 10x, where
    # the first minute and a half of the recording would get no snapshot.
    warm_up(config)
    daemon = Daemon(config, loopback, snapshot_hz=snapshot_hz, replay=True)
    stop_daemon = asyncio.Event()
    daemon_task = asyncio.create_task(daemon.run(stop_daemon))
    await asyncio.wait_for(daemon.ready.wait(), 10)

    ctx = zmq.asyncio.Context()
    snapshots: list[wire.Tracks] = []
    alerts: list[wire.Alert] = []
    statuses: list[wire.Status] = []
    collector = TrackStream(daemon.bound.tracks, context=ctx)

    async def collect() -> None:
        while True:
            got = await collector.receive()
            msg = got[1] if got is not None else None
            if isinstance(msg, wire.Tracks):
                snapshots.append(msg)
            elif isinstance(msg, wire.Alert):
                alerts.append(msg)
            elif isinstance(msg, wire.Status):
                statuses[:] = [msg]

    collect_task = asyncio.create_task(collect())
    web_stop = asyncio.Event()
    web_task = (await _start_console(config, daemon, web_listen, web_stop)
                if web_listen is not None else None)
    stop_view = asyncio.Event()
    view_task = (asyncio.create_task(watch(daemon.bound.tracks, stop=stop_view, ctx=ctx,
                                           feed_clock=True)) if view else None)
    await asyncio.sleep(0.3)  # let the subscribers join before the first detection
    started = time.monotonic()
    try:
        summary = await replay_on_bus(recording, daemon.bound.detections, speed=speed,
                                      wait_s=10.0, progress=not view and sys.stderr.isatty())
        # The replay has ended. On a loaded machine the daemon may still be reading it: wait
        # (bounded) until it has taken in every message, then let it release what it
        # buffered and publish it.
        deadline = time.monotonic() + DRAIN_WAIT_S
        while _taken_in(daemon) < summary.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
    finally:
        stop_view.set()
        if view_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(view_task, 5)
        web_stop.set()
        if web_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(web_task, 10)
        stop_daemon.set()
        state = await asyncio.wait_for(daemon_task, 20)
        await asyncio.sleep(0.2)  # the final snapshot
        collect_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collect_task
        collector.close()
        ctx.term()
    elapsed = time.monotonic() - started

    if tracks_out:
        with open(tracks_out, "w", encoding="utf-8") as fh:
            for snap in snapshots:
                fh.write(json.dumps(wire.to_dict(snap), separators=(",", ":")) + "\n")
    last = snapshots[-1] if snapshots else None
    if last is not None and not view:
        # The closing picture: established tracks only (tentative ones are mostly clutter).
        firm = dataclasses.replace(last, tracks=tuple(
            t for t in last.tracks if t.status in ("confirmed", "coasting")))
        print(render_table(firm, now=last.t, alerts=tuple(alerts[-5:]), width=120, height=40,
                           status=statuses[-1] if statuses else None))
    ids = {t.id for s in snapshots for t in s.tracks if t.status in ("confirmed", "coasting")}
    c = state.counters
    print(f"\ncuas demo: replayed {summary.sent} detection messages from {recording.name} in "
          f"{elapsed:.1f} s; the daemon fused {c['batches_fused']} batches, dropped "
          f"{c['dropped_malformed']} malformed, {c['dropped_overflow']} on overflow, "
          f"{c['dropped_late'] + daemon.buffer.counters['dropped_late']} late; "
          f"{len(ids)} confirmed tracks; {len(alerts)} alerts; {len(snapshots)} snapshots")
    if truth_path is not None and snapshots:
        from cuas.eval.matching import evaluate
        from cuas.eval.report import format_report
        from cuas.eval.tracklog import tracks_from_messages
        from cuas.eval.truth import read_truth

        truth = read_truth(truth_path)
        log = tracks_from_messages(snapshots)
        ev = evaluate(truth, log)
        print(f"\nAgainst the truth in {truth_path.name} (live snapshots):")
        print(format_report(ev), end="")
        if plot_dir:
            from cuas.eval.plots import write_plots

            paths = write_plots(truth, log, ev, plot_dir, config)
            print(f"figures: {', '.join(str(p) for p in paths)}")
    return 0
