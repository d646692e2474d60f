"""Cooperative feeds' messages fused as one step (cuas/fusion/merge.py), and the engine and
daemon doing so without losing or reordering anything."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.config import reference_config
from cuas.fusion.engine import FusionEngine
from cuas.fusion.merge import MAX_MERGED_DETECTIONS, merge_runs, mergeable
from cuas.vocabulary import EARTH_RADIUS_M

T0 = 1.8e9
SIG = (10.0, 10.0, 15.0)
R_ENU = (100.0, 0.0, 0.0, 0.0, 100.0, 0.0, 0.0, 0.0, 225.0)


def report(sensor: str, seq: int, t: float, icao: str | None, z: tuple[float, float, float],
           vel: tuple[float, float, float] | None = None, kind: str = "adsb",
           frame: str = "enu") -> wire.Detections:
    det = wire.Detection(frame=frame, z=z, sigma=SIG, R=R_ENU, vel=vel,  # type: ignore[arg-type]
                         ident=wire.Ident(icao=icao) if icao else None)
    return wire.Detections(src=sensor, seq=seq, t=t, sensor=sensor, kind=kind, dets=(det,))


def test_only_cooperative_kinds_merge() -> None:
    assert mergeable("adsb") and mergeable("remoteid")
    assert not any(mergeable(k) for k in ("radar", "camera", "rf", "sapient", "unknown-kind"))
    radar = [report("r1", k, T0 + 0.01 * k, None, (0.0, 0.0, 100.0), kind="radar")
             for k in range(4)]
    assert [parts for _, parts in merge_runs(radar, 0.1)] == [(b,) for b in radar]
    adsb = [report("a1", k, T0 + 0.01 * k, f"abc{k:03x}", (0.0, 0.0, 100.0)) for k in range(4)]
    assert [parts for _, parts in merge_runs(adsb, 0.0)] == [(b,) for b in adsb]


def test_one_receivers_reports_become_one_look_at_the_last_time() -> None:
    batches = [report("a1", 0, T0, "aaaaaa", (1000.0, 0.0, 500.0)),
               report("a1", 1, T0 + 0.04, "bbbbbb", (0.0, 2000.0, 800.0), vel=(100.0, -50.0, 5.0)),
               report("a1", 2, T0 + 0.08, "cccccc", (-300.0, 10.0, 300.0))]
    (batch, parts), = merge_runs(batches, 0.1)
    assert parts == tuple(batches)
    assert batch.t == T0 + 0.08 and batch.seq == 2 and batch.sensor == "a1"
    assert len(batch.dets) == 3
    # The one with a velocity is moved on 40 ms along it; the others keep their points.
    assert np.allclose(batch.dets[1].z, (0.0 + 4.0, 2000.0 - 2.0, 800.0 + 0.2))
    assert batch.dets[0].z == batches[0].dets[0].z and batch.dets[2].z == batches[2].dets[0].z


def test_lla_reports_move_along_their_velocity() -> None:
    b0 = report("a1", 0, T0, "aaaaaa", (51.6, -0.1, 600.0), vel=(0.0, 200.0, 0.0), frame="lla")
    b1 = report("a1", 1, T0 + 0.1, "bbbbbb", (51.5, -0.2, 500.0), frame="lla")
    (batch, _), = merge_runs([b0, b1], 0.1)
    lat, lon, h = batch.dets[0].z
    assert math.isclose(lat, 51.6 + math.degrees(20.0 / EARTH_RADIUS_M), rel_tol=0, abs_tol=1e-9)
    assert lon == -0.1 and h == 600.0


def test_a_repeated_identity_or_the_window_starts_a_new_look() -> None:
    a = [report("a1", 0, T0, "aaaaaa", (0.0, 0.0, 100.0)),
         report("a1", 1, T0 + 0.01, "bbbbbb", (50.0, 0.0, 100.0)),
         report("a1", 2, T0 + 0.02, "aaaaaa", (1.0, 0.0, 100.0)),  # aaaaaa again
         report("a1", 3, T0 + 0.5, "cccccc", (90.0, 0.0, 100.0))]  # beyond the window
    runs = merge_runs(a, 0.1)
    assert [len(parts) for _, parts in runs] == [2, 1, 1]
    assert [b.t for b, _ in runs] == [T0 + 0.01, T0 + 0.02, T0 + 0.5]


def test_interleaved_receivers_keep_time_order() -> None:
    seq = [report(s, k, T0 + 0.01 * k, f"{k:06x}", (10.0 * k, 0.0, 100.0))
           for k, s in enumerate(["a1", "a2", "a1", "a2", "a1"])]
    runs = merge_runs(seq, 0.1)
    assert [(b.sensor, len(parts)) for b, parts in runs] == [("a2", 2), ("a1", 3)]
    assert [b.t for b, _ in runs] == [T0 + 0.03, T0 + 0.04]


_kinds = st.sampled_from(["adsb", "remoteid", "radar", "camera"])
_msgs = st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3"]), _kinds,
                           st.floats(0.0, 0.08), st.integers(0, 6), st.integers(1, 3)),
                 max_size=40)


@settings(max_examples=200, deadline=None)
@given(_msgs, st.sampled_from([0.0, 0.05, 0.1, 0.3]))
def test_merging_loses_nothing_and_keeps_order(msgs: list[tuple[str, str, float, int, int]],
                                               window: float) -> None:
    batches = []
    t = T0
    for k, (sensor, kind, dt, ident, n) in enumerate(msgs):
        t += dt
        dets = tuple(wire.Detection(frame="enu", z=(float(k), float(j), 100.0), sigma=SIG,
                                    R=R_ENU, vel=(1.0, 2.0, 0.0),
                                    ident=wire.Ident(icao=f"{ident + j:06x}") if ident else None)
                     for j in range(n))
        batches.append(wire.Detections(src=sensor, seq=k, t=t, sensor=sensor, kind=kind,
                                       dets=dets))
    runs = merge_runs(batches, window)
    flat = [p for _, parts in runs for p in parts]
    assert sorted(map(id, flat)) == sorted(map(id, batches))  # every message, once
    times = [b.t for b, _ in runs]
    assert times == sorted(times)  # the tracker still sees time order
    for batch, parts in runs:
        assert sum(len(p.dets) for p in parts) == len(batch.dets) <= max(
            MAX_MERGED_DETECTIONS, len(parts[0].dets))
        assert batch.t == parts[-1].t
        if len(parts) > 1:
            assert all(mergeable(p.kind) and p.sensor == parts[0].sensor for p in parts)
            assert parts[-1].t - parts[0].t <= window
            keys = [k for p in parts for d in p.dets if d.ident for k in d.ident.keys]
            per_part = [{k for d in p.dets if d.ident for k in d.ident.keys} for p in parts]
            assert sum(map(len, per_part)) == len(set(keys))  # no aircraft twice in one look
        # Parts keep their order within a look, as in the input.
        order = [batches.index(p) for p in parts]
        assert order == sorted(order)


def _adsb_stream(n_aircraft: int, seconds: float, rate_hz: float
                 ) -> tuple[list[wire.Detections], np.ndarray, np.ndarray]:
    """Aircraft flying straight lines, each reported ``rate_hz`` times a second by one
    receiver (one message per report, velocity included), staggered in time."""
    rng = np.random.default_rng(3)
    start = rng.uniform(-8000, 8000, (n_aircraft, 3)) * (1, 1, 0) + (0, 0, 1500)
    vel = rng.uniform(-120, 120, (n_aircraft, 3)) * (1, 1, 0)
    out = []
    period = 1.0 / rate_hz
    k = 0
    for tick in range(int(seconds * rate_hz)):
        for a in range(n_aircraft):
            t = tick * period + a * period / n_aircraft
            z = start[a] + vel[a] * t + rng.normal(0, 10.0, 3)
            out.append(report("adsb-1", k, T0 + t, f"{0xa00000 + a:06x}",
                              tuple(z.tolist()), vel=tuple(vel[a].tolist())))  # type: ignore[arg-type]
            k += 1
    return out, start, vel


def test_merged_steps_track_as_well_with_far_fewer_steps() -> None:
    stream, start, vel = _adsb_stream(30, 20.0, 2.0)
    engines = {w: FusionEngine(reference_config(), classify=False, merge_window_s=w)
               for w in (0.0, 0.1)}
    for engine in engines.values():
        for k in range(0, len(stream), 16):  # as the daemon drains its queue
            engine.push_all(stream[k:k + 16])
        engine.flush()
    t_end = stream[-1].t
    for engine in engines.values():
        snap = engine.snapshot(t_end)
        firm = [tr for tr in snap.tracks if tr.status in ("confirmed", "coasting")]
        assert len(firm) == 30
        truth = start + vel * (t_end - T0)
        for tr in firm:
            a = int(tr.ident.icao, 16) - 0xa00000  # type: ignore[union-attr]
            assert np.linalg.norm(np.asarray(tr.enu) - truth[a]) < 30.0
    plain, fused = engines[0.0].counters, engines[0.1].counters
    assert plain["batches_processed"] == len(stream) and plain["batches_merged"] == 0
    assert fused["batches_processed"] + fused["batches_merged"] == len(stream)
    assert fused["batches_processed"] < len(stream) / 3
    assert fused["detections_used"] == plain["detections_used"] == len(stream)


def test_the_daemon_counts_every_message_of_a_merged_step() -> None:
    import asyncio

    import zmq.asyncio

    from cuas import bus
    from tests.fusion.test_daemon import Client, run_async, running_daemon

    stream, _, _ = _adsb_stream(20, 10.0, 1.0)

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            client = Client(ctx, daemon)
            await client.ready()
            for batch in stream:
                await client.pub.send_multipart(bus.frames(batch))
            c: dict[str, int] = {}
            for _ in range(100):
                c = dict(daemon._status().counters)
                if c.get("batches_fused", 0) >= len(stream):
                    break
                await asyncio.sleep(0.05)
            assert c["received"] == c["batches_fused"] == len(stream)
            assert c["tracker_batches_processed"] + c.get("tracker_batches_merged", 0) \
                == len(stream)
            assert not any(v for k, v in c.items() if k.startswith("dropped_"))
            client.close()
        ctx.term()

    run_async(main)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 8, 64]), st.floats(0.0, 0.05))
def test_merging_never_loses_a_message_the_buffer_released(seed: int, group: int,
                                                           jitter_s: float) -> None:
    """Receivers' reports and a radar's scans arriving out of order, drained in groups: with
    merging the engine drops nothing the reorder buffer released (the buffer's own drops of
    late arrivals are the same as without it), and uses every detection the same."""
    rng = np.random.default_rng(seed)
    msgs: list[tuple[float, wire.Detections]] = []
    for k in range(300):
        t = T0 + k * 0.003
        if k % 7 == 0:
            batch = report("radar-1", k, t, None, (float(k), 500.0, 300.0), kind="radar")
        else:
            rx = f"adsb-{k % 3}"
            batch = report(rx, k, t, f"{(k % 3 + 1) << 12 | k % 11:06x}",
                           (100.0 * (k % 11), 1000.0 * (k % 3), 900.0), vel=(50.0, 0.0, 0.0))
        msgs.append((t + rng.exponential(jitter_s) if jitter_s else t, batch))
    arrivals = [b for _, b in sorted(msgs, key=lambda m: m[0])]
    counts = {}
    for window in (0.0, 0.1):
        engine = FusionEngine(reference_config(), classify=False, merge_window_s=window)
        engine.buffer.lateness_s = 0.02
        for k in range(0, len(arrivals), group):
            engine.push_all(arrivals[k:k + group])
        engine.flush()
        assert engine.counters["batches_dropped_late"] == 0
        counts[window] = (engine.buffer.counters["dropped_late"],
                          engine.counters["batches_processed"] + engine.counters["batches_merged"],
                          engine.counters["detections_used"])
    assert counts[0.0] == counts[0.1]
