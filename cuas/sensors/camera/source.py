"""The camera adapter's I/O shell: ``cv2.VideoCapture`` (a device index, an RTSP/HTTP URL or a
video file) in, one ``detections`` message per processed frame out (``kind`` ``camera``, frame
``ae``: azimuth/elevation degrees from the camera, per-detection angle sigma, ``attrs``
``bbox`` [x, y, w, h] px, ``px`` [x, y] centroid, ``area_px``, ``contrast``), an empty list when
the frame showed nothing. ``cuas sensor camera`` is :mod:`.cli`.

The pure parts are :mod:`cuas.sensors.camera.detect` (blobs from frames) and
:mod:`cuas.sensors.camera.geometry` (pixels to angles). Time stamps: a file's frames are at
``start_time`` (config; else the file's modification time, or now if that is absurd) plus the
frame's position in the stream; a live frame is stamped with the host's UTC clock when it was read.

A live source that fails to open, stops delivering (end of stream, read timeout) or delivers
garbage (zero size, wrong depth; 25 in a row) is reopened with back-off (0.5 s doubling to
10 s) while the status says ``degraded``; nothing it does stops the adapter. Frames are read
and processed in a worker thread, so the event loop (heartbeats, Ctrl-C) never waits on OpenCV.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import cv2
import numpy as np
import zmq.asyncio

from cuas import bus, wire
from cuas.backoff import Backoff
from cuas.errors import CuasError, FrameError
from cuas.sensors.camera.appearance import (
    Appearance,
    AppearanceClassifier,
    modality_of,
)
from cuas.sensors.camera.detect import Blob, DetectorConfig, MotionDetector, to_grey
from cuas.sensors.camera.geometry import CameraGeometry, CameraModel
from cuas.sensors.camera.settings import CameraSettings
from cuas.sensors.publisher import (
    PublishingAdapter,
    SensorPublisher,
)

log = logging.getLogger(__name__)

#: Garbage frames in a row after which a live source is reopened.
MAX_BAD_FRAMES: Final = 25
#: A live read taking longer than this (s) means the source stopped delivering.
READ_TIMEOUT_S: Final = 5.0
#: Frame rate assumed for a file that states none (or an absurd one).
FALLBACK_FPS: Final = 30.0


class Capture(Protocol):
    """What the adapter needs of ``cv2.VideoCapture``."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)
    def read(self) -> tuple[bool, Any]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


def open_capture(source: str) -> Capture:
    """A ``cv2.VideoCapture`` of a device index (``"0"``), a URL or a file; opening and each
    read of a stream give up after ``READ_TIMEOUT_S`` (FFmpeg's own default is 30 s)."""
    ms = int(READ_TIMEOUT_S * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    cap: Capture = (cv2.VideoCapture(int(source), cv2.CAP_ANY, params) if source.isdigit()
                    else cv2.VideoCapture(source, cv2.CAP_ANY, params))
    return cap


def detector_config(s: CameraSettings) -> DetectorConfig:
    """The detector's parameters from the ``[sensors.<id>.camera]`` table."""
    return DetectorConfig(method=s.method, history=s.history, var_threshold=s.var_threshold,
                          min_area_px=s.min_area_px, max_area_px=s.max_area_px,
                          persistence=s.persistence, max_shift_px=s.max_shift_px,
                          max_brightness_jump=s.max_brightness_jump, max_blobs=s.max_blobs,
                          sky_polygon=s.sky_polygon, horizon=s.horizon, scale=s.scale)


def geometry_for(s: CameraSettings, width: int, height: int) -> CameraGeometry:
    """Lens and mount for a stream of ``width`` × ``height`` px: the configured intrinsics
    (rescaled from their calibrated size) or a pinhole of ``hfov_deg``."""
    if s.fx is not None and s.fy is not None and s.cx is not None and s.cy is not None \
            and s.width is not None and s.height is not None:
        model = CameraModel(s.width, s.height, s.fx, s.fy, s.cx, s.cy,
                            tuple(s.dist) if s.dist is not None else ())
        if (width, height) != (s.width, s.height):
            model = model.scaled(width, height)
    else:
        model = CameraModel.from_fov(width, height, s.hfov_deg)
        if s.dist is not None:
            model = CameraModel(width, height, model.fx, model.fy, model.cx, model.cy,
                                tuple(s.dist))
    return CameraGeometry(model, s.heading % 360.0, s.pitch, s.roll,
                          calib_sigma_deg=s.calib_sigma_deg)


def evidence_of(a: Appearance) -> wire.ClassEvidence | None:
    """The contract's class evidence of one classified crop (None for an unusable crop).
    Confidence: the top probability above chance (1/5), scaled to [0, 1]."""
    if not a.known:
        return None
    conf = max(0.0, min(1.0, (a.confidence - 0.2) / 0.8))
    return wire.ClassEvidence(likelihood=a.likelihood(), confidence=round(conf, 4),
                              label=a.label, basis="appearance")


def blob_detections(geometry: CameraGeometry, blobs: tuple[Blob, ...],
                    looks: list[Appearance] | None = None) -> tuple[wire.Detection, ...]:
    """``ae`` detections (azimuth, elevation deg; sigma deg) of a frame's blobs; with
    ``looks`` (one per blob) each carries its appearance: ``attrs`` ``label`` and
    ``label_confidence`` and the detection's ``evidence``."""
    if not blobs:
        return ()
    px = np.array([[b.x, b.y] for b in blobs], dtype=np.float64)
    ae = geometry.az_el(px)
    sizes = np.array([max(b.bbox[2], b.bbox[3]) for b in blobs], dtype=np.float64)
    sig = geometry.sigma(sizes, ae[:, 1])
    out = []
    for k, (b, (az, el), (s_az, s_el)) in enumerate(zip(blobs, ae.tolist(), sig.tolist(),
                                                        strict=True)):
        if not (math.isfinite(az) and math.isfinite(el)):
            continue  # a pixel beyond the lens model's valid range
        attrs: dict[str, Any] = {"bbox": list(b.bbox), "px": [round(b.x, 2), round(b.y, 2)],
                                 "area_px": b.area_px, "contrast": b.contrast}
        evidence = None
        if looks is not None:
            look = looks[k]
            attrs["label"] = look.label
            attrs["label_confidence"] = look.confidence
            evidence = evidence_of(look)
        out.append(wire.Detection(
            frame="ae", z=(az, max(-90.0, min(90.0, el))), sigma=(s_az, s_el), attrs=attrs,
            evidence=evidence))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What one run of the adapter read and published."""

    source: str
    frames: int
    published: int
    counters: dict[str, int]
    elapsed_s: float

    def line(self) -> str:
        c = self.counters
        bad = ", ".join(f"{k} {c[k]}" for k in ("bad_frames", "gated_frames", "connect_failures",
                                                  "disconnects") if c.get(k))
        fps = self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0
        labels = ", ".join(f"{k[6:]} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])
                           if k.startswith("label_") and v)
        return (f"camera: {self.source}: {self.frames} frames ({fps:.0f}/s), {c.get('blobs', 0)} "
                f"detections, {self.published} messages published in {self.elapsed_s:.2f} s"
                + (f"; labels: {labels}" if labels else "") + (f"; {bad}" if bad else ""))


class CameraSource(PublishingAdapter):
    """Reads one camera and publishes its detections on ``det.<sensor_id>``.

    ``speed`` (files): 1 plays at the file's frame rate, X times faster, 0 as fast as
    possible. ``max_frames`` stops after that many frames. ``origin`` (lat, lon, h) goes into
    every message. ``opener`` opens a source (default ``cv2.VideoCapture``).
    """

    def __init__(self, source: str, endpoint: str, *, sensor_id: str = "camera",
                 settings: CameraSettings | None = None,
                 origin: tuple[float, float, float] | None = None, speed: float = 1.0,
                 wait_s: float = 10.0, max_frames: int | None = None,
                 context: zmq.asyncio.Context | None = None, status_period_s: float = 1.0,
                 hwm: int = bus.DEFAULT_HWM, opener: Callable[[str], Capture] = open_capture,
                 read_timeout_s: float = READ_TIMEOUT_S,
                 security: bus.CurveKeys | None = None) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be a finite number >= 0, got {speed}")
        self.source = source
        self.sensor_id = sensor_id
        self.settings = settings if settings is not None else CameraSettings()
        self.origin = origin
        self.speed = speed
        self.max_frames = max_frames
        self.read_timeout_s = read_timeout_s
        self.live = not Path(source).is_file()
        self.counters: Counter[str] = Counter()
        self.detector = MotionDetector(detector_config(self.settings))
        #: The appearance classifier (None when ``classify`` is off); a missing or corrupt
        #: model file fails here, before anything is opened.
        self.classifier = (AppearanceClassifier(self.settings.model)
                           if self.settings.classify else None)
        self.geometry: CameraGeometry | None = None
        self._opener = opener
        self.pub = SensorPublisher(endpoint, sensor_id, self.counters, live=self.live,
                                   wait_s=wait_s, context=context, hwm=hwm,
                                   status_period_s=status_period_s,
                                   extra_counters=self.detector.stats.as_counters,
                                   security=security)
        #: Set once the subscriber has been seen.
        self.subscribed = asyncio.Event()

    # ------------------------------------------------------------------ run

    async def run(self, stop: asyncio.Event | None = None) -> SourceSummary:
        """Publish until the file ends (or ``max_frames``), or (live) until ``stop`` is set."""
        stop = stop if stop is not None else asyncio.Event()
        cap = None if self.live else self._open_file()  # a bad file fails before waiting
        started = time.monotonic()
        try:
            await self.pub.open(stop)
            self.subscribed.set()
            if cap is not None:
                await self._run_file(cap, stop)
            else:
                await self._run_live(stop)
            self.pub.finished()
        finally:
            if cap is not None:
                cap.release()
            await self.pub.close()
        c = self.pub.all_counters()
        return SourceSummary(self.source, c.get("frames", 0), c.get("published", 0), c,
                             time.monotonic() - started)

    def _done(self) -> bool:
        return self.max_frames is not None and self.detector.stats.frames >= self.max_frames

    def _process(self, frame: Any) -> tuple[wire.Detection, ...]:
        """Blobs of one frame as detections (worker thread). Raises FrameError for garbage."""
        # One grey conversion serves the detector and the classifier's crops (a 640x512 BGR
        # frame costs ~0.3 ms to convert, a tenth of the frame budget at 100 fps).
        try:
            grey = to_grey(frame)
        except FrameError:
            self.detector.stats.bad_frames += 1
            raise
        res = self.detector.process(grey)
        if self.geometry is None or (self.geometry.model.width, self.geometry.model.height) != (
                frame.shape[1], frame.shape[0]):
            self.geometry = geometry_for(self.settings, frame.shape[1], frame.shape[0])
        blobs = res.blobs
        if self.classifier is None or not blobs:
            return blob_detections(self.geometry, blobs)
        s = self.settings
        looks = self.classifier.classify_boxes(
            grey, [b.bbox for b in blobs], modality_of(grey.shape[1], grey.shape[0], s.modality))
        keep_blobs: list[Blob] = []
        keep_looks: list[Appearance] = []
        for b, look in zip(blobs, looks, strict=True):
            self.counters["classified"] += 1
            self.counters[f"label_{look.label}"] += 1
            if not look.known:
                self.counters["unclassifiable_crops"] += 1
            clutter = look.label == "background" and look.confidence >= s.clutter_min_prob
            if clutter:
                self.counters["clutter_dropped" if s.clutter == "drop" else "clutter_tagged"] += 1
                if s.clutter == "drop":
                    continue
            keep_blobs.append(b)
            keep_looks.append(look)
        return blob_detections(self.geometry, tuple(keep_blobs), keep_looks)

    # ------------------------------------------------------------------ file

    def _open_file(self) -> Capture:
        cap = self._opener(self.source)
        if not cap.isOpened():
            cap.release()
            raise CuasError(f"{self.source}: OpenCV cannot open it as a video")
        return cap

    async def _run_file(self, cap: Capture, stop: asyncio.Event) -> None:
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not (math.isfinite(fps) and 0.1 <= fps <= 1000.0):
            self.counters["fps_unknown"] += 1
            fps = FALLBACK_FPS
        start = self.settings.start_time
        if start is None:
            start = Path(self.source).stat().st_mtime
            if not wire.T_MIN <= start < wire.T_MAX - 86_400.0:  # a file dated 1970
                self.counters["start_from_clock"] += 1
                start = time.time()
        self.pub.state = "ok"
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        index = 0
        while not stop.is_set() and not self._done():
            # Reading and processing in one worker-thread hop (a hop costs ~0.1 ms a frame).
            ok, dets, error = await asyncio.to_thread(self._read_file_frame, cap)
            if not ok:
                break
            t = start + index / fps
            index += 1
            if error is not None:
                log.debug("%s: frame %d: %s", self.source, index - 1, error)
                continue
            if self.speed > 0:
                delay = t0 + (index - 1) / fps / self.speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await self.pub.publish(t, "camera", dets, self.origin)

    def _read_file_frame(self, cap: Capture) -> tuple[bool, tuple[wire.Detection, ...],
                                                       FrameError | None]:
        """(read ok, the frame's detections, the FrameError of a garbage frame) (worker
        thread)."""
        ok, frame = cap.read()
        if not ok:
            return False, (), None
        try:
            return True, self._process(frame), None
        except FrameError as exc:
            return True, (), exc

    # ------------------------------------------------------------------ live

    async def _run_live(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set() and not self._done():
            cap = await asyncio.to_thread(self._opener, self.source)
            if not cap.isOpened():
                cap.release()
                self.pub.state = "degraded"
                self.counters["connect_failures"] += 1
                log.warning("cannot open %s; retrying in %.1f s", self.source, backoff.delay)
                await backoff.wait(stop)
                continue
            self.counters["connects"] += 1
            good = await self._read_live(cap, stop)
            if stop.is_set() or self._done():
                break
            self.pub.state = "degraded"
            self.counters["disconnects"] += 1
            if good:  # a source that delivered frames was healthy: start the back-off afresh
                backoff.reset()
            log.warning("%s stopped delivering; reopening in %.1f s", self.source, backoff.delay)
            await backoff.wait(stop)

    async def _read_live(self, cap: Capture, stop: asyncio.Event) -> int:
        """Read one opened source until it fails; returns how many good frames it gave. The
        capture is released here (after a read that timed out: once that read returns)."""
        loop = asyncio.get_running_loop()
        good = bad_run = 0
        try:
            while not stop.is_set() and not self._done():
                reading = loop.run_in_executor(None, self._read_and_process, cap)
                try:
                    t, dets = await asyncio.wait_for(asyncio.shield(reading),
                                                     timeout=self.read_timeout_s)
                except TimeoutError:
                    self.counters["read_timeouts"] += 1
                    reading.add_done_callback(lambda _f: cap.release())
                    return good
                except FrameError:
                    bad_run += 1
                    if bad_run >= MAX_BAD_FRAMES:
                        self.counters["garbage_streams"] += 1
                        break
                    self.pub.state = "degraded"
                    continue
                if t is None:  # the stream ended
                    break
                bad_run = 0
                good += 1
                self.pub.state = "ok"
                await self.pub.publish(t, "camera", dets, self.origin)
        except BaseException:
            cap.release()
            raise
        cap.release()
        return good

    def _read_and_process(self, cap: Capture) -> tuple[float | None, tuple[wire.Detection, ...]]:
        ok, frame = cap.read()
        t = time.time()
        if not ok:
            return None, ()
        if frame is None:
            self.detector.stats.bad_frames += 1
            raise FrameError("the source returned no image")
        return t, self._process(frame)
