"""Builders shared by the classifier tests: TrackInputs by hand, sites with zones, and wire
batches of hand-made targets for end-to-end runs through the tracker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cuas import wire
from cuas.classify import TrackInputs
from cuas.config import Config, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
WEMBLEY_TOML = ROOT / "configs" / "wembley.toml"
T0 = 1_800_000_000.0


def wembley() -> Config:
    return load_config(WEMBLEY_TOML)


def site(**sections: Any) -> Config:
    """A config with a 100 m square no-fly zone round the origin and an asset at the origin."""
    doc: dict[str, Any] = {
        "zones": {"box": {"label": "test box", "kind": "no_fly", "level": "critical",
                          "crowd": True, "floor_m": 0.0, "ceiling_m": 150.0,
                          "enu": [[-50, -50], [50, -50], [50, 50], [-50, 50]]}},
        "assets": {"centre": {"label": "the centre", "enu": [0, 0, 0], "radius_m": 50}},
    }
    doc.update(sections)
    return parse_config(doc)


def inputs(x: Any, *, t: float = T0, ids: Any = None, pos_sigma: float = 2.0,
           vel_sigma: float = 1.0, firm: bool = True, deleted: Any = None, age: float = 60.0,
           hit_ratio: float = 1.0, n_sources: float = 2.0, ident: Any = None) -> TrackInputs:
    """TrackInputs for states ``x`` (N,6), all tracks alike unless given per track."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = len(x)
    return TrackInputs(
        t=t, ids=np.arange(1, n + 1, dtype=np.int64) if ids is None else np.asarray(ids),
        x=x, pos_sigma=np.full((n, 3), pos_sigma), vel_sigma=np.full((n, 3), vel_sigma),
        firm=np.full(n, firm), deleted=np.zeros(n, bool) if deleted is None else np.asarray(
            deleted), t_birth=np.full(n, t - age), hit_ratio=np.full(n, hit_ratio),
        n_sources=np.full(n, n_sources),
        ident=np.full(n, -1, dtype=np.int64) if ident is None else np.asarray(ident))


def enu_batch(sensor: str, t: float, points: list[tuple[float, float, float]], *,
              seq: int = 0, kind: str = "radar", sigma: float = 3.0,
              idents: list[dict[str, Any] | None] | None = None,
              vels: list[tuple[float, float, float] | None] | None = None) -> wire.Detections:
    """A validated ``detections`` message of ENU points (metres), as a sensor would send it."""
    dets = []
    for i, p in enumerate(points):
        d: dict[str, Any] = {"frame": "enu", "z": list(p), "sigma": [sigma] * 3}
        if idents and idents[i] is not None:
            d["ident"] = idents[i]
        if vels and vels[i] is not None:
            d["vel"] = list(vels[i])  # type: ignore[arg-type]
        dets.append(d)
    msg = wire.from_dict({"v": 1, "type": "detections", "src": sensor, "seq": seq, "t": t,
                          "sensor": sensor, "kind": kind, "dets": dets})
    assert isinstance(msg, wire.Detections)
    return msg


def rf_batch(t: float, *, seq: int = 0, freq_hz: float = 868e6,
             protocol: str = "fhss") -> wire.Detections:
    """One RF dwell hearing a control link (no position)."""
    msg = wire.from_dict({"v": 1, "type": "detections", "src": "rf-1", "seq": seq, "t": t,
                          "sensor": "rf-1", "kind": "rf",
                          "dets": [{"frame": "none", "z": [],
                                    "attrs": {"freq_hz": freq_hz, "protocol": protocol}}]})
    assert isinstance(msg, wire.Detections)
    return msg
