"""The shared track-stream subscriber (cuas.outputs.stream) and reconnect back-off (cuas.backoff),
against a real PUB socket on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import asyncio
import time

from cuas import bus, wire
from cuas.backoff import BACKOFF_FIRST_S, BACKOFF_MAX_S, Backoff
from cuas.errors import DecodeError
from cuas.outputs.stream import TrackStream
from tests.cli.test_tracks import ALERT, GARBAGE, STATUS, Publisher


def test_stream_yields_valid_messages_and_counts_and_skips_malformed_ones() -> None:
    seen_errors: list[DecodeError] = []

    async def scenario() -> tuple[TrackStream, list[tuple[str, wire.Message]]]:
        with Publisher([bus.frames(STATUS), bus.frames(ALERT), *GARBAGE, "trk"]) as pub:
            stream = TrackStream(pub.endpoint, on_malformed=seen_errors.append)
            got: list[tuple[str, wire.Message]] = []
            try:
                while stream.counts.tracks < 5:
                    item = await stream.receive(timeout_s=10)
                    assert item is not None, "nothing valid within 10 s"
                    got.append(item)
            finally:
                stream.close()
            return stream, got

    stream, got = asyncio.run(scenario())
    for topic, msg in got:
        assert wire.topic_for(msg) == topic
    assert [type(m) for _, m in got].count(wire.Tracks) == 5
    c = stream.counts
    assert c.tracks == 5 and c.alerts >= 1 and c.statuses >= 1
    assert c.messages == len(got)
    # Every cycle of the publisher carries the three malformed messages of GARBAGE.
    assert c.bad >= 3 and len(seen_errors) == c.bad
    assert any(e.key == "topic" for e in seen_errors)  # a tracks payload on the alert topic
    assert c.last_error is not None
    assert not stream.stale()


def test_silent_feed_times_out_and_turns_stale() -> None:
    async def scenario() -> tuple[object, float, bool, bool]:
        with Publisher([]) as silent, TrackStream(silent.endpoint) as stream:
            fresh = stream.stale(after_s=5.0)
            started = time.monotonic()
            item = await stream.receive(timeout_s=0.3)
            waited = time.monotonic() - started
            return item, waited, fresh, stream.stale(after_s=0.2)

    item, waited, fresh, stale = asyncio.run(scenario())
    assert item is None and 0.25 <= waited < 5.0
    assert not fresh and stale


def test_stop_ends_the_message_loop() -> None:
    async def scenario() -> int:
        with Publisher(["trk"]) as pub, TrackStream(pub.endpoint) as stream:
            stop = asyncio.Event()
            n = 0
            async for _, msg in stream.messages(stop):
                assert isinstance(msg, wire.Tracks)
                n += 1
                if n == 3:
                    stop.set()
            return n

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == 3


def test_backoff_doubles_to_its_bound_resets_and_stops_early() -> None:
    assert (BACKOFF_FIRST_S, BACKOFF_MAX_S) == (0.5, 10.0)

    async def scenario() -> tuple[list[float], float, float]:
        b = Backoff(0.01, 0.04)
        delays = [b.delay]
        for _ in range(4):
            await b.wait()
            delays.append(b.delay)
        b.reset()
        delays.append(b.delay)
        long = Backoff(30.0, 60.0)
        stop = asyncio.Event()
        stop.set()
        started = time.monotonic()
        await long.wait(stop)  # a stop cuts the pause short, and the next one still doubles
        return delays, time.monotonic() - started, long.delay

    delays, waited, after_stop = asyncio.run(scenario())
    assert delays == [0.01, 0.02, 0.04, 0.04, 0.04, 0.01]
    assert waited < 1.0 and after_stop == 60.0
