"""The RF detector on the real captures in ``shared/data/rf`` (read in place: most are from
rtl_433's test corpus, GPL, so never copied here): burst centres and counts against the facts
in SOURCES.md, no control link on any of them, and bad input (zeros, 255s, odd lengths)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.config import parse_config
from cuas.errors import ConfigError
from cuas.sensors.rf.dsp import CU8_LUT, clip_fraction, cu8_to_complex, detect_block
from cuas.sensors.rf.iq_sources import parse_cu8_name
from cuas.sensors.rf.settings import RfSettings
from cuas.sensors.rf.source import RfScanner, scan_plan

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "rf"

#: SOURCES.md facts per file: PSD peak offset from the centre (kHz), clipped share (%), and
#: the transmissions after gap merging, with where that count comes from.
FACTS = {
    # two Voltcraft packets @0.2526 s and @0.4567 s (upstream gfile001.json)
    "ec3k_868.3M_250k.cu8": (30.5, 2.98, 2),
    "lacrosse_tx22u_915M_250k.cu8": (105.2, 0.97, 1),  # 18 short runs within 20 ms
    "danfoss_cfr_fsk_250k.cu8": (-30.5, 3.99, 1),  # one 25 ms burst
    "honda_carkey_lock_250k.cu8": (23.7, 0.0, 1),  # one LOCK press, 117 ms
    "valeo_carkey_433M_250k.cu8": (-18.6, 6.93, 1),  # one ~98 ms Manchester message
    "fineoffset_wh2_250k.cu8": (-79.8, 7.79, 1),  # two 48-bit packets back to back
    "dsc_contact_433M_250k.cu8": (3.9, 1.33, 1),  # one message of 26 OOK runs
    # "B1 ON" sent six times, 40 ms apart (the 4.5 ms NEC-style sync space merges)
    "x10_palmpad_310M_250k.cu8": (-15.1, 8.79, 6),
    "sensibleliving_radiohead_ask_433.92M_250k.cu8": (5.9, 10.46, 1),  # 64 runs, gaps < 4 ms
}
MODES = "dump1090_modes1_1090M_2000k.cu8"
#: The 250 kS/s captures put emitters within 6 kHz of their edges (lacrosse at +105 kHz).
CROP_250K = 0.04


def capture(name: str) -> bytes:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (see shared/data/rf/SOURCES.md)")
    return path.read_bytes()


def scan_file(name: str, **kw: object) -> tuple[RfScanner, object]:
    raw = capture(name)
    centre, rate = parse_cu8_name(name)
    assert rate is not None
    scanner = RfScanner(RfSettings(publish="all", crop=CROP_250K if rate < 1e6 else 0.1, **kw))  # type: ignore[arg-type]
    return scanner, scanner.process(raw, rate, centre or 0.0, 1_700_000_000.0)


def significant(dwell: object) -> list[object]:
    """The transmissions a count means: at least 6 dB over the noise and 10 ms long (the
    captures also hold weak millisecond flickers of neighbours and splatter)."""
    return [b for b in dwell.block.bursts if b.snr_db >= 6.0 and b.duration_s >= 0.010]  # type: ignore[attr-defined]


def test_lut_matches_the_sources_formula() -> None:
    raw = np.arange(256, dtype=np.uint8).repeat(2)
    raw[1::2] = raw[1::2][::-1]
    iq = cu8_to_complex(raw)
    expect = (raw[0::2] - 127.5) / 127.5 + 1j * (raw[1::2] - 127.5) / 127.5
    assert np.allclose(iq, expect, atol=1e-6)
    assert CU8_LUT.dtype == np.complex64 and len(CU8_LUT) == 65536


@pytest.mark.parametrize("name", sorted(FACTS))
def test_capture_bursts_match_sources_facts(name: str) -> None:
    peak_khz, clip_pct, count = FACTS[name]
    _, dwell = scan_file(name)
    assert dwell.block.clip * 100 == pytest.approx(clip_pct, abs=0.01)  # type: ignore[attr-defined]
    main = significant(dwell)
    assert len(main) == count, [(b.freq_hz, b.start_s, b.duration_s, b.snr_db) for b in main]  # type: ignore[attr-defined]
    # Centre within 2 kHz of the SOURCES PSD peak: the burst's strongest tone, or for FSK
    # (SOURCES: "FSK shows one tone") one of its tones.
    centre = parse_cu8_name(name)[0] or 0.0
    offs = [min(abs((f - centre) / 1e3 - peak_khz) for f in (b.freq_hz, *b.tones_hz))
            for b in main]  # type: ignore[attr-defined]
    assert min(offs) <= 2.0, offs


def test_ec3k_packets_at_the_upstream_times() -> None:
    _, dwell = scan_file("ec3k_868.3M_250k.cu8")
    starts = sorted(b.start_s for b in significant(dwell))  # type: ignore[attr-defined]
    assert starts == pytest.approx([0.2526, 0.4567], abs=0.004)


def test_narrow_single_bursts_are_ism_with_evidence() -> None:
    for name in ("honda_carkey_lock_250k.cu8", "danfoss_cfr_fsk_250k.cu8"):
        _, dwell = scan_file(name)
        for b, g in zip(dwell.block.bursts, dwell.guesses, strict=True):  # type: ignore[attr-defined]
            if b.snr_db >= 6 and b.duration_s >= 0.01:
                assert g.protocol == "ism" and g.evidence["narrow"] is True
                assert b.bw_hz <= 12_000


@pytest.mark.parametrize("name", [*sorted(FACTS), MODES])
def test_no_control_link_on_any_real_capture(name: str) -> None:
    scanner, dwell = scan_file(name)
    assert all(g.link == "none" for g in dwell.guesses)  # type: ignore[attr-defined]
    assert scanner.detections(dwell, 20.0) and not RfScanner(RfSettings()).detections(dwell, 20.0)  # type: ignore[arg-type]


def test_detections_are_wire_valid_with_the_issue_attrs() -> None:
    from cuas import wire

    scanner, dwell = scan_file("honda_carkey_lock_250k.cu8")
    dets = scanner.detections(dwell, 20.0)  # type: ignore[arg-type]
    msg = wire.Detections(src="rf1", seq=1, t=1.7e9, sensor="rf1", kind="rf", dets=tuple(dets))
    back = wire.decode(wire.encode(msg))
    assert isinstance(back, wire.Detections)
    a = back.dets[0].attrs
    for key in ("freq_hz", "bw_hz", "duration_s", "snr_db", "rssi_dbm", "protocol", "confidence"):
        assert key in a
    assert back.dets[0].frame == "none"
    # rssi: dBFS + full-scale dBm - gain
    assert a["rssi_dbm"] == pytest.approx(a["power_dbfs"] - 10.0 - 20.0, abs=0.02)


def test_bearing_sector_gives_ae_frame() -> None:
    raw = capture("honda_carkey_lock_250k.cu8")
    s = RfScanner(RfSettings(publish="all", crop=CROP_250K, bearing=(350.0, 30.0)))
    dets = s.detections(s.process(raw, 250e3, 0.0, 0.0), None)
    assert dets[0].frame == "ae" and dets[0].z[0] == pytest.approx(10.0)


@pytest.mark.parametrize("fill", [0, 255, 127])
def test_constant_files_give_no_bursts_and_no_crash(fill: int) -> None:
    raw = bytes([fill]) * 200_000
    s = RfScanner(RfSettings(publish="all"))
    d = s.process(raw, 2.4e6, 868e6, 0.0)
    assert d.block.bursts == ()
    assert d.block.clip == (1.0 if fill in (0, 255) else 0.0)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.sampled_from([250e3, 1.024e6, 2.4e6]))
def test_any_bytes_are_processed_without_error(raw: bytes, rate: float) -> None:
    d = RfScanner(RfSettings(publish="all")).process(raw, rate, 433.92e6, 0.0)
    assert 0.0 <= d.block.clip <= 1.0
    assert d.block.samples == len(raw) // 2


def test_noise_alone_has_almost_no_bursts() -> None:
    rng = np.random.default_rng(7)
    iq = ((rng.standard_normal(480_000) + 1j * rng.standard_normal(480_000)) * 0.05)
    res = detect_block(iq.astype(np.complex64), 2.4e6, 868e6)
    assert len(res.bursts) <= 2


def test_clip_fraction_counts_rails() -> None:
    assert clip_fraction(bytes([0, 255, 1, 128])) == 0.5
    assert clip_fraction(b"") == 0.0


def test_scan_plan_covers_bands_with_usable_width() -> None:
    plan = scan_plan([(863e6, 870e6)], 2.4e6, 0.1)
    usable = 2.4e6 * 0.8
    assert len(plan) == 4
    assert plan[0] - usable / 2 <= 863e6 and plan[-1] + usable / 2 >= 870e6
    assert scan_plan([(433.05e6, 434.79e6)], 2.4e6, 0.1) == [pytest.approx(433.92e6)]


def test_cu8_names() -> None:
    assert parse_cu8_name("g001_433.92M_250k.cu8") == (433.92e6, 250e3)
    assert parse_cu8_name("a_868.3M_250k.cu8") == (868.3e6, 250e3)
    assert parse_cu8_name("x_1090M_2000k.cu8") == (1090e6, 2000e3)
    assert parse_cu8_name("danfoss_cfr_fsk_250k.cu8") == (None, 250e3)
    assert parse_cu8_name("capture.bin") == (None, None)


def test_rf_config_table_and_errors_name_the_key() -> None:
    c = parse_config({"sensors": {"rf1": {"kind": "rf", "rf": {
        "source": "rtltcp://127.0.0.1:1234", "bands": [[863e6, 870e6], [902e6, 928e6]],
        "dwell_s": 0.1, "gain_db": 20, "bearing": [10, 50], "publish": "all"}}}})
    rf = c.sensors["rf1"].settings["rf"]
    assert isinstance(rf, RfSettings) and rf.bands == ((863e6, 870e6), (902e6, 928e6))
    assert rf.gain_db == 20.0 and rf.bearing == (10.0, 50.0)
    bad = [({"bands": [[870e6, 863e6]]}, "sensors.rf1.rf.bands[0]"),
           ({"bands": "868"}, "sensors.rf1.rf.bands"),
           ({"bands": [[1, 2, 3]]}, "sensors.rf1.rf.bands[0]"),
           ({"dwell_s": 0}, "sensors.rf1.rf.dwell_s"),
           ({"crop": 0.6}, "sensors.rf1.rf.crop"),
           ({"publish": "some"}, "sensors.rf1.rf.publish"),
           ({"gain": 3}, "sensors.rf1.rf.gain"),
           ({"rate_hz": 1e9}, "sensors.rf1.rf.rate_hz")]
    for table, key in bad:
        with pytest.raises(ConfigError) as err:
            parse_config({"sensors": {"rf1": {"kind": "rf", "rf": table}}})
        assert err.value.key == key, (table, err.value)
