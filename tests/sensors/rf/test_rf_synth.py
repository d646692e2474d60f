"""Drone links the real captures lack, synthesised and mixed into real background: dump1090's
2 MS/s capture (a real RTL-SDR noise floor with Mode S bursts all over the band) plus a real
ISM capture resampled into the same window. An ExpressLRS-like LoRa FHSS link must be found
and called a control link within 2 s of scan at 0 dB SNR per channel; the background alone,
a single-channel LoRa device and a wide FM carrier outside the video band must not be."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import signal

from cuas.sensors.rf.links import Chirp, Packet, hop_stats
from cuas.sensors.rf.settings import RfSettings
from cuas.sensors.rf.source import RfScanner
from cuas.sensors.rf.synth import LoraFhss, cu8_iq, mix, render_fm, render_lora, to_cu8
from tests.sensors.rf.test_rf_dsp import DATA, MODES

RATE = 2e6
EU_CENTRE = 868.4e6
DWELL_S = 0.2
SCAN_S = 2.0
ISM_OFFSET_HZ = 720e3


@functools.lru_cache(maxsize=8)
def background(ism: str | None, seconds: float = SCAN_S) -> NDArray[np.complex128]:
    """Real background: the dump1090 capture repeated, plus an ISM capture (250 kS/s)
    resampled to 2 MS/s, shifted 720 kHz down (clear of the link's channels in the window)
    and scaled by 0.2 (its bursts stay 20-30 dB over the floor)."""
    path = DATA / MODES
    if not path.exists():
        pytest.skip(f"{path} is absent (see shared/data/rf/SOURCES.md)")
    n = int(seconds * RATE)
    bg = cu8_iq(np.fromfile(path, np.uint8))
    out = np.tile(bg, n // len(bg) + 1)[:n]
    if ism is not None:
        ip = DATA / ism
        if not ip.exists():
            pytest.skip(f"{ip} is absent")
        up = signal.resample_poly(cu8_iq(np.fromfile(ip, np.uint8)), 8, 1)
        up = np.tile(up, n // len(up) + 1)[:n]
        out = out + 0.2 * up * np.exp(-2j * np.pi * ISM_OFFSET_HZ * np.arange(n) / RATE)
    out.flags.writeable = False  # shared between tests (cached)
    return out


def scan(iq: NDArray[np.complex128], centre: float, bands: tuple[tuple[float, float], ...]
         ) -> tuple[RfScanner, list[tuple[float, dict[str, object]]]]:
    """Feed ``iq`` (as cu8 bytes, like a dongle's) dwell by dwell; (time, attrs) of every
    detection the adapter would publish with ``publish = "all"``."""
    scanner = RfScanner(RfSettings(rate_hz=RATE, bands=bands, publish="all"))
    raw = to_cu8(iq).tobytes()
    step = 2 * int(DWELL_S * RATE)
    out = []
    for i in range(0, len(raw) - step + 1, step):
        t0 = i / 2 / RATE
        dwell = scanner.process(raw[i: i + step], RATE, centre, t0)
        for det in scanner.detections(dwell, 20.0):
            out.append((t0 + DWELL_S, dict(det.attrs)))
    return scanner, out


def first_link(dets: list[tuple[float, dict[str, object]]], link: str) -> tuple[float, dict[str, object]] | None:
    return next(((t, a) for t, a in dets if a["link"] == link), None)


@pytest.mark.parametrize("snr_db", [10.0, 3.0, 0.0])
def test_lora_fhss_is_a_control_link_within_two_seconds(snr_db: float) -> None:
    bg = background("valeo_carkey_433M_250k.cu8")
    link = LoraFhss()
    sig, visible = render_lora(len(bg), RATE, EU_CENTRE, link)
    assert len(visible) >= 30  # 3 of 13 channels fall in the 2 MHz window
    _, dets = scan(mix(bg, sig, RATE, snr_db, link.bw_hz), EU_CENTRE, ((863e6, 870e6),))
    found = first_link(dets, "control")
    assert found is not None, f"no control link at {snr_db} dB"
    t, attrs = found
    assert t <= SCAN_S
    assert attrs["protocol"] in ("elrs", "fhss")
    assert attrs["lora_bw_hz"] == 500_000.0 and attrs["lora_sf"] == link.sf
    assert attrs["hop_channels"] >= 2  # type: ignore[operator]
    # Each packet's centre is a channel of the grid: mostly within a few kHz (from the
    # preamble and down-chirps); a packet cut by the dwell's edge may be off by more.
    errs = []
    for _, a in dets:
        if a["link"] == "control":
            f = float(a["freq_hz"])  # type: ignore[arg-type]
            k = round((f - link.first_hz) / link.grid_hz)
            errs.append(abs(f - (link.first_hz + k * link.grid_hz)))
    assert np.median(errs) <= 5e3 and np.mean(np.array(errs) <= 5e3) >= 0.7, errs
    assert attrs["confidence"] >= 0.6  # type: ignore[operator]
    # The ISM device and the Mode S bursts in the same window stay what they are.
    assert all(a["link"] in ("none", "control") for _, a in dets)
    assert all(a["link"] == "none" for _, a in dets if "chirp" not in a)


def test_elrs_named_with_grid_and_cadence_at_10_db() -> None:
    bg = background(None)
    link = LoraFhss()
    sig, _ = render_lora(len(bg), RATE, EU_CENTRE, link)
    _, dets = scan(mix(bg, sig, RATE, 10.0, link.bw_hz), EU_CENTRE, ((863e6, 870e6),))
    elrs = [a for _, a in dets if a["protocol"] == "elrs"]
    assert elrs, "never named ExpressLRS"
    a = elrs[-1]
    assert a["hop_grid"] == "EU868" and a["hop_cadence_s"] == pytest.approx(0.01, abs=0.002)


@pytest.mark.parametrize("ism", ["valeo_carkey_433M_250k.cu8", "honda_carkey_lock_250k.cu8",
                                 "x10_palmpad_310M_250k.cu8", "lacrosse_tx22u_915M_250k.cu8"])
def test_background_alone_has_no_control_link(ism: str) -> None:
    scanner, dets = scan(background(ism), EU_CENTRE, ((863e6, 870e6),))
    assert first_link(dets, "control") is None and first_link(dets, "video") is None
    assert scanner.counters["chirps"] == 0
    assert dets  # it did see the bursts


def test_single_channel_lora_is_not_a_control_link() -> None:
    """A LoRa device that does not hop (LoRaWAN, Meshtastic) is LoRa, not a drone link."""
    bg = background(None)
    link = LoraFhss(first_hz=868.1e6, channels=1, interval_s=0.05, sf=7)
    sig, visible = render_lora(len(bg), RATE, EU_CENTRE, link)
    assert visible
    _, dets = scan(mix(bg, sig, RATE, 6.0, link.bw_hz), EU_CENTRE, ((863e6, 870e6),))
    lora = [a for _, a in dets if a["protocol"] == "lora"]
    assert lora and first_link(dets, "control") is None


def test_fcc915_grid() -> None:
    bg = background(None)
    link = LoraFhss(first_hz=903.5e6, grid_hz=600e3, channels=40, packets_per_hop=4,
                    interval_s=0.005, seed=5)
    centre = 915.2e6
    sig, visible = render_lora(len(bg), RATE, centre, link)
    _, dets = scan(mix(bg, sig, RATE, 6.0, link.bw_hz), centre, ((902e6, 928e6),))
    found = first_link(dets, "control")
    assert found is not None and found[0] <= SCAN_S


@pytest.mark.parametrize("snr_db", [20.0, 10.0])
def test_wide_fm_carrier_in_the_video_band_is_analog_fpv(snr_db: float) -> None:
    bg = background(None, 0.6)
    fm = render_fm(len(bg), RATE, 150e3, 300e3)
    centre = 1280e6
    _, dets = scan(mix(bg, fm, RATE, snr_db, 600e3), centre, ((1240e6, 1300e6),))
    video = [a for _, a in dets if a["link"] == "video"]
    assert len(video) == 3  # every dwell
    a = video[0]
    assert a["protocol"] == "fpv-analog" and a["continuous"] is True
    assert abs(float(a["freq_hz"]) - (centre + 150e3)) <= 60e3  # type: ignore[arg-type]
    assert float(a["bw_hz"]) >= 300e3  # type: ignore[arg-type]
    # The same carrier at 868 MHz is no video link (not a video band).
    _, dets = scan(mix(bg, fm, RATE, snr_db, 600e3), EU_CENTRE, ((863e6, 870e6),))
    assert first_link(dets, "video") is None and first_link(dets, "control") is None


def test_hop_stats_on_a_known_schedule() -> None:
    link = LoraFhss(packets_per_hop=2, interval_s=0.01)
    chirp = Chirp(500e3, 6, 10.0)
    # All channels visible: every packet seen, one dwell of 0.2 s per block.
    pk = [Packet(t, f, 0.003, chirp, int(t / 0.2)) for t, f in link.schedule(1.0)]
    hs = hop_stats(pk, 500e3)
    assert hs.grid_name == "EU868" and hs.grid_fit == 1.0
    assert hs.cadence_s == pytest.approx(0.01, abs=1e-6)
    assert hs.packets_per_hop == 2.0
    assert hs.channels == link.channels
    assert hs.duty == pytest.approx(0.3)


@pytest.mark.parametrize("snr_db", [3.0, 0.0])
def test_weak_fm_carrier_is_no_control_link(snr_db: float) -> None:
    """Too weak to be called continuous, a video-like FM carrier's line sweeps look like
    up-chirps window after window; with no down-chirps (no LoRa sync) they are no packet."""
    bg = background(None, 0.6)
    fm = render_fm(len(bg), RATE, 150e3, 300e3)
    scanner, dets = scan(mix(bg, fm, RATE, snr_db, 600e3), EU_CENTRE, ((863e6, 870e6),))
    assert first_link(dets, "control") is None and first_link(dets, "video") is None


def test_tracker_takes_the_adapters_control_links_as_rf_reports() -> None:
    """What the adapter publishes by default (links only) is what the tracker's classifier
    reads: frame none, freq_hz, bw_hz and a protocol it knows as a drone control link."""
    from cuas import wire
    from cuas.config import reference_config
    from cuas.fusion.engine import FusionEngine as Tracker

    bg = background(None, 1.0)
    link = LoraFhss()
    sig, _ = render_lora(len(bg), RATE, EU_CENTRE, link)
    raw = to_cu8(mix(bg, sig, RATE, 3.0, link.bw_hz)).tobytes()
    scanner = RfScanner(RfSettings(rate_hz=RATE, bands=((863e6, 870e6),)))  # publish = links
    tracker = Tracker(reference_config())
    step = 2 * int(DWELL_S * RATE)
    t0 = 1_750_000_000.0
    published = 0
    for i in range(0, len(raw) - step + 1, step):
        dwell = scanner.process(raw[i: i + step], RATE, EU_CENTRE, t0 + i / 2 / RATE)
        dets = scanner.detections(dwell, 20.0)
        assert all(d.attrs["link"] == "control" for d in dets)  # nothing else by default
        published += len(dets)
        msg = wire.decode(wire.encode(wire.Detections(
            src="rf1", seq=i + 1, t=dwell.t, sensor="rf1", kind="rf", dets=tuple(dets))))
        assert isinstance(msg, wire.Detections)
        tracker.process(msg)
    reports = list(tracker.rf_log.reports)
    assert published and len(reports) == published
    assert {r.protocol for r in reports} <= {"elrs", "fhss"}
    assert reports[-1].describe().startswith(("868 MHz", "869 MHz", "867 MHz"))
