#!/usr/bin/env python3
"""Benchmark: Remote ID frames decoded per second, on the real Parrot Anafi capture
(``shared/data/remoteid/rirx_parrot_anafi4_real.pcapng``: 5,091 packets, 1,140 Remote ID
beacons with Message Packs, the rest other Wi-Fi traffic), one core.

Stages of cuas, each timed on the capture repeated ``--repeat`` times in memory:

1. read: :class:`cuas.sensors.remoteid.pcap.CaptureReader` (pcapng blocks -> packets);
2. extract: + :func:`cuas.sensors.remoteid.odid.extract` (radiotap, 802.11, vendor element, messages);
3. decode: + :class:`cuas.sensors.remoteid.decode.RemoteIdDecoder` (contract detections);
4. encode: + ``wire.encode`` of one ``detections`` message per report (what is sent).

Peers measured in the same run when installed (neither is a dependency of cuas):
``dpkt`` (BSD) reading the same pcapng (stage 1), and ``scapy`` (GPL) parsing each packet as
radiotap/802.11 and walking its elements to the Remote ID vendor element (stage 2, no message
decoding at all: a lower bound of what a scapy-based receiver does).

    python benchmarks/bench_remoteid.py [--repeat 20] [--runs 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cuas import wire
from cuas.errors import DecodeError
from cuas.sensors.remoteid import odid
from cuas.sensors.remoteid.decode import RemoteIdDecoder
from cuas.sensors.remoteid.pcap import CaptureReader

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "remoteid"
CAPTURE = DATA / "rirx_parrot_anafi4_real.pcapng"


def best(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    """Fastest of ``runs`` calls: (seconds, count the call returned)."""
    times, count = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
    return min(times), count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    if not CAPTURE.exists():
        print(f"no capture at {CAPTURE} (see shared/data/remoteid/SOURCES.md)", file=sys.stderr)
        return 1
    raw = CAPTURE.read_bytes()
    packets = CaptureReader().feed(raw)
    n_rid = sum(1 for p in packets if odid.WIFI_OUI in p.data)

    def read() -> int:
        n = 0
        for _ in range(args.repeat):
            n += len(CaptureReader().feed(raw))
        return n

    def extract() -> int:
        n = 0
        for _ in range(args.repeat):
            for p in CaptureReader().feed(raw):
                try:
                    if odid.extract(p.linktype, p.data) is not None:
                        n += 1
                except DecodeError:
                    pass
        return n

    def decode(encode: bool = False) -> int:
        n = 0
        for _ in range(args.repeat):
            dec = RemoteIdDecoder()
            for p in CaptureReader().feed(raw):
                for r in dec.feed_packet(p.linktype, p.data, p.t):
                    if encode:
                        wire.encode(wire.Detections(src="rid", seq=n + 1, t=r.t, sensor="rid",
                                                    kind="remoteid", dets=(r.det,)))
                    n += 1
        return n

    rows: list[dict[str, Any]] = []

    def add(name: str, fn: Callable[[], int], unit: str) -> float:
        secs, count = best(fn, args.runs)
        rate = count / secs
        rows.append({"stage": name, "count": count, "seconds": secs, "rate": rate, "unit": unit})
        print(f"{name:<44} {count:>9,} {unit:<10} {secs:7.3f} s  {rate:>12,.0f} {unit}/s")
        return rate

    print(f"capture: {CAPTURE.name}: {len(packets):,} packets, {n_rid:,} Remote ID beacons; "
          f"x{args.repeat}, best of {args.runs}")
    r_read = add("cuas 1 read (CaptureReader)", read, "packets")
    r_ext = add("cuas 2 read + extract (odid.extract)", extract, "frames")
    add("cuas 3 read + extract + decode (detections)", decode, "frames")
    add("cuas 4 ... + wire.encode", lambda: decode(True), "frames")

    try:
        import dpkt

        def dpkt_read() -> int:
            n = 0
            for _ in range(args.repeat):
                for _ts, _buf in dpkt.pcapng.Reader(io.BytesIO(raw)):
                    n += 1
            return n

        r = add("peer dpkt pcapng.Reader", dpkt_read, "packets")
        print(f"  cuas read is {r_read / r:.1f}x dpkt")
    except ImportError:
        print("peer dpkt: not installed (pip install dpkt)")
    try:
        from scapy.layers.dot11 import Dot11Elt, RadioTap

        def scapy_extract() -> int:
            n = 0
            reps = max(1, args.repeat // 10)  # scapy is slow: fewer repeats, same rate
            for _ in range(reps):
                for p in CaptureReader().feed(raw):
                    elt = RadioTap(p.data).getlayer(Dot11Elt)
                    while elt is not None:
                        if elt.ID == 221 and bytes(elt.info[:3]) == odid.WIFI_OUI:
                            n += 1
                            break
                        elt = elt.payload.getlayer(Dot11Elt)
            return n * (args.repeat // reps)

        r = add("peer scapy RadioTap/Dot11Elt walk", scapy_extract, "frames")
        print(f"  cuas read + extract + message decode is {r_ext / r:.0f}x scapy's element walk")
    except ImportError:
        print("peer scapy: not installed (pip install scapy)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
