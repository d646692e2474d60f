#!/usr/bin/env python3
"""Benchmark: CPU share of one core the RF adapter needs to keep up with an RTL-SDR streaming
2.4 MS/s continuously (targets: always-on stage under 10 %, whole adapter under 30 %).

Each scenario is ``--seconds`` of cu8 at 2.4 MS/s, cut into the adapter's 0.2 s dwells, and
timed with the process CPU clock (``time.process_time``) on one pinned core:

* ``fft-chain`` (peer, the floor): cu8 -> complex by numpy arithmetic and a Hann-windowed
  2048-point FFT of every frame, nothing else (what any spectrum scanner must do);
* ``always-on``: cuas's LUT conversion, clipping count and ``detect_block`` (FFT frames, noise
  profile, fine and coarse thresholds, gap closing, labelling, per-burst frequency and width);
* ``adapter``: ``RfScanner.process`` (the above plus chirp checks on wide bursts, hop
  statistics, classification) and ``detections`` + wire encoding of everything found
  (``publish = "all"``, the most work).

Scenarios: ``quiet`` (receiver noise: an empty band), ``ism`` (noise plus a real ISM capture
from shared/data/rf resampled into the band, repeating), ``elrs`` (that plus an ExpressLRS-like
link at 0 dB SNR per channel: 3 of its 13 channels in the window, 100 packets/s), ``modes``
(dump1090's real 1090 MHz capture resampled to 2.4 MS/s: Mode S replies all over the band,
the densest wide-burst traffic we have: a worst case for the chirp checks).

    python benchmarks/bench_rf.py [--seconds 4] [--runs 3] [--cpu 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cuas import wire  # noqa: E402
from cuas.sensors.rf.dsp import DspParams, clip_fraction, cu8_to_complex, detect_block  # noqa: E402
from cuas.sensors.rf.settings import RfSettings  # noqa: E402
from cuas.sensors.rf.source import RfScanner  # noqa: E402
from cuas.sensors.rf.synth import LoraFhss, cu8_iq, mix, render_lora, to_cu8  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "rf"
RATE = 2.4e6
DWELL_S = 0.2
CENTRE = 868.4e6


def _noise(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # About the level of an RTL-SDR's own noise at moderate gain (a few LSB rms).
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * 0.03


def _resampled(name: str, n: int, up: int, down: int) -> np.ndarray | None:
    path = DATA / name
    if not path.exists():
        return None
    x = signal.resample_poly(cu8_iq(np.fromfile(path, np.uint8)), up, down)
    return np.tile(x, n // len(x) + 1)[:n]


def scenarios(seconds: float) -> dict[str, bytes]:
    n = int(seconds * RATE)
    out: dict[str, bytes] = {}
    quiet = _noise(n)
    out["quiet"] = to_cu8(quiet).tobytes()
    ism = _resampled("valeo_carkey_433M_250k.cu8", n, 48, 5)  # 250 kS/s -> 2.4 MS/s
    if ism is not None:
        band = quiet + 0.3 * ism * np.exp(-2j * np.pi * 700e3 * np.arange(n) / RATE)
        out["ism"] = to_cu8(band).tobytes()
        link = LoraFhss()
        sig, _ = render_lora(n, RATE, CENTRE, link)
        out["elrs"] = to_cu8(mix(band, sig, RATE, 0.0, link.bw_hz)).tobytes()
    modes = _resampled("dump1090_modes1_1090M_2000k.cu8", n, 6, 5)  # 2 MS/s -> 2.4 MS/s
    if modes is not None:
        out["modes"] = to_cu8(modes).tobytes()
    return out


def dwells(raw: bytes) -> list[bytes]:
    step = 2 * int(DWELL_S * RATE)
    return [raw[i: i + step] for i in range(0, len(raw) - step + 1, step)]


def fft_chain(blocks: list[bytes]) -> None:
    win = np.hanning(2048).astype(np.float32)
    for b in blocks:
        u = np.frombuffer(b, np.uint8).astype(np.float32)
        iq = (u[0::2] - 127.5) / 127.5 + 1j * (u[1::2] - 127.5) / 127.5
        f = len(iq) // 2048
        np.abs(np.fft.fft(iq[: f * 2048].reshape(f, 2048) * win, axis=1)) ** 2


def always_on(blocks: list[bytes]) -> None:
    prm = DspParams()
    for b in blocks:
        clip = clip_fraction(b)
        iq = cu8_to_complex(b)
        detect_block(iq - iq.mean(), RATE, CENTRE, prm, clip)


def adapter(blocks: list[bytes]) -> dict[str, int]:
    s = RfScanner(RfSettings(rate_hz=RATE, publish="all", bands=((863e6, 870e6),)))
    for i, b in enumerate(blocks):
        d = s.process(b, RATE, CENTRE, 1.7e9 + i * DWELL_S)
        dets = s.detections(d, 20.0)
        wire.encode(wire.Detections(src="rf", seq=i + 1, t=d.t, sensor="rf", kind="rf",
                                    dets=tuple(dets)))
    return dict(s.counters)


def cpu_share(fn: Callable[[list[bytes]], object], blocks: list[bytes], seconds: float,
              runs: int) -> tuple[float, float, float]:
    """(median, min, max) CPU seconds per second of signal over ``runs``."""
    shares = []
    for _ in range(runs):
        t = time.process_time()
        fn(blocks)
        shares.append((time.process_time() - t) / seconds)
    return statistics.median(shares), min(shares), max(shares)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="signal per scenario (s)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin to")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    seconds = int(args.seconds / DWELL_S) * DWELL_S
    results: dict[str, dict[str, object]] = {}
    print(f"RF adapter CPU share of one core at {RATE / 1e6:g} MS/s ({seconds:g} s of signal "
          f"per scenario, {DWELL_S} s dwells, median of {args.runs} runs [min-max])")
    print(f"{'scenario':<8} {'fft-chain':>16} {'always-on':>16} {'adapter':>16}  "
          "always-on/fft  chirp checks/s  links")
    for name, raw in scenarios(seconds).items():
        blocks = dwells(raw)
        row: dict[str, object] = {}
        for stage, fn in (("fft-chain", fft_chain), ("always-on", always_on),
                          ("adapter", adapter)):
            row[stage] = cpu_share(fn, blocks, seconds, args.runs)
        counters = adapter(blocks)
        row["counters"] = counters
        results[name] = row

        def pct(v: object) -> str:
            med, lo, hi = v  # type: ignore[misc]
            return f"{100 * med:5.1f}% [{100 * lo:.1f}-{100 * hi:.1f}]"

        ratio = row["always-on"][0] / row["fft-chain"][0]  # type: ignore[index]
        print(f"{name:<8} {pct(row['fft-chain']):>16} {pct(row['always-on']):>16} "
              f"{pct(row['adapter']):>16}  {ratio:12.1f}x  "
              f"{counters.get('chirp_checks', 0) / seconds:14.1f}  "
              f"{counters.get('links_control', 0)}")
    print("targets: always-on < 10 %, adapter < 30 % of one core")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
