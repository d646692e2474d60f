"""``cuas eval``: score a tracks file against ground truth (GOSPA, ID switches, fragmentation)."""

from __future__ import annotations

import argparse
import json
import sys

from cuas.errors import CuasError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cuas.evaluation import DEFAULT_C, DEFAULT_MAX_GAP, DEFAULT_P

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
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")


class _FileError(CuasError):
    pass


def run(args: argparse.Namespace) -> int:
    from cuas.evaluation import evaluate, format_report, read_tracks, read_truth

    try:
        truth = read_truth(args.truth)
        tracks = read_tracks(args.tracks)
    except OSError as exc:
        raise _FileError(f"{exc.filename}: {exc.strerror}") from None
    statuses = ("tentative", "confirmed", "coasting") if args.all_statuses else (
        "confirmed", "coasting")
    ev = evaluate(truth, tracks, c=args.c, p=args.p, statuses=statuses, max_gap=args.max_gap)
    sys.stdout.write(format_report(ev))
    if args.json:
        figures = {
            "c": ev.c, "p": ev.p, "steps": ev.n_steps, "gospa_mean": ev.gospa_mean,
            "gospa_rms": ev.gospa_rms, "localisation_mean": ev.localisation_mean,
            "missed_mean": ev.missed_mean, "false_mean": ev.false_mean,
            "id_switches": ev.id_switches, "fragmentations": ev.fragmentations,
            "track_ids": ev.n_track_ids, "unmatched_track_ids": ev.n_unmatched_track_ids,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=1)
    return 0
