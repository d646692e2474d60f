"""``cuas sensor <kind>``: run one sensor adapter as a process of its own.

Each kind lives in its own module (``cuas/sensors/<kind>.py``) exposing ``add_arguments(parser)``
and ``run(args) -> int``; only the chosen kind's module is imported, so one sensor's optional
dependencies are needed only by that sensor. To add a kind, add a line to :data:`KINDS`.
"""

from __future__ import annotations

import argparse
import importlib

#: kind -> (module, one-line help)
KINDS: dict[str, tuple[str, str]] = {
    "adsb": ("cuas.sensors.adsb.decode",
             "ADS-B from dump1090/readsb (Beast 30005, SBS 30003) or a capture file"),
    "rf": ("cuas.sensors.rf.source",
           "RTL-SDR spectrum scan for drone control/video links: rtltcp://, rtlsdr:// or a cu8 file"),
    "remoteid": ("cuas.sensors.remoteid.source",
                 "Remote ID (ASTM F3411): pcap/pcapng, monitor-mode Wi-Fi or wardragon://HOST:PORT"),
    "camera": ("cuas.sensors.camera.source",
               "camera (device, RTSP/HTTP URL or video file): moving objects in the sky as az/el"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sensor``: the kind, then that kind's own arguments."""
    lines = "\n".join(f"  {k:<10} {h}" for k, (_, h) in KINDS.items())
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = f"kinds:\n{lines}\n\n`cuas sensor KIND --help` lists a kind's options."
    parser.add_argument("kind", choices=sorted(KINDS), metavar="KIND", help="sensor kind")
    parser.add_argument("kind_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Parse the kind's own arguments and run it."""
    module_name, help_text = KINDS[args.kind]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"cuas sensor {args.kind}", description=help_text)
    module.add_arguments(parser)
    kind_args = parser.parse_args(args.kind_args)
    kind_args.verbose = getattr(args, "verbose", 0)
    return int(module.run(kind_args))
