"""Simulated camera: ``ae`` bearings from the camera's origin, one batch per frame, only targets
inside the field of view and big enough in pixels; angle sigma from the centroid's pixel noise;
``bbox``, ``area_px``, ``contrast``; occasional false blobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cuas import geo, wire
from cuas.sim.scenario import SensorSpec
from cuas.sim.sensing import (
    Clock,
    MessageBuilder,
    SimMessage,
    azimuth_360,
    diag_r,
    mover_size_m,
    wrap180,
)

if TYPE_CHECKING:
    from cuas.sim.scenario import Scenario
    from cuas.sim.truth import ScenarioTruth


@dataclass(frozen=True, kw_only=True, slots=True)
class CameraSpec(SensorSpec):
    """A fixed camera looking along ``azimuth_deg``/``elevation_deg`` with an ``hfov_deg`` x
    ``vfov_deg`` field of view on a ``width_px`` x ``height_px`` sensor (degrees per pixel =
    hfov / width). A target is seen (with ``pd``) when it is in the field of view, within range
    and at least ``min_size_px`` across; its bearing carries ``pixel_sigma`` px of centroid noise,
    i.e. an angle sigma of pixel_sigma * deg-per-pixel. ``false_blobs`` mean per frame."""

    azimuth_deg: float = 0.0
    elevation_deg: float = 5.0
    hfov_deg: float = 40.0
    vfov_deg: float = 22.5
    width_px: int = 1920
    height_px: int = 1080
    pixel_sigma: float = 1.5
    min_size_px: float = 2.0
    pd: float = 0.9
    false_blobs: float = 0.1


def camera_deg_per_px(spec: CameraSpec) -> float:
    """Angular size of one pixel (deg)."""
    return spec.hfov_deg / spec.width_px


def simulate(spec: CameraSpec, sc: Scenario, truth: ScenarioTruth, site: geo.SiteFrame,
             rng: np.random.Generator) -> list[SimMessage]:
    """The camera's messages (one per frame) over the scenario run."""
    frame = site.sensor(spec.origin)
    b = MessageBuilder(spec, sc.t0)
    clock = Clock(spec, rng, sc.duration_s)
    dpp = camera_deg_per_px(spec)
    sig = spec.pixel_sigma * dpp
    sig_t = (sig, sig)
    r_t = diag_r(sig_t)
    size = np.array([mover_size_m(sc.movers[o]) for o in truth.owner.tolist()])
    w_px, h_px = float(spec.width_px), float(spec.height_px)
    looks = clock.looks()
    pos_all, _, alive_all = truth.at(looks)

    def blob(x: float, y: float, s: float, contrast: float) -> tuple[tuple[float, float], dict[str, Any]]:
        """(az, el) of the pixel (x, y) and the adapter's attrs for a blob s px across."""
        az = spec.azimuth_deg + (x - w_px / 2.0) * dpp
        el = spec.elevation_deg - (y - h_px / 2.0) * dpp
        bw, bh = max(s, 1.0), max(0.6 * s, 1.0)
        attrs = {"bbox": [round(x - bw / 2, 1), round(y - bh / 2, 1), round(bw, 1), round(bh, 1)],
                 "area_px": round(bw * bh, 1), "contrast": round(contrast, 3)}
        return (azimuth_360(az), el), attrs

    for k, tr in enumerate(looks.tolist()):
        rae = geo.local_to_rae(frame.site_to_local(pos_all[k]))
        daz = wrap180(rae[:, 1] - spec.azimuth_deg)
        dele = rae[:, 2] - spec.elevation_deg
        size_px = np.degrees(size / np.maximum(rae[:, 0], 1.0)) / dpp
        seen = (alive_all[k] & (np.abs(daz) <= spec.hfov_deg / 2) & (np.abs(dele) <= spec.vfov_deg / 2)
                & (rae[:, 0] <= spec.max_range_m) & (size_px >= spec.min_size_px)
                & (rng.random(len(rae)) < spec.pd))
        dets: list[wire.Detection] = []
        ids: list[str | None] = []
        for i in np.flatnonzero(seen).tolist():
            # Centroid noise in pixels; a blob stays on the image.
            x = float(np.clip(w_px / 2 + daz[i] / dpp + rng.normal(0.0, spec.pixel_sigma), 0.0, w_px))
            y = float(np.clip(h_px / 2 - dele[i] / dpp + rng.normal(0.0, spec.pixel_sigma), 0.0, h_px))
            z, attrs = blob(x, y, float(size_px[i]), float(rng.uniform(0.2, 0.6)))
            dets.append(wire.Detection(frame="ae", z=z, R=r_t, sigma=sig_t, attrs=attrs))
            ids.append(truth.ids[i])
        for _ in range(int(rng.poisson(spec.false_blobs))):
            z, attrs = blob(float(rng.uniform(0, w_px)), float(rng.uniform(0, h_px)),
                            float(rng.uniform(spec.min_size_px, 3 * spec.min_size_px)),
                            float(rng.uniform(0.05, 0.2)))
            dets.append(wire.Detection(frame="ae", z=z, R=r_t, sigma=sig_t, attrs=attrs))
            ids.append(None)
        b.emit(tr, clock.delay(), dets, ids, origin=spec.origin,
               lost=bool(rng.random() < spec.dropout))
    return b.messages()


