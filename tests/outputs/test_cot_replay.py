"""CoT of a replayed recording looks live on TAK: its times are moved onto the wall clock, the
12 s / 60 s lifetimes kept, and ``__cuas`` says it is a replay (issue 22)."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from datetime import datetime

import pytest

from cuas import wire
from cuas.config import Config, CotConfig
from cuas.outputs import cot
from cuas.outputs.cot_sender import CotExporter

WALL = 1_800_000_000.0
#: A recording made three weeks before it is replayed.
RECORDED = WALL - 21 * 86_400.0
POLICY = cot.CotPolicy(site="wembley")


def track(t_update: float, **kw: object) -> wire.Track:
    base: dict[str, object] = dict(
        id=17, status="confirmed", lla=(51.5565, -0.2790, 150.0), enu=(40.0, 55.0, 60.0),
        vel=(10.0, 0.0, 0.0), pos_sigma=(4.0, 6.0, 9.0), t_update=t_update,
        sources=("radar-north",),
        class_probs={"uav": 0.9, "bird": 0.05, "manned": 0.03, "clutter": 0.02},
        threat="medium", malicious=False, reasons=("closing on the stadium",))
    base.update(kw)
    return wire.Track(**base)  # type: ignore[arg-type]


def snapshot(t: float, *tracks: wire.Track) -> wire.Tracks:
    return wire.Tracks(src="fusion", seq=1, t=t, tracks=tracks)


def _times(xml: bytes) -> tuple[ET.Element, dict[str, str]]:
    ev = ET.fromstring(xml)
    return ev, {k: ev.get(k, "") for k in ("time", "start", "stale")}


@pytest.mark.parametrize(("skew", "replay"), [(0.0, False), (-0.4, False), (59.0, False),
                                              (61.0, True), (-61.0, True), (1.8e6, True)])
def test_a_snapshot_far_from_the_wall_clock_is_a_replay(skew: float, replay: bool) -> None:
    offset = cot.replay_offset(WALL - skew, WALL)
    assert (offset is not None) == replay
    if replay:
        assert offset == skew


def test_a_replayed_track_goes_stale_on_the_wall_clock_as_it_would_live() -> None:
    # Last heard 3 s before the snapshot: 9 s of its 12 s left, on the wall clock.
    unidentified = track(RECORDED - 3.0)
    identified = track(RECORDED - 3.0, id=18, ident=wire.Ident(rid="1581F5FJD239C00DW22E"))
    events = cot.snapshot_events(snapshot(RECORDED, unidentified, identified), POLICY, WALL)
    (first, t1), (second, t2) = (_times(x) for x in events)
    assert t1["time"] == t1["start"] == cot.cot_time(WALL)
    assert t1["stale"] == cot.cot_time(WALL + 9.0)
    assert t2["stale"] == cot.cot_time(WALL + 57.0)
    for ev in (first, second):
        machine = ev.find("detail/__cuas")
        assert machine is not None and machine.get("replay") == "true"
        assert machine.get("stream_time") == cot.cot_time(RECORDED)


def test_a_live_track_keeps_its_own_stale_and_says_nothing_of_replays() -> None:
    (xml,) = cot.snapshot_events(snapshot(WALL - 0.3, track(WALL - 2.0)), POLICY, WALL)
    ev, times = _times(xml)
    assert times["stale"] == cot.cot_time(WALL - 2.0 + 12.0)
    machine = ev.find("detail/__cuas")
    assert machine is not None and machine.get("replay") is None
    assert machine.get("stream_time") is None


def test_a_replayed_deleted_track_goes_stale_now() -> None:
    (xml,) = cot.snapshot_events(snapshot(RECORDED, track(RECORDED - 12.5, status="deleted")),
                                 POLICY, WALL)
    _, times = _times(xml)
    assert times["stale"] == times["time"] == cot.cot_time(WALL)


class _Collect:
    """A sender that keeps what it is given."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.events: list[bytes] = []

    def announce(self, make: Callable[[], bytes]) -> None:
        self.events.append(make())

    async def send(self, event: bytes) -> None:
        self.events.append(event)

    async def close(self) -> None:
        pass


def test_the_exporter_moves_a_replay_onto_the_wall_clock() -> None:
    """A recording weeks old, replayed through the exporter: no event arrives stale."""
    sender = _Collect()
    exporter = CotExporter(Config(), sender, settings=CotConfig(period_s=0.05))
    start = time.time()
    recorded = start - 21 * 86_400.0

    async def main() -> None:
        for i in range(5):
            t = recorded + 0.5 * i
            await exporter.handle(snapshot(t, track(t - 1.0)))
            await asyncio.sleep(0.06)

    asyncio.run(main())
    assert exporter.summary.replayed == exporter.summary.snapshots == 5
    tracks = [ET.fromstring(x) for x in sender.events]
    tracks = [e for e in tracks if e.get("type") == cot.SUSPECT_UAV]
    assert len(tracks) == 5
    for ev in tracks:
        sent = cot_seconds(ev.get("time", ""))
        assert start - 0.01 <= sent <= time.time() + 0.01
        # 11 s of the 12 s left when sent, give or take the millisecond rounding.
        assert cot_seconds(ev.get("stale", "")) - sent == pytest.approx(11.0, abs=0.002)


def cot_seconds(stamp: str) -> float:
    """UTC seconds of a CoT time stamp."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
