"""``cuas report``: turn a recording into an incident report or an export.

``cuas report RECORDING --out FILE [--format F]``: the format from the file's extension
(``.pdf .html .kml .geojson .csv .gpx``, ``.mcap`` for Foxglove) unless ``--format`` says.
``cuas report --summary DIR --out FILE.pdf|.html|.json``: the pattern of life over every
recording in DIR.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

FORMATS = ("pdf", "html", "kml", "geojson", "csv", "gpx", "foxglove")
_BY_SUFFIX = {".pdf": "pdf", ".html": "html", ".htm": "html", ".kml": "kml",
              ".geojson": "geojson", ".json": "geojson", ".csv": "csv", ".gpx": "gpx",
              ".mcap": "foxglove"}


def parse_time(text: str) -> float:
    """UTC seconds from a number (``1790000000.5``) or ISO 8601 (``2026-09-21T14:03:00Z``;
    without a zone: UTC)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither UTC seconds nor an ISO 8601 time") from None
    return (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas report``."""
    parser.add_argument("recording", nargs="?", metavar="RECORDING",
                        help="a recording written by cuas record (MCAP or JSON Lines)")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write")
    parser.add_argument("--format", choices=FORMATS,
                        help="output format (default: from --out's extension; .mcap: foxglove)")
    parser.add_argument("--from", dest="t_from", type=parse_time, metavar="T",
                        help="start of the window: UTC seconds or ISO 8601")
    parser.add_argument("--to", dest="t_to", type=parse_time, metavar="T",
                        help="end of the window: UTC seconds or ISO 8601")
    parser.add_argument("--track", type=int, action="append", metavar="ID",
                        help="only this track (repeat for more)")
    parser.add_argument("--config", metavar="CFG",
                        help="site configuration (TOML): the site origin and the zones drawn; "
                        "default: the bundled configs/wembley.toml")
    parser.add_argument("--audit-log", metavar="FILE",
                        help="the web console's audit log (JSON Lines): acknowledgements, and "
                        "whether its hash chain holds")
    parser.add_argument("--key", metavar="NAME.sign.pub",
                        help="the recorder's public signing key (cuas keys --sign): the report "
                        "states whether the recording's manifest is signed by it")
    parser.add_argument("--step", type=float, default=1.0, metavar="S",
                        help="keep one point per track every S seconds, plus every change of "
                        "threat level (default: 1)")
    parser.add_argument("--summary", metavar="DIR",
                        help="pattern of life over every recording in DIR instead of one report "
                        "(--out .pdf, .html or .json)")


def _format(args: argparse.Namespace) -> str | None:
    if args.format:
        return str(args.format)
    return _BY_SUFFIX.get(Path(args.out).suffix.lower())


def run(args: argparse.Namespace) -> int:
    """Write the report; prints what was written and how long it took."""
    try:
        return _run(args)
    except OSError as exc:  # an unreadable audit log, an unwritable --out
        print(f"cuas report: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from cuas.cli.common import site_config
    from cuas.record.manifest import load_public_key

    started = time.perf_counter()
    config = site_config(args.config)
    if not args.step >= 0:
        print(f"cuas report: error: --step must be >= 0 s, got {args.step}", file=sys.stderr)
        return 2
    if args.summary:
        from cuas.report.summary import pattern_of_life, write_summary

        if args.recording:
            print("cuas report: error: give a RECORDING or --summary DIR, not both",
                  file=sys.stderr)
            return 2
        suffix = Path(args.out).suffix.lower()
        if suffix not in (".pdf", ".html", ".json"):
            print("cuas report: error: --summary writes .pdf, .html or .json", file=sys.stderr)
            return 2
        pol = pattern_of_life(Path(args.summary), config, step_s=max(args.step, 5.0))
        write_summary(pol, args.out)
        print(f"pattern of life: {pol.recordings} recordings, {len(pol.drones)} drones -> "
              f"{args.out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return 0
    if not args.recording:
        print("cuas report: error: a RECORDING is needed (or --summary DIR)", file=sys.stderr)
        return 2
    fmt = _format(args)
    if fmt is None:
        print(f"cuas report: error: cannot tell the format of {args.out}: use --format "
              f"({', '.join(FORMATS)})", file=sys.stderr)
        return 2
    from cuas.report.load import load_incident

    inc = load_incident(args.recording, config, t_from=args.t_from, t_to=args.t_to,
                        track_ids=args.track, step_s=args.step, audit_log=args.audit_log,
                        trusted_key=load_public_key(args.key) if args.key else None)
    out = Path(args.out)
    if fmt in ("pdf", "html"):
        from cuas.report.document import write_html, write_pdf

        (write_pdf if fmt == "pdf" else write_html)(inc, out)
    elif fmt == "foxglove":
        from cuas.report.foxglove import write_foxglove

        write_foxglove(inc, out, step_s=args.step)
    else:
        from cuas.report.exports import EXPORTERS

        out.write_text(EXPORTERS[fmt](inc), encoding="utf-8")
    verdict = f"; integrity: {inc.integrity.status}" if inc.integrity else ""
    print(f"{fmt}: {len(inc.tracks)} tracks, {len(inc.alerts)} alerts, {len(inc.acks)} "
          f"acknowledgements{verdict} -> {out} in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return 0
