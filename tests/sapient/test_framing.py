"""SAPIENT framing (4-byte little-endian length, then a SapientMessage): round trips of Dstl's
reference messages cut at every kind of chunk boundary, and hypothesis fuzzing: no exception
escapes, every bad frame is counted, bytes are never lost or invented."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.sapient.framing import PREFIX_BYTES, FramingStats, encode, parse
from cuas.sapient.proto import SapientMessage, from_json
from tests.sapient.conftest import data_dir, read_text


@cache
def reference() -> tuple[SapientMessage, ...]:
    return tuple(from_json(read_text(p)) for p in sorted(data_dir("valid").glob("*.json")))


def feed(stream: bytes, cuts: list[int], stats: FramingStats) -> tuple[list, bytes]:
    """Parse ``stream`` as it would arrive in chunks ending at ``cuts``."""
    frames: list = []
    rest = b""
    start = 0
    for end in [*sorted(set(cuts)), len(stream)]:
        got, rest = parse(rest + stream[start:end], stats)
        frames.extend(got)
        start = end
    return frames, rest


def test_reference_messages_survive_any_chunking() -> None:
    msgs = reference()
    stream = b"".join(encode(m) for m in msgs)
    for step in (1, 3, 7, 100, 4096, len(stream)):
        stats = FramingStats()
        frames, rest = feed(stream, list(range(step, len(stream), step)), stats)
        assert rest == b""
        assert [f.message for f in frames] == list(msgs)
        assert stats.frames == len(msgs) and stats.bad_protobuf == 0
        assert stats.bytes == len(stream)


@settings(max_examples=60, deadline=None)
@given(picks=st.lists(st.integers(0, 37), min_size=1, max_size=6),
       cuts=st.lists(st.integers(0, 20_000), max_size=8))
def test_round_trip_at_random_boundaries(picks: list[int], cuts: list[int]) -> None:
    msgs = [reference()[i] for i in picks]
    stream = b"".join(encode(m) for m in msgs)
    frames, rest = feed(stream, [c for c in cuts if c < len(stream)], FramingStats())
    assert rest == b"" and [f.message for f in frames] == msgs


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_arbitrary_bytes_never_raise_and_account_for_every_byte(buf: bytes) -> None:
    stats = FramingStats()
    frames, rest = parse(buf, stats, max_bytes=1024)
    bad = [f for f in frames if f.message is None and not f.fatal]
    assert stats.bad_protobuf == len(bad)
    assert all(f.error for f in frames if f.message is None)
    if frames and frames[-1].fatal:
        assert rest == b"" and stats.oversized == 1
        assert all(not f.fatal for f in frames[:-1])
    else:
        assert sum(PREFIX_BYTES + len(f.payload) for f in frames) + len(rest) == len(buf)
        assert len(rest) < PREFIX_BYTES or int.from_bytes(rest[:4], "little") > len(rest) - 4


@settings(max_examples=100, deadline=None)
@given(junk=st.binary(max_size=300), pick=st.integers(0, 37))
def test_garbage_frame_between_good_ones_is_counted_and_the_rest_survive(junk: bytes,
                                                                        pick: int) -> None:
    good = reference()[pick]
    stream = encode(good) + len(junk).to_bytes(4, "little") + junk + encode(good)
    stats = FramingStats()
    frames, rest = parse(stream, stats)
    assert rest == b"" and len(frames) == 3
    assert frames[0].message == good and frames[2].message == good
    # The middle frame either decodes (protobuf accepts many byte strings: the validator
    # then refuses them) or is counted as bad; never both, never lost.
    assert (frames[1].message is None) == (stats.bad_protobuf == 1)


def test_oversized_length_is_fatal_and_drops_the_rest() -> None:
    stats = FramingStats()
    ok = encode(reference()[0])
    frames, rest = parse(ok + (2_000_000).to_bytes(4, "little") + b"abc" + ok, stats)
    assert [f.fatal for f in frames] == [False, True]
    assert frames[0].message == reference()[0]
    assert "exceeds the limit" in (frames[1].error or "")
    assert rest == b"" and stats.oversized == 1


def test_incomplete_frame_waits_for_more() -> None:
    ok = encode(reference()[3])
    for cut in (1, 3, 4, 5, len(ok) - 1):
        frames, rest = parse(ok[:cut])
        assert frames == [] and rest == ok[:cut]
