"""Pure framing and CPR of the ADS-B adapter: Beast and SBS deframers (with hypothesis fuzzing),
the receiver clock mapping, CPR decoding against rs1090."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cuas.sensors.adsb.clock import BeastClock
from cuas.sensors.adsb.cpr import cpr_global, cpr_local, cpr_nl
from cuas.sensors.adsb.framing import (
    BeastFrame,
    FramingStats,
    detect_format,
    parse_avr,
    parse_beast,
    parse_sbs,
)

LEN = {1: 2, 2: 7, 3: 14}


def encode_beast(fr: BeastFrame) -> bytes:
    """A Beast frame on the wire: 0x1a, type, then the body with every 0x1a doubled."""
    body = fr.ticks.to_bytes(6, "big") + bytes([fr.signal]) + fr.msg
    return b"\x1a" + bytes([0x30 + fr.kind]) + body.replace(b"\x1a", b"\x1a\x1a")


frames_st = st.builds(
    lambda kind, ticks, sig, data: BeastFrame(kind, ticks, sig, data[: LEN[kind]]),
    st.sampled_from([1, 2, 3]),
    st.integers(0, 2**48 - 1),
    st.integers(0, 255),
    st.binary(min_size=14, max_size=14),
)


def test_escaped_bytes_are_undoubled() -> None:
    fr = BeastFrame(3, 0x1A1A1A1A1A1A, 0x1A, bytes([0x8D, 0x1A] + [0x1A] * 12))
    raw = encode_beast(fr)
    assert raw.count(b"\x1a") == 1 + 2 * (6 + 1 + 13)
    got, rest = parse_beast(raw)
    assert got == [fr] and rest == b""


def test_cut_frame_is_counted_and_the_next_frame_survives() -> None:
    a = encode_beast(BeastFrame(3, 1, 2, bytes(range(14))))
    b = encode_beast(BeastFrame(2, 5, 9, bytes(range(7))))
    stats = FramingStats()
    got, rest = parse_beast(a[:9] + b, stats)
    assert [f.ticks for f in got] == [5]
    assert stats.bad_frames == 1 and rest == b""


def test_garbage_between_frames_is_counted() -> None:
    a = encode_beast(BeastFrame(1, 1, 2, b"\x01\x02"))
    stats = FramingStats()
    got, rest = parse_beast(b"xyz" + a + b"\x00\x01" + a, stats)
    assert len(got) == 2 and stats.garbage_bytes == 5 and stats.frames == 2


@given(st.lists(frames_st, max_size=30), st.data())
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_any_chunking_gives_the_same_frames(frames: list[BeastFrame], data: st.DataObject) -> None:
    raw = b"".join(encode_beast(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    got: list[BeastFrame] = []
    rest = b""
    prev = 0
    stats = FramingStats()
    for c in [*cuts, len(raw)]:
        out, rest = parse_beast(rest + raw[prev:c], stats)
        got += out
        prev = c
    assert got == frames and rest == b""
    assert stats.garbage_bytes == stats.bad_frames == 0


@given(st.binary(max_size=600))
@settings(max_examples=500)
def test_random_bytes_never_raise_and_bytes_are_accounted(buf: bytes) -> None:
    stats = FramingStats()
    frames, rest = parse_beast(buf, stats)
    assert buf.endswith(rest)
    assert len(rest) <= 2 + 2 * 21
    assert stats.frames == len(frames)
    for f in frames:
        assert f.kind in (1, 2, 3) and len(f.msg) == LEN[f.kind] and 0 <= f.ticks < 2**48


@given(st.lists(frames_st, min_size=2, max_size=20), st.data())
@settings(max_examples=200)
def test_lone_escapes_lose_only_their_frame_and_are_counted(
    frames: list[BeastFrame], data: st.DataObject
) -> None:
    """A lone 0x1a (followed by a byte that is not a frame type) inserted into a frame's body
    loses that frame (counted as bad) and nothing else."""
    victim = data.draw(st.integers(0, len(frames) - 2))
    enc = [encode_beast(f) for f in frames]
    # Insert only where a logical byte starts: inside an escape pair (0x1a 0x1a) the inserted
    # 0x1a would pair with the first half and leave the frame intact, an ambiguity of the
    # format, not a loss (hypothesis found one: a message ending 0x1a 0x00).
    starts, i = [], 2
    while i < len(enc[victim]):
        starts.append(i)
        i += 2 if enc[victim][i] == 0x1A else 1
    pos = data.draw(st.sampled_from(starts))
    enc[victim] = enc[victim][:pos] + b"\x1a\x00" + enc[victim][pos:]
    stats = FramingStats()
    got, rest = parse_beast(b"".join(enc), stats)
    assert got == frames[:victim] + frames[victim + 1:]
    assert stats.bad_frames + stats.unknown_frames >= 1
    assert rest == b""


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_sbs_random_bytes_never_raise(buf: bytes) -> None:
    stats = FramingStats()
    recs, rest = parse_sbs(buf + b"\n", UTC, stats)
    assert rest == b"" and stats.frames == len(recs)


SBS = (b"MSG,3,1,1,71BE34,1,2018/04/03,19:02:28.951,2018/04/10,14:29:43.170,,35000,,,"
       b"59.73459,31.99796,,,,,,0\r\n")


def test_sbs_local_time_is_read_in_the_configured_zone() -> None:
    (utc,), _ = parse_sbs(SBS, UTC)
    (msk,), _ = parse_sbs(SBS, timezone(timedelta(hours=3)))
    assert utc.t - msk.t == pytest.approx(3 * 3600)
    assert utc.icao == "71be34" and utc.lat == pytest.approx(59.73459)
    assert utc.altitude_ft == 35000 and utc.t == pytest.approx(1522782148.951)


def test_sbs_partial_and_bad_lines() -> None:
    stats = FramingStats()
    recs, rest = parse_sbs(b"MSG,3,bad\nSTA,,,\n" + SBS + SBS[:20], UTC, stats)
    assert len(recs) == 1 and rest == SBS[:20]
    assert stats.bad_frames == 1 and stats.unknown_frames == 1


def test_format_detection() -> None:
    assert detect_format(b"\x1a3\x00") == "beast"
    assert detect_format(SBS) == "sbs"
    assert detect_format(b"*8D4840D6202CC371C32CE0576098;\n") == "avr"
    with pytest.raises(ValueError, match="neither"):
        detect_format(b"GET / HTTP/1.1")


def test_clock_file_mode_anchors_and_rejects_outliers() -> None:
    clk = BeastClock(epoch=1_000_000_000.0)
    t0 = 12_000_000 * 100
    assert clk.utc(t0) == pytest.approx(1e9)
    assert clk.utc(t0 + 6_000_000) == pytest.approx(1e9 + 0.5)
    assert clk.utc(t0 + 5_000_000) == pytest.approx(1e9 + 5 / 12)  # backwards: fine
    clk.note_order([t0, t0 + 6_000_000, t0 + 5_000_000])
    assert clk.backward == 1
    assert clk.utc(t0 + 12_000_000 * 3600) == pytest.approx(1e9 + 5 / 12)  # one bad frame
    assert clk.outliers == 1
    assert clk.utc(t0 + 12_000_000) == pytest.approx(1e9 + 1.0)
    assert clk.utc(t0 + 12_000_000 * 31) == pytest.approx(1e9 + 31.0)  # a quiet spell
    assert clk.outliers == 1
    # The receiver restarts: its counter begins again near 0. After a window of consistent
    # outliers the mapping re-anchors and continues from the last good time.
    for k in range(63):
        clk.utc(12_000_000 * 5 + k * 1200)
    assert clk.resets == 1
    assert clk.utc(12_000_000 * 6) == pytest.approx(1e9 + 31.0 + 1.0 - 62 * 1e-4)


def test_clock_live_median_is_not_moved_by_one_bad_frame() -> None:
    clk = BeastClock()
    rx = 1_700_000_000.0
    for k in range(200):
        clk.utc(12_000_000 * k + 1, rx + k + 0.01 * (k % 3))
    off = clk.offset
    assert off is not None
    assert clk.utc(12_000_000 * 10_000, rx + 200) == pytest.approx(rx + 200)
    assert clk.offset == pytest.approx(off, abs=0.06)
    assert clk.outliers == 1


def test_cpr_against_rs1090() -> None:
    """Our CPR agrees with rs1090's own local decoding and with the textbook example."""
    import rs1090

    even, odd = "8D40621D58C382D690C8AC2863A7", "8D40621D58C386435CC412692AD6"
    de, do = rs1090.decode(even), rs1090.decode(odd)
    lat, lon = cpr_global((de["lat_cpr"], de["lon_cpr"]), (do["lat_cpr"], do["lon_cpr"]),
                          newest_odd=False)
    assert lat == pytest.approx(52.2572, abs=1e-4) and lon == pytest.approx(3.91937, abs=1e-4)
    ref = rs1090.decode(even, reference=(52.0, 4.0))
    assert cpr_local((de["lat_cpr"], de["lon_cpr"]), False, (52.0, 4.0)) == pytest.approx(
        (ref["latitude"], ref["longitude"]), abs=1e-9)
    assert cpr_nl(0.0) == 59 and cpr_nl(52.2572) == 36 and cpr_nl(88.0) == 1


@given(st.lists(st.one_of(frames_st.map(encode_beast), st.binary(max_size=12),
                          st.sampled_from([b"\x1a", b"\x1a\x1a", b"\x1a3", b"\x1a\x00"])),
                max_size=25))
# Found by CI: an over-long unknown frame ending in a lone 0x1a must keep that 0x1a as rest.
@example([b"\x1a\x00" + b"\x00" * 30, b"\x1a\x1a1" + b"\x00" * 9, b"\x1a"])
@settings(max_examples=500)
def test_fast_deframer_agrees_with_the_byte_walking_reference(parts: list[bytes]) -> None:
    """Frames, rest and counters equal those of a plain byte-by-byte deframer, on valid frames
    mixed with garbage, lone escapes and cut frames."""
    from tests.sensors.adsb.beast_reference import reference_parse_beast

    buf = b"".join(parts)
    a, b = FramingStats(), FramingStats()
    fa, ra = parse_beast(buf, a)
    fb, rb = reference_parse_beast(buf, b)
    assert fa == fb
    assert (a.frames, a.garbage_bytes, a.bad_frames) == (b.frames, b.garbage_bytes, b.bad_frames)
    if a.unknown_frames == b.unknown_frames:
        assert ra == rb


def to_avr(fr: BeastFrame, timed: bool) -> bytes:
    if timed:
        return f"<{fr.ticks:012X}{fr.signal:02X}{fr.msg.hex().upper()};\n".encode()
    return f"*{fr.msg.hex().upper()};\n".encode()


@given(st.lists(frames_st, max_size=20), st.booleans())
@settings(max_examples=100)
def test_avr_round_trip(frames: list[BeastFrame], timed: bool) -> None:
    text = b"".join(to_avr(f, timed) for f in frames)
    got, rest = parse_avr(text + b"*8D40", FramingStats())
    want = frames if timed else [BeastFrame(f.kind, 0, 0, f.msg) for f in frames]
    assert got == want and rest == b"*8D40"


def test_avr_bad_lines_are_counted() -> None:
    stats = FramingStats()
    got, _ = parse_avr(b"*8D4840D6202CC371C32CE0576098;\n*8D48ZZ;\n@0000;\nhello\n", stats)
    assert len(got) == 1 and got[0].kind == 3
    assert stats.bad_frames == 2 and stats.garbage_bytes == 5
    assert detect_format(b"@00A1B2C3D4E58D4840D6202CC371C32CE0576098;") == "avr"


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_avr_random_bytes_never_raise(buf: bytes) -> None:
    stats = FramingStats()
    frames, rest = parse_avr(buf + b"\n", stats)
    assert rest == b"" and stats.frames == len(frames)


@given(st.lists(st.tuples(st.sampled_from([0x8D, 0x8F, 0x5D, 0x20, 0x90, 0xA8]),
                          st.binary(min_size=13, max_size=13)), max_size=40))
@settings(max_examples=150)
def test_decoder_survives_random_messages_and_counts_them(msgs: list[tuple[int, bytes]]) -> None:
    """Random long Mode S messages (mostly failing their CRC) through rs1090 and the CPR code:
    nothing raises, and every frame is accounted for."""
    from cuas.sensors.adsb.decode import AdsbDecoder

    frames = [BeastFrame(3, 12_000_000 * i, 10, bytes([df]) + rest)
              for i, (df, rest) in enumerate(msgs)]
    dec = AdsbDecoder()
    dec.feed_beast(frames, lambda ticks: 1.7e9 + ticks / 12e6)
    s = dec.stats
    assert s.skipped + s.redundant + s.crc_fail + s.decoded == len(frames)
    # A message rs1090 cannot decode at all is counted as an error and as a CRC failure.
    assert s.decode_errors <= s.crc_fail


#: Airborne-position aircraft: (lat, lon) degrees, barometric altitude (ft, 25 ft steps),
#: messages sent (alternating even/odd CPR), whether the first is odd.
aircraft_st = st.lists(
    st.tuples(st.floats(-85.0, 85.0), st.floats(-179.9, 179.9),
              st.integers(0, 1600).map(lambda n: 25 * n - 1000),
              st.integers(1, 6), st.booleans()),
    min_size=1, max_size=5)


@given(aircraft_st, st.data())
@settings(max_examples=150, deadline=None)
def test_valid_position_frames_mixed_with_corruption_decode_to_the_encoded_positions(
        aircraft: list[tuple[float, float, int, int, bool]], data: st.DataObject) -> None:
    """Valid DF17 airborne-position messages (correct CRC-24, even and odd CPR pairs) from a
    few aircraft, interleaved with copies corrupted by one bit flip: every corrupted frame is
    a CRC failure, every valid one is decoded, each aircraft's pairs resolve (global CPR) to
    its encoded position within the CPR resolution, and the counters add up."""
    from cuas.sensors.adsb.cpr import distance_m
    from cuas.sensors.adsb.decode import AdsbDecoder
    from tests.sensors.adsb.modes_encoder import airborne_position
    from tests.sensors.adsb.modes_encoder import cpr_nl as nl_closed_form

    timed: list[tuple[float, bytes]] = []
    n_corrupt = 0
    for k, (lat, lon, alt_ft, n_msgs, odd_first) in enumerate(aircraft):
        for j in range(n_msgs):
            t = 0.5 * j + 0.01 * k
            msg = airborne_position(0xA00000 + k, lat, lon, alt_ft, odd_first != (j % 2 == 1))
            if data.draw(st.booleans(), label="corrupt a copy"):
                bit = data.draw(st.integers(5 * 8, 14 * 8 - 1), label="flipped bit")
                bad = bytearray(msg)
                bad[bit // 8] ^= 0x80 >> (bit % 8)  # past DF/ICAO/type code: still DF17 TC 11
                timed.append((t - 0.001, bytes(bad)))
                n_corrupt += 1
            timed.append((t, msg))
    timed.sort(key=lambda x: x[0])
    frames = [BeastFrame(3, round(t * 12e6), 10, msg) for t, msg in timed]
    dec = AdsbDecoder()
    out = dec.feed_beast(frames, lambda ticks: 1.7e9 + ticks / 12e6)
    s = dec.stats
    n_valid = sum(a[3] for a in aircraft)
    assert (s.crc_fail, s.decoded, s.skipped, s.redundant) == (n_corrupt, n_valid, 0, 0)
    assert s.skipped + s.redundant + s.crc_fail + s.decoded == len(frames)
    assert s.positions == len(out) == s.cpr_global + s.cpr_local + s.cpr_reference
    assert s.positions + s.cpr_waiting + s.cpr_rejected + s.no_altitude == s.decoded
    assert s.no_altitude == 0 and s.cpr_reference == 0
    per_icao: dict[str, int] = {}
    for p in out:
        icao = p.det.ident.icao if p.det.ident is not None else None
        assert icao is not None
        k = int(icao, 16) - 0xA00000
        lat, lon, alt_ft, _, _ = aircraft[k]
        assert distance_m((p.det.z[0], p.det.z[1]), (lat, lon)) < 20.0
        assert p.det.attrs["alt_ft"] == alt_ft
        per_icao[icao] = per_icao.get(icao, 0) + 1
    for k, (lat, _, _, n_msgs, _) in enumerate(aircraft):
        got = per_icao.get(f"{0xA00000 + k:06x}", 0)
        # The first message waits for its pair; every later one is a fix, unless the even and
        # odd latitudes straddle a longitude-zone boundary (no global decode there).
        if nl_closed_form(lat - 1e-3) == nl_closed_form(lat + 1e-3):
            assert got == n_msgs - 1
        else:
            assert got <= n_msgs - 1


def test_encoder_matches_the_textbook_message() -> None:
    """The test encoder reproduces the worked example of "The 1090 MHz Riddle" bit for bit."""
    from tests.sensors.adsb.modes_encoder import airborne_position, crc24

    even = airborne_position(0x40621D, 52.2572, 3.91937, 38000, odd=False)
    assert even.hex().upper() == "8D40621D58C382D690C8AC2863A7"
    assert crc24(even) == 0  # the parity of a whole valid message (data + CRC) is zero
