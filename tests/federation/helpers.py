"""Site track snapshots for the federation tests: one drone seen by several sites."""

from __future__ import annotations

import numpy as np
import pymap3d

from cuas import wire
from cuas.vocabulary import CLASSES

#: The regional origin of the tests (the reference Wembley frame).
ORIGIN = (51.556, -0.2796, 50.0)


def track(tid: int, enu: tuple[float, float, float], sigma: float = 5.0, *, t: float,
          status: str = "confirmed", threat: str = "none", vel=(0.0, 0.0, 0.0),
          sources: tuple[str, ...] = ("radar-1",)) -> wire.Track:
    """A site track at regional ENU ``enu`` (m), the site's ENU taken as the regional one."""
    lat, lon, h = pymap3d.enu2geodetic(*enu, *ORIGIN)
    probs = {c: (0.7 if c == "uav" else 0.3 / (len(CLASSES) - 1)) for c in CLASSES}
    return wire.Track(id=tid, status=status, lla=(float(lat), float(lon), float(h)),
                      enu=enu, vel=vel, pos_sigma=(sigma, sigma, sigma), t_update=t,
                      sources=sources, class_probs=probs, threat=threat)


def snapshot(src: str, seq: int, t: float, tracks: list[wire.Track]) -> wire.Tracks:
    return wire.Tracks(src=src, seq=seq, t=t, tracks=tuple(tracks))


def noisy(rng: np.random.Generator, truth: np.ndarray, sigma: float) -> tuple[float, float, float]:
    x = truth + rng.normal(scale=sigma, size=3)
    return (float(x[0]), float(x[1]), float(x[2]))
