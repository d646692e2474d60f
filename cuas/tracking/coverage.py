"""Sensor coverage: which tracks a sensor's look could have seen, and how likely it was to.

A track is charged a miss only by a sensor that should have seen it: a scanning sensor, the
track inside its range and its azimuth and elevation sectors (the sensor's own ENU frame), and
no detection or miss of the track within the sensor's revisit time (a sensor reporting its
sectors in several batches per revisit, or a slow sensor beside a fast one, never charges a
track twice per look). The probability of detection falls with range: Pd(r) = Pd / (1 +
(r / r½)⁴), half of it at ``pd_half_range_m``; a miss costs the track's score ln(1 − Pd(r)) and
counts towards coasting and deletion only where Pd(r) is at least half of Pd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

#: A miss counts towards coasting/deletion only where the sensor sees at least this fraction
#: of its nominal Pd.
COUNTED_FRACTION = 0.5
#: Looks closer together than this fraction of the revisit time are one look.
REVISIT_TOLERANCE = 0.75


@dataclass(frozen=True, slots=True)
class Coverage:
    """What one sensor's batch looks at. ``scanning``: a batch is a full look at the coverage
    (otherwise nothing it leaves out is missed); ``max_range_m`` (m), ``azimuth_deg`` (from,
    to: clockwise from true north at the sensor, degrees; the sector may wrap through north),
    ``elevation_deg`` (lowest, highest, degrees); ``revisit_s`` (s) the time between two looks
    at one point; ``pd_half_range_m`` (m) where the detection probability halves (None: no
    fall with range). Unset bounds do not limit."""

    scanning: bool = False
    max_range_m: float | None = None
    azimuth_deg: tuple[float, float] | None = None
    elevation_deg: tuple[float, float] | None = None
    revisit_s: float = 0.0
    pd_half_range_m: float | None = None

    @property
    def needs_frame(self) -> bool:
        """True when deciding coverage needs the track's place relative to the sensor."""
        return (self.max_range_m is not None or self.azimuth_deg is not None
                or self.elevation_deg is not None or self.pd_half_range_m is not None)

    def relative_pd(self, local: F64 | None) -> F64:
        """Pd(r) / Pd in [0, 1] of points ``local`` (N,3), sensor ENU metres: 0 outside the
        coverage. ``local`` None (the sensor's place unknown): 1 everywhere it is asked."""
        if local is None:
            return np.ones(0)
        n = len(local)
        out = np.ones(n)
        if not self.needs_frame:
            return out
        rng = np.linalg.norm(local, axis=1)
        if self.max_range_m is not None:
            out[rng > self.max_range_m] = 0.0
        if self.azimuth_deg is not None:
            az = np.degrees(np.arctan2(local[:, 0], local[:, 1])) % 360.0
            lo, hi = self.azimuth_deg[0] % 360.0, self.azimuth_deg[1] % 360.0
            width = (hi - lo) % 360.0
            if width > 0.0:  # a zero-width sector (from == to) is the full circle
                out[(az - lo) % 360.0 > width] = 0.0
        if self.elevation_deg is not None:
            el = np.degrees(np.arctan2(local[:, 2], np.hypot(local[:, 0], local[:, 1])))
            out[(el < self.elevation_deg[0]) | (el > self.elevation_deg[1])] = 0.0
        if self.pd_half_range_m is not None:
            out /= 1.0 + (rng / self.pd_half_range_m) ** 4
        return out

    def due(self, since_seen: F64) -> NDArray[np.bool_]:
        """Which tracks this look may charge a miss, from the time (s, (N,)) since each was
        last detected or charged a miss by any sensor."""
        return np.asarray(since_seen >= REVISIT_TOLERANCE * self.revisit_s)
