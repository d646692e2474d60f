"""Synthetic drone-link signals for tests, benchmarks and a site's self-check: an
ExpressLRS-like LoRa FHSS link (500 kHz chirps, one packet every ``interval_s``, a hop every
``packets_per_hop`` packets over a channel grid) and a wide FM carrier (analog FPV video),
rendered for one tuned window and mixed into real background IQ at a given SNR.

No public capture of a drone control link exists (see ../shared/data/rf/SOURCES.md), so these
stand in for one; they follow the published LoRa modulation (linear up-chirps, symbol length
2^SF / BW) and ExpressLRS's hopping (channel grid, packets per hop), not any recording.

Frequencies Hz, times s from the start of the rendered stream, SNR dB per channel (signal
power over noise power in the signal's bandwidth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

C128 = NDArray[np.complex128]
U8 = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class LoraFhss:
    """An ExpressLRS-like link: channel ``k`` at ``first_hz + k * grid_hz``."""

    first_hz: float = 863_275_000.0
    grid_hz: float = 525_000.0
    channels: int = 13
    bw_hz: float = 500_000.0
    sf: int = 6
    interval_s: float = 0.01
    packets_per_hop: int = 2
    preamble: int = 6
    payload_symbols: int = 16
    seed: int = 1

    def schedule(self, duration_s: float) -> list[tuple[float, float]]:
        """(start s, channel Hz) of every packet in ``duration_s``."""
        rng = np.random.default_rng(self.seed)
        out: list[tuple[float, float]] = []
        order = rng.permutation(self.channels)
        n = int(duration_s / self.interval_s)
        for i in range(n):
            hop = i // self.packets_per_hop
            if hop % self.channels == 0 and i % self.packets_per_hop == 0 and hop:
                order = rng.permutation(self.channels)
            ch = int(order[hop % self.channels])
            out.append((i * self.interval_s, self.first_hz + ch * self.grid_hz))
        return out


def _chirp(n: int, rate_hz: float, bw_hz: float, shift: float, down: bool) -> C128:
    t = np.arange(n) / rate_hz
    dur = n / rate_hz
    # Instantaneous frequency wraps inside [-bw/2, bw/2): a cyclic shift encodes the symbol.
    f = -0.5 * bw_hz + bw_hz * np.mod(t / dur + shift, 1.0)
    if down:
        f = -f
    return np.exp(2j * np.pi * np.cumsum(f) / rate_hz)


def lora_packet(rate_hz: float, link: LoraFhss, rng: np.random.Generator) -> C128:
    """One unit-amplitude LoRa packet at baseband: preamble up-chirps, 2.25 down-chirps, data."""
    ns = int(round((1 << link.sf) * rate_hz / link.bw_hz))
    parts = [_chirp(ns, rate_hz, link.bw_hz, 0.0, False) for _ in range(link.preamble)]
    parts += [_chirp(ns, rate_hz, link.bw_hz, 0.0, True) for _ in range(2)]
    parts.append(_chirp(ns, rate_hz, link.bw_hz, 0.0, True)[: ns // 4])
    for s in rng.integers(0, 1 << link.sf, link.payload_symbols):
        parts.append(_chirp(ns, rate_hz, link.bw_hz, s / (1 << link.sf), False))
    return np.concatenate(parts)


def render_lora(n: int, rate_hz: float, centre_hz: float, link: LoraFhss,
                t0_s: float = 0.0) -> tuple[C128, list[tuple[float, float]]]:
    """The link as seen by a receiver tuned to ``centre_hz`` for ``n`` samples from stream
    time ``t0_s``: unit-amplitude IQ, and the (start s, channel Hz) of the packets inside."""
    out = np.zeros(n, dtype=np.complex128)
    rng = np.random.default_rng(link.seed + 1)
    dur = n / rate_hz
    visible: list[tuple[float, float]] = []
    half = 0.5 * rate_hz - 0.5 * link.bw_hz
    for start, ch in link.schedule(t0_s + dur + link.interval_s):
        pkt = lora_packet(rate_hz, link, rng)
        off = ch - centre_hz
        i0 = int(round((start - t0_s) * rate_hz))
        if abs(off) > half or i0 < 0 or i0 + len(pkt) > n:
            continue
        t = np.arange(len(pkt)) / rate_hz
        out[i0: i0 + len(pkt)] += pkt * np.exp(2j * np.pi * off * t)
        visible.append((start, ch))
    return out, visible


def render_fm(n: int, rate_hz: float, offset_hz: float, deviation_hz: float,
              seed: int = 3) -> C128:
    """A unit-amplitude FM carrier at ``offset_hz`` from the tuned frequency, modulated by a
    video-like signal (15.625 kHz line sawtooth plus noise) with peak ``deviation_hz``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    saw = 2.0 * np.mod(t * 15_625.0, 1.0) - 1.0
    noise = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same")
    m = np.clip(0.7 * saw + 0.3 * noise, -1.0, 1.0)
    phase = 2 * np.pi * np.cumsum(offset_hz + deviation_hz * m) / rate_hz
    return np.exp(1j * phase)


def cu8_iq(raw: U8) -> C128:
    """cu8 bytes -> complex128, DC removed (the background for mixing)."""
    v = (raw[: len(raw) // 2 * 2].astype(np.float64) - 127.5) / 127.5
    iq = v[0::2] + 1j * v[1::2]
    return iq - iq.mean()


def noise_psd(iq: C128, rate_hz: float, nfft: int = 1024) -> float:
    """Median noise power density of ``iq`` (power per Hz, in the IQ's units), robust to the
    bursts a real background holds."""
    frames = len(iq) // nfft
    x = iq[: frames * nfft].reshape(frames, nfft) * np.hanning(nfft)
    p = np.abs(np.fft.fft(x, axis=1)) ** 2 / np.sum(np.hanning(nfft) ** 2)
    # The median of exponential bins is ln 2 times their mean.
    return float(np.median(p) / np.log(2.0)) / rate_hz


def mix(background: C128, signal: C128, rate_hz: float, snr_db: float, bw_hz: float) -> C128:
    """``background + a * signal`` with ``a`` setting the SNR in ``bw_hz`` against the
    background's own noise density."""
    n0 = noise_psd(background, rate_hz)
    a = np.sqrt(10 ** (snr_db / 10) * n0 * bw_hz)
    return background + a * signal[: len(background)]


def to_cu8(iq: C128) -> U8:
    """complex -> cu8 bytes (clipped at the rails, as an overdriven dongle would)."""
    out = np.empty(2 * len(iq), dtype=np.uint8)
    out[0::2] = np.clip(np.round(iq.real * 127.5 + 127.5), 0, 255)
    out[1::2] = np.clip(np.round(iq.imag * 127.5 + 127.5), 0, 255)
    return out
