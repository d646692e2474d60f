"""``cuas replay``: run a recording (MCAP or JSON Lines) through the pipeline."""

from __future__ import annotations

import argparse
import sys
import time

from cuas.config import load_config, reference_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", metavar="FILE", help="recording: .mcap or JSON Lines")
    parser.add_argument("--offline", action="store_true", required=True,
                        help="run the tracker offline, as fast as possible and deterministically")
    parser.add_argument("--tracks-out", metavar="OUT.jsonl", required=True,
                        help="write one tracks message per processed detections message")
    parser.add_argument("--config", metavar="CFG", help="site configuration (TOML); "
                        "default: the reference site, Wembley Stadium")


def run(args: argparse.Namespace) -> int:
    from cuas.replay import replay_offline_to_file

    config = load_config(args.config) if args.config else reference_config()
    started = time.perf_counter()
    summary = replay_offline_to_file(args.recording, args.tracks_out, config)
    elapsed = time.perf_counter() - started
    c = summary.counters
    print(
        f"replayed {summary.records} records in {elapsed:.2f} s: "
        f"{c.get('batches_processed', 0)} batches, {c.get('detections_used', 0)} detections, "
        f"{c.get('tracks_created', 0)} tracks started, {c.get('tracks_confirmed', 0)} confirmed; "
        f"{summary.snapshots} snapshots -> {args.tracks_out}",
        file=sys.stderr,
    )
    drops = {k: v for k, v in sorted(c.items())
             if v and (k.startswith("dropped") or k.endswith("dropped") or k.startswith("skipped")
                       or "_dropped_" in k)}
    if drops or summary.torn:
        detail = ", ".join(f"{k}={v}" for k, v in drops.items())
        torn = "recording is torn (replayed up to its last complete record)" if summary.torn else ""
        print(f"dropped: {detail}{'; ' if detail and torn else ''}{torn}", file=sys.stderr)
    return 0
