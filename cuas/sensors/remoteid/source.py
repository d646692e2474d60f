"""Remote ID receiver's I/O shell: Open Drone ID broadcasts (Wi-Fi beacon and NaN, Bluetooth 4
and 5) or a WarDragon/DragonSync decoder's ZeroMQ JSON in, ``detections`` (``kind``
``remoteid``) out.

Layers:

* :mod:`cuas.sensors.remoteid.odid` (pure): frame bytes -> F3411 messages;
* :mod:`cuas.sensors.remoteid.decode` (pure, stateful per transmitter): messages -> contract
  detections, one identity per transmitter;
* :mod:`cuas.sensors.remoteid.wardragon` (pure): one WarDragon JSON document -> the same
  messages;
* here, :class:`RemoteIdSource` (I/O): a pcap/pcapng file replayed at capture pace (or as fast
  as possible), a monitor-mode Wi-Fi interface (``iface:NAME``: an AF_PACKET raw socket, Linux,
  needs CAP_NET_RAW), or ``wardragon://HOST:PORT`` (ZeroMQ SUB, reconnecting by itself);
  ``cuas sensor remoteid`` is :mod:`.cli`.

Units: degrees, metres (heights above the WGS-84 ellipsoid), m/s, UTC seconds.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.errors import CuasError, DecodeError
from cuas.sensors.publisher import PublishingAdapter, SensorPublisher
from cuas.sensors.remoteid.decode import RemoteIdDecoder, Report
from cuas.sensors.remoteid.pcap import (
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    CaptureReader,
)
from cuas.sensors.remoteid.settings import RemoteIdSettings
from cuas.sensors.remoteid.wardragon import decode_wardragon

# --------------------------------------------------------------------------- I/O shell

#: At speed 0, let the event loop run other tasks after this many packets.
_YIELD_EVERY: Final = 64
#: ETH_P_ALL, for the raw packet socket; a packet the host sent; a bare 802.11 interface.
_ETH_P_ALL: Final = 0x0003
_PACKET_OUTGOING: Final = 4
_ARPHRD_IEEE80211: Final = 801
CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What one run of the adapter read and published."""

    source: str
    packets: int
    frames: int
    positions: int
    published: int
    counters: dict[str, int]
    elapsed_s: float

    def line(self) -> str:
        c = self.counters
        return (f"remoteid: {self.source}: {self.packets} packets, {self.frames} Remote ID "
                f"frames, {self.positions} positions, {c.get('identity_only', 0)} identity-only, "
                f"{self.published} published in {self.elapsed_s:.2f} s; bad frames "
                f"{c.get('bad_frames', 0)}")


class RemoteIdSource(PublishingAdapter):
    """Reads one Remote ID source and publishes ``detections`` on ``det.<sensor_id>``.

    ``source``: a capture file (pcap/pcapng; every frame published, paced by its time stamps at
    ``speed`` times real time, 0 as fast as possible; waits ``wait_s`` for the daemon's
    subscription first), ``iface:NAME`` (a monitor-mode interface delivering radiotap frames)
    or ``wardragon://HOST:PORT`` (ZeroMQ SUB to a WarDragon/DroneID decoder).
    """

    def __init__(self, source: str, endpoint: str, *, sensor_id: str = "remoteid",
                 settings: RemoteIdSettings | None = None, ground_h: float = 0.0,
                 speed: float = 1.0, wait_s: float = 10.0,
                 context: zmq.asyncio.Context | None = None, status_period_s: float = 1.0,
                 hwm: int = bus.DEFAULT_HWM, origin: wire.Vec3 | None = None,
                 security: bus.CurveKeys | None = None) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be a finite number >= 0, got {speed}")
        self.source = source
        self.endpoint = endpoint
        self.sensor_id = sensor_id
        self.settings = settings if settings is not None else RemoteIdSettings()
        self.decoder = RemoteIdDecoder(self.settings, ground_h)
        self.speed = speed
        #: The receiver's position (lat, lon, h), sent as each message's ``origin``: the fusion
        #: side judges signal strength against the claimed range from it.
        self.origin = origin
        self.counters: Counter[str] = Counter()
        self.live = source.startswith(("wardragon://", "iface:"))
        self._own_ctx = context is None
        self._ctx = context if context is not None else zmq.asyncio.Context()
        self._reader = CaptureReader()
        self.pub = SensorPublisher(endpoint, sensor_id, self.counters, live=self.live,
                                   wait_s=wait_s, context=self._ctx, hwm=hwm,
                                   status_period_s=status_period_s,
                                   extra_counters=self._decoder_counters, security=security)
        #: Set once the subscriber has been seen.
        self.subscribed = asyncio.Event()

    def _decoder_counters(self) -> dict[str, int]:
        out = {k: getattr(self.decoder.stats, k) for k in self.decoder.stats.__slots__}
        out["capture_bad_records"] = self._reader.stats.bad_records
        out["packets"] = self.counters["packets"]
        return out

    async def run(self, stop: asyncio.Event | None = None) -> SourceSummary:
        """Publish until the file ends, or (live) until ``stop`` is set."""
        stop = stop if stop is not None else asyncio.Event()
        # A file or interface that cannot be read fails now, not after the wait for the daemon.
        data = None if self.live else self._read_file(Path(self.source))
        raw = self._open_iface() if self.source.startswith("iface:") else None
        started = time.monotonic()
        try:
            await self.pub.open(stop)
            self.subscribed.set()
            if data is not None:
                await self._run_file(data, stop)
            elif self.source.startswith("wardragon://"):
                await self._run_wardragon(self._ctx, stop)
            elif raw is not None:
                await self._run_iface(raw, stop)
            self.pub.finished()
        finally:
            if raw is not None:
                raw.close()
            await self.pub.close()
            if self._own_ctx:
                await asyncio.to_thread(self._ctx.term)
        c = self.all_counters()
        return SourceSummary(self.source, c.get("packets", 0), c["frames"], c["positions"],
                             c.get("published", 0), c, time.monotonic() - started)

    async def _publish(self, reports: Iterable[Report]) -> None:
        for r in reports:
            await self.pub.publish(r.t, "remoteid", (r.det,), origin=self.origin)

    # ------------------------------------------------------------------ file

    def _read_file(self, path: Path) -> bytes:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CuasError(f"cannot read {path}: {exc.strerror}") from None
        try:
            CaptureReader().feed(data[:64])  # says now, before waiting, if it is no capture
        except DecodeError as exc:
            raise CuasError(f"{path}: {exc}") from None
        if len(data) < 24:  # the smallest header of either format
            raise CuasError(f"{path}: {len(data)} bytes: too short to be a pcap or pcapng capture")
        return data

    async def _run_file(self, data: bytes, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.state = "ok"
        first_t: float | None = None
        started = loop.time()
        sent = 0
        for pos in range(0, max(len(data), 1), CHUNK):
            if stop.is_set():
                break
            try:
                packets = self._reader.feed(data[pos:pos + CHUNK])
            except DecodeError:
                self.counters["bad_capture"] += 1
                break
            for p in packets:
                self.counters["packets"] += 1
                if not math.isfinite(p.t):
                    continue
                reports = self.decoder.feed_packet(p.linktype, p.data, p.t)
                if not reports:
                    continue
                if first_t is None:
                    first_t = p.t
                    started = loop.time()
                if self.speed > 0:
                    delay = started + (p.t - first_t) / self.speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif sent % _YIELD_EVERY == _YIELD_EVERY - 1:
                    await asyncio.sleep(0)
                await self._publish(reports)
                sent += 1
                if sent % 1024 == 0:
                    self.decoder.evict(p.t)
        if self._reader.pending:
            self.counters["capture_cut_records"] += 1  # the file ends inside a record

    # ------------------------------------------------------------------ WarDragon

    async def _run_wardragon(self, ctx: zmq.asyncio.Context, stop: asyncio.Event) -> None:
        """SUB to the decoder's PUB; ZeroMQ reconnects by itself, the status says ``degraded``
        while nothing arrives for 10 s."""
        rest = self.source[len("wardragon://"):]
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit():
            raise CuasError(f"{self.source}: expected wardragon://HOST:PORT")
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.RCVHWM, 10_000)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(f"tcp://{host}:{port}")
        self.state = "degraded"
        try:
            while not stop.is_set():
                if not await sub.poll(timeout=1000):
                    self.state = "degraded" if self.counters["wardragon_messages"] == 0 else \
                        self.state
                    continue
                parts = await sub.recv_multipart()
                self.state = "ok"
                self.counters["wardragon_messages"] += 1
                payload = parts[-1]
                if len(payload) > 1 << 20:
                    self.decoder.stats.bad_frames += 1
                    continue
                try:
                    frame = decode_wardragon(payload)
                except (DecodeError, ValueError, TypeError, OverflowError, RecursionError):
                    self.decoder.stats.bad_frames += 1  # counted; the feed goes on
                    continue
                self.decoder.stats.frames += 1
                await self._publish(self.decoder.feed_messages(
                    frame.transport, frame.mac, frame.rssi_dbm, frame.messages, time.time()))
        finally:
            sub.close(linger=0)

    # ------------------------------------------------------------------ monitor interface

    def _open_iface(self) -> socket.socket:
        """The raw packet socket of ``iface:NAME`` (raises CuasError saying what is missing)."""
        name = self.source[len("iface:"):]
        if not hasattr(socket, "AF_PACKET"):
            raise CuasError("monitor-mode capture needs Linux (AF_PACKET sockets)")
        try:
            raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        except PermissionError:
            raise CuasError(f"{name}: a raw socket needs CAP_NET_RAW (run as root, or "
                            "`setcap cap_net_raw+ep` the Python binary, or "
                            "AmbientCapabilities=CAP_NET_RAW in the unit)") from None
        try:
            raw.bind((name, 0))
        except OSError as exc:
            raw.close()
            raise CuasError(f"{name}: {exc.strerror}") from None
        raw.setblocking(False)
        return raw

    async def _run_iface(self, raw: socket.socket, stop: asyncio.Event) -> None:
        """A monitor-mode Wi-Fi interface: every frame with its radiotap header (or bare
        802.11 on an ARPHRD_IEEE80211 interface), through an AF_PACKET raw socket. Frames the
        host itself sends are skipped."""
        loop = asyncio.get_running_loop()
        self.state = "ok"
        try:
            while not stop.is_set():
                try:
                    data, addr = await asyncio.wait_for(loop.sock_recvfrom(raw, 65536),
                                                        timeout=1.0)
                except TimeoutError:
                    continue
                if addr[2] == _PACKET_OUTGOING:
                    continue
                self.counters["packets"] += 1
                linktype = LINKTYPE_IEEE802_11 if addr[3] == _ARPHRD_IEEE80211 else \
                    LINKTYPE_IEEE802_11_RADIOTAP
                await self._publish(self.decoder.feed_packet(linktype, data, time.time()))
                if self.counters["packets"] % 4096 == 0:
                    self.decoder.evict(time.time())
        finally:
            raw.close()
