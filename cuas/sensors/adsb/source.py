"""The ADS-B adapter's I/O shell: a TCP feed (with reconnect) or a capture file in, ``detections``
and ``status`` out on the bus. The pure parts (framing, clock, decoding) are in
:mod:`cuas.sensors.adsb.decode`; ``cuas sensor adsb`` is :mod:`.cli`.

Publishing goes through an XPUB connected to the daemon's detection endpoint that waits for
the daemon's subscription first (what a publisher sends before that is lost) and, for a file,
refuses rather than drops when its queue is full, so a capture's every position arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import urlsplit

import zmq
import zmq.asyncio

from cuas import bus
from cuas.backoff import Backoff
from cuas.errors import CuasError
from cuas.sensors.adsb.clock import BeastClock
from cuas.sensors.adsb.decode import AdsbDecoder, Position
from cuas.sensors.adsb.framing import (
    FramingStats,
    detect_format,
    file_epoch,
    parse_avr,
    parse_beast,
    parse_sbs,
)
from cuas.sensors.adsb.settings import AdsbSettings
from cuas.sensors.publisher import (
    PublishingAdapter,
    SensorPublisher,
)

log = logging.getLogger(__name__)

#: Bytes read from a socket or file at a time.
CHUNK: Final = 65536
#: At speed 0, let the event loop run other tasks after this many messages.
_YIELD_EVERY: Final = 64
#: An SBS time stamp this far from the arrival time means a wrong ``sbs_timezone`` (s).
SBS_SKEW_WARN_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What one run of the adapter read and published."""

    source: str
    fmt: str
    frames: int
    positions: int
    published: int
    counters: dict[str, int]
    elapsed_s: float

    def line(self) -> str:
        bad = {k: v for k, v in self.counters.items()
               if v and k in ("garbage_bytes", "bad_frames", "crc_fail", "clock_outliers")}
        extra = ", ".join(f"{k} {v}" for k, v in bad.items())
        return (f"adsb: {self.source} ({self.fmt}): {self.frames} frames, {self.positions} "
                f"positions, {self.published} published in {self.elapsed_s:.2f} s"
                + (f"; {extra}" if extra else ""))


class AdsbSource(PublishingAdapter):
    """Reads one ADS-B feed and publishes its positions as ``detections`` on ``det.<sensor_id>``.

    ``source``: ``tcp://HOST:PORT`` (live, reconnecting with back-off 0.5 s doubling to 10 s,
    ``status`` ``degraded`` while down) or a capture file (published to the end, paced by its
    time stamps at ``speed`` times real time, 0 as fast as possible). ``fmt``: ``beast``,
    ``sbs``, ``avr`` or ``auto`` (detected from the first bytes). ``wait_s``: how long a file waits for
    the daemon's subscription (live feeds wait as long as it takes). ``security``: CURVE client
    keys (:func:`cuas.bus.security`).
    """

    def __init__(self, source: str, endpoint: str, *, sensor_id: str = "adsb",
                 settings: AdsbSettings | None = None, fmt: str | None = None,
                 speed: float = 1.0, wait_s: float = 10.0,
                 context: zmq.asyncio.Context | None = None,
                 status_period_s: float = 1.0, hwm: int = bus.DEFAULT_HWM,
                 security: bus.CurveKeys | None = None) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be a finite number >= 0, got {speed}")
        self.source = source
        self.endpoint = endpoint
        self.sensor_id = sensor_id
        self.settings = settings if settings is not None else AdsbSettings()
        self.fmt = fmt or self.settings.format
        self.speed = speed
        self.tz = zoneinfo.ZoneInfo(self.settings.sbs_timezone)
        self.decoder = AdsbDecoder(self.settings)
        self.framing = FramingStats()
        self.counters: Counter[str] = Counter()
        self.live = source.startswith("tcp://")
        self.pub = SensorPublisher(endpoint, sensor_id, self.counters, live=self.live,
                                   wait_s=wait_s, context=context, hwm=hwm,
                                   status_period_s=status_period_s,
                                   extra_counters=self._decoding_counters, security=security)
        self._clock: BeastClock | None = None
        self._sbs_warned = False
        #: Set once the subscriber has been seen (tests wait on it before starting a feed).
        self.subscribed = asyncio.Event()

    # ------------------------------------------------------------------ counters / status

    def _decoding_counters(self) -> dict[str, int]:
        """Framing, decoding and clock counters (monotonic integers)."""
        out = self.framing.as_counters()
        out.update({k: getattr(self.decoder.stats, k)
                    for k in self.decoder.stats.__slots__})
        if self._clock is not None:
            out.update(clock_backward=self._clock.backward, clock_outliers=self._clock.outliers,
                       clock_resets=self._clock.resets)
        return out

    # ------------------------------------------------------------------ run

    async def run(self, stop: asyncio.Event | None = None) -> SourceSummary:
        """Publish until the file ends, or (live) until ``stop`` is set."""
        stop = stop if stop is not None else asyncio.Event()
        fh = None if self.live else self._open_file(Path(self.source))  # fail before waiting
        started = time.monotonic()
        try:
            await self.pub.open(stop)
            self.subscribed.set()
            if fh is None:
                await self._run_live(stop)
            else:
                await self._run_file(fh, stop)
            self.pub.finished()
        finally:
            if fh is not None:
                fh.close()
            await self.pub.close()
        c = self.all_counters()
        return SourceSummary(self.source, self.fmt, c["frames"], c["positions"],
                             c.get("published", 0), c, time.monotonic() - started)

    async def _publish(self, positions: list[Position]) -> None:
        for p in positions:
            await self.pub.publish(p.t, "adsb", (p.det,))

    # ------------------------------------------------------------------ decoding

    def _decode(self, fmt: str, buf: bytes, rx: float | None) -> tuple[list[Position], bytes]:
        """Deframe and decode ``buf``; returns positions and the unconsumed rest."""
        if fmt in ("beast", "avr"):
            if self._clock is None:
                epoch = None
                if rx is None:
                    p = Path(self.source)
                    epoch = self.settings.start_time or file_epoch(p)
                    if epoch is None:
                        epoch = p.stat().st_mtime
                self._clock = BeastClock(epoch=epoch)
            clock = self._clock
            frames, rest = (parse_beast if fmt == "beast" else parse_avr)(buf, self.framing)
            clock.note_order([f.ticks for f in frames])

            def times(ticks: int) -> float:
                return clock.utc(ticks, rx)

            out = self.decoder.feed_beast(frames, times)
        else:
            records, rest = parse_sbs(buf, self.tz, self.framing)
            if rx is not None and records and abs(records[-1].t - rx) > SBS_SKEW_WARN_S:
                self.counters["sbs_clock_skew"] += 1
                if not self._sbs_warned:
                    self._sbs_warned = True
                    log.warning("SBS time stamps are %.0f s from the arrival time: is "
                                "sbs_timezone (%s) the feeder's zone?", records[-1].t - rx,
                                self.settings.sbs_timezone)
            out = self.decoder.feed_sbs(records)
        if out:
            self.decoder.maybe_evict(out[-1].t)
        return out, rest

    # ------------------------------------------------------------------ file

    def _open_file(self, path: Path) -> BinaryIO:
        """Open a capture and settle its format (raises :class:`CuasError` naming the file)."""
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise CuasError(f"cannot read {path}: {exc.strerror}") from None
        if self.fmt == "auto":
            try:
                self.fmt = detect_format(fh.read(64))
            except ValueError as exc:
                fh.close()
                raise CuasError(f"{path}: {exc}; give --format") from None
            fh.seek(0)
        return fh

    async def _run_file(self, fh: BinaryIO, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.state = "ok"
        first_t: float | None = None
        high = 0.0
        started = loop.time()
        sent = 0
        rest = b""
        chunk = fh.read(CHUNK)
        while chunk and not stop.is_set():
            positions, rest = self._decode(self.fmt, rest + chunk, None)
            for p in positions:
                if first_t is None:
                    first_t = high = p.t
                    started = loop.time()
                high = max(high, p.t)
                if self.speed > 0:
                    delay = started + (high - first_t) / self.speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif sent % _YIELD_EVERY == _YIELD_EVERY - 1:
                    await asyncio.sleep(0)
                await self._publish([p])
                sent += 1
            chunk = fh.read(CHUNK)
        if rest:
            self.framing.bad_frames += 1  # the file ends inside a frame

    # ------------------------------------------------------------------ live

    async def _run_live(self, stop: asyncio.Event) -> None:
        u = urlsplit(self.source)
        if not u.hostname or not u.port:
            raise CuasError(f"{self.source}: expected tcp://HOST:PORT")
        backoff = Backoff()
        while not stop.is_set():
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(u.hostname, u.port), timeout=5.0)
            except (TimeoutError, OSError) as exc:
                self.state = "degraded"
                self.counters["connect_failures"] += 1
                log.warning("cannot connect to %s (%s); retrying in %.1f s", self.source, exc,
                            backoff.delay)
                await backoff.wait(stop)
                continue
            self.counters["connects"] += 1
            self.state = "ok"
            log.info("connected to %s", self.source)
            got_data = False
            try:
                got_data = await self._read_feed(reader, stop)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            if stop.is_set():
                break
            self.state = "degraded"
            self.counters["disconnects"] += 1
            if got_data:  # a feed that delivered data was healthy: start the back-off afresh
                backoff.reset()
            log.warning("feed %s closed; reconnecting in %.1f s", self.source, backoff.delay)
            await backoff.wait(stop)

    async def _read_feed(self, reader: asyncio.StreamReader, stop: asyncio.Event) -> bool:
        """Read one connection to its end; True if it delivered any bytes."""
        rest = b""
        fmt = None if self.fmt == "auto" else self.fmt
        got = False
        stopper = asyncio.create_task(stop.wait())
        try:
            while True:
                reading = asyncio.create_task(reader.read(CHUNK))
                done, _ = await asyncio.wait({reading, stopper},
                                             return_when=asyncio.FIRST_COMPLETED)
                if reading not in done:
                    reading.cancel()
                    break
                try:
                    data = reading.result()
                except OSError as exc:
                    log.warning("feed %s: %s", self.source, exc)
                    break
                if not data:
                    break
                got = True
                rx = time.time()
                self.counters["bytes"] += len(data)
                buf = rest + data
                if fmt is None:
                    if len(buf) < 8:
                        rest = buf
                        continue
                    try:
                        fmt = self.fmt = detect_format(buf[:64])
                    except ValueError as exc:
                        raise CuasError(f"{self.source}: {exc}; give --format") from None
                positions, rest = self._decode(fmt, buf, rx)
                await self._publish(positions)
        finally:
            stopper.cancel()
        if rest:
            self.framing.bad_frames += 1  # the connection ended inside a frame
        return got
