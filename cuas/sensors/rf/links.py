"""The RF adapter's on-demand stages, pure numpy: LoRa chirp detection on flagged bursts, hop
statistics per band, and the control-link classifier.

Only bursts wide enough to be a chirp (``chirp_min_bw_hz``) reach :func:`detect_chirp`, so the
always-on stage stays cheap. The classifier's evidence (what made it say ExpressLRS, analog
video or an ISM device) is returned with each guess and goes into the detection's ``attrs``.

Frequencies Hz (absolute), times UTC seconds unless a name says otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import scipy.fft as sfft
from numpy.typing import NDArray
from scipy import ndimage

from cuas.sensors.rf.dsp import C64, Burst

#: LoRa bandwidths tried, widest first (Hz).
LORA_BANDWIDTHS: Final = (500_000.0, 250_000.0, 125_000.0)
#: Spreading factors tried per bandwidth: ExpressLRS 900 uses 500 kHz at SF6-SF9 (200 to
#: 25 Hz packet rates), other LoRa links (mLRS, LoRaWAN, Meshtastic) 125-250 kHz at SF7-SF12.
LORA_SFS: Final = {500_000.0: tuple(range(5, 11)), 250_000.0: tuple(range(6, 12)),
                   125_000.0: tuple(range(7, 13))}
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
    #: How long the dechirped windows stayed concentrated from the preamble on (s).
    duration_s: float = 0.0
    #: Whether down-chirps followed the preamble (a LoRa sync: a packet, not a sweep).
    synced: bool = False


def _chirp_offset(plain: NDArray[np.float32], chirp: NDArray[np.bool_], rate_hz: float,
                  bw_hz: float) -> float:
    """Centre of a chirp's band (Hz from the tuned frequency): where a ``bw_hz``-wide box over
    the chirp windows' mean spectrum, less the other windows' (what else is on: an ISM
    device, the noise), holds the most power."""
    ns = plain.shape[1]
    spec = plain[chirp].mean(axis=0)
    spec = spec - (plain[~chirp].mean(axis=0) if (~chirp).sum() >= 3 else np.median(spec))
    width = max(1, int(round(bw_hz / rate_hz * ns)))
    box = np.convolve(sfft.fftshift(spec), np.ones(width), mode="same")
    return float((int(np.argmax(box)) - ns // 2) * rate_hz / ns)


def _sync_offset(blocks: NDArray[np.complex64], preamble: NDArray[np.float32],
                 ref: C64, nf: int, after: int, rate_hz: float, bw_hz: float, coarse: float,
                 min_score: float) -> float | None:
    """The chirp's centre (Hz from the tuned frequency) from the preamble and the down-chirps
    after it, as a LoRa receiver synchronises: on a window grid delayed by d from the
    symbols, a dechirped up-chirp is a tone at f0 + k d and a dechirped down-chirp one at
    f0 - k d (both wrapped alike), so their mean is f0 whatever d. The wrap of the FFT band
    leaves candidates rate/2 apart: the one nearest the ``coarse`` estimate wins. None when no
    down-chirp shows within five windows after the preamble."""
    freqs = sfft.fftfreq(nf, 1.0 / rate_hz)
    up = preamble.mean(axis=0)
    i = int(np.argmax(up))
    f_up = float(freqs[i])
    # Delayed near half a symbol, the up-chirp's tone splits in two, bw apart, and the down
    # tone may have wrapped the other way: then the centre is also ambiguous by bw/2.
    d = int(round(bw_hz / rate_hz * nf))
    split = max(float(up[(i + d) % nf]), float(up[(i - d) % nf])) > 0.25 * float(up[i])
    win = blocks[after: after + 5]
    if not len(win):
        return None
    f = sfft.fft(win * np.conj(ref), n=nf, axis=1)
    down = f.real * f.real + f.imag * f.imag
    ratio = down.max(axis=1) / np.maximum(down.mean(axis=1), 1e-30)
    j = int(np.argmax(ratio))
    if ratio[j] < 4.0 * min_score:
        return None
    f_down = float(freqs[int(np.argmax(down[j]))])
    centre = 0.5 * (f_up + f_down)
    halves = (-1, 0, 1) if split else (0,)
    cands = [centre + a * rate_hz / 2 + b * bw_hz / 2 for a in (-1, 0, 1) for b in halves]
    # The chirp's whole band lies inside the samples' band: that rules out most candidates
    # (all but one when the band is under twice the chirp's); the coarse estimate picks
    # among the rest.
    room = (rate_hz - bw_hz) / 2 + 2 * rate_hz / nf
    inside = [c for c in cands if abs(c) <= room] or cands
    return min(inside, key=lambda c: abs(c - coarse))


@functools.lru_cache(maxsize=128)
def _dechirp_ref(n: int, rate_hz: float, bw_hz: float) -> C64:
    """The conjugate of one base up-chirp of ``n`` samples sweeping -bw/2 .. +bw/2."""
    t = np.arange(n) / rate_hz
    k = bw_hz / (n / rate_hz)
    phase = 2 * np.pi * (-0.5 * bw_hz * t + 0.5 * k * t * t)
    ref = np.exp(-1j * phase).astype(np.complex64)
    ref.flags.writeable = False
    return ref


def _longest_run(flags: NDArray[np.bool_]) -> tuple[int, int]:
    """(length, start index) of the longest run of True in ``flags``; (0, 0) for none."""
    if not flags.any():
        return 0, 0
    d = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    k = int(np.argmax(ends - starts))
    return int(ends[k] - starts[k]), int(starts[k])


def detect_chirp(iq: C64, rate_hz: float, *, min_score: float = 3.0, min_run: int = 4,
                 bandwidths: Sequence[float] = LORA_BANDWIDTHS,
                 span_hz: tuple[float, float] | None = None,
                 max_sf: int = 12) -> Chirp | None:
    """Is there a LoRa packet in ``iq`` (a burst's samples, any offset in the band)?

    For each bandwidth and spreading factor, symbol-long windows are multiplied by the
    conjugate base up-chirp and FFT'd: a LoRa symbol collapses into one bin wherever it sits
    in the band, while noise, a tone or an OOK/FSK burst does not become more concentrated
    than it was. The score is each window's dechirped peak over its plain-spectrum peak
    (noise: about 1; a tone: below 1; a chirp at 0 dB SNR in 500 kHz of a 2 MS/s band:
    about 8), averaged over the best windows (a burst may hold more than the packet). The
    preamble must also show: ``min_run`` consecutive windows peaking in the same bin.

    ``span_hz`` (offsets from the tuned frequency): where the burst was seen; for each
    bandwidth only ``span +- bw/2`` is kept, so that a strong emitter elsewhere in the window
    cannot own the windows' plain-spectrum peaks.
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
    x_all = np.where(pulses, 0, iq).astype(np.complex64)
    n_all = len(x_all)
    whole = sfft.fftshift(sfft.fft(x_all)) if span_hz is not None else None
    for bw in bandwidths:
        if bw > rate_hz:
            continue
        # Keep span +- bw/2 only, resampled to that width (an FFT-domain resampler): a strong
        # emitter elsewhere cannot own the windows' peaks, and a narrow span costs little.
        x, r, fc = x_all, rate_hz, 0.0
        if whole is not None and span_hz is not None:
            lo = max(span_hz[0] - bw / 2, -rate_hz / 2)
            hi = min(span_hz[1] + bw / 2, rate_hz / 2)
            # fftshift puts frequency (i - n//2) * rate / n at index i.
            i0 = max(0, int(np.floor(lo * n_all / rate_hz)) + n_all // 2)
            i1 = min(n_all, int(np.ceil(hi * n_all / rate_hz)) + n_all // 2 + 1)
            if i1 - i0 < n_all:
                sub = whole[i0:i1]
                r = rate_hz * len(sub) / n_all
                fc = (i0 + len(sub) // 2 - n_all // 2) * rate_hz / n_all
                x = (sfft.ifft(sfft.ifftshift(sub)) * (len(sub) / n_all)).astype(np.complex64)
        n_x = len(x)
        for sf in LORA_SFS[bw]:
            if sf > max_sf:
                break
            ns = int(round((1 << sf) * r / bw))
            if n_x // ns < min_run + 1:
                break
            ref = _dechirp_ref(ns, r, bw)
            grids: list[tuple[float, float, Chirp, float | None]] = []
            m0 = n_x // ns
            # At 2.4 MS/s a symbol is 4.8 * 2^SF samples (307, a prime, for SF6): pad each
            # window to a length the FFT is quick at; the dechirped tone stays one peak.
            nf = sfft.next_fast_len(ns)
            f = sfft.fft(x[: m0 * ns].reshape(m0, ns), n=nf, axis=1)
            plain = f.real * f.real + f.imag * f.imag
            plain_max = plain.max(axis=1)
            for start in (0, ns // 2):
                m = (n_x - start) // ns
                blocks = x[start: start + m * ns].reshape(m, ns)
                f = sfft.fft(blocks * ref, n=nf, axis=1, overwrite_x=True)
                spec = f.real * f.real + f.imag * f.imag
                # A half-shifted window straddles two plain windows: the larger peak of the
                # two stands in for its own (one FFT fewer per window).
                norm = plain_max[:m] if start == 0 else np.maximum(
                    plain_max[:m], plain_max[1: m + 1] if m0 > m else plain_max[:m])
                ratio = spec.max(axis=1) / np.maximum(norm, 1e-30)
                k = min(6, max(2, m // 2))
                score = float(np.mean(np.sort(ratio)[-k:]))
                if score < min_score:
                    continue
                # The preamble's identical up-chirps land in the same bin window after window.
                peak = spec.argmax(axis=1)
                same = np.abs((np.diff(peak) + nf // 2) % nf - nf // 2) <= 1
                run, first = _longest_run(same & (ratio[1:] > 0.5 * min_score))
                if run + 1 < min_run or (m >= 16 and run + 1 >= 0.9 * m):
                    # Too short for a preamble, or the same sweep window after window with no
                    # data after it: a periodic sweep (an FM carrier's line rate), no packet.
                    continue
                strong = ratio > 0.5 * min_score
                idx = np.nonzero(strong)[0]
                last = max(int(idx[-1]) if len(idx) else 0, first + run)
                # Windows of the packet (strong ones, offset-0 grid) against the rest.
                in_pkt = np.zeros(m0, dtype=bool)
                in_pkt[: len(strong)] = strong
                coarse = _chirp_offset(plain, in_pkt, r, bw)
                fine = _sync_offset(blocks, spec[first: first + run + 1], ref, nf,
                                    first + run + 1, r, bw, coarse, min_score)
                # The grid whose preamble tones are the most concentrated is the one delayed
                # least from the symbols (no tone split by the wrap): trust its centre.
                conc = float(ratio[first: first + run + 1].mean())
                grids.append((score, conc, Chirp(bw, sf, score, fc + coarse, (start + first * ns) / r,
                                                  (last + 1 - first) * ns / r, fine is not None),
                              None if fine is None else fc + fine))
            if grids:
                top = max(grids, key=lambda g: g[0])
                if best is None or top[0] > best.score:
                    fines = [(c, f) for _, c, _, f in grids if f is not None]
                    chirp = top[2]
                    if fines:
                        chirp = dataclasses.replace(chirp, offset_hz=max(fines)[1])
                    best = chirp
        if best is not None and best.score >= 2 * min_score:
            break  # a clear chirp at this bandwidth: narrower ones will not beat it
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
        if not (grid_ok or cadence_ok):
            # Chirps on several frequencies, but neither a channel grid nor a packet rate:
            # not enough to call it a control link yet.
            return Guess(LORA, "none", 0.4, ev)
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
