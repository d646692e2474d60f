"""Simulated camera: ``ae`` bearings from the camera's origin, one batch per frame, only targets
inside the field of view and big enough in pixels; angle sigma from the centroid's pixel noise;
``bbox``, ``area_px``, ``contrast``; occasional false blobs.

With ``classify`` (default), each detection also carries what the real appearance classifier
would have said: a model class drawn from the confusion matrix measured on the validation clips
(``appearance_confusion.json``, written by ``tools/train_camera_classifier.py``) for the
target's true class, the camera's modality and the target's size in pixels; ``attrs``
``label``/``label_confidence`` and ``evidence`` whose likelihood is that matrix's column for
the drawn label (P(label | class), the exact likelihood of such a report).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from cuas import geo, wire
from cuas.errors import ConfigError
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
    #: Label detections as the appearance classifier would (see the module's docstring), for
    #: a ``visible`` or ``thermal`` camera.
    classify: bool = True
    modality: str = "visible"

    def __post_init__(self) -> None:
        SensorSpec.__post_init__(self)
        if self.modality not in ("visible", "thermal"):
            raise ConfigError("must be visible or thermal", key=f"sensors.{self.id}.modality")


#: The measured confusion matrices (counts, rows true, columns predicted model class) by
#: modality and target size bin.
CONFUSION_PATH: Final = Path(__file__).with_name("appearance_confusion.json")
MODEL_CLASSES: Final = ("drone", "bird", "airplane", "helicopter", "background")
#: Simulated mover type -> the model class it would be labelled as if seen correctly.
TRUE_CLASS: Final = {"multirotor": 0, "fixedwing": 0, "bird": 1, "airliner": 2,
                     "helicopter": 3}
_CONTRACT = (("uav", (0,)), ("bird", (1,)), ("manned", (2, 3)), ("clutter", (4,)))
#: A size bin's row with fewer labelled crops than this borrows the modality's all-size row.
MIN_ROW: Final = 30


@dataclass(frozen=True, slots=True)
class Confusion:
    """Row-stochastic P(label | true class) per size bin: ``p[bin, true, label]``; bins
    split at ``edges`` (target size, px)."""

    edges: tuple[float, ...]
    p: NDArray[np.float64]

    def bin_of(self, size_px: float) -> int:
        return int(np.clip(np.searchsorted(self.edges, size_px, side="right") - 1, 0,
                           len(self.edges) - 2))


@cache
def confusion(modality: str, path: Path = CONFUSION_PATH) -> Confusion:
    """The measured matrices of one modality, rows smoothed (one count per cell) so that no
    label is impossible."""
    data = json.loads(path.read_text())
    counts = np.asarray(data["confusion_by_size"][modality], dtype=np.float64)
    overall = counts.sum(axis=0)
    rows = counts.copy()
    for b in range(len(rows)):
        thin = rows[b].sum(axis=1) < MIN_ROW
        rows[b][thin] = overall[thin]
    rows += 1.0
    return Confusion(tuple(float(e) for e in data["size_edges_px"]),
                     rows / rows.sum(axis=2, keepdims=True))


def appearance_of(conf: Confusion, true_class: int, size_px: float,
                  rng: np.random.Generator) -> tuple[dict[str, Any], wire.ClassEvidence]:
    """The attrs (``label``, ``label_confidence``) and evidence of one simulated detection."""
    p = conf.p[conf.bin_of(size_px)]
    label = int(rng.choice(len(MODEL_CLASSES), p=p[true_class]))
    col = p[:, label]
    like = {name: float(col[list(rows)].mean()) for name, rows in _CONTRACT}
    top = max(like.values())
    like = {k: round(v / top, 4) for k, v in like.items()}
    post = col / col.sum()  # equal priors over the model's classes
    prob = float(post[label])
    conf_ = round(max(0.0, min(1.0, (prob - 0.2) / 0.8)), 4)
    attrs = {"label": MODEL_CLASSES[label], "label_confidence": round(prob, 4)}
    return attrs, wire.ClassEvidence(likelihood=like, confidence=conf_,
                                     label=MODEL_CLASSES[label], basis="sim")


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
    conf = confusion(spec.modality) if spec.classify else None
    true_cls = [TRUE_CLASS.get(t, 0) for t in truth.types]
    # Labels come from their own stream, so that switching them on or off leaves every
    # other draw (detections, noise, false blobs) as it was.
    seq = rng.bit_generator.seed_seq
    label_rng = np.random.default_rng(seq.spawn(1)[0] if isinstance(seq, np.random.SeedSequence)
                                      else 17)

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
            ev = None
            if conf is not None:
                extra, ev = appearance_of(conf, true_cls[i], float(size_px[i]), label_rng)
                attrs.update(extra)
            dets.append(wire.Detection(frame="ae", z=z, R=r_t, sigma=sig_t, attrs=attrs,
                                       evidence=ev))
            ids.append(truth.ids[i])
        for _ in range(int(rng.poisson(spec.false_blobs))):
            fx, fy = float(rng.uniform(0, w_px)), float(rng.uniform(0, h_px))
            fs = float(rng.uniform(spec.min_size_px, 3 * spec.min_size_px))
            z, attrs = blob(fx, fy, fs, float(rng.uniform(0.05, 0.2)))
            ev = None
            if conf is not None:
                extra, ev = appearance_of(conf, MODEL_CLASSES.index("background"), fs, label_rng)
                attrs.update(extra)
            dets.append(wire.Detection(frame="ae", z=z, R=r_t, sigma=sig_t, attrs=attrs,
                                       evidence=ev))
            ids.append(None)
        b.emit(tr, clock.delay(), dets, ids, origin=spec.origin,
               lost=bool(rng.random() < spec.dropout))
    return b.messages()


