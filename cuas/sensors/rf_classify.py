"""The RF adapter's on-demand stages, pure numpy: LoRa chirp detection on flagged bursts, hop
statistics per band, and the control-link classifier.

Only bursts wide enough to be a chirp (``chirp_min_bw_hz``) reach :func:`detect_chirp`, so the
always-on stage stays cheap. The classifier's evidence (what made it say ExpressLRS, analog
video or an ISM device) is returned with each guess and goes into the detection's ``attrs``.

Frequencies Hz (absolute), times UTC seconds unless a name says otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from cuas.sensors.rf_dsp import C64, Burst

#: LoRa bandwidths tried, widest first (Hz).
LORA_BANDWIDTHS: Final = (500_000.0, 250_000.0, 125_000.0)
#: LoRa spreading factors tried.
LORA_SFS: Final = tuple(range(5, 13))
#: Known FHSS channel grids (Hz): ExpressLRS/FrSky R9 EU868 and FCC915, ExpressLRS 433.
KNOWN_GRIDS: Final = {525_000.0: "EU868", 600_000.0: "FCC915", 325_000.0: "433"}
#: Bands where a wide continuous carrier is an analog FPV video transmitter (Hz).
VIDEO_BANDS: Final = ((1_080_000_000.0, 1_360_000_000.0),)

#: Loud runs shorter than this (samples) are impulses to blank before dechirping.
_PULSE_MAX: Final = 24

#: Protocol names as published in ``attrs.protocol`` (the classifier's likelihood table lists
#: ``elrs`` and ``fhss`` among drone control links).
ELRS: Final = "elrs"
LORA_FHSS: Final = "fhss"
LORA: Final = "lora"
VIDEO: Final = "fpv-analog"
ISM: Final = "ism"
UNKNOWN: Final = "unknown"


@dataclass(frozen=True, slots=True)
class Chirp:
    """A LoRa chirp found in a burst: bandwidth (Hz), spreading factor, and the dechirped
    peak-to-mean ratio over its noise expectation (1 = noise; a clean chirp is 10-100)."""

    bw_hz: float
    sf: int
    score: float
    #: Centre of the chirp's band from the tuned frequency (Hz).
    offset_hz: float = 0.0
    #: Where the preamble starts, from the start of the samples searched (s).
    start_s: float = 0.0


def _chirp_offset(plain: NDArray[np.float64], rate_hz: float, bw_hz: float) -> float:
    """Centre of a chirp's band: where a ``bw_hz``-wide box over the windows' mean spectrum
    (its median, the noise, taken off) holds the most power (Hz from the tuned frequency)."""
    ns = plain.shape[1]
    spec = np.fft.fftshift(plain.mean(axis=0))
    spec = spec - np.median(spec)
    width = max(1, int(round(bw_hz / rate_hz * ns)))
    box = np.convolve(spec, np.ones(width), mode="same")
    return float((int(np.argmax(box)) - ns // 2) * rate_hz / ns)


def _upchirp(n: int, rate_hz: float, bw_hz: float) -> C64:
    """One base up-chirp of ``n`` samples sweeping -bw/2 .. +bw/2 (complex64)."""
    t = np.arange(n) / rate_hz
    dur = n / rate_hz
    k = bw_hz / dur
    phase = 2 * np.pi * (-0.5 * bw_hz * t + 0.5 * k * t * t)
    return np.exp(1j * phase).astype(np.complex64)


def _longest_run(flags: NDArray[np.bool_]) -> tuple[int, int]:
    """(length, start index) of the longest run of True in ``flags``; (0, 0) for none."""
    if not flags.any():
        return 0, 0
    d = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    k = int(np.argmax(ends - starts))
    return int(ends[k] - starts[k]), int(starts[k])


def detect_chirp(iq: C64, rate_hz: float, *, min_score: float = 3.0, min_run: int = 4,
                 bandwidths: Sequence[float] = LORA_BANDWIDTHS) -> Chirp | None:
    """Is there a LoRa packet in ``iq`` (a burst's samples, any offset in the band)?

    For each bandwidth and spreading factor, symbol-long windows are multiplied by the
    conjugate base up-chirp and FFT'd: a LoRa symbol collapses into one bin wherever it sits
    in the band, while noise, a tone or an OOK/FSK burst does not become more concentrated
    than it was. The score is each window's dechirped peak over its plain-spectrum peak
    (noise: about 1; a tone: below 1; a chirp at 0 dB SNR in 500 kHz of a 2 MS/s band:
    about 8), averaged over the best windows (a burst may hold more than the packet). The
    preamble must also show: ``min_run`` consecutive windows peaking in the same bin.
    """
    best: Chirp | None = None
    if len(iq) < 256:
        return None
    # Impulse blanking: strong pulses (Mode S, OOK keying) merged into the burst would own
    # every window's peak; a chirp near the noise stays far below 4x the median magnitude.
    # Pulses are short; a strong chirp is loud for the whole packet and is left alone.
    mag = np.abs(iq)
    loud = mag > 4.0 * float(np.median(mag))
    pulses = loud & ~ndimage.binary_opening(loud, structure=np.ones(_PULSE_MAX))
    x = np.where(pulses, 0, iq).astype(np.complex64)
    n_all = len(x)
    for bw in bandwidths:
        if bw > rate_hz:
            continue
        for sf in LORA_SFS:
            ns = int(round((1 << sf) * rate_hz / bw))
            if n_all // ns < min_run + 1:
                break
            ref = np.conj(_upchirp(ns, rate_hz, bw))
            for start in (0, ns // 2):
                m = (n_all - start) // ns
                blocks = x[start: start + m * ns].reshape(m, ns)
                plain = np.abs(np.fft.fft(blocks, axis=1)) ** 2
                spec = np.abs(np.fft.fft(blocks * ref, axis=1)) ** 2
                ratio = spec.max(axis=1) / np.maximum(plain.max(axis=1), 1e-30)
                k = min(6, max(2, m // 2))
                score = float(np.mean(np.sort(ratio)[-k:]))
                # The preamble's identical up-chirps land in the same bin window after window.
                peak = spec.argmax(axis=1)
                same = np.abs((np.diff(peak) + ns // 2) % ns - ns // 2) <= 1
                run, first = _longest_run(same & (ratio[1:] > 0.5 * min_score))
                if score >= min_score and run + 1 >= min_run and (best is None
                                                                  or score > best.score):
                    good = ratio > 0.5 * min_score
                    best = Chirp(bw, sf, score, _chirp_offset(plain[good], rate_hz, bw),
                                 (start + first * ns) / rate_hz)
    return best


# --------------------------------------------------------------------------- hop statistics


@dataclass(frozen=True, slots=True)
class Packet:
    """One chirp-positive burst: start (UTC s), absolute centre (Hz), duration (s), chirp."""

    t: float
    freq_hz: float
    duration_s: float
    chirp: Chirp
    #: Index of the scan block it was seen in (visible packets of one dwell are consecutive).
    block: int


@dataclass(frozen=True, slots=True)
class HopStats:
    """Hop statistics of one band's chirp packets over the recent window."""

    packets: int
    channels: int
    #: Channel spacing that fits the channel differences (Hz), and its name when known.
    grid_hz: float | None
    grid_name: str | None
    grid_fit: float
    #: Packet interval (s) and packets on one channel before a hop, from within-dwell runs.
    cadence_s: float | None
    packets_per_hop: float | None
    #: Packet duration over the packet interval.
    duty: float | None
    span_hz: float


def _cadence(intervals: Sequence[float]) -> float | None:
    """The packet interval (s) that makes most of ``intervals`` whole multiples of it (the
    packets in between fell outside the tuned window or went unseen): the largest of the
    shorter intervals explaining at least 70 % of them within 15 %."""
    iv = np.array([i for i in intervals if i >= 0.0015])
    if not len(iv):
        return None
    for c in sorted(np.unique(np.round(np.sort(iv)[: max(3, len(iv) // 2)], 4)), reverse=True):
        k = np.maximum(np.round(iv / c), 1)
        if np.mean(np.abs(iv - k * c) <= 0.15 * c) >= 0.7:
            return float(c)
    return float(np.min(iv))


def hop_stats(packets: Sequence[Packet], bw_hz: float) -> HopStats:
    """Channel grid, cadence, packets per hop and duty cycle of ``packets`` (one band)."""
    freqs = np.sort(np.array([p.freq_hz for p in packets]))
    tol = max(bw_hz * 0.1, 15_000.0)
    channels: list[float] = []
    for f in freqs:
        if not channels or f - channels[-1] > 2 * tol:
            channels.append(float(f))
    ch = np.array(channels)
    grid, name, fit = None, None, 0.0
    if len(ch) >= 2:
        diffs = (ch[None, :] - ch[:, None])[np.triu_indices(len(ch), 1)]
        cands = list(KNOWN_GRIDS) + [float(np.min(np.diff(ch)))]
        for g in cands:
            k = np.maximum(np.round(diffs / g), 1)
            f_ = float(np.mean(np.abs(diffs - k * g) <= 2 * tol))
            if f_ > fit + 1e-9:
                grid, fit = g, f_
        if grid is not None:
            name = KNOWN_GRIDS.get(grid)
    # One packet may come as several fragments (bursts split in frequency): keep one.
    ordered: list[Packet] = []
    for p in sorted(packets, key=lambda p: p.t):
        if ordered and p.t - ordered[-1].t < 0.002 and abs(p.freq_hz - ordered[-1].freq_hz) <= 2 * tol:
            continue
        ordered.append(p)
    # Cadence and packets per hop from consecutive packets seen in the same dwell.
    intervals: list[float] = []
    runs: list[int] = []
    run = 1
    for a, b in zip(ordered, ordered[1:], strict=False):
        same_block = a.block == b.block
        if same_block:
            intervals.append(b.t - a.t)
        if same_block and abs(b.freq_hz - a.freq_hz) <= 2 * tol:
            run += 1
        else:
            runs.append(run)
            run = 1
    runs.append(run)
    cadence = _cadence(intervals)
    pph = float(np.median(runs)) if runs and len(ordered) >= 3 else None
    dur = float(np.median([p.duration_s for p in packets]))
    duty = dur / cadence if cadence else None
    return HopStats(len(packets), len(ch), grid, name, fit, cadence, pph, duty,
                    float(ch[-1] - ch[0]) if len(ch) else 0.0)


# --------------------------------------------------------------------------- classifier


@dataclass(frozen=True, slots=True)
class Guess:
    """The classifier's answer for one burst: protocol, link kind (``control``, ``video`` or
    ``none``), confidence in [0, 1], and the evidence as attrs-ready key/values."""

    protocol: str
    link: str
    confidence: float
    evidence: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class _BandState:
    packets: deque[Packet] = field(default_factory=lambda: deque(maxlen=512))


class LinkClassifier:
    """Per-band memory of chirp packets and the rules that turn bursts into guesses.

    ``bands``: (low, high) Hz per band (hop statistics are kept per band); ``window_s``: how
    long chirp packets count towards a band's hop statistics.
    """

    def __init__(self, bands: Sequence[tuple[float, float]], window_s: float = 5.0) -> None:
        self.bands = tuple(bands)
        self.window_s = window_s
        self._state: dict[int, _BandState] = {}

    def band_of(self, freq_hz: float) -> int:
        for i, (lo, hi) in enumerate(self.bands):
            if lo <= freq_hz <= hi:
                return i
        return -1

    def add_packet(self, packet: Packet) -> None:
        st = self._state.setdefault(self.band_of(packet.freq_hz), _BandState())
        st.packets.append(packet)

    def band_packets(self, freq_hz: float, now: float) -> list[Packet]:
        st = self._state.get(self.band_of(freq_hz))
        if st is None:
            return []
        while st.packets and st.packets[0].t < now - self.window_s:
            st.packets.popleft()
        return list(st.packets)

    def classify(self, burst: Burst, t_start: float, chirp: Chirp | None) -> Guess:
        """Guess what emitted ``burst`` (which began at UTC ``t_start``)."""
        if chirp is not None:
            return self._chirp_guess(burst, t_start, chirp)
        if burst.continuous:
            return _continuous_guess(burst)
        return _burst_guess(burst)

    def _chirp_guess(self, burst: Burst, t: float, chirp: Chirp) -> Guess:
        packets = self.band_packets(burst.freq_hz, t)
        ev: dict[str, object] = {"chirp": True, "lora_bw_hz": chirp.bw_hz, "lora_sf": chirp.sf,
                                 "chirp_score": round(chirp.score, 1)}
        if len(packets) < 3:
            ev["hop_packets"] = len(packets)
            return Guess(LORA, "none", 0.3, ev)
        hs = hop_stats(packets, chirp.bw_hz)
        ev.update(hop_packets=hs.packets, hop_channels=hs.channels,
                  hop_span_hz=round(hs.span_hz))
        if hs.grid_hz is not None:
            ev.update(hop_grid_hz=round(hs.grid_hz), hop_grid_fit=round(hs.grid_fit, 2))
        if hs.grid_name:
            ev["hop_grid"] = hs.grid_name
        if hs.cadence_s is not None:
            ev["hop_cadence_s"] = round(hs.cadence_s, 4)
        if hs.packets_per_hop is not None:
            ev["hop_packets_per_hop"] = hs.packets_per_hop
        if hs.duty is not None:
            ev["hop_duty"] = round(hs.duty, 3)
        if hs.channels < 2:
            # One channel: a LoRa IoT device (LoRaWAN, Meshtastic), not a hopping control link.
            return Guess(LORA, "none", 0.6, ev)
        conf = 0.55
        cadence_ok = hs.cadence_s is not None and 0.004 <= hs.cadence_s <= 0.045
        grid_ok = hs.grid_name is not None and hs.grid_fit >= 0.8
        pph_ok = hs.packets_per_hop is not None and 1 <= hs.packets_per_hop <= 4
        conf += 0.15 * cadence_ok + 0.15 * grid_ok + 0.1 * pph_ok + 0.05 * (hs.channels >= 3)
        elrs = cadence_ok and chirp.bw_hz >= 500_000.0 and (grid_ok or hs.channels >= 3)
        return Guess(ELRS if elrs else LORA_FHSS, "control", min(conf, 0.99), ev)


def _continuous_guess(burst: Burst) -> Guess:
    ev: dict[str, object] = {"continuous": True}
    in_video = any(lo <= burst.freq_hz <= hi for lo, hi in VIDEO_BANDS)
    if burst.bw_hz >= 150_000.0 and in_video:
        return Guess(VIDEO, "video", 0.8 if burst.bw_hz >= 300_000.0 else 0.6, ev)
    if burst.bw_hz >= 150_000.0:
        return Guess(UNKNOWN, "none", 0.3, ev | {"wide": True})
    return Guess(UNKNOWN, "none", 0.3, ev)


def _burst_guess(burst: Burst) -> Guess:
    """A short narrow burst is an ISM device (keys, meters, sensors: 1-12 kHz, 25-120 ms)."""
    narrow = burst.bw_hz <= 25_000.0
    typical = 0.015 <= burst.duration_s <= 0.2
    if narrow:
        return Guess(ISM, "none", 0.8 if typical else 0.5, {"narrow": True})
    return Guess(UNKNOWN, "none", 0.3, {})
