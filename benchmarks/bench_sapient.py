#!/usr/bin/env python3
"""Benchmark: SAPIENT DetectionReports per second through the fusion node, on one core.

A stream of ``--n`` framed DetectionReports (a drone 300 m from the site, ``LAT_LNG_DEG_M``,
with velocity and a classification, as a module sends them) is cut from 64 KiB reads and put
through the fusion node's stages, each timed on its own, best of ``--runs``:

* the floor (peer): protobuf's own ``ParseFromString`` of each body, nothing else;
* framing (``parse``: length prefixes + decode);
* + the ICD validator;
* + conversion to a contract ``detections`` message (including its contract check);
* the whole per-frame logic (``FusionNodeState.handle``);
* end to end on loopback: a module writing the stream over TCP to ``SapientServer``, which
  publishes on ZeroMQ to a SUB on 127.0.0.1 that counts every detection (none may be lost).

    python benchmarks/bench_sapient.py [--n 20000] [--runs 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pymap3d
import zmq
import zmq.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cuas import bus  # noqa: E402
from cuas.config import reference_config  # noqa: E402
from cuas.sapient import convert, outbound  # noqa: E402
from cuas.sapient.framing import encode, parse  # noqa: E402
from cuas.sapient.proto import (  # noqa: E402
    DetectionReport,
    SapientMessage,
    StatusReport,
    new_ulid,
)
from cuas.sapient.validate import validate  # noqa: E402
from cuas.sensors.sapient.node import SapientServer  # noqa: E402
from cuas.sensors.sapient.node_state import FusionNodeState  # noqa: E402

MODULE = "5b0e2c8e-6f7d-4c1a-9e35-2d6a8c1f0b47"
CHUNK = 65536


def stream(n: int) -> tuple[bytes, bytes]:
    """(registration + status frames, n DetectionReport frames)."""
    site = reference_config().site
    t0 = time.time()
    reg = outbound.registration(MODULE, t0, "bench-radar", 5.0)
    st = convert.envelope(MODULE, t0)
    st.status_report.CopyFrom(StatusReport(report_id=new_ulid(t0), system=1, info=1,
                                           mode="Default"))
    head = encode(reg) + encode(st)
    oid = new_ulid(t0)
    out = bytearray()
    for k in range(n):
        t = t0 + k * 0.01
        lat, lon, h = pymap3d.enu2geodetic(200 + 0.1 * k, 220, 60, site.lat, site.lon, site.h)
        msg = convert.envelope(MODULE, t)
        rep = DetectionReport(report_id=new_ulid(t), object_id=oid, detection_confidence=0.9)
        rep.location.CopyFrom(outbound.location_from_lla((float(lat), float(lon), float(h)),
                                                        (3.0, 3.0, 3.0)))
        rep.enu_velocity.east_rate, rep.enu_velocity.north_rate = 10.0, 0.0
        rep.classification.add(type="UAV", confidence=0.8)
        msg.detection_report.CopyFrom(rep)
        out += encode(msg)
    return head, bytes(out)


def chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]


def stage_floor(data: bytes, n: int) -> float:
    bodies = [f.payload for f in parse(data)[0]]
    t = time.perf_counter()
    for b in bodies:
        SapientMessage().ParseFromString(b)
    return time.perf_counter() - t


def stage_framing(data: bytes, n: int, then: Any = None) -> float:
    pieces = chunks(data)
    t = time.perf_counter()
    rest = b""
    got = 0
    for c in pieces:
        frames, rest = parse(rest + c)
        got += len(frames)
        if then is not None:
            for f in frames:
                then(f)
    elapsed = time.perf_counter() - t
    assert got == n, (got, n)
    return elapsed


def stage_handle(head: bytes, data: bytes, n: int) -> float:
    state = FusionNodeState(reference_config())
    for f in parse(head)[0]:
        state.handle(f, time.time())
    now = time.time()
    elapsed = stage_framing(data, n, lambda f: state.handle(f, now))
    assert state.counters["detections"] == n, state.counters
    return elapsed


def stage_convert(head: bytes, data: bytes, n: int) -> float:
    cfg = reference_config()
    info = convert.NodeInfo(MODULE, "bench")

    def one(f: Any) -> None:
        assert not validate(f.message)
        convert.report_to_detections(f.message, info, 1, cfg.sapient, cfg.site)

    return stage_framing(data, n, one)


async def end_to_end(head: bytes, data: bytes, n: int) -> float:
    ctx = zmq.asyncio.Context()
    sub = bus.sub_socket(ctx, "tcp://127.0.0.1:*", bind=True, topics=("det.",), hwm=0)
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    server = SapientServer(reference_config(), endpoint, listen="127.0.0.1:0",
                           status_period_s=5.0, context=ctx)
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop))
    await server.ready.wait()
    got = 0

    async def count() -> None:
        nonlocal got
        while got < n:
            await sub.recv_multipart()
            got += 1

    # Reading the SUB is also what lets ZeroMQ attach the server's connection to it (a
    # socket nobody calls never sends its subscription).
    counter = asyncio.create_task(count())
    await asyncio.wait_for(server.subscribed.wait(), 10)
    assert server.address is not None
    reader, writer = await asyncio.open_connection(*server.address)
    writer.write(head)
    await writer.drain()
    await asyncio.sleep(0.2)
    t = time.perf_counter()
    for c in chunks(data):
        writer.write(c)
        await writer.drain()
    await asyncio.wait_for(counter, 120)
    elapsed = time.perf_counter() - t
    writer.close()
    stop.set()
    await task
    sub.close(0)
    ctx.term()
    assert got == n
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    head, data = stream(args.n)
    n = args.n
    stages = {
        "protobuf ParseFromString only (floor)": lambda: stage_floor(data, n),
        "framing + decode": lambda: stage_framing(data, n),
        "+ validate + convert": lambda: stage_convert(head, data, n),
        "fusion node logic (handle)": lambda: stage_handle(head, data, n),
        "end to end: TCP -> serve -> ZeroMQ": lambda: asyncio.run(end_to_end(head, data, n)),
    }
    results: dict[str, float] = {}
    for name, fn in stages.items():
        results[name] = min(fn() for _ in range(args.runs))
    floor = results["protobuf ParseFromString only (floor)"]
    print(f"{n} DetectionReports ({len(data) / n:.0f} bytes each), best of {args.runs}:")
    print(f"{'stage':<40} {'reports/s':>12} {'us/report':>10} {'x floor':>8}")
    for name, s in results.items():
        print(f"{name:<40} {n / s:>12,.0f} {1e6 * s / n:>10.1f} {s / floor:>8.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({k: n / v for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
