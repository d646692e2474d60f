"""The RTL-SDR adapter (``cuas sensor rf``, :mod:`.cli`). Scans the configured bands hop by hop, finds bursts
(:mod:`cuas.sensors.rf.dsp`), tells control and video links from ISM devices
(:mod:`cuas.sensors.rf.links`) and publishes one ``detections`` message per dwell on
``det.<sensor_id>``: kind ``rf``, frame ``none`` (or ``ae`` at the centre of the configured
bearing sector), ``attrs`` freq_hz, bw_hz, duration_s, snr_db, rssi_dbm, power_dbfs,
protocol, link, confidence and the evidence (chirp SF, hop statistics). An empty ``dets``
list means the dwell was looked at and held nothing worth publishing.

Sources (:mod:`cuas.sensors.rf.iq_sources`): ``rtltcp://HOST:PORT`` (reconnects with back-off
0.5 s doubling to 10 s, ``status`` ``degraded`` while down), ``rtlsdr://INDEX`` or a cu8 file
(read to its end in dwell-long blocks, every detection published, then the process exits).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.backoff import Backoff
from cuas.errors import DecodeError
from cuas.sensors.publisher import (
    PublishingAdapter,
    SensorPublisher,
)
from cuas.sensors.rf.dsp import (
    C64,
    BlockResult,
    Burst,
    DspParams,
    clip_fraction,
    cu8_to_complex,
    detect_block,
)
from cuas.sensors.rf.iq_sources import FileSource, IqSource, open_source
from cuas.sensors.rf.links import Chirp, Guess, LinkClassifier, Packet, detect_chirp
from cuas.sensors.rf.rtl_tcp import gain_below
from cuas.sensors.rf.settings import RfSettings

log = logging.getLogger(__name__)

#: Bursts at least this wide (occupied span, Hz) and not continuous go to the chirp detector.
CHIRP_MIN_SPAN_HZ: Final = 60_000.0
#: A burst whose strongest bin stands this far above its span's median is a carrier with
#: splatter (OOK, FSK), not a chirp (whose power is spread evenly): no chirp check.
CHIRP_MAX_PEAKINESS_DB: Final = 30.0
#: Bursts longer than this are not one LoRa packet (nor an ExpressLRS packet train between
#: hops): no chirp check (s).
CHIRP_MAX_BURST_S: Final = 0.15
#: A continuous emitter at least this wide (Hz) owns the chirp-like bursts inside its band.
WIDE_CARRIER_HZ: Final = 150_000.0
#: Longest stretch of samples given to the chirp detector at once (s): an ExpressLRS packet
#: lasts 2-20 ms; long merged bursts are checked in pieces.
CHIRP_CHUNK_S: Final = 0.024
#: Chirp-check groups wider than this (Hz) get the narrow search (500 kHz, SF5-SF9).
WIDE_GROUP_HZ: Final = 600_000.0
#: Share of a dwell's samples (weighted by the band kept) the chirp detector may be given,
#: narrow and short groups first: bounds its CPU when wide pulse trains fill the band (a
#: dwell of dump1090's Mode S capture needs about 0.9). What does not fit is counted as
#: ``chirp_checks_skipped``. Lower it to trade detection in dense pulsed bands for CPU.
CHIRP_BUDGET: Final = 1.0
#: At most this many detections per dwell message (the strongest first).
MAX_DETS_PER_DWELL: Final = 256


def scan_plan(bands: Sequence[tuple[float, float]], rate_hz: float, crop: float) -> list[float]:
    """Hop centres (Hz) covering every band with the usable width ``rate_hz * (1 - 2 crop)``."""
    usable = rate_hz * (1.0 - 2.0 * crop)
    out: list[float] = []
    for lo, hi in bands:
        n = max(1, math.ceil((hi - lo) / usable))
        first = (lo + hi) / 2 - (n - 1) * usable / 2
        out.extend(first + i * usable for i in range(n))
    return out


@dataclass(frozen=True, slots=True)
class DwellResult:
    """One dwell: its UTC start, centre (Hz), the block's bursts with their guesses."""

    t: float
    centre_hz: float
    block: BlockResult
    guesses: tuple[Guess, ...]


class RfScanner:
    """The adapter's pure core: cu8 blocks in, bursts with guesses and wire detections out."""

    def __init__(self, settings: RfSettings, params: DspParams | None = None) -> None:
        self.settings = settings
        self.params = params or DspParams(crop=settings.crop)
        self.classifier = LinkClassifier(settings.bands, settings.hop_window_s)
        self.counters: Counter[str] = Counter()
        self._block = 0

    def process(self, raw: bytes, rate_hz: float, centre_hz: float, t0: float) -> DwellResult:
        """Detect and classify one dwell of cu8 ``raw`` that began at UTC ``t0``."""
        self._block += 1
        clip = clip_fraction(raw)
        iq = cu8_to_complex(raw)
        if len(iq):
            iq = iq - iq.mean()  # the dongle's DC offset
        res = detect_block(iq, rate_hz, centre_hz, self.params, clip)
        self.counters["dwells"] += 1
        self.counters["samples"] += len(iq)
        self.counters["bursts"] += len(res.bursts)
        chirps = self._chirps(iq, res.bursts, rate_hz, centre_hz)
        guesses: list[Guess] = []
        for b in res.bursts:
            chirp = None
            if not b.continuous:
                for start_sample, c in chirps:
                    f = centre_hz + c.offset_hz
                    if (b.first_sample <= start_sample < b.last_sample
                            and b.low_hz - c.bw_hz / 2 <= f <= b.high_hz + c.bw_hz / 2):
                        chirp = c
                        break
            g = self.classifier.classify(b, t0 + b.start_s, chirp)
            if chirp is not None:
                g.evidence["chirp_freq_hz"] = round(centre_hz + chirp.offset_hz)
            guesses.append(g)
            if g.link != "none":
                self.counters[f"links_{g.link}"] += 1
        for start_sample, c in chirps:
            self.classifier.add_packet(Packet(t0 + start_sample / rate_hz, centre_hz + c.offset_hz,
                                              c.duration_s, c, self._block))
        return DwellResult(t0, centre_hz, res, tuple(guesses))

    def _chirps(self, iq: C64, bursts: Sequence[Burst], rate_hz: float,
                centre_hz: float) -> list[tuple[int, Chirp]]:
        """LoRa packets in the spans of the wide bursts: (first sample of the preamble, chirp).

        Wide bursts overlapping in time (one packet split in frequency, or merged with its
        neighbours) are checked once, in pieces of at most ``CHIRP_CHUNK_S``."""
        # A burst inside a wide continuous emitter's band is part of it (a video carrier's
        # line sweeps look like chirps): not a packet. (A narrow carrier, a spur, vetoes
        # nothing.)
        carriers = [(b.low_hz, b.high_hz) for b in bursts
                    if b.continuous and b.bw_hz >= WIDE_CARRIER_HZ]
        cands = sorted((b for b in bursts
                        if not b.continuous and b.high_hz - b.low_hz >= CHIRP_MIN_SPAN_HZ
                        and b.peakiness_db <= CHIRP_MAX_PEAKINESS_DB
                        and b.duration_s <= CHIRP_MAX_BURST_S
                        and not any(lo <= b.freq_hz <= hi for lo, hi in carriers)),
                       key=lambda b: b.first_sample)
        # Group bursts overlapping in time and within a LoRa bandwidth in frequency:
        # [first sample, last sample, low Hz, high Hz].
        groups: list[list[float]] = []
        for b in cands:
            for g in groups:
                if (b.first_sample <= g[1] and b.last_sample >= g[0]
                        and b.low_hz <= g[3] + 500e3 and b.high_hz >= g[2] - 500e3):
                    g[:] = [min(g[0], b.first_sample), max(g[1], b.last_sample),
                            min(g[2], b.low_hz), max(g[3], b.high_hz)]
                    break
            else:
                groups.append([b.first_sample, b.last_sample, b.low_hz, b.high_hz])
        chunk = int(CHIRP_CHUNK_S * rate_hz)
        overlap = chunk // 4
        # The dechirper's cost grows with the samples it is given, after band-limiting to the
        # group's span: spend at most CHIRP_BUDGET of the dwell's samples, narrow and short
        # groups first (a packet), wide long ones (pulse trains over the band) last.
        budget = CHIRP_BUDGET * len(iq)

        def cost(g: list[float]) -> float:
            return (g[1] - g[0]) * min(1.0, (g[3] - g[2] + 500e3) / rate_hz)

        found: list[tuple[int, Chirp]] = []
        for g in sorted(groups, key=cost):
            if cost(g) > budget:
                self.counters["chirp_checks_skipped"] += 1
                continue
            budget -= cost(g)
            a, z = int(g[0]), int(g[1])
            span = (g[2] - centre_hz, g[3] - centre_hz)
            # A group spread over more than a 500 kHz channel is a packet merged with other
            # emissions: look for the control links' chirps only (ExpressLRS: 500 kHz,
            # SF5-SF9), a third of the full search.
            search: dict[str, Any] = {}
            if span[1] - span[0] > WIDE_GROUP_HZ:
                search = {"bandwidths": (500_000.0,), "max_sf": 9}
            pos = a
            while pos < z:
                end = min(z, pos + chunk)
                self.counters["chirp_checks"] += 1
                c = detect_chirp(iq[pos:end], rate_hz, span_hz=span, **search)
                if c is not None and not c.synced:
                    # Up-chirps with no down-chirps after them: no LoRa packet.
                    self.counters["chirps_unsynced"] += 1
                elif c is not None:
                    found.append((pos + int(round(c.start_s * rate_hz)), c))
                if end == z:
                    break
                pos = end - overlap
        # One packet seen from two groups or two overlapping pieces: keep it once. A "chirp"
        # overlapping a continuous carrier is the carrier's own modulation.
        out: list[tuple[int, Chirp]] = []
        for first, c in sorted(found, key=lambda x: x[0]):
            f = centre_hz + c.offset_hz
            if any(f - c.bw_hz / 2 <= hi and f + c.bw_hz / 2 >= lo for lo, hi in carriers):
                self.counters["chirps_on_carriers"] += 1
                continue
            if out and first - out[-1][0] <= overlap and abs(c.offset_hz - out[-1][1].offset_hz) < c.bw_hz:
                continue
            out.append((first, c))
            self.counters["chirps"] += 1
        return out

    def detections(self, dwell: DwellResult, gain_db: float | None) -> list[wire.Detection]:
        """Wire detections of one dwell (links only unless ``publish = "all"``)."""
        s = self.settings
        out: list[tuple[float, wire.Detection]] = []
        for b, g in zip(dwell.block.bursts, dwell.guesses, strict=True):
            if s.publish == "links" and g.link == "none":
                continue
            out.append((b.snr_db, self._detection(b, g, dwell, gain_db)))
        out.sort(key=lambda x: -x[0])
        if len(out) > MAX_DETS_PER_DWELL:
            self.counters["dets_capped"] += len(out) - MAX_DETS_PER_DWELL
        return [d for _, d in out[:MAX_DETS_PER_DWELL]]

    def _detection(self, b: Burst, g: Guess, dwell: DwellResult,
                   gain_db: float | None) -> wire.Detection:
        s = self.settings
        freq = b.freq_hz
        bw = b.bw_hz
        if "chirp_freq_hz" in g.evidence:
            freq = float(g.evidence["chirp_freq_hz"])  # type: ignore[arg-type]
            bw = float(g.evidence.get("lora_bw_hz", bw))  # type: ignore[arg-type]
        attrs: dict[str, Any] = {
            "freq_hz": round(freq, 1), "bw_hz": round(bw, 1),
            "duration_s": round(b.duration_s, 6), "start_s": round(dwell.t + b.start_s, 6),
            "snr_db": round(b.snr_db, 2), "power_dbfs": round(b.mean_dbfs, 2),
            "rssi_dbm": round(b.mean_dbfs + s.full_scale_dbm - (gain_db or 0.0), 2),
            "duty": round(b.duty, 3), "span_hz": [round(b.low_hz), round(b.high_hz)],
            "tones_hz": [round(f) for f in b.tones_hz],
            "protocol": g.protocol, "link": g.link, "confidence": round(g.confidence, 3),
            "tuned_hz": round(dwell.centre_hz),
        }
        attrs.update(g.evidence)
        evidence = link_evidence(g.link, g.confidence)
        if s.bearing is not None:
            a0, a1 = s.bearing
            width = (a1 - a0) % 360.0 or 360.0
            az = (a0 + width / 2) % 360.0
            return wire.Detection(frame="ae", z=(az, 0.0),
                                  sigma=(max(width / math.sqrt(12.0), 1.0), 30.0), attrs=attrs,
                                  evidence=evidence)
        return wire.Detection(frame="none", z=(), attrs=attrs, evidence=evidence)


#: P(a drone control or video link is heard | class) for the RF adapter's class evidence: a
#: drone carries one (ETSI EN 300 220 / EN 300 328 bands, ExpressLRS, OcuSync); birds and
#: clutter carry none, so a link "seen" on them is a coincidence of direction (a sector antenna
#: covers tens of degrees); a manned aircraft's own radios are outside these bands, but a
#: police helicopter may carry video downlinks.
LINK_LIKELIHOOD = {"uav": 0.9, "bird": 0.05, "manned": 0.15, "clutter": 0.05}
#: How far a fuser should trust it, times the link guess's own confidence: the link is heard
#: over a sector, not from one track.
LINK_TRUST = 0.5


def link_evidence(link: str, confidence: float) -> wire.ClassEvidence | None:
    """Class evidence of one burst: a control or video link names a drone somewhere in the
    sector; anything else (``link == "none"``) says nothing about class."""
    if link == "none" or not confidence > 0:
        return None
    return wire.ClassEvidence(likelihood=LINK_LIKELIHOOD,
                              confidence=round(min(1.0, LINK_TRUST * confidence), 3),
                              label=f"{link} link", basis="rf")


@dataclass(frozen=True, slots=True)
class RfSummary:
    """What one run of the adapter read and published."""

    source: str
    dwells: int
    bursts: int
    links: int
    published: int
    counters: dict[str, int]
    elapsed_s: float

    def line(self) -> str:
        return (f"rf: {self.source}: {self.dwells} dwells, {self.bursts} bursts, {self.links} "
                f"link detections, {self.published} messages published in "
                f"{self.elapsed_s:.2f} s")


class RfSensor(PublishingAdapter):
    """Scans one receiver and publishes its detections and status (see the module docstring);
    the bus side is the adapters' shared :class:`SensorPublisher`."""

    def __init__(self, source: str, endpoint: str, *, sensor_id: str = "rf",
                 settings: RfSettings | None = None, wait_s: float = 10.0,
                 context: zmq.asyncio.Context | None = None, status_period_s: float = 1.0,
                 max_dwells: int | None = None, security: bus.CurveKeys | None = None) -> None:
        self.source = source
        self.endpoint = endpoint
        self.sensor_id = sensor_id
        self.settings = settings if settings is not None else RfSettings()
        self.max_dwells = max_dwells
        self.scanner = RfScanner(self.settings)
        self.counters: Counter[str] = Counter()
        self.gain_db: float | None = None if self.settings.agc else self.settings.gain_db
        self.live = source.startswith(("rtltcp://", "rtlsdr://"))
        self.pub = SensorPublisher(endpoint, sensor_id, self.counters, live=self.live,
                                   wait_s=wait_s, context=context,
                                   status_period_s=status_period_s,
                                   extra_counters=lambda: dict(self.scanner.counters),
                                   security=security)
        #: Set once the subscriber has been seen.
        self.subscribed = asyncio.Event()

    async def run(self, stop: asyncio.Event | None = None) -> RfSummary:
        """Scan until the file ends, ``max_dwells`` are done, or (live) ``stop`` is set."""
        stop = stop if stop is not None else asyncio.Event()
        src = open_source(self.source, self.settings.rate_hz, ppm=self.settings.ppm)
        if isinstance(src, FileSource):
            await src.open()  # fail before waiting for a subscriber
        started = time.monotonic()
        try:
            await self.pub.open(stop)
            self.subscribed.set()
            if isinstance(src, FileSource):
                await self._run_file(src, stop)
            else:
                await self._run_live(stop)
            self.pub.finished()
        finally:
            await src.close()
            await self.pub.close()
        c = self.all_counters()
        return RfSummary(self.source, c.get("dwells", 0), c.get("bursts", 0),
                         c.get("published_links", 0), c.get("published", 0), c,
                         time.monotonic() - started)

    async def _publish(self, dwell: DwellResult, dets: list[wire.Detection]) -> None:
        if await self.pub.publish(dwell.t, "rf", tuple(dets)):
            self.counters["published_dets"] += len(dets)
            self.counters["published_links"] += sum(d.attrs.get("link") != "none"
                                                    for d in dets)

    async def _dwell(self, src: IqSource, raw: bytes, centre_hz: float, t0: float) -> None:
        dwell = self.scanner.process(raw, src.rate_hz, centre_hz, t0)
        await self._publish(dwell, self.scanner.detections(dwell, self.gain_db))
        clip = dwell.block.clip
        if clip > self.settings.clip_max:
            self.counters["clipped_dwells"] += 1
            if self.gain_db is not None and src.tunable:
                lower = gain_below(self.gain_db)
                if lower is not None:
                    log.warning("%.1f %% of bytes clip at %.1f dB gain: stepping down to %.1f dB",
                                100 * clip, self.gain_db, lower)
                    self.gain_db = lower
                    self.counters["gain_steps_down"] += 1
                    await src.set_gain(lower)

    async def _run_file(self, src: FileSource, stop: asyncio.Event) -> None:
        self.state = "ok"
        n_bytes = 2 * max(1, int(round(self.settings.dwell_s * src.rate_hz)))
        t0 = time.time()
        done = 0
        while not stop.is_set():
            raw = await src.read(n_bytes)
            if not raw:
                break
            await self._dwell(src, raw, src.centre_hz, t0 + done / src.rate_hz)
            done += len(raw) // 2
            await asyncio.sleep(0)
            if self.max_dwells is not None and self.counters["published"] >= self.max_dwells:
                break
        if src.odd_bytes:
            self.counters["odd_bytes"] += src.odd_bytes

    async def _run_live(self, stop: asyncio.Event) -> None:
        s = self.settings
        plan = scan_plan(s.bands, s.rate_hz, s.crop)
        backoff = Backoff()
        while not stop.is_set():
            src = open_source(self.source, s.rate_hz, ppm=s.ppm)
            try:
                await src.open()
                await src.set_gain(self.gain_db)
            except (ConnectionError, DecodeError) as exc:
                await src.close()
                self.state = "degraded"
                self.counters["connect_failures"] += 1
                if isinstance(exc, DecodeError):
                    self.counters["bad_headers"] += 1
                log.warning("cannot open %s (%s); retrying in %.1f s", self.source, exc,
                            backoff.delay)
                await backoff.wait(stop)
                continue
            self.counters["connects"] += 1
            self.state = "ok"
            got = False
            try:
                got = await self._scan(src, plan, stop)
            except ConnectionError as exc:
                log.warning("%s dropped: %s", self.source, exc)
            finally:
                await src.close()
            if stop.is_set() or self._enough():
                break
            self.state = "degraded"
            self.counters["disconnects"] += 1
            if got:  # a source that delivered was healthy: start the back-off afresh
                backoff.reset()
            await backoff.wait(stop)

    def _enough(self) -> bool:
        return self.max_dwells is not None and self.counters["published"] >= self.max_dwells

    async def _scan(self, src: IqSource, plan: list[float], stop: asyncio.Event) -> bool:
        """Hop through ``plan`` until stopped; True once any dwell was read."""
        s = self.settings
        settle = 2 * int(round(s.settle_s * src.rate_hz))
        n_bytes = 2 * max(1, int(round(s.dwell_s * src.rate_hz)))
        got = False
        while not stop.is_set():
            for centre in plan:
                await src.tune(centre)
                if settle:
                    await src.read(settle)
                t0 = time.time()
                raw = await src.read(n_bytes)
                got = True
                self.counters["bytes"] += len(raw)
                await self._dwell(src, raw, centre, t0)
                if stop.is_set() or self._enough():
                    return got
        return got
