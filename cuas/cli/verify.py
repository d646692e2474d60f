"""``cuas verify RECORDING``: check a recording against its manifest (tamper evidence).

Exit status: 0 intact, 3 torn (what the manifest covers is intact, the recorder did not close
the file), 1 altered or unverifiable (no manifest).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas verify``."""
    parser.add_argument("recordings", nargs="+", metavar="RECORDING",
                        help="recording(s) written by cuas record (FILE.mcap)")
    parser.add_argument("--manifest", metavar="FILE",
                        help="the manifest (default: RECORDING.manifest; one recording only)")
    parser.add_argument("--key", metavar="NAME.sign.pub",
                        help="the signer's public key (cuas keys --sign): a manifest not signed "
                        "by it fails")


def run(args: argparse.Namespace) -> int:
    """Verify each recording; one line per recording; the worst exit status."""
    from cuas.record.manifest import load_public_key, verify

    if args.manifest and len(args.recordings) > 1:
        print("cuas verify: error: --manifest takes one recording", file=sys.stderr)
        return 2
    trusted = load_public_key(args.key) if args.key else None
    worst = 0
    for path in args.recordings:
        v = verify(path, manifest=args.manifest, trusted_key=trusted)
        print(v.message)
        code = {"intact": 0, "torn": 3}.get(v.status, 1)
        worst = code if worst == 0 or code == 1 else worst
    return worst
