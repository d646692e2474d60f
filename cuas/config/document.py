"""The whole site configuration: the ``Config`` document, reading it from TOML and validating
every section once, where it enters."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cuas.config.alerts import AlertPolicyConfig
from cuas.config.bus import BusConfig
from cuas.config.coerce import build, coerce, tables
from cuas.config.daemon import ClassifyConfig, DaemonConfig, TrackerConfig
from cuas.config.federation import FederationConfig
from cuas.config.outputs import CotConfig, SapientConfig
from cuas.config.sensors import SensorConfig, parse_sensor
from cuas.config.site import (
    AssetConfig,
    IdentityList,
    SiteConfig,
    ZoneConfig,
    parse_asset,
    parse_identity_list,
    parse_zone,
)
from cuas.config.web import WebConfig
from cuas.errors import ConfigError
from cuas.validation import brief

#: ``daemon_id`` is the ``src`` of every message the daemon publishes, and the wire schema
#: (``wire.schema.json``) caps ``src`` at 128 characters.
MAX_DAEMON_ID = 128


@dataclass(frozen=True, slots=True)
class Config:
    """A whole site configuration."""

    site: SiteConfig = field(default_factory=SiteConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    bus: BusConfig = field(default_factory=BusConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    sensors: Mapping[str, SensorConfig] = field(default_factory=dict)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    zones: tuple[ZoneConfig, ...] = ()
    assets: tuple[AssetConfig, ...] = ()
    #: Friendly aircraft and drones (police, broadcasters, the venue's own) and known hostiles.
    allow: IdentityList = field(default_factory=IdentityList)
    deny: IdentityList = field(default_factory=IdentityList)
    #: The id this daemon publishes under (`src` of tracks and status).
    daemon_id: str = "cuas"
    #: ``cuas sapient serve`` / ``export`` settings (``[sapient]``).
    sapient: SapientConfig = field(default_factory=SapientConfig)
    #: ``cuas export cot`` settings (``[cot]``).
    cot: CotConfig = field(default_factory=CotConfig)
    #: ``cuas bridge nats`` / ``cuas federate`` settings (``[federation]``).
    federation: FederationConfig = field(default_factory=FederationConfig)
    #: ``cuas web`` settings (``[web]``).
    web: WebConfig = field(default_factory=WebConfig)
    path: str | None = None
    #: Which threat changes raise an ``alert`` (``[alerts]``).
    alerts: AlertPolicyConfig = field(default_factory=AlertPolicyConfig)

    def sensor(self, sensor_id: str, kind: str = "sim") -> SensorConfig:
        """The configured sensor, or a default one of ``kind`` when the config does not name it."""
        found = self.sensors.get(sensor_id)
        return found if found is not None else SensorConfig(id=sensor_id, kind=kind)


def reference_config() -> Config:
    """The built-in reference defaults (Wembley Stadium, no sensors configured)."""
    return Config()



def parse_config(doc: Mapping[str, Any], path: str | None = None) -> Config:
    """Validate a parsed TOML document into a :class:`Config`."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"expected a table, got {brief(doc)}", path=path)
    known = {"site", "tracker", "bus", "daemon", "sensors", "daemon_id", "classify", "zones",
             "assets", "allow", "deny", "sapient", "cot", "federation", "web",
             "alerts"}
    for k in doc:
        if k not in known:
            raise ConfigError(f"unknown section (known: {', '.join(sorted(known))})", path=path, key=k)
    site = build(SiteConfig, doc.get("site", {}), "site", path)
    tracker = build(TrackerConfig, doc.get("tracker", {}), "tracker", path)
    bus = build(BusConfig, doc.get("bus", {}), "bus", path)
    daemon = build(DaemonConfig, doc.get("daemon", {}), "daemon", path)
    sensors_doc = doc.get("sensors", {})
    if not isinstance(sensors_doc, dict):
        raise ConfigError("expected a table of sensors", path=path, key="sensors")
    sensors: dict[str, SensorConfig] = {}
    for sid, table in sensors_doc.items():
        sensors[sid] = parse_sensor(sid, table, path)
    daemon_id = coerce(doc.get("daemon_id", "cuas"), str, "daemon_id", path)
    if len(daemon_id) > MAX_DAEMON_ID:
        raise ConfigError(f"longer than {MAX_DAEMON_ID} characters", path=path, key="daemon_id")
    classify = build(ClassifyConfig, doc.get("classify", {}), "classify", path)
    zones = tuple(parse_zone(zid, table, path) for zid, table in tables(doc, "zones", path))
    assets = tuple(parse_asset(aid, table, path) for aid, table in tables(doc, "assets", path))
    return Config(site=site, tracker=tracker, bus=bus, daemon=daemon, sensors=sensors,
                  daemon_id=daemon_id, classify=classify, zones=zones, assets=assets,
                  allow=parse_identity_list(doc, "allow", path),
                  deny=parse_identity_list(doc, "deny", path),
                  sapient=build(SapientConfig, doc.get("sapient", {}), "sapient", path),
                  cot=build(CotConfig, doc.get("cot", {}), "cot", path),
                  federation=build(FederationConfig, doc.get("federation", {}), "federation",
                                   path),
                  web=build(WebConfig, doc.get("web", {}), "web", path),
                  path=path,
                  alerts=build(AlertPolicyConfig, doc.get("alerts", {}), "alerts", path))


def load_config(path: str | Path) -> Config:
    """Read and validate a site configuration file (TOML)."""
    p = str(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ConfigError("file not found", path=p) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=p) from None
    except ValueError as exc:  # open() rejects a path with a NUL byte with ValueError
        raise ConfigError(f"cannot open: {exc}", path=p) from None
    # Reading and parsing are separate so that each failure below is reported for what it is.
    # Before, invalid UTF-8 (UnicodeDecodeError: tomllib decodes the bytes itself), deeply
    # nested arrays or inline tables (RecursionError: tomllib parses them recursively) and an
    # integer literal of more than 4300 digits (a plain ValueError from int()) escaped bare.
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not valid UTF-8 (byte {exc.start})", path=p) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=p) from None
    except RecursionError:
        raise ConfigError("not valid TOML: nested too deeply", path=p) from None
    except ValueError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=p) from None
    return parse_config(doc, p)
