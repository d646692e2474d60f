"""The alert policy (``[alerts]``): which threat changes reach an operator as an ``alert``."""

from __future__ import annotations

from dataclasses import dataclass

from cuas.errors import ConfigError
from cuas.vocabulary import THREAT_LEVELS


@dataclass(frozen=True, slots=True)
class AlertPolicyConfig:
    """When a track raises an alert (seconds; levels from ``THREAT_LEVELS``).

    A track alerts when its level rises to ``min_level`` or above (once per level change:
    falling and rising again is a new change), and, with ``zone_entry``, when a likely drone
    (drone more probable than any other class) enters a zone. ``rate_limit_s`` is the least
    time between two alerts of one track; a change held back by it is sent when the time is up
    if the track is still at that level. Friendly (allow-listed, ADS-B) tracks never alert.
    """

    min_level: str = "high"
    zone_entry: bool = True
    rate_limit_s: float = 30.0

    def __post_init__(self) -> None:
        if self.min_level not in THREAT_LEVELS[1:]:
            raise ConfigError(f"must be one of {', '.join(THREAT_LEVELS[1:])}",
                              key="alerts.min_level")
        if not 0.0 <= self.rate_limit_s <= 86_400.0:
            raise ConfigError("must lie in [0, 86400]", key="alerts.rate_limit_s")
