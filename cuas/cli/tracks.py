"""``cuas tracks``: the operator's live view of the daemon's tracks, alerts and heartbeats.

Subscribes to ``trk``, ``alert`` and ``status.`` on the tracks endpoint. In a terminal it
redraws a table in place (:func:`cuas.outputs.operator.render_table`); with ``--json`` it prints each
message as one JSON line, ``{"topic": ..., "msg": {...}}``, for scripts. Malformed messages are
counted and skipped. :func:`watch` is the same loop for use inside another event loop (the
``cuas demo`` command runs it beside the daemon). The subscription is
:class:`cuas.outputs.stream.TrackStream`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Final, TextIO

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.config import load_config, reference_config
from cuas.errors import DecodeError
from cuas.outputs.operator import MAX_ALERTS_SHOWN, render_table
from cuas.outputs.stream import StreamCounts, TrackStream

log = logging.getLogger(__name__)

#: Shortest interval between two redraws of the table (s): at most 5 per second.
MIN_REDRAW_S: Final = 0.2
#: Longest interval between two redraws (s), so that ages (and a stale feed) keep moving.
MAX_REDRAW_S: Final = 1.0

# ANSI control sequences for the in-place view.
_CLEAR: Final = "\x1b[2J"
_HOME: Final = "\x1b[H"
_EOL: Final = "\x1b[K"  # erase to the end of the line
_EOS: Final = "\x1b[J"  # erase to the end of the screen
_HIDE_CURSOR: Final = "\x1b[?25l"
_SHOW_CURSOR: Final = "\x1b[?25h"


@dataclass(slots=True)
class WatchSummary:
    """What a :func:`watch` saw: the stream's counts, and why it ended."""

    counts: StreamCounts
    #: Ended because ``timeout_s`` passed (rather than ``count`` or the stop event).
    timed_out: bool = False

    @property
    def tracks(self) -> int:
        """Valid ``tracks`` snapshots received."""
        return self.counts.tracks

    @property
    def alerts(self) -> int:
        """Valid alerts received."""
        return self.counts.alerts

    @property
    def statuses(self) -> int:
        """Valid heartbeats received."""
        return self.counts.statuses

    @property
    def bad(self) -> int:
        """Messages dropped as malformed (bad frames, invalid payload, wrong topic)."""
        return self.counts.bad

    @property
    def last_error(self) -> str | None:
        """Why the last malformed message was dropped."""
        return self.counts.last_error

    @property
    def messages(self) -> int:
        """Valid messages received."""
        return self.counts.messages


def use_color(out: TextIO) -> bool:
    """ANSI colour on ``out``: a terminal, ``NO_COLOR`` unset or empty, ``TERM`` not ``dumb``."""
    return _interactive(out) and not os.environ.get("NO_COLOR")


def _interactive(out: TextIO) -> bool:
    try:
        return out.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def _size(out: TextIO) -> tuple[int, int]:
    """(columns, lines) of the terminal behind ``out``; unbounded height when not a terminal."""
    try:
        size = os.get_terminal_size(out.fileno())
        return size.columns, size.lines
    except (AttributeError, ValueError, OSError):
        return 160, 10_000


class _View:
    """The latest state of the feed, and drawing it to ``out``."""

    def __init__(self, out: TextIO, *, endpoint: str, color: bool | None,
                 feed_clock: bool = False) -> None:
        self.out = out
        self.feed_clock = feed_clock
        self._tracks_wall = 0.0
        self.endpoint = endpoint
        self.interactive = _interactive(out)
        self.color = use_color(out) if color is None else color
        self.tracks: wire.Tracks | None = None
        self.alerts: deque[wire.Alert] = deque(maxlen=MAX_ALERTS_SHOWN)
        self.statuses: dict[str, wire.Status] = {}
        self.last_draw = -float("inf")
        self.dirty = True
        self.frames = 0

    def update(self, msg: wire.Message) -> None:
        if isinstance(msg, wire.Tracks):
            self.tracks = msg
            self._tracks_wall = time.time()
        elif isinstance(msg, wire.Alert):
            self.alerts.append(msg)
        elif isinstance(msg, wire.Status):
            self.statuses[msg.src] = msg
        self.dirty = True

    def now(self) -> float:
        """The time ages are measured against: the wall clock, or, following a replay of the
        past, the feed's own clock (its last snapshot time plus the wall time since)."""
        if self.feed_clock and self.tracks is not None:
            return self.tracks.t + (time.time() - self._tracks_wall)
        return time.time()

    def status(self) -> wire.Status | None:
        """The heartbeat of the daemon publishing the tracks, else the latest one."""
        if self.tracks is not None and self.tracks.src in self.statuses:
            return self.statuses[self.tracks.src]
        return max(self.statuses.values(), key=lambda s: s.t, default=None)

    def due(self, mono: float) -> float:
        """Seconds until the next redraw is due (0: now)."""
        if self.dirty:
            return max(0.0, self.last_draw + MIN_REDRAW_S - mono)
        if self.interactive:  # keep the ages moving
            return max(0.0, self.last_draw + MAX_REDRAW_S - mono)
        return float("inf")

    def draw(self, mono: float, bad: int) -> None:
        width, height = _size(self.out)
        # One column short of the edge: writing the last column puts some terminals in a
        # pending-wrap state in which the erase-to-end-of-line below eats that character.
        text = render_table(self.tracks, now=self.now(), alerts=tuple(self.alerts),
                            status=self.status(), width=width - 1, height=height,
                            color=self.color, bad=bad, endpoint=self.endpoint)
        if self.interactive:
            prefix = (_CLEAR + _HIDE_CURSOR) if self.frames == 0 else ""
            self.out.write(prefix + _HOME + text.replace("\n", _EOL + "\n") + _EOL + _EOS)
        else:
            self.out.write(("\n" if self.frames else "") + text + "\n")
        self.out.flush()
        self.frames += 1
        self.last_draw = mono
        self.dirty = False

    def close(self) -> None:
        if self.interactive and self.frames:
            self.out.write(_SHOW_CURSOR + "\n")
            self.out.flush()


async def watch(
    endpoint: str,
    *,
    json_out: bool = False,
    count: int | None = None,
    timeout_s: float | None = None,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    ctx: zmq.asyncio.Context | None = None,
    color: bool | None = None,
    feed_clock: bool = False,
    security: bus.CurveKeys | None = None,
) -> WatchSummary:
    """Subscribe to ``endpoint`` and show what arrives until one of: ``count`` ``trk`` messages
    received, ``timeout_s`` seconds passed (wall time since the start), ``stop`` set.

    With ``json_out`` each valid message is written to ``out`` (default stdout) as one JSON
    line and flushed; otherwise the table is drawn (in place when ``out`` is a terminal, at
    most 5 times per second; frame after frame otherwise). ``color`` None: decided from
    ``out`` and ``NO_COLOR``. ``ctx`` is the ZeroMQ context to use (not terminated here);
    by default the process-wide one. ``feed_clock`` measures ages by the feed's own clock
    (for a replay of the past). ``security``: CURVE client keys (:func:`cuas.bus.security`).
    Malformed messages never end the watch.
    """
    out = sys.stdout if out is None else out
    stop = asyncio.Event() if stop is None else stop
    view = None if json_out else _View(out, endpoint=endpoint, color=color, feed_clock=feed_clock)

    def redraw_header(_: DecodeError) -> None:
        if view is not None:
            view.dirty = True  # the header shows the count of malformed messages

    stream = TrackStream(endpoint, context=ctx, security=security, on_malformed=redraw_header)
    summary = WatchSummary(stream.counts)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while not stop.is_set():
            mono = time.monotonic()
            if view is not None and view.due(mono) == 0.0:
                view.draw(mono, summary.bad)
            wait = view.due(mono) if view is not None else float("inf")
            if deadline is not None:
                if mono >= deadline:
                    summary.timed_out = True
                    break
                wait = min(wait, deadline - mono)
            got = await stream.receive(None if wait == float("inf") else wait, stop)
            if got is None:
                continue
            topic, message = got
            if view is not None:
                view.update(message)
            else:
                out.write(json.dumps({"topic": topic, "msg": wire.to_dict(message)}) + "\n")
                out.flush()
            if count is not None and summary.tracks >= count:
                break
    finally:
        stream.close()
        if view is not None:
            with contextlib.suppress(ValueError, OSError):  # out closed under us
                if view.dirty or not view.frames:
                    view.draw(time.monotonic(), summary.bad)
                view.close()
    return summary


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _positive_float(text: str) -> float:
    x = float(text)
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return x


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="CFG", help="site configuration (TOML); "
                        "default: the reference site, Wembley Stadium")
    parser.add_argument("--trk-endpoint", metavar="URL",
                        help="ZeroMQ endpoint of the daemon's tracks (default: bus.tracks of "
                        "the configuration)")
    parser.add_argument("--json", action="store_true",
                        help='print each message as one JSON line {"topic": ..., "msg": {...}}')
    parser.add_argument("--count", type=_positive_int, metavar="N",
                        help="exit after N tracks snapshots")
    parser.add_argument("--timeout", type=_positive_float, metavar="S",
                        help="exit after S seconds (status 1 if nothing at all arrived)")


def endpoint_of(args: argparse.Namespace) -> str:
    """The tracks endpoint: ``--trk-endpoint``, else ``bus.tracks`` of ``--config``, else the
    reference default."""
    config = load_config(args.config) if args.config else reference_config()
    return bus.endpoints(config, tracks=args.trk_endpoint).tracks


async def _main(args: argparse.Namespace, endpoint: str) -> WatchSummary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread; Windows
            pass
    try:
        config = load_config(args.config) if args.config else reference_config()
        return await watch(endpoint, json_out=args.json, count=args.count,
                           timeout_s=args.timeout, stop=stop, security=bus.security(config))
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def run(args: argparse.Namespace) -> int:
    endpoint = endpoint_of(args)
    try:
        summary = asyncio.run(_main(args, endpoint))
    except zmq.ZMQError as exc:
        print(f"cuas tracks: error: cannot subscribe to {endpoint}: {exc}", file=sys.stderr)
        return 1
    bad = f"; {summary.bad} malformed skipped (last: {summary.last_error})" if summary.bad else ""
    if summary.timed_out and summary.messages == 0:
        print(f"cuas tracks: nothing valid received from {endpoint} in {args.timeout:g} s "
              f"(is the daemon running and publishing there? see --trk-endpoint, bus.tracks)"
              f"{bad}", file=sys.stderr)
        return 1
    if args.json or bad:
        print(f"cuas tracks: {summary.tracks} trk, {summary.alerts} alert, "
              f"{summary.statuses} status{bad}", file=sys.stderr)
    return 0
