"""The fusion engine: one pipeline for the daemon and offline replay, its reorder and
late-batch rules, its counters, and the alert path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.config import SiteConfig, reference_config
from cuas.fusion.daemon import Daemon
from cuas.fusion.engine import FusionEngine
from cuas.fusion.export import alert_message
from cuas.fusion.offline import replay_offline
from cuas.record.writer import write_jsonl
from cuas.sim.generators import SimParams, simulate
from cuas.tracking import StepResult
from tests.classify import scenarios as S
from tests.classify.helpers import wembley
from tests.tracking.helpers import T0, batch, enu_det

LOOPBACK = bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")


def _sim() -> list[wire.Detections]:
    return simulate(SimParams(seed=11, n_targets=4, duration_s=15, clutter_per_scan=2.0,
                              churn_fraction=0.0, pd=0.95), SiteConfig()).batches


def _kinematics(tracks: tuple[wire.Track, ...]) -> list[tuple[object, ...]]:
    """What the tracker decided, without the classifier's view (which depends on how often a
    caller asked for snapshots, not on the batches)."""
    return sorted((t.id, t.status, t.enu, t.vel, t.pos_sigma, t.t_update, t.sources, t.ident)
                  for t in tracks if t.status != "deleted")


def test_offline_replay_and_the_daemon_give_the_same_tracks(tmp_path: Path) -> None:
    batches = _sim()
    recording = tmp_path / "sim.jsonl"
    write_jsonl(recording, batches)
    snaps: list[wire.Tracks] = []
    with open(tmp_path / "tracks.jsonl", "w", encoding="utf-8") as out:
        summary = replay_offline(recording, out, reference_config(), on_snapshot=snaps.append)
    assert summary.snapshots == len(batches)
    offline = snaps[-1]
    assert offline.t == batches[-1].t and _kinematics(offline.tracks)

    async def main() -> list[tuple[object, ...]]:
        ctx = zmq.asyncio.Context()
        daemon = Daemon(reference_config(), LOOPBACK, snapshot_hz=20.0, status_period_s=0.2,
                        replay=True)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        pub = bus.xpub_socket(ctx, daemon.bound.detections)
        assert await bus.wait_for_subscriber(pub, "det.", 5.0)
        for b in batches:
            await pub.send_multipart(bus.frames(b))
        for _ in range(200):  # a replay of the past: the daemon releases it once idle
            if daemon.state.counters["batches_fused"] == len(batches):
                break
            await asyncio.sleep(0.05)
        assert daemon.state.counters["batches_fused"] == len(batches)
        assert daemon.engine.time == batches[-1].t
        live = _kinematics(daemon.engine.snapshot(batches[-1].t).tracks)
        stop.set()
        await asyncio.wait_for(task, 10)
        pub.close(0)
        ctx.term()
        return live

    assert asyncio.run(asyncio.wait_for(main(), 60)) == _kinematics(offline.tracks)


def test_pushed_batches_are_fused_in_time_order_and_late_ones_counted() -> None:
    fused: list[float] = []
    engine = FusionEngine(reference_config(), classify=False,
                          on_fused=lambda b, r: fused.append(b.t) if r.accepted else None)
    lateness = engine.config.tracker.lateness_s
    times = [T0, T0 + 0.6 * lateness, T0 + 0.3 * lateness, T0 + 5 * lateness]
    for t in times:
        engine.push(batch(t, [enu_det([100.0, 200.0, 300.0])]))
    # The fourth batch pushed the horizon past the first three: out in time order.
    assert fused == sorted(times[:3])
    assert len(engine.buffer) == 1
    engine.push(batch(T0 + 0.1 * lateness, [enu_det([100.0, 200.0, 300.0])]))  # too late now
    assert engine.buffer.counters["dropped_late"] == 1
    assert engine.flush() == 1 and fused == sorted(times)
    c = engine.counters
    assert (c["batches_received"], c["batches_processed"], c["detections_used"]) == (4, 4, 4)
    assert engine.n_tracks == 1 and engine.time == times[-1]
    # Bypassing the buffer, an older batch is never applied: the tracks only move forward.
    result = engine.process(batch(T0 + lateness, [enu_det([0.0, 0.0, 100.0])]))
    assert isinstance(result, StepResult) and not result.accepted
    assert c["batches_dropped_late"] == 1 and c["batches_processed"] == 4


def test_counters_of_dropped_positionless_and_used_detections() -> None:
    engine = FusionEngine(reference_config(), classify=False)
    far = enu_det([900_000.0, 0.0, 100.0])  # beyond any site
    rf = wire.Detection(frame="none", z=(), attrs={"freq_hz": 2.44e9, "protocol": "ocusync",
                                                   "link": "control"})
    engine.process(batch(T0, [enu_det([10.0, 20.0, 30.0]), far, rf], kind="radar"))
    c = engine.counters
    assert (c["detections_used"], c["detections_dropped"], c["detections_nonpositional"]) == (
        1, 1, 1)
    assert [r.protocol for r in engine.rf_log.reports] == ["ocusync"]
    assert c["tracks_created"] == 1


def test_without_the_classifier_tracks_carry_the_neutral_class() -> None:
    engine = FusionEngine(reference_config(), classify=False)
    engine.process(batch(T0, [enu_det([10.0, 20.0, 30.0])]))
    (trk,) = engine.snapshot(T0 + 1.0, src="node-a", seq=7).tracks
    assert trk.class_probs == wire.NEUTRAL_CLASS and trk.threat == "none"
    snap = engine.snapshot(T0 + 2.0, src="node-a", seq=8)
    assert (snap.src, snap.seq, snap.t) == ("node-a", 8, T0 + 2.0)
    assert engine.take_alerts() == []


@pytest.mark.parametrize("make", [S.hostile_with_rf, S.hostile_with_rid])
def test_alert_path_from_snapshot_to_wire_alert(make) -> None:  # type: ignore[no-untyped-def]
    sc = make()
    seen: list[tuple[float, wire.Alert]] = []
    seq = 0

    def on_fused(b: wire.Detections, result: StepResult) -> None:
        nonlocal seq
        if not result.accepted:
            return
        snap = engine.snapshot(b.t)
        for event in engine.take_alerts():
            seen.append((b.t, alert_message(event, "cuas-test", seq, snap.t)))
            seq += 1
            assert any(t.id == event.track_id for t in snap.tracks)

    engine = FusionEngine(wembley(), on_fused=on_fused)
    for b in sorted(sc.batches, key=lambda b: b.t):
        engine.push(b)
    engine.flush()
    assert seen, "a hostile drone over the stadium raises an alert"
    t, first = seen[0]
    assert first.type == "alert" and first.src == "cuas-test" and first.seq == 0
    assert first.t == t and first.threat in wire.THREAT_LEVELS
    # A level rise, or a likely drone entering a zone (alerted at its level).
    assert wire.THREAT_LEVELS.index(first.threat) > wire.THREAT_LEVELS.index(first.previous) or (
        first.zone is not None)
    assert first.reasons
    assert engine.take_alerts() == []  # taken once
    np.testing.assert_array_less(0, [a.track_id for _, a in seen])
