"""What a camera blob looks like: drone, bird, airplane, helicopter or background clutter.

A small CNN per modality (``appearance.onnx`` for visible and ``appearance_thermal.onnx`` for
thermal streams, beside this module, trained by ``tools/train_camera_classifier.py`` on the
Svanström CC0 clips; see docs/camera-model-card.md) classifies a square grey crop around each
blob, all blobs of a frame in one batch, run by OpenCV's dnn module (no training library at
run time).

Crops: a square of side ``max(MIN_SIDE_PX, PAD * max(w, h))`` px centred on the box (pixels
beyond the frame repeat its edge), resized to ``CROP_PX`` square. Input planes: the crop
standardised on its own (mean 0, divided by its standard deviation, at least ``MIN_STD``
grey levels, so exposure and sensor gain do not matter), and a constant modality plane
(0 visible, 1 thermal).

The model's five outputs map to the contract's classes as drone -> uav, bird -> bird, airplane
and helicopter -> manned, background -> clutter. The network was trained with balanced classes,
so its softmax is read as a posterior under equal priors and divided by each class's prior
share to give likelihoods (scaled to a maximum of 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from cuas.errors import ModelError

#: The model's output classes, in order.
MODEL_CLASSES: Final = ("drone", "bird", "airplane", "helicopter", "background")
#: Model class -> contract class (``cuas.vocabulary.CLASSES``).
TO_CONTRACT: Final = {"drone": "uav", "bird": "bird", "airplane": "manned",
                      "helicopter": "manned", "background": "clutter"}
#: Side of the square crop the model sees (px).
CROP_PX: Final = 48
#: The crop's side is this times the box's longer side (a quarter of the box's side of context
#: on each side: the labelled and detected boxes are loose, and a wider margin left a distant
#: target a few pixels of a 32 px crop) ...
PAD: Final = 1.5
#: ... and at least this many frame pixels.
MIN_SIDE_PX: Final = 16
#: Floor of the standard deviation a crop is divided by (grey levels): a flat crop stays flat
#: instead of having its sensor noise blown up to full contrast.
MIN_STD: Final = 4.0
#: Modality codes of the model's second input plane.
MODALITIES: Final = {"visible": 0.0, "thermal": 1.0}
#: The shipped models: visible streams' (trained on both modalities' crops, the modality a
#: second input plane) ...
MODEL_PATH: Final = Path(__file__).with_name("appearance.onnx")
#: ... and thermal streams' (trained on the thermal clips' crops).
THERMAL_MODEL_PATH: Final = Path(__file__).with_name("appearance_thermal.onnx")

U8 = NDArray[np.uint8]
F32 = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Appearance:
    """What one crop looks like: ``label`` (a model class, or ``"unknown"`` for a crop that
    holds no image: empty, 1 px, flat, non-finite), its probability ``confidence`` (0 for
    unknown) and the softmax ``probs`` per model class (uniform for unknown)."""

    label: str
    confidence: float
    probs: Mapping[str, float]

    @property
    def known(self) -> bool:
        return self.label != "unknown"

    def likelihood(self) -> dict[str, float]:
        """P(crop | contract class) up to a common factor, the largest 1: the balanced-prior
        posterior of each contract class divided by its share of the model's classes."""
        share: dict[str, float] = {}
        mass: dict[str, float] = {}
        for name, p in self.probs.items():
            c = TO_CONTRACT[name]
            share[c] = share.get(c, 0.0) + 1.0
            mass[c] = mass.get(c, 0.0) + p
        like = {c: mass[c] / share[c] for c in mass}
        top = max(like.values())
        if not top > 0.0:
            return {c: 1.0 for c in like}
        return {c: round(v / top, 4) for c, v in like.items()}


UNKNOWN: Final = Appearance("unknown", 0.0, {c: 1.0 / len(MODEL_CLASSES) for c in MODEL_CLASSES})


def crop_box(grey: NDArray[np.generic], box: Sequence[float], scale: float = 1.0,
             px: int = CROP_PX) -> U8 | None:
    """The ``CROP_PX`` square crop around ``box`` (x, y, w, h px, top-left corner) of a grey
    frame, or None when there is nothing to crop (empty frame, non-finite or empty box).
    ``scale`` widens the window (and its minimum side) and ``px`` is the output side: the
    training script keeps wider crops to jitter the scale, at run time both stay default."""
    if not isinstance(grey, np.ndarray) or grey.ndim != 2 or grey.size == 0 or len(box) != 4:
        return None
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        return None
    side = int(max(round(scale * MIN_SIDE_PX), round(scale * PAD * max(w, h))))
    side = min(side, 4 * max(grey.shape))
    img: U8 = (np.asarray(grey, dtype=np.uint8) if grey.dtype == np.uint8 else
               np.nan_to_num(np.asarray(grey, dtype=np.float32), nan=0.0, posinf=255.0,
                             neginf=0.0).clip(0, 255).astype(np.uint8))
    patch = cv2.getRectSubPix(img, (side, side), (x + w / 2.0, y + h / 2.0))
    interp = cv2.INTER_AREA if side > px else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(patch, (px, px), interpolation=interp),
                      dtype=np.uint8)


def prepare(crops: Sequence[NDArray[np.generic]], modality: str) -> tuple[F32, NDArray[np.bool_]]:
    """The model's input (N, 2, CROP_PX, CROP_PX) float32 for ``crops`` (each CROP_PX square,
    any numeric dtype, grey levels 0-255), and which crops are usable: a crop of another shape,
    with a non-finite pixel, or flat (standard deviation under 0.5 grey levels: all black,
    all white) is not, and its planes are zero."""
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    n = len(crops)
    x = np.zeros((n, 2, CROP_PX, CROP_PX), dtype=np.float32)
    ok = np.zeros(n, dtype=bool)
    x[:, 1] = MODALITIES[modality]
    idx: list[int] = []
    arrs: list[NDArray[np.generic]] = []
    for i, c in enumerate(crops):
        a = np.asarray(c)
        if a.shape != (CROP_PX, CROP_PX) or not np.issubdtype(a.dtype, np.number):
            continue
        if a.dtype == np.uint8:
            # The runtime's crops (crop_box): cv2's mean and deviation and one fused numpy
            # pass, a quarter of the vectorised path's cost for the usual 1-8 crops a frame.
            m, sd = cv2.meanStdDev(a)
            std1 = float(sd[0, 0])
            if std1 >= 0.5:
                np.multiply(np.subtract(a, np.float32(m[0, 0]), dtype=np.float32),
                            np.float32(1.0 / max(std1, MIN_STD)), out=x[i, 0])
                ok[i] = True
            continue
        idx.append(i)
        arrs.append(a)
    if not arrs:
        return x, ok
    # Other dtypes (floats, possibly non-finite): one vectorised pass.
    f = np.stack([a.astype(np.float32) for a in arrs])
    finite = np.isfinite(f).all(axis=(1, 2))
    f[~finite] = 0.0
    std = f.std(axis=(1, 2))
    good = finite & (std >= 0.5)
    if good.any():
        g = f[good]
        sel = np.asarray(idx)[good]
        x[sel, 0] = ((g - g.mean(axis=(1, 2), keepdims=True))
                     / np.maximum(std[good], MIN_STD)[:, None, None])
        ok[sel] = True
    return x, ok


def _softmax(z: NDArray[np.float32]) -> NDArray[np.float64]:
    z64 = z.astype(np.float64)
    z64 -= z64.max(axis=1, keepdims=True)
    e = np.exp(z64)
    out: NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out


def _load_net(path: Path) -> cv2.dnn.Net:
    """One ONNX model read by ``cv2.dnn`` and probed with one zero crop; :class:`ModelError`
    (one line naming the file) when it is missing or cannot be run with this input shape."""
    if not path.is_file():
        raise ModelError(f"{path}: appearance model file not found")
    try:
        net = cv2.dnn.readNetFromONNX(str(path))
        net.setInput(np.zeros((1, 2, CROP_PX, CROP_PX), dtype=np.float32))
        probe = np.asarray(net.forward())
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cv2.error"
        raise ModelError(f"{path}: not a usable appearance model ({reason})") from None
    if probe.shape != (1, len(MODEL_CLASSES)):
        raise ModelError(f"{path}: not a usable appearance model (output shape "
                         f"{probe.shape}, expected (1, {len(MODEL_CLASSES)}))")
    return net


class AppearanceClassifier:
    """ONNX models run by ``cv2.dnn`` on batches of crops: ``path`` for every modality, or by
    default the shipped visible and thermal models.

    Raises :class:`ModelError` (one line naming the file) when a file is missing or is no
    model OpenCV can run with this input shape.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        paths = ({"visible": MODEL_PATH, "thermal": THERMAL_MODEL_PATH} if path is None else
                 {m: Path(path) for m in MODALITIES})
        #: The model file of each modality.
        self.paths: Final = paths
        self.path = paths["visible"]
        loaded: dict[Path, cv2.dnn.Net] = {}
        for p in paths.values():
            if p not in loaded:
                loaded[p] = _load_net(p)
        self._nets = {m: loaded[p] for m, p in paths.items()}

    def logits(self, x: F32, modality: str = "visible") -> NDArray[np.float32]:
        """The raw outputs (N, 5) of ``modality``'s model for prepared input ``x`` (see
        :func:`prepare`)."""
        if x.shape[0] == 0:
            return np.zeros((0, len(MODEL_CLASSES)), dtype=np.float32)
        net = self._nets[modality]
        net.setInput(np.ascontiguousarray(x, dtype=np.float32))
        return np.asarray(net.forward(), dtype=np.float32).reshape(x.shape[0], -1)

    def classify(self, crops: Sequence[NDArray[np.generic]], modality: str) -> list[Appearance]:
        """One :class:`Appearance` per crop (``CROP_PX`` square, grey 0-255), in one batch;
        unusable crops give :data:`UNKNOWN`, never an exception."""
        x, ok = prepare(crops, modality)
        out = [UNKNOWN] * len(crops)
        idx = np.flatnonzero(ok)
        if not len(idx):
            return out
        probs = _softmax(self.logits(x if len(idx) == len(crops) else x[idx], modality))
        rows: list[list[float]] = probs.tolist()
        for i, p in zip(idx.tolist(), rows, strict=True):
            if not all(math.isfinite(v) for v in p):
                continue
            r = [round(v, 4) for v in p]
            k = max(range(len(r)), key=p.__getitem__)
            out[i] = Appearance(MODEL_CLASSES[k], r[k], dict(zip(MODEL_CLASSES, r, strict=True)))
        return out

    def classify_boxes(self, grey: NDArray[np.generic], boxes: Sequence[Sequence[float]],
                       modality: str) -> list[Appearance]:
        """Crop ``boxes`` (x, y, w, h px) out of a grey frame and classify them in one batch."""
        crops = [crop_box(grey, b) for b in boxes]
        empty = np.zeros((0, 0), dtype=np.uint8)
        return self.classify([c if c is not None else empty for c in crops], modality)


def modality_of(width: int, height: int, setting: str = "auto") -> str:
    """The modality of a stream: ``setting`` when it names one, else (``auto``) thermal for a
    frame narrower than 480 px (the usual 320 and 384 px microbolometers), visible otherwise."""
    if setting in MODALITIES:
        return setting
    return "thermal" if width < 480 else "visible"
