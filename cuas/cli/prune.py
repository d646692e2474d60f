"""``cuas prune``: delete old recordings by age and total size (the rotation timer's job)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path


def _positive(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas prune``."""
    parser.add_argument("directory", metavar="DIR", help="the recordings directory")
    parser.add_argument("--max-age-days", type=_positive, metavar="D",
                        help="delete recordings last written more than D days ago")
    parser.add_argument("--max-total-gb", type=_positive, metavar="GB",
                        help="then delete the oldest until the rest hold at most GB (10^9 bytes)")
    parser.add_argument("--dry-run", action="store_true", help="only say what would go")


def run(args: argparse.Namespace) -> int:
    """Prune; prints one line per deleted file and a total."""
    from cuas.record.retention import prune

    if args.max_age_days is None and args.max_total_gb is None:
        print("cuas prune: error: give --max-age-days and/or --max-total-gb", file=sys.stderr)
        return 2
    directory = Path(args.directory)
    if not directory.is_dir():
        print(f"cuas prune: nothing to do: {directory} is not a directory", file=sys.stderr)
        return 0
    gone = prune(directory, now=time.time(),
                 max_age_s=None if args.max_age_days is None else args.max_age_days * 86400.0,
                 max_total_bytes=None if args.max_total_gb is None
                 else int(args.max_total_gb * 1e9), dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for f in gone:
        print(f"{verb} {f.path} ({f.size} bytes)")
    print(f"cuas prune: {verb} {len(gone)} recordings, {sum(f.size for f in gone)} bytes",
          file=sys.stderr)
    return 0
