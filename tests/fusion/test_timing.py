"""The daemon's per-stage timing: what the heartbeats report and that it adds up."""

from __future__ import annotations

import asyncio
import gc

import zmq.asyncio

from cuas import bus, wire
from cuas.config import reference_config
from cuas.fusion.daemon import settle_heap, warm_up
from cuas.fusion.timing import STAGES, StageTimes
from tests.fusion.test_daemon import Client, run_async, running_daemon, scenario


def test_report_gives_percentiles_per_window_and_starts_afresh() -> None:
    times = StageTimes()
    for k in range(1, 101):
        times.add("step", k / 1000.0)  # 1 .. 100 ms
    times.add("publish", 0.5)
    times.add("age_fused", -3.0)  # a sender's clock ahead of ours
    first = times.report()
    assert first["stage.step.n"] == 100
    assert first["stage.step.p50_us"] == 50_500
    assert 99_000 <= first["stage.step.p99_us"] <= 100_000
    assert first["stage.step.max_us"] == 100_000
    assert first["stage.publish.max_us"] == 500_000
    assert first["stage.age_fused.max_us"] == 0
    assert first["stage.receive.n"] == 0 and "stage.receive.p99_us" not in first
    assert all(f"stage.{name}.n" in first for name in STAGES)
    second = times.report()
    assert second["stage.step.n"] == 0 and "stage.step.p50_us" not in second


def test_heartbeats_account_for_every_fused_batch() -> None:
    sim = scenario()

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            statuses = bus.sub_socket(ctx, daemon.bound.tracks, bind=False, topics=("status.",))
            await asyncio.sleep(0.3)  # the subscription reaches the daemon
            client = Client(ctx, daemon)
            await client.ready()
            await client.send_all(sim.batches)
            seen = {name: 0 for name in STAGES}
            fused = 0
            while fused < len(sim.batches) or seen["step"] < fused:
                _, msg = bus.parse_frames(await asyncio.wait_for(statuses.recv_multipart(), 5))
                assert isinstance(msg, wire.Status)
                for name in STAGES:
                    seen[name] += msg.counters[f"stage.{name}.n"]
                fused = msg.counters.get("batches_fused", 0)
            # Every received batch was timed through receive, and each fused one through
            # its hold and its step.
            assert seen["receive"] == len(sim.batches)
            assert seen["step"] == seen["hold"] == len(sim.batches)
            # A replay's stamps are of the past: no age against the wall clock.
            assert seen["age_received"] == seen["age_fused"] == 0
            assert seen["snapshot"] >= 1 and seen["publish"] >= 1
            statuses.close(0)
            client.close()
        ctx.term()

    run_async(main)


def test_warm_up_runs_a_scratch_engine() -> None:
    assert warm_up(reference_config(), n_scans=6) > 0.0


def test_full_collections_are_timed_and_the_start_up_heap_is_frozen() -> None:
    """A collection of the oldest generation stops the loop: the heartbeat says how long.
    ``cuas run`` freezes what start-up left (the collector no longer walks it)."""
    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            statuses = bus.sub_socket(ctx, daemon.bound.tracks, bind=False, topics=("status.",))
            await asyncio.sleep(0.3)
            gc.collect()
            for _ in range(10):
                _, msg = bus.parse_frames(await asyncio.wait_for(statuses.recv_multipart(), 5))
                assert isinstance(msg, wire.Status)
                if msg.counters["stage.gc.n"] >= 1:
                    assert msg.counters["stage.gc.max_us"] > 0
                    break
            else:
                raise AssertionError("no heartbeat reported the collection")
            statuses.close(0)
        ctx.term()

    before = list(gc.callbacks)
    run_async(main)
    assert gc.callbacks == before  # the daemon removed its timer
    settle_heap()
    try:
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
