"""``cuas eval``: score a tracks file against ground truth (GOSPA, identity, timing, threats),
optionally as JSON and as PNG figures."""

from __future__ import annotations

import argparse
import json
import sys

from cuas.errors import CuasError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cuas.eval.gospa import DEFAULT_C, DEFAULT_P
    from cuas.eval.truth import DEFAULT_MAX_GAP

    parser.add_argument("--truth", required=True, metavar="TRUTH",
                        help="ground truth, JSON Lines (docs/truth-format.md)")
    parser.add_argument("--tracks", required=True, metavar="TRACKS.jsonl",
                        help="tracks file written by `cuas replay --offline`")
    parser.add_argument("--c", type=float, default=DEFAULT_C,
                        help=f"GOSPA cut-off distance in metres (default {DEFAULT_C:g})")
    parser.add_argument("--p", type=float, default=DEFAULT_P,
                        help=f"GOSPA order (default {DEFAULT_P:g})")
    parser.add_argument("--max-gap", type=float, default=DEFAULT_MAX_GAP,
                        help="longest gap (s) between truth samples to interpolate across")
    parser.add_argument("--all-statuses", action="store_true",
                        help="score tentative tracks too (default: confirmed and coasting)")
    parser.add_argument("--json", nargs="?", const="-", metavar="OUT",
                        help="the figures as one JSON object (docs/truth-format.md): on stdout "
                             "instead of the report, or into OUT")
    parser.add_argument("--plot", metavar="DIR",
                        help="write map.png, gospa.png and alerts.png into DIR")
    parser.add_argument("--config", metavar="CFG",
                        help="site configuration whose zones and assets the map shows")


class _FileError(CuasError):
    pass


def run(args: argparse.Namespace) -> int:
    from cuas.config import load_config
    from cuas.eval.matching import DEFAULT_STATUSES, evaluate
    from cuas.eval.report import format_report, to_json
    from cuas.eval.tracklog import read_tracks
    from cuas.eval.truth import read_truth

    try:
        truth = read_truth(args.truth)
        tracks = read_tracks(args.tracks)
    except OSError as exc:
        raise _FileError(f"{exc.filename}: {exc.strerror}") from None
    config = load_config(args.config) if args.config else None
    # Every live status, or the established ones (deleted tracks are never scored).
    statuses = ("tentative", *DEFAULT_STATUSES) if args.all_statuses else DEFAULT_STATUSES
    ev = evaluate(truth, tracks, c=args.c, p=args.p, statuses=statuses, max_gap=args.max_gap)
    if args.json == "-":
        sys.stdout.write(json.dumps(to_json(ev), allow_nan=False) + "\n")
    else:
        sys.stdout.write(format_report(ev))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(to_json(ev), fh, indent=1, allow_nan=False)
    if args.plot:
        from cuas.eval.plots import write_plots

        paths = write_plots(truth, tracks, ev, args.plot, config)
        print(f"figures: {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0
