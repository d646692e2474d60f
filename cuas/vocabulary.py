"""The words every package shares, defined once: track statuses, threat levels, object classes,
component states, and the Earth radii used by height corrections and distance conversions.

A leaf module: imports nothing from cuas. The wire contract (``docs/wire.md``) fixes the
spelling and order of each tuple; codes elsewhere are indices into them.
"""

from __future__ import annotations

from typing import Final

#: A track's life cycle, in order; ``tracking`` stores the index as its status code.
TRACK_STATUSES: Final = ("tentative", "confirmed", "coasting", "deleted")
#: Threat levels, least to most severe; zones and alerts use the same scale.
THREAT_LEVELS: Final = ("none", "low", "medium", "high", "critical")
#: Object classes of the classifier, in the column order of its probabilities.
CLASSES: Final = ("uav", "bird", "manned", "clutter")
#: Motion modes of the tracker's interacting-multiple-model filter, in the column order of its
#: mode probabilities: near-constant position, constant velocity, manoeuvring.
MOTION_MODES: Final = ("hover", "constant_velocity", "manoeuvre")
#: A component's health in its ``status`` heartbeat.
COMPONENT_STATES: Final = ("ok", "degraded", "down")
#: Mean Earth radius (m), for the curvature drop of a local ENU frame (d**2 / 2R).
EARTH_RADIUS_M: Final = 6_371_000.0
#: The IUGG mean Earth radius (m), for great-circle distances and metres per degree. Kept
#: apart from EARTH_RADIUS_M: the two are used where they were, so that no figure moves.
IUGG_MEAN_RADIUS_M: Final = 6_371_008.8
