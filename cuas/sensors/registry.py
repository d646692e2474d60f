"""The sensor kinds cuas knows, one entry each: the one place a new kind is declared.

Everything that depends on what a kind *is* asks here rather than keeping its own list: the
site configuration (is a batch a full look?), the fusion engine (does the source observe the
aircraft or relay what it says of itself?), ``cuas sensor KIND`` and the simulator. Importing
this module imports no adapter: each kind's code is loaded only when that kind is used.
"""

from __future__ import annotations

from dataclasses import dataclass


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


_KINDS: dict[str, SensorKind] = {}


def register(kind: SensorKind) -> SensorKind:
    """Add (or replace) a kind; returns it."""
    _KINDS[kind.name] = kind
    return kind


def get(name: str) -> SensorKind:
    """The registered kind ``name``; an unknown kind (a message from a newer sensor) is an
    observing, non-scanning sensor with no further knowledge."""
    found = _KINDS.get(name)
    return found if found is not None else SensorKind(name=name, summary="")


def kinds() -> tuple[SensorKind, ...]:
    """Every registered kind, in registration order."""
    return tuple(_KINDS.values())


register(SensorKind("radar", "radar plots (range, azimuth, elevation or positions)",
                    scanning=True))
register(SensorKind("sim", "the built-in simulator's generic scanning sensor", scanning=True))
# Not cameras, though they report every frame: a frame sees only its field of view, and 30
# frames a second counted as misses would delete, between two radar scans, every track the
# camera does not point at. Cooperative feeds report one target at a time.
register(SensorKind("camera", "camera: moving objects in the sky as azimuth/elevation bearings"))
register(SensorKind("rf", "RTL-SDR spectrum scan for drone control and video links"))
register(SensorKind("adsb", "ADS-B from dump1090/readsb or a capture file", cooperative=True))
register(SensorKind("remoteid", "Remote ID (ASTM F3411) broadcasts", cooperative=True))
register(SensorKind("sapient", "SAPIENT (BSI Flex 335) sensor modules"))
