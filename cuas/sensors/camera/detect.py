"""Small moving objects in the sky, found with classical OpenCV (no model weights): the pure part
of the camera adapter. Frames in (numpy arrays), blobs out; no I/O.

Pipeline per frame: grey, light Gaussian blur, background subtraction (MOG2, or KNN), sky
mask, morphological opening and closing, connected components. A *frame gate* compares each
frame with the previous one (global shift by phase correlation on a thumbnail, and mean
brightness): when the whole image moves (pan/tilt, a gust shaking the mast) or its brightness
jumps (auto-exposure, a cloud edge), that frame's blobs are discarded and the background is
relearnt from the new view, instead of reporting the whole changed scene as targets.

Pixel coordinates: x to the right, y down, origin at the top-left corner of the full-size
frame, in pixels (half-pixel centres are not shifted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from cuas.errors import FrameError

U8 = NDArray[np.uint8]
F64 = NDArray[np.float64]

#: Width (px) of the thumbnail the frame gate compares: phase correlation on it costs well
#: under a millisecond and still resolves a shift of a few full-size pixels.
GATE_WIDTH: Final = 160
#: Largest frame side accepted (px): beyond 8K a frame is garbage, not video.
MAX_SIDE: Final = 8192
#: The largest blobs of a frame, spared when measuring spread-out change (frame gate).
TARGETS_SPARED: Final = 3


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Detection parameters. Pixel quantities refer to the full-size frame.

    ``method``: ``mog2`` or ``knn`` background subtraction. ``var_threshold``: MOG2's squared
    Mahalanobis threshold (KNN: its squared distance threshold is this times 16).
    ``min_area_px``/``max_area_px``: blob size bounds. ``warmup_frames``: frames learnt before
    any blob is reported. ``max_spread_fraction``: a frame whose changed pixels outside its
    few largest blobs exceed this fraction of the image is gated (the scene changed, not a
    target); ``max_shift_px``: so is one whose global shift from the previous frame exceeds
    this while a quarter of that spread-out change is seen;
    ``max_brightness_jump``: so does a jump in mean grey level (0-255) beyond this. ``settle_frames``: frames without blobs after a gated one while the
    background relearns. ``sky_polygon``: pixel vertices of the sky (outside is ignored);
    ``horizon``: ``(y_left, y_right)`` pixel rows of the horizon line, sky above it.
    ``scale``: process a frame resized by this factor (<1 for speed on large frames).
    ``persistence``: a blob is reported only when blobs were seen within
    ``persistence_radius_px`` (plus its own size) of it in each of the previous
    ``persistence - 1`` frames (1 reports every blob): sensor noise and compression artefacts
    flicker, a target persists. ``close_px``: the morphological closing's kernel size, which
    joins the fragments of one target (rotors, wing tips) into one blob.
    """

    method: str = "mog2"
    history: int = 300
    var_threshold: float = 36.0
    blur_px: int = 3
    min_area_px: int = 4
    max_area_px: int = 20_000
    warmup_frames: int = 30
    max_shift_px: float = 1.5
    max_spread_fraction: float = 3e-4
    max_brightness_jump: float = 3.0
    settle_frames: int = 3
    max_blobs: int = 50
    persistence: int = 2
    persistence_radius_px: float = 12.0
    close_px: int = 3
    sky_polygon: tuple[tuple[float, float], ...] | None = None
    horizon: tuple[float, float] | None = None
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in ("mog2", "knn"):
            raise ValueError(f"method must be mog2 or knn, got {self.method!r}")
        if not 0.05 <= self.scale <= 1.0:
            raise ValueError(f"scale must lie in [0.05, 1], got {self.scale}")
        if self.blur_px < 1 or self.blur_px % 2 == 0:
            raise ValueError(f"blur_px must be odd and >= 1, got {self.blur_px}")
        if self.sky_polygon is not None and len(self.sky_polygon) < 3:
            raise ValueError("sky_polygon needs at least 3 vertices")


@dataclass(frozen=True, slots=True)
class Blob:
    """One detected object: centroid (x, y) px, bounding box (x, y, w, h) px, area px²,
    and contrast (mean grey level of the blob minus that of its surroundings, -255..255)."""

    x: float
    y: float
    bbox: tuple[int, int, int, int]
    area_px: int
    contrast: float


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What one frame gave: blobs (empty when gated or warming up), whether the frame gate
    fired, the measured global shift (px) and mean brightness (0-255)."""

    blobs: tuple[Blob, ...]
    gated: bool
    shift_px: float
    brightness: float


@dataclass(slots=True)
class DetectorStats:
    """Monotonic counters of one detector."""

    frames: int = 0
    bad_frames: int = 0
    gated_frames: int = 0
    blobs: int = 0
    blobs_capped: int = 0
    resets: int = 0

    def as_counters(self) -> dict[str, int]:
        return {"frames": self.frames, "bad_frames": self.bad_frames,
                "gated_frames": self.gated_frames, "blobs": self.blobs,
                "blobs_capped": self.blobs_capped, "detector_resets": self.resets}


def to_grey(frame: NDArray[np.generic]) -> U8:
    """A uint8 grey image from a uint8 frame (H,W), (H,W,1), (H,W,3) BGR or (H,W,4) BGRA.

    Raises :class:`FrameError` for anything else (zero size, other dtypes, other shapes).
    """
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"frame is a {type(frame).__name__}, not an array")
    if frame.dtype != np.uint8:
        raise FrameError(f"frame depth {frame.dtype} (expected uint8)")
    if frame.ndim not in (2, 3) or frame.size == 0 or min(frame.shape[:2]) < 8:
        raise FrameError(f"frame shape {frame.shape} is no image")
    if max(frame.shape[:2]) > MAX_SIDE:
        raise FrameError(f"frame shape {frame.shape} larger than {MAX_SIDE} px")
    img: U8 = frame.view(np.uint8)
    if img.ndim == 2:
        return img
    channels = img.shape[2]
    if channels == 1:
        return np.ascontiguousarray(img[:, :, 0])
    if channels == 3:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if channels == 4:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY), dtype=np.uint8)
    raise FrameError(f"frame has {channels} channels")


def sky_mask(width: int, height: int, polygon: Sequence[tuple[float, float]] | None = None,
             horizon: tuple[float, float] | None = None) -> U8 | None:
    """A 0/255 mask (height, width) of the sky: inside ``polygon`` (pixel vertices) and above
    the ``horizon`` line through (0, y_left) and (width-1, y_right). None when neither is
    given (the whole frame is sky)."""
    if polygon is None and horizon is None:
        return None
    mask = np.full((height, width), 255, dtype=np.uint8)
    if polygon is not None:
        poly_mask = np.zeros_like(mask)
        pts = np.round(np.asarray(polygon, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(poly_mask, [pts], 255)
        mask &= poly_mask
    if horizon is not None:
        y_left, y_right = horizon
        cols = np.arange(width, dtype=np.float64)
        y_line = y_left + (y_right - y_left) * cols / max(width - 1, 1)
        rows = np.arange(height, dtype=np.float64)[:, None]
        mask[rows >= y_line[None, :]] = 0
    return mask


class MotionDetector:
    """Background-subtraction detector for one camera; feed it frames in order.

    State: the background model, the previous thumbnail (frame gate) and the frame count. A
    frame of a different size from the previous ones restarts the detector (a camera that
    reconnects at another resolution).
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config if config is not None else DetectorConfig()
        self.stats = DetectorStats()
        self._shape: tuple[int, int] | None = None
        self._subtractor: cv2.BackgroundSubtractor | None = None
        self._mask: U8 | None = None
        self._prev_thumb: NDArray[np.float32] | None = None
        self._prev_brightness = 0.0
        self._window: NDArray[np.float32] | None = None
        self._frames_seen = 0
        self._quiet_until = 0
        k = self.config.close_px
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        #: Centroids (x, y) px and sizes of the candidate blobs of the last frames, newest last.
        self._recent: list[F64] = []

    def reset(self) -> None:
        """Forget the background (the next frames are warm-up again)."""
        self._shape = None
        self._subtractor = None
        self._prev_thumb = None
        self.stats.resets += 1

    def _start(self, grey: U8) -> None:
        c = self.config
        h, w = grey.shape
        self._shape = (h, w)
        sub: cv2.BackgroundSubtractor
        if c.method == "mog2":
            sub = cv2.createBackgroundSubtractorMOG2(history=c.history,
                                                     varThreshold=c.var_threshold,
                                                     detectShadows=False)
        else:
            sub = cv2.createBackgroundSubtractorKNN(history=c.history,
                                                    dist2Threshold=c.var_threshold * 16.0,
                                                    detectShadows=False)
        self._subtractor = sub
        sw, sh = self._work_size(w, h)
        mask = sky_mask(w, h, c.sky_polygon, c.horizon)
        if mask is not None and (sw, sh) != (w, h):
            mask = np.asarray(cv2.resize(mask, (sw, sh), interpolation=cv2.INTER_NEAREST),
                              dtype=np.uint8)
        self._mask = mask
        self._frames_seen = 0
        self._quiet_until = c.warmup_frames

    def _work_size(self, w: int, h: int) -> tuple[int, int]:
        s = self.config.scale
        return (w, h) if s >= 1.0 else (max(8, round(w * s)), max(8, round(h * s)))

    def _measure(self, grey: U8) -> tuple[float, float, float]:
        """(global shift px (full size), mean brightness, its jump) against the previous frame."""
        h, w = grey.shape
        tw = min(GATE_WIDTH, w)
        th = max(8, round(h * tw / w))
        thumb = np.asarray(cv2.resize(grey, (tw, th), interpolation=cv2.INTER_AREA),
                           dtype=np.float32)
        brightness = float(thumb.mean())
        prev, self._prev_thumb = self._prev_thumb, thumb
        prev_b, self._prev_brightness = self._prev_brightness, brightness
        if prev is None or prev.shape != thumb.shape:
            return 0.0, brightness, 0.0
        if self._window is None or self._window.shape != thumb.shape:
            self._window = np.asarray(cv2.createHanningWindow((tw, th), cv2.CV_32F),
                                      dtype=np.float32)
        (dx, dy), _ = cv2.phaseCorrelate(prev, thumb, self._window)
        return float(np.hypot(dx, dy)) * w / tw, brightness, abs(brightness - prev_b)

    def process(self, frame: NDArray[np.generic]) -> FrameResult:
        """Detect blobs in one frame. Raises :class:`FrameError` for a frame that is no image
        (counted in ``stats.bad_frames``); the detector's state is then unchanged."""
        try:
            grey = to_grey(frame)
        except FrameError:
            self.stats.bad_frames += 1
            raise
        c = self.config
        self.stats.frames += 1
        if self._shape != grey.shape:
            if self._shape is not None:
                self.reset()
            self._start(grey)
        assert self._subtractor is not None
        shift, brightness, jump = self._measure(grey)
        h, w = grey.shape
        sw, sh = self._work_size(w, h)
        work = grey if (sw, sh) == (w, h) else np.asarray(
            cv2.resize(grey, (sw, sh), interpolation=cv2.INTER_AREA), dtype=np.uint8)
        if c.blur_px > 1:
            work = np.asarray(cv2.GaussianBlur(work, (c.blur_px, c.blur_px), 0), dtype=np.uint8)
        self._frames_seen += 1
        fg: U8 = np.asarray(self._subtractor.apply(work), dtype=np.uint8)
        if self._mask is not None:
            fg = np.asarray(cv2.bitwise_and(fg, self._mask), dtype=np.uint8)
        fg = np.asarray(cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._kernel), dtype=np.uint8)
        n, labels, stats, cents = _components(fg)
        # Changed pixels outside the few largest blobs: targets are compact, a moved or
        # re-exposed scene changes pixels everywhere (edges of clouds, trees, roofs). On a
        # clear sky phase correlation follows a large target rather than the camera, so a
        # shift counts only together with such spread-out change.
        areas = np.sort(stats[1:, cv2.CC_STAT_AREA])
        spread = float(areas[:-TARGETS_SPARED].sum()) / fg.size if len(areas) else 0.0
        gated = (jump > c.max_brightness_jump or spread > c.max_spread_fraction
                 or (shift > c.max_shift_px and spread > c.max_spread_fraction / 4.0))
        if gated:
            self.stats.gated_frames += 1
            # Relearn the background from this view: learning rate 1 replaces the model.
            self._subtractor.apply(work, learningRate=1.0)
            self._quiet_until = max(self._quiet_until, self._frames_seen + c.settle_frames)
            self._recent.clear()
            return FrameResult((), True, shift, brightness)
        blobs = self._blobs(n, labels, stats, cents, grey, w / sw)
        if self._frames_seen <= self._quiet_until:
            return FrameResult((), False, shift, brightness)
        self.stats.blobs += len(blobs)
        return FrameResult(blobs, False, shift, brightness)

    def _blobs(self, n: int, labels: NDArray[np.int32], stats: NDArray[np.int32],
               cents: F64, grey: U8, up: float) -> tuple[Blob, ...]:
        c = self.config
        area_scale = up * up
        areas = stats[1:, cv2.CC_STAT_AREA] * area_scale
        keep = np.flatnonzero((areas >= c.min_area_px) & (areas <= c.max_area_px)) + 1
        if len(keep) > 4 * c.max_blobs:  # bounds the persistence check's pairwise distances
            self.stats.blobs_capped += len(keep) - 4 * c.max_blobs
            keep = keep[np.argsort(-stats[keep, cv2.CC_STAT_AREA], kind="stable")[:4 * c.max_blobs]]
        keep = self._persistent(keep, stats, cents, up)
        if len(keep) > c.max_blobs:
            self.stats.blobs_capped += len(keep) - c.max_blobs
            keep = keep[np.argsort(-stats[keep, cv2.CC_STAT_AREA], kind="stable")[:c.max_blobs]]
        out: list[Blob] = []
        H, W = grey.shape
        for i in keep.tolist():
            x0, y0, bw, bh, area = (int(v) for v in stats[i, :5])
            bx, by = int(x0 * up), int(y0 * up)
            bwf, bhf = max(1, round(bw * up)), max(1, round(bh * up))
            contrast = _contrast(grey, labels, i, x0, y0, bw, bh, up)
            cx, cy = cents[i]
            out.append(Blob(x=float(cx * up), y=float(cy * up),
                            bbox=(bx, by, min(bwf, W - bx), min(bhf, H - by)),
                            area_px=round(area * area_scale), contrast=contrast))
        return tuple(out)

    def _persistent(self, keep: NDArray[np.intp], stats: NDArray[np.int32], cents: F64,
                    up: float) -> NDArray[np.intp]:
        """The candidates (component labels ``keep``) that had a neighbour in each of the last
        ``persistence - 1`` frames; remembers this frame's candidates."""
        c = self.config
        cur = np.empty((len(keep), 3))
        cur[:, :2] = cents[keep] * up
        cur[:, 2] = np.maximum(stats[keep, cv2.CC_STAT_WIDTH], stats[keep, cv2.CC_STAT_HEIGHT]) * up
        depth = c.persistence - 1
        if depth <= 0:
            return keep
        ok = np.ones(len(keep), dtype=bool)
        for prev in self._recent[-depth:] if len(self._recent) >= depth else [np.zeros((0, 3))]:
            if not len(prev) or not ok.any():
                ok[:] = False
                break
            d = np.hypot(cur[:, None, 0] - prev[None, :, 0], cur[:, None, 1] - prev[None, :, 1])
            reach = c.persistence_radius_px + np.maximum(cur[:, None, 2], prev[None, :, 2])
            ok &= (d <= reach).any(axis=1)
        self._recent.append(cur)
        del self._recent[:-depth]
        return keep[ok]


def _components(fg: U8) -> tuple[int, NDArray[np.int32], NDArray[np.int32], F64]:
    """Connected components (8-connected) of a 0/255 mask: count (with the background),
    labels, stats and centroids as ``cv2.connectedComponentsWithStats`` gives them.

    Labelled only within the bounding box of the non-zero pixels (a labels image of a full
    1080p frame cost ~40 ms a frame; a few small targets' box costs microseconds); the labels
    outside it are 0 (background) and stats/centroids are in full-frame pixels."""
    x, y, w, h = cv2.boundingRect(fg)
    labels = np.zeros(fg.shape, dtype=np.int32)
    if w == 0 or h == 0:
        return 1, labels, np.zeros((1, 5), dtype=np.int32), np.zeros((1, 2))
    n, lab, st, ce = cv2.connectedComponentsWithStats(fg[y:y + h, x:x + w], connectivity=8)
    labels[y:y + h, x:x + w] = lab
    stats = np.asarray(st, dtype=np.int32).copy()
    stats[:, 0] += x
    stats[:, 1] += y
    cents = np.asarray(ce, dtype=np.float64) + (x, y)
    return int(n), labels, stats, cents


def _contrast(grey: U8, labels: NDArray[np.int32], label: int, x0: int, y0: int, bw: int,
              bh: int, up: float) -> float:
    """Mean grey level inside the blob minus that of a 3-px ring around its box."""
    H, W = grey.shape
    if up != 1.0:  # labels are at the working scale: compare box against ring at full size
        X0, Y0 = int(x0 * up), int(y0 * up)
        X1, Y1 = min(W, int((x0 + bw) * up + 0.5)), min(H, int((y0 + bh) * up + 0.5))
        inside = grey[Y0:Y1, X0:X1]
        pad = 3
        ring = grey[max(0, Y0 - pad):min(H, Y1 + pad), max(0, X0 - pad):min(W, X1 + pad)]
        n_in = inside.size
        n_ring = ring.size - n_in
        if n_in == 0 or n_ring <= 0:
            return 0.0
        s_in = float(inside.sum(dtype=np.int64))
        return round(s_in / n_in - (float(ring.sum(dtype=np.int64)) - s_in) / n_ring, 1)
    pad = 3
    ya, yb = max(0, y0 - pad), min(H, y0 + bh + pad)
    xa, xb = max(0, x0 - pad), min(W, x0 + bw + pad)
    patch = grey[ya:yb, xa:xb]
    sel = labels[ya:yb, xa:xb] == label
    n_in = int(sel.sum())
    n_out = sel.size - n_in
    if n_in == 0 or n_out == 0:
        return 0.0
    return round(float(patch[sel].mean()) - float(patch[~sel].mean()), 1)
