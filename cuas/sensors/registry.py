"""The sensor kinds cuas knows, one entry each: the one place a new kind is declared.

Everything that depends on what a kind *is* asks here rather than keeping its own list: the
site configuration (is a batch a full look? what does ``[sensors.<id>.<kind>]`` hold?), the
fusion engine (does the source observe the aircraft or relay what it says of itself?),
``cuas sensor KIND`` and the simulator. Importing this module imports no adapter: a kind's
code is named by ``"module:attribute"`` strings and loaded only when that kind is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


def resolve(ref: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names (imported on first use)."""
    module_name, sep, attribute = ref.partition(":")
    if not sep or not attribute:
        raise ValueError(f"expected 'module:attribute', got {ref!r}")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass(frozen=True, slots=True)
class SensorKind:
    """What the rest of cuas needs to know about one kind of sensor."""

    #: The ``kind`` field of its ``detections`` messages and of ``[sensors.<id>]`` tables.
    name: str
    #: One line for ``cuas sensor --help`` and the docs.
    summary: str
    #: Each batch is a full look at the sensor's coverage: a track it does not report has been
    #: missed (a radar scan). False for sensors that report only what they happen to hear.
    scanning: bool = False
    #: Relays what an aircraft broadcasts about itself (ADS-B, Remote ID) rather than observing
    #: it; a track seen only by such sources has no independent confirmation.
    cooperative: bool = False
    #: The adapter's settings: ``"module:function"`` of ``parse(table, key, path)`` returning
    #: the validated settings dataclass (raising ConfigError naming ``key``) ...
    settings: str | None = None
    #: ... and the table it reads, ``[sensors.<id>.<settings_table>]`` (default: the name).
    table: str | None = None
    #: The module of ``cuas sensor <name>``: ``add_arguments(parser)`` and ``run(args) -> int``.
    cli: str | None = None
    #: Scenario files: ``"module:Class"`` of the simulated sensor's spec (a ``SensorSpec``
    #: dataclass, ``[sensors.<id>]`` of a scenario with this kind) ...
    sim_spec: str | None = None
    #: ... and ``"module:function"`` of ``simulate(spec, scenario, truth, site, rng)`` giving
    #: that sensor's messages.
    sim_model: str | None = None

    @property
    def settings_table(self) -> str | None:
        """The name of the kind's settings table, or None when it has no settings."""
        if self.settings is None:
            return None
        return self.table if self.table is not None else self.name

    def parse_settings(self, table: Any, key: str, path: str | None) -> object:
        """The kind's settings from its TOML table at dotted ``key`` (ConfigError when bad)."""
        if self.settings is None:
            raise ValueError(f"sensor kind {self.name!r} has no settings")
        return resolve(self.settings)(table, key, path)

    def cli_module(self) -> ModuleType:
        """The module of ``cuas sensor <name>`` (imported now)."""
        if self.cli is None:
            raise ValueError(f"sensor kind {self.name!r} has no `cuas sensor` command")
        return importlib.import_module(self.cli)

    @property
    def simulated(self) -> bool:
        """Whether scenario files may simulate a sensor of this kind."""
        return self.sim_spec is not None and self.sim_model is not None


_KINDS: dict[str, SensorKind] = {}


def register(kind: SensorKind) -> SensorKind:
    """Add (or replace) a kind; returns it."""
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (a test's toy kind); no error if it is not registered."""
    _KINDS.pop(name, None)


def get(name: str) -> SensorKind:
    """The registered kind ``name``; an unknown kind (a message from a newer sensor) is an
    observing, non-scanning sensor with no further knowledge."""
    found = _KINDS.get(name)
    return found if found is not None else SensorKind(name=name, summary="")


def kinds() -> tuple[SensorKind, ...]:
    """Every registered kind, in registration order."""
    return tuple(_KINDS.values())


def _built_in(name: str, summary: str, *, scanning: bool = False, cooperative: bool = False,
              parts: tuple[str, ...] = ("settings", "cli", "sim"),
              spec: str | None = None) -> SensorKind:
    """A kind shipped with cuas, laid out by convention in ``cuas/sensors/<name>/``:
    ``settings.py:parse_settings``, ``cli.py`` and ``sim.py`` (``simulate`` and the spec class
    ``spec``), each only where ``parts`` names it."""
    package = f"cuas.sensors.{name}"
    return register(SensorKind(
        name, summary, scanning=scanning, cooperative=cooperative,
        settings=f"{package}.settings:parse_settings" if "settings" in parts else None,
        cli=f"{package}.cli" if "cli" in parts else None,
        sim_spec=f"{package}.sim:{spec}" if "sim" in parts else None,
        sim_model=f"{package}.sim:simulate" if "sim" in parts else None))


_built_in("radar", "radar plots (range, azimuth, elevation or positions)", scanning=True,
          parts=("settings", "sim"), spec="RadarSpec")
register(SensorKind("sim", "the built-in simulator's generic scanning sensor", scanning=True))
# Not cameras, though they report every frame: a frame sees only its field of view, and 30
# frames a second counted as misses would delete, between two radar scans, every track the
# camera does not point at. Cooperative feeds report one target at a time.
_built_in("camera", "camera (device, RTSP/HTTP URL or video file): moving objects in the sky "
          "as az/el bearings", spec="CameraSpec")
_built_in("rf", "RTL-SDR spectrum scan for drone control/video links: rtltcp://, rtlsdr:// or a "
          "cu8 file", spec="RfSpec")
_built_in("adsb", "ADS-B from dump1090/readsb (Beast 30005, SBS 30003) or a capture file",
          cooperative=True, spec="AdsbSpec")
_built_in("remoteid", "Remote ID (ASTM F3411): pcap/pcapng, monitor-mode Wi-Fi or "
          "wardragon://HOST:PORT", cooperative=True, spec="RemoteIdSpec")
register(SensorKind("sapient", "SAPIENT (BSI Flex 335) sensor modules"))
