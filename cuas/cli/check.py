"""``cuas check``: validate a site configuration without starting anything.

Beyond the file's own rules it opens what the configuration names: the CURVE key files (each
must be a key of the right kind: a secret key where a secret is needed, private to its owner),
the allow-list directories, and the TLS files of ``[cot]`` and ``[sapient]``; ``[web]``'s
certificate and key (a matching pair, the key private), accounts file, audit log and basemap.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cuas.config import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="CFG", required=True, help="site configuration (TOML)")


def check_cot_files(config: Config) -> None:
    """Raise :class:`ConfigError` naming the ``[cot]`` TLS file (``ca_file``, ``cert_file``,
    ``key_file``) that is not a file (paths as ``cuas export cot`` opens them)."""
    from cuas.errors import ConfigError

    for name in ("ca_file", "cert_file", "key_file"):
        value = getattr(config.cot, name)
        if value is not None and not Path(value).expanduser().is_file():
            raise ConfigError(f"{value!r} is not a file", path=config.path, key=f"cot.{name}")


def check_files(config: Config) -> list[str]:
    """Open every key, directory and TLS file ``config`` names; raises :class:`ConfigError`
    naming the key at fault, else returns a short note per thing checked."""
    from cuas import bus
    from cuas.errors import ConfigError
    from cuas.sapient.tls import check_files as check_sapient

    notes: list[str] = []
    keys = bus.security(config)  # reads every key file and checks the allow-list directories
    if keys is not None:
        if keys.server_secret is not None and keys.allowed_clients is None:
            raise ConfigError("a daemon's configuration (server_secret_key) needs "
                              "allowed_clients or both allowed_producers and allowed_consumers",
                              path=config.path, key="bus.allowed_clients")
        notes.append("CURVE keys ok")
        if keys.allowed_producers is not None and keys.allowed_consumers is not None:
            notes.append(f"allow lists {keys.allowed_producers} (producers), "
                         f"{keys.allowed_consumers} (consumers)")
    check_cot_files(config)
    sapient = check_sapient(config)
    if sapient:
        notes.append(f"{len(sapient)} SAPIENT TLS files")
    from cuas.web.checks import check_files as check_web

    notes.extend(check_web(config))  # [web]: TLS pair, accounts, audit chain, basemap, bind
    return notes


def run(args: argparse.Namespace) -> int:
    from cuas.config import load_config

    cfg = load_config(args.config)  # raises ConfigError naming file and key
    notes = check_files(cfg)
    sensors = ", ".join(f"{s.id} ({s.kind})" for s in cfg.sensors.values()) or "none"
    extra = f"; {'; '.join(notes)}" if notes else ""
    print(f"{args.config}: ok: site {cfg.site.name} at {cfg.site.lat:.5f}, {cfg.site.lon:.5f}, "
          f"{cfg.site.h:.0f} m; detections {cfg.bus.detections}, tracks {cfg.bus.tracks}; "
          f"sensors: {sensors}{extra}")
    return 0
