"""Small builders for tracker tests (messages exactly as a sensor would send them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from cuas import wire

if TYPE_CHECKING:
    from cuas.fusion.engine import FusionEngine

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


def shallow_crossing_ids(engine: FusionEngine) -> tuple[dict[str, int], dict[str, int]]:
    """Feed ``engine`` two drones (a, b) crossing at a shallow angle at one height, ENU
    detections with 4 m noise at 1 s scans for 40 s (within each other's gate for several
    scans), and return which confirmed track id held each before (12 s) and after (36 s)."""
    rng = np.random.default_rng(4)
    a0, av = np.array([-400.0, -40.0, 100.0]), np.array([20.0, 2.0, 0.0])
    b0, bv = np.array([-400.0, 40.0, 100.0]), np.array([20.0, -2.0, 0.0])
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    for k in range(40):
        truth = {"a": a0 + av * k, "b": b0 + bv * k}
        dets = [enu_det(p + rng.normal(0, 4, 3), 4.0) for p in truth.values()]
        engine.process(batch(T0 + k, dets))
        if k in (12, 36):
            snap = engine.snapshot(T0 + k)
            tracks = [tr for tr in snap.tracks if tr.status == "confirmed"]
            assert len(tracks) == 2
            for name, p in truth.items():
                dist = [np.linalg.norm(np.array(tr.enu) - p) for tr in tracks]
                (before if k == 12 else after)[name] = tracks[int(np.argmin(dist))].id
    return before, after
