"""Small builders for tracker tests (messages exactly as a sensor would send them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from cuas import wire

T0 = 1_790_000_000.0


def enu_det(z: Sequence[float], sigma: float = 5.0, **kw: object) -> wire.Detection:
    s2 = sigma * sigma
    return wire.Detection(frame="enu", z=tuple(float(v) for v in z),
                          R=(s2, 0.0, 0.0, 0.0, s2, 0.0, 0.0, 0.0, s2),
                          sigma=(sigma,) * 3, **kw)  # type: ignore[arg-type]


def batch(t: float, dets: Iterable[wire.Detection], sensor: str = "radar-1", kind: str = "sim",
          seq: int = 0, origin: tuple[float, float, float] | None = None) -> wire.Detections:
    return wire.Detections(src=sensor, seq=seq, t=t, sensor=sensor, kind=kind,
                           dets=tuple(dets), origin=origin)


def check_table_invariants(tracker: object) -> None:
    """The track table must never be corrupted, whatever came in."""
    from cuas.fusion.engine import FusionEngine

    assert isinstance(tracker, FusionEngine)
    tab = tracker.tracker.table
    assert np.all(np.isfinite(tab.x))
    assert np.all(np.isfinite(tab.P))
    assert np.all(np.diff(tab.ids) > 0), "ids must be unique and ascending"
    sym = np.abs(tab.P - np.swapaxes(tab.P, 1, 2)).max() if tab.n else 0.0
    assert sym <= 1e-9 * max(1.0, float(np.abs(tab.P).max()) if tab.n else 1.0)
    if tab.n:
        assert np.all(np.linalg.eigvalsh(tab.P) > 0)
    idents = tab.ident[tab.ident >= 0]
    assert len(np.unique(idents)) == len(idents), "an identity is held by one track at most"
