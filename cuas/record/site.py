"""The site travels with the data: a recording carries the site configuration it was made
with (an MCAP metadata record named ``cuas.site``: the TOML text of the site file and where
it came from), so that ``cuas replay --offline`` judges zones and assets as the site did.

A JSON Lines recording has no metadata: it carries none, and replays with the configuration
given (or the bundled default).
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

from mcap.reader import make_reader

from cuas.config import Config, parse_config
from cuas.errors import ConfigError

log = logging.getLogger(__name__)

#: The metadata record's name, and its keys.
METADATA_NAME = "cuas.site"
FORMAT = "cuas-site-toml/1"
#: A site file larger than this (bytes) is not embedded (site files are a few kB).
MAX_SITE_BYTES = 1_000_000


def site_metadata(config: Config) -> dict[str, str] | None:
    """The metadata of ``config``'s site file ({"format", "source": its file name, "toml"}),
    None when the configuration was not read from a file (the built-in reference) or the
    file is gone."""
    if not config.path:
        return None
    try:
        text = Path(config.path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("site file %s not embedded in the recording: %s", config.path, exc)
        return None
    if len(text.encode("utf-8")) > MAX_SITE_BYTES:
        log.warning("site file %s not embedded: larger than %d bytes", config.path,
                    MAX_SITE_BYTES)
        return None
    # The file's name only: a recording must not depend on where the checkout lives (the
    # golden digests pin recordings byte for byte).
    return {"format": FORMAT, "source": Path(config.path).name, "toml": text}


def read_site(path: str | os.PathLike[str]) -> Config | None:
    """The site configuration a recording carries, None when it carries none (JSON Lines, an
    older recording, a torn file without its summary). A carried one that does not parse is
    an error naming the recording: replaying with another site would silently judge wrong."""
    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        return None
    try:
        with open(p, "rb") as f:
            found = None
            for record in make_reader(f).iter_metadata():
                if record.name == METADATA_NAME:
                    found = dict(record.metadata)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(p)) from None
    except Exception as exc:  # noqa: BLE001 - a torn or foreign file: no metadata to use
        log.info("%s: no site metadata read (%s: %s)", p, type(exc).__name__, exc)
        return None
    if found is None:
        return None
    where = f"{p} (embedded site {found.get('source', '?')})"
    if found.get("format") != FORMAT:
        raise ConfigError(f"unknown site metadata format {found.get('format')!r}", path=where)
    try:
        doc = tomllib.loads(found.get("toml", ""))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where) from None
    return parse_config(doc, path=where)
