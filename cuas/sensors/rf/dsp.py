"""The RF adapter's always-on stage, pure numpy/scipy: cu8 bytes in, bursts out.

cu8 -> complex by a 65,536-entry lookup table (one entry per I,Q byte pair), Hann-windowed FFT
frames, a noise floor per frame from a low percentile over frequency (an order-statistic CFAR
whose reference cells are the whole hop), detection at two resolutions (a fine one for narrow
ISM tones, a coarse one averaging ~100 kHz x 3 frames that finds a wide chirp at 0 dB SNR), and
burst extraction: connected regions of the time-frequency mask with gaps shorter than
``merge_gap_s`` closed, so one OOK transmission is one burst.

Frequencies are Hz (absolute: hop centre + baseband offset), times seconds from the start of
the block (callers add the block's UTC start), powers dB relative to full scale (dBFS: a
full-scale complex sinusoid is 0 dBFS).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Final

import numpy as np
import scipy.fft as sfft
from numpy.typing import NDArray
from scipy import ndimage

C64 = NDArray[np.complex64]
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
U8 = NDArray[np.uint8]


def _cu8_table() -> C64:
    """Complex value of every little-endian uint16 (Q << 8 | I): (byte - 127.5) / 127.5."""
    v = (np.arange(256, dtype=np.float32) - 127.5) / 127.5
    idx = np.arange(65536)
    return (v[idx & 0xFF] + 1j * v[idx >> 8]).astype(np.complex64)


#: cu8 byte pair -> complex64, scaled as pyrtlsdr / rtl_433 scale them.
CU8_LUT: Final = _cu8_table()


def cu8_to_complex(buf: bytes | bytearray | memoryview | U8) -> C64:
    """Interleaved unsigned 8-bit I,Q -> complex64 in [-1, 1]. An odd trailing byte is ignored
    (callers keep it for the next block)."""
    raw = np.frombuffer(buf, dtype=np.uint8)
    n = len(raw) // 2
    return CU8_LUT[raw[: 2 * n].view("<u2")]


def clip_fraction(buf: bytes | bytearray | memoryview | U8) -> float:
    """Share of bytes at the converter's rails (0 or 255): an overdriven front end."""
    b = bytes(buf) if not isinstance(buf, bytes | bytearray) else buf
    if not len(b):
        return 0.0
    return (b.count(0) + b.count(255)) / len(b)


@dataclass(frozen=True, slots=True)
class DspParams:
    """Knobs of the always-on stage (Hz, s, dB)."""

    #: FFT bin width aimed at (the FFT length is the nearest power of two).
    bin_hz: float = 1000.0
    #: Share of the hop cropped at each edge (the RTL2832's anti-alias roll-off).
    crop: float = 0.1
    #: Fine-scale threshold above the noise floor (3-bin average, one frame).
    fine_db: float = 10.0
    #: Coarse-scale threshold (``coarse_hz`` x ``coarse_frames`` average).
    coarse_db: float = 2.0
    coarse_hz: float = 100_000.0
    coarse_frames: int = 3
    #: Gaps shorter than this inside one emission are closed (OOK/PPM keying, FSK tone gaps).
    merge_gap_s: float = 0.006
    #: Regions closer than this in frequency are one emission (FSK's two tones, splatter).
    merge_hz: float = 4000.0
    #: Bursts shorter than this are noise (one stray cell).
    min_duration_s: float = 0.0002
    #: Bursts below this SNR (mean over their cells) are dropped.
    min_snr_db: float = -3.0
    #: An emitter whose per-bin median rises this far above the hop's level, over at least
    #: ``continuous_min_hz``, is continuous (on for over half the block).
    continuous_db: float = 6.0
    #: A burst's frequency and width are measured again on its own samples with an FFT this
    #: many times longer (a finer grid than the always-on one, paid per burst only).
    refine: int = 4
    continuous_min_hz: float = 30_000.0

    def nfft(self, rate_hz: float) -> int:
        """FFT length for ``rate_hz``: the power of two nearest ``rate_hz / bin_hz``, >= 64."""
        return max(64, int(2 ** round(np.log2(max(rate_hz / self.bin_hz, 1.0)))))


@dataclass(frozen=True, slots=True)
class Burst:
    """One emission found in one block. ``start_s``/``end_s`` from the block start (s);
    ``freq_hz`` the absolute frequency of the strongest bin (parabolically refined), ``bw_hz``
    the contiguous width around it down to -10 dB, ``low_hz``/``high_hz`` the occupied span;
    ``peak_dbfs``/``mean_dbfs`` per-frame power in the burst's span; ``snr_db`` mean power over
    the noise in the same span; ``duty`` the share of the burst's frames that were on."""

    start_s: float
    end_s: float
    freq_hz: float
    bw_hz: float
    low_hz: float
    high_hz: float
    peak_dbfs: float
    mean_dbfs: float
    snr_db: float
    duty: float
    #: Sample indices of the burst inside the block (for the on-demand stages).
    first_sample: int
    last_sample: int
    #: True for an emitter on through the whole block (found from the per-bin profile).
    continuous: bool = False
    #: Distinct spectral peaks within 10 dB of the strongest (Hz, strongest first).
    tones_hz: tuple[float, ...] = ()
    #: Strongest bin over the median bin of the burst's span (dB): high for a carrier (OOK,
    #: FSK), low for power spread evenly (a chirp, Mode S pulses, noise).
    peakiness_db: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What one block yielded: its bursts, noise floor (dBFS per bin), clipping, frame time."""

    bursts: tuple[Burst, ...]
    noise_dbfs_per_bin: float
    clip: float
    frame_s: float
    bin_hz: float
    samples: int


#: FFT bins per cell of the coarse grid used for the coarse threshold, closing and labelling.
_CELL: Final = 4


def _closing(mask: NDArray[np.bool_], t: int, f: int) -> NDArray[np.bool_]:
    """Binary closing by a t x f rectangle, done separably (max then min filters); what was
    detected at the borders is kept (a plain closing erodes it)."""
    m = mask.view(np.uint8)
    d = ndimage.maximum_filter1d(m, t, axis=0, mode="constant", cval=0)
    d = ndimage.maximum_filter1d(d, f, axis=1, mode="constant", cval=0)
    e = ndimage.minimum_filter1d(d, t, axis=0, mode="constant", cval=1)
    e = ndimage.minimum_filter1d(e, f, axis=1, mode="constant", cval=1)
    return e.astype(bool) | mask


#: Mean over median of an exponentially distributed power (one FFT bin of noise): 1/ln 2.
_MEAN_OVER_MEDIAN: Final = 1.0 / np.log(2.0)


def _db(x: F64 | float) -> F64:
    return np.asarray(10.0 * np.log10(np.maximum(x, 1e-20)), dtype=np.float64)


@functools.lru_cache(maxsize=64)
def _hann(n: int) -> F32:
    w = np.hanning(n).astype(np.float32)
    w.flags.writeable = False
    return w


def spectrogram(iq: C64, nfft: int) -> F32:
    """|FFT|^2 of non-overlapping Hann-windowed frames, DC centred: (frames, nfft), scaled so
    that a full-scale sinusoid's bin sums to 1 (0 dBFS). Single precision throughout."""
    frames = len(iq) // nfft
    if frames == 0:
        return np.zeros((0, nfft), dtype=np.float32)
    win = _hann(nfft)
    x = iq[: frames * nfft].reshape(frames, nfft) * win
    spec = sfft.fft(x, axis=1, overwrite_x=True)
    p = (spec.real * spec.real + spec.imag * spec.imag).astype(np.float32, copy=False)
    p *= np.float32(1.0 / np.sum(win) ** 2)
    return sfft.fftshift(p, axes=1)


def detect_block(iq: C64, rate_hz: float, centre_hz: float, params: DspParams | None = None,
                 clip: float = 0.0) -> BlockResult:
    """Bursts in one block of IQ sampled at ``rate_hz`` around ``centre_hz`` (Hz).

    The noise in each bin is that bin's median power over the block (robust while an emitter
    occupies the bin less than half the time; it also takes out the tuner's passband ripple
    of a few dB, which would otherwise swamp a 2 dB coarse threshold). An emitter on for most
    of the block (a video carrier) is found separately, from that per-bin profile rising
    ``continuous_db`` above the hop's median level.
    """
    prm = params or DspParams()
    nfft = prm.nfft(rate_hz)
    bin_hz = rate_hz / nfft
    frame_s = nfft / rate_hz
    p = spectrogram(iq, nfft)
    nfr = p.shape[0]
    if nfr == 0:
        return BlockResult((), float("nan"), clip, frame_s, bin_hz, len(iq))
    lo = int(round(prm.crop * nfft))
    width = (nfft - 2 * lo) // _CELL * _CELL
    hi = lo + width
    dc = nfft // 2
    # The DC spike and LO leakage: replace the centre bins by their neighbours' level.
    p[:, dc - 1: dc + 2] = 0.5 * (p[:, dc - 3: dc - 2] + p[:, dc + 2: dc + 3])
    band = p[:, lo:hi]
    # Per-bin median over the block; 64 frames are plenty for it (every other frame of a
    # long block: half the cost).
    sample = band[::2] if nfr >= 128 else band
    profile = np.median(sample, axis=0) * np.float32(_MEAN_OVER_MEDIAN)
    profile = ndimage.uniform_filter1d(profile, 5, mode="nearest")
    level = float(np.median(profile))
    if not level > 1e-15:
        # A dead input (all one byte value: a file of zeros or 255s, an unplugged tuner).
        return BlockResult((), float(_db(max(level, 1e-20))), clip, frame_s, bin_hz, len(iq))
    profile = np.maximum(profile, np.float32(max(level, 1e-20) * 1e-3))
    norm = band / profile
    # Fine scale at full resolution; coarse scale, closing and labelling on cells of _CELL
    # bins (the burst's own frequency is measured again finely in _refine).
    fine_mask = ndimage.uniform_filter1d(norm, 3, axis=1, mode="constant",
                                         cval=1.0) > 10 ** (prm.fine_db / 10)
    cells = norm.reshape(nfr, width // _CELL, _CELL).mean(axis=2)
    kc = max(3, int(round(prm.coarse_hz / bin_hz / _CELL)) | 1)
    kt = max(1, min(prm.coarse_frames, nfr))
    # Beyond the edges, pad with the noise expectation (1): replicating the edge cell over
    # the kernel would make one noisy cell a detection.
    coarse_mask = ndimage.uniform_filter(cells, size=(kt, kc), mode="constant",
                                         cval=1.0) > 10 ** (prm.coarse_db / 10)
    mask_cells = coarse_mask | fine_mask.reshape(nfr, width // _CELL, _CELL).any(axis=2)
    mask = fine_mask | np.repeat(coarse_mask, _CELL, axis=1)
    gap = max(1, int(round(prm.merge_gap_s / frame_s)))
    fgap = max(1, int(round(prm.merge_hz / bin_hz / _CELL)))
    labels, n = ndimage.label(_closing(mask_cells, gap + 1, fgap + 1))
    f0_hz = centre_hz - rate_hz / 2 + lo * bin_hz
    bursts: list[Burst] = []
    if n:
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            if sl is not None:
                b = _burst(band, norm, mask, labels, k, sl, profile, frame_s, bin_hz, f0_hz,
                           nfft, prm)
                if b is not None:
                    bursts.append(b)
    # A weak burst spread over more than 200 kHz (a chirp near the noise) has no tone to
    # refine: its frequency comes from the chirp detector. Skipping it keeps the always-on
    # cost from growing with a link on the air.
    bursts = [b if (b.high_hz - b.low_hz > 200e3 and b.snr_db < 3.0)
              else _refine(iq, b, rate_hz, centre_hz, nfft * prm.refine) for b in bursts]
    bursts.extend(_continuous(band, profile, level, frame_s, bin_hz, f0_hz, nfft, prm))
    bursts.sort(key=lambda b: (b.start_s, b.freq_hz))
    return BlockResult(tuple(bursts), float(_db(level)), clip, frame_s, bin_hz, len(iq))


def _refine(iq: C64, b: Burst, rate_hz: float, centre_hz: float, nfft: int) -> Burst:
    """``b`` with its peak frequency and -10 dB width measured on its own samples: the mean
    periodogram of ``nfft``-long Hann frames (one zero-padded frame for a short burst), the
    peak searched inside the burst's span, the DC bins left out."""
    seg = iq[b.first_sample: b.last_sample]
    if len(seg) < 16:
        return b
    frames = max(1, len(seg) // nfft)
    n = min(nfft, len(seg))
    x = seg[: frames * n].reshape(frames, n) * _hann(n)
    f = sfft.fft(x, n=nfft, axis=1, overwrite_x=True)
    spec = sfft.fftshift((f.real * f.real + f.imag * f.imag).mean(axis=0))
    fbin = rate_hz / nfft
    freqs = centre_hz + (np.arange(nfft) - nfft // 2) * fbin
    inside = (freqs >= b.low_hz) & (freqs <= b.high_hz)
    inside[nfft // 2 - 2: nfft // 2 + 3] = False
    if not inside.any():
        return b
    idx = np.nonzero(inside)[0]
    i = int(idx[np.argmax(spec[idx])])
    pk = float(spec[i])
    off = 0.0
    if 0 < i < nfft - 1 and pk > 0:
        a, m, c = (float(v) for v in _db(np.maximum(spec[i - 1: i + 2], pk * 1e-6)))
        den = a - 2 * m + c
        off = 0.5 * (a - c) / den if den < 0 else 0.0
    level = max(pk / 10.0, 4.0 * float(np.median(spec)))
    j0 = j1 = i
    while j0 > 0 and spec[j0 - 1] >= level:
        j0 -= 1
    while j1 < nfft - 1 and spec[j1 + 1] >= level:
        j1 += 1
    # Tones: local maxima within 10 dB of the peak, at least 3 kHz apart (FSK's marks and
    # spaces, an OOK transmitter's drift), strongest first.
    tones: list[float] = []
    cand = idx[spec[idx] >= pk / 10.0]
    for k in cand[np.argsort(-spec[cand])]:
        lo_, hi_ = max(0, k - 3), min(nfft, k + 4)
        if spec[k] < spec[lo_:hi_].max():
            continue
        f = float(freqs[k])
        if all(abs(f - t) >= 3000.0 for t in tones):
            tones.append(f)
        if len(tones) == 4:
            break
    peaky = float(_db(pk / max(float(np.median(spec[idx])), 1e-30)))
    return dataclasses.replace(b, freq_hz=float(freqs[i] + off * fbin),
                               bw_hz=float((j1 - j0 + 1) * fbin), tones_hz=tuple(tones),
                               peakiness_db=peaky)


def _continuous(band: F32, profile: F32, level: float, frame_s: float, bin_hz: float,
                f0_hz: float, nfft: int, prm: DspParams) -> list[Burst]:
    """Emitters on for most of the block: runs of the per-bin profile ``continuous_db`` over
    the hop's median level, at least ``continuous_min_hz`` wide (a video carrier)."""
    kc = max(3, int(round(prm.continuous_min_hz / bin_hz)) | 1)
    smooth = ndimage.uniform_filter1d(profile, kc, mode="nearest")
    on = smooth > level * 10 ** (prm.continuous_db / 10)
    labels, n = ndimage.label(on)
    out: list[Burst] = []
    nfr = band.shape[0]
    for sl in ndimage.find_objects(labels):
        if sl is None:
            continue
        (fs,) = sl
        if (fs.stop - fs.start) * bin_hz < prm.continuous_min_hz:
            continue
        seg = profile[fs]
        i = int(np.argmax(seg))
        # -10 dB width of a wide carrier: its whole occupied run
        sig = float(np.sum(seg)) - level * len(seg)
        noise = level * len(seg)
        span_power = band[:, fs].sum(axis=1)
        out.append(Burst(
            start_s=0.0, end_s=nfr * frame_s,
            freq_hz=f0_hz + (fs.start + 0.5 * (fs.stop - fs.start)) * bin_hz,
            bw_hz=(fs.stop - fs.start) * bin_hz,
            low_hz=f0_hz + fs.start * bin_hz, high_hz=f0_hz + fs.stop * bin_hz,
            peak_dbfs=float(_db(float(span_power.max()))),
            mean_dbfs=float(_db(float(span_power.mean()))),
            snr_db=float(_db(max(sig, 1e-20) / noise)),
            duty=1.0, first_sample=0, last_sample=nfr * nfft, continuous=True,
            tones_hz=(float((fs.start + i) * bin_hz + f0_hz),)))
    return out


def _burst(band: F32, norm: F32, mask: NDArray[np.bool_], labels: NDArray[np.int32], k: int,
           sl: tuple[slice, slice], profile: F32, frame_s: float, bin_hz: float, f0_hz: float,
           nfft: int, prm: DspParams) -> Burst | None:
    ts, fc = sl
    fs = slice(fc.start * _CELL, fc.stop * _CELL)
    region = np.repeat(labels[sl] == k, _CELL, axis=1) & mask[ts, fs]
    on = np.any(region, axis=1)
    t_idx = np.nonzero(on)[0]
    if not len(t_idx):
        return None
    t0, t1 = ts.start + t_idx[0], ts.start + t_idx[-1] + 1
    if (t1 - t0) * frame_s < prm.min_duration_s:
        return None
    reg = region[t_idx[0]: t_idx[-1] + 1]
    on = on[t_idx[0]: t_idx[-1] + 1]
    rows = band[t0:t1, fs]
    # SNR: the mean normalised power over the detected cells (noise alone averages 1).
    snr = float(norm[t0:t1, fs][reg].mean()) - 1.0
    if snr <= 0 or 10 * np.log10(snr) < prm.min_snr_db:
        return None
    # The burst's spectrum: power over its on-frames, noise profile subtracted.
    spec = rows[on].mean(axis=0) - profile[fs]
    i = int(np.argmax(spec))
    pk = float(spec[i])
    off = 0.0
    if 0 < i < len(spec) - 1 and pk > 0:
        a, b, c = (float(v) for v in _db(np.maximum(spec[i - 1: i + 2], pk * 1e-6)))
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if den < 0 else 0.0
    # -10 dB width: contiguous bins around the peak down to max(peak - 10 dB, noise)
    floor_here = profile[fs]
    j0 = i
    while j0 > 0 and spec[j0 - 1] >= max(pk / 10.0, floor_here[j0 - 1]):
        j0 -= 1
    j1 = i
    while j1 < len(spec) - 1 and spec[j1 + 1] >= max(pk / 10.0, floor_here[j1 + 1]):
        j1 += 1
    occ = np.nonzero(reg.any(axis=0))[0]
    cols = slice(fs.start + occ[0], fs.start + occ[-1] + 1)
    span_power = band[t0:t1, cols].sum(axis=1)
    return Burst(
        start_s=t0 * frame_s, end_s=t1 * frame_s,
        freq_hz=f0_hz + (fs.start + i + 0.5 + off) * bin_hz,
        bw_hz=(j1 - j0 + 1) * bin_hz,
        low_hz=f0_hz + (fs.start + occ[0]) * bin_hz,
        high_hz=f0_hz + (fs.start + occ[-1] + 1) * bin_hz,
        peak_dbfs=float(_db(float(span_power.max()))),
        mean_dbfs=float(_db(float(span_power[on].mean()))),
        snr_db=float(_db(max(snr, 1e-20))),
        duty=float(on.mean()),
        first_sample=t0 * nfft, last_sample=t1 * nfft)
