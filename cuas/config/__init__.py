"""Site configuration: TOML files in ``configs/``, validated once into frozen dataclasses.

Owns the schema of every subsystem's section (one module each) and the strict coercer
(:mod:`.coerce`); imports only errors, and the sensor kind registry for ``[sensors.<id>]``.

Every error names the file, the dotted key and the problem. Unknown keys are errors too: a
misspelt key in a security system's config must not be silently ignored.
"""

from cuas.config.bus import BUS_SECURITY, BusConfig, is_host_port, is_local_endpoint
from cuas.config.daemon import ClassifyConfig, DaemonConfig, TrackerConfig
from cuas.config.document import (
    MAX_DAEMON_ID,
    Config,
    load_config,
    parse_config,
    reference_config,
)
from cuas.config.federation import FederationConfig
from cuas.config.outputs import COT_SCHEMES, CotConfig, SapientConfig, SapientNodeConfig
from cuas.config.sensors import SensorConfig
from cuas.config.site import (
    WEMBLEY,
    ZONE_KINDS,
    AssetConfig,
    IdentityList,
    SiteConfig,
    ZoneConfig,
)
from cuas.config.web import WebConfig

__all__ = [
    "BUS_SECURITY", "COT_SCHEMES", "MAX_DAEMON_ID", "WEMBLEY", "ZONE_KINDS",
    "AssetConfig", "BusConfig", "ClassifyConfig", "Config", "CotConfig", "DaemonConfig",
    "FederationConfig",
    "IdentityList", "SapientConfig", "SapientNodeConfig", "SensorConfig", "SiteConfig",
    "TrackerConfig", "ZoneConfig", "is_host_port", "is_local_endpoint", "load_config",
    "parse_config", "reference_config",
    "WebConfig",
]
