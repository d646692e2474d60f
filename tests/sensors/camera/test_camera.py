"""The camera adapter end to end: real Svanström clips (CC0, read from ../shared/data) through
``cuas sensor camera`` or :class:`CameraSource` onto a real ZeroMQ SUB on 127.0.0.1, every
message checked against ``docs/wire.schema.json``; a real HTTP server on 127.0.0.1 as a live
source that stops delivering; sources that fail to open or deliver garbage frames."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import numpy as np
import pytest
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.errors import CuasError
from cuas.sensors.camera.detect import Blob
from cuas.sensors.camera.evaluate import read_labels
from cuas.sensors.camera.settings import CameraSettings
from cuas.sensors.camera.source import CameraSource, Capture, blob_detections, geometry_for

ROOT = Path(__file__).resolve().parents[3]
CLIPS = ROOT.parent / "shared" / "data" / "video" / "svanstrom2021"
SCHEMA = jsonschema.Draft202012Validator(
    json.loads((ROOT / "docs" / "wire.schema.json").read_text(encoding="utf-8")))
LOOPBACK_ANY = "tcp://127.0.0.1:*"
needs_clips = pytest.mark.skipif(not (CLIPS / "V_DRONE_002.mp4").is_file(),
                                 reason=f"Svanström clips not found in {CLIPS} (shared data "
                                 "absent in a fresh clone)")


def _valid(msg: wire.Message) -> None:
    errors = list(SCHEMA.iter_errors(wire.to_dict(msg)))
    assert not errors, errors[0].message


# --------------------------------------------------------------------------- pure parts


def test_default_model_maps_the_image_centre_to_north_level() -> None:
    geo = geometry_for(CameraSettings(), 640, 512)
    blobs = (Blob(320.0, 256.0, (318, 254, 4, 4), 12, -20.0),
             Blob(640.0, 256.0, (636, 254, 4, 4), 12, -20.0))
    dets = blob_detections(geo, blobs)
    assert dets[0].frame == "ae" and dets[0].z == pytest.approx((0.0, 0.0), abs=1e-9)
    assert dets[1].z == pytest.approx((30.0, 0.0), abs=1e-9)  # 60 deg field of view
    assert dets[0].sigma is not None and 0.0 < dets[0].sigma[0] < 0.5
    assert dets[0].attrs == {"bbox": [318, 254, 4, 4], "px": [320.0, 256.0], "area_px": 12,
                             "contrast": -20.0}


def test_configured_intrinsics_are_rescaled_to_the_stream() -> None:
    cfg = CameraSettings(width=1920, height=1080, fx=1500.0, fy=1500.0, cx=960.0, cy=540.0,
                       heading=100.0, pitch=20.0)
    geo = geometry_for(cfg, 960, 540)
    assert geo.model.fx == 750.0 and geo.model.cx == 480.0
    assert geo.az_el(np.array([[480.0, 270.0]]))[0] == pytest.approx([100.0, 20.0])


# --------------------------------------------------------------------------- files


@needs_clips
def test_cli_publishes_one_message_per_frame_and_exits() -> None:
    """``cuas sensor camera --source CLIP --publish tcp://...``: one schema-valid detections
    message per frame on a real SUB, time stamps 1/30 s apart, the drone where it is labelled."""
    clip = CLIPS / "V_DRONE_002.mp4"
    labels = read_labels(CLIPS / "V_DRONE_002_labels.csv")
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"det.")
    sub.bind(LOOPBACK_ANY)
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    proc = subprocess.Popen([sys.executable, "-m", "cuas.cli.main", "sensor", "camera",
                             "--source", str(clip), "--publish", endpoint, "--speed", "0",
                             "--max-frames", "90", "--sensor-id", "cam-1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got: list[wire.Detections] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < 90 and time.monotonic() < deadline:
            if sub.poll(200):
                topic, msg = bus.parse_frames(sub.recv_multipart())
                assert topic == "det.cam-1" and isinstance(msg, wire.Detections)
                _valid(msg)
                got.append(msg)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        sub.close(0)
        ctx.term()
    assert proc.returncode == 0, err
    assert len(got) == 90 and [m.seq for m in got] == list(range(1, 91))
    assert all(m.kind == "camera" and m.sensor == "cam-1" for m in got)
    assert np.diff([m.t for m in got]) == pytest.approx(np.full(89, 1 / 30), abs=1e-3)
    assert all(not m.dets for m in got[:30])  # background warm-up
    hits = 0
    for i, m in enumerate(got[30:], start=30):
        box = labels[i]
        assert box is not None
        for d in m.dets:
            x, y = d.attrs["px"]
            hits += box[0] - 5 <= x <= box[0] + box[2] + 5 and box[1] - 5 <= y <= box[1] + box[3] + 5
    assert hits >= 58  # the drone in (nearly) every frame after the warm-up
    assert "90 frames" in err


@needs_clips
def test_in_process_file_replay_publishes_every_frame() -> None:
    """The whole thermal clip through :class:`CameraSource` (speed 0): 301 messages, the
    drone's azimuth moving smoothly, status counters in the summary."""

    async def main() -> tuple[list[wire.Detections], Any]:
        ctx = zmq.asyncio.Context()
        sub = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=("det.",))
        endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
        src = CameraSource(str(CLIPS / "IR_DRONE_001.mp4"), endpoint, sensor_id="ir",
                           speed=0.0, context=ctx, origin=(51.556, -0.2796, 95.0))
        task = asyncio.create_task(src.run())
        got: list[wire.Detections] = []
        while len(got) < 301:
            if not await sub.poll(10_000):
                break
            _, msg = bus.parse_frames(await sub.recv_multipart())
            assert isinstance(msg, wire.Detections)
            got.append(msg)
        summary = await task
        sub.close(0)
        ctx.term()
        return got, summary

    got, summary = asyncio.run(main())
    assert len(got) == 301 and summary.published == 301 and summary.frames == 301
    assert all(m.origin == (51.556, -0.2796, 95.0) for m in got)
    with_det = [m for m in got[30:] if m.dets]
    assert len(with_det) >= 260
    az = [m.dets[0].z[0] for m in with_det]
    step = (np.diff(az) + 180.0) % 360.0 - 180.0  # it crosses north (0/360 deg)
    assert np.max(np.abs(step)) < 2.0  # one target, followed frame to frame


def test_a_file_that_is_no_video_fails_before_waiting(tmp_path: Path) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    src = CameraSource(str(bad), "tcp://127.0.0.1:9", wait_s=30.0)
    started = time.monotonic()
    with pytest.raises(CuasError, match="cannot open"):
        asyncio.run(src.run())
    assert time.monotonic() - started < 10.0


# --------------------------------------------------------------------------- live sources


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _http_server(directory: Path) -> Iterator[http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


async def _live_run(src_factory: Any, until: Any, timeout_s: float = 30.0,
                    ) -> tuple[CameraSource, list[wire.Message]]:
    """Run a live source against a real SUB until ``until(src, messages)`` holds."""
    ctx = zmq.asyncio.Context()
    sub = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=("det.", "status."))
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    src: CameraSource = src_factory(endpoint, ctx)
    stop = asyncio.Event()
    task = asyncio.create_task(src.run(stop))
    msgs: list[wire.Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not until(src, msgs):
            if await sub.poll(100):
                msgs.append(bus.parse_frames(await sub.recv_multipart())[1])
    finally:
        stop.set()
        await asyncio.wait_for(task, 30.0)
        while await sub.poll(300):  # what was sent before closing, the final status included
            msgs.append(bus.parse_frames(await sub.recv_multipart())[1])
        sub.close(0)
        ctx.term()
    return src, msgs


@needs_clips
def test_live_source_that_stops_delivering_is_reopened_with_backoff() -> None:
    """A real HTTP server on 127.0.0.1 streams the clip once, then goes away: the adapter
    publishes the stream's frames, then retries with back-off saying ``degraded``."""
    with _http_server(CLIPS) as srv:
        url = f"http://127.0.0.1:{srv.server_address[1]}/IR_DRONE_001.mp4"
        served = threading.Event()

        def until(src: CameraSource, msgs: list[wire.Message]) -> bool:
            if src.counters["disconnects"] >= 1 and not served.is_set():
                served.set()
                srv.shutdown()  # the camera goes away after its first stream
                srv.server_close()
            return src.counters["connect_failures"] >= 2 and any(
                isinstance(m, wire.Status) and m.state == "degraded" for m in msgs)

        src, msgs = asyncio.run(_live_run(
            lambda ep, ctx: CameraSource(url, ep, sensor_id="ipcam", context=ctx,
                                         status_period_s=0.2), until))
    dets = [m for m in msgs if isinstance(m, wire.Detections)]
    assert src.counters["connects"] >= 1 and src.counters["disconnects"] >= 1
    assert src.counters["connect_failures"] >= 2
    assert len(dets) >= 250  # the stream's frames, published live
    states = [m.state for m in msgs if isinstance(m, wire.Status)]
    assert "degraded" in states and states[-1] == "down"


def test_source_that_never_opens_is_retried_not_fatal() -> None:
    def until(src: CameraSource, msgs: list[wire.Message]) -> bool:
        return src.counters["connect_failures"] >= 3

    started = time.monotonic()
    src, msgs = asyncio.run(_live_run(
        lambda ep, ctx: CameraSource("rtsp://127.0.0.1:9/none", ep, context=ctx,
                                     status_period_s=0.2), until))
    assert src.counters["connect_failures"] >= 3 and src.counters["connects"] == 0
    assert time.monotonic() - started >= 0.5 + 1.0  # back-off 0.5 s, then 1 s
    assert any(isinstance(m, wire.Status) and m.state == "degraded" for m in msgs)


class _Garbling:
    """A real ``cv2.VideoCapture`` of a clip whose frames are garbled in a fixed pattern
    (zero size, 16-bit depth, no image, 5 channels) between good ones; after ``good_limit``
    good frames it returns only garbage (a broken encoder)."""

    def __init__(self, path: str, good_limit: int) -> None:
        self.cap = cv2.VideoCapture(path)
        self.n = 0
        self.good_limit = good_limit
        self.good = 0

    def isOpened(self) -> bool:  # noqa: N802
        return bool(self.cap.isOpened())

    def get(self, prop: int) -> float:
        return float(self.cap.get(prop))

    def release(self) -> None:
        self.cap.release()

    def read(self) -> tuple[bool, Any]:
        ok, frame = self.cap.read()
        self.n += 1
        if not ok:
            return ok, frame
        kind = self.n % 5
        if self.good >= self.good_limit or kind == 1:
            return True, np.zeros((0, 0, 3), dtype=np.uint8)
        if kind == 2:
            return True, frame.astype(np.uint16) * 200
        if kind == 3:
            return True, None
        if kind == 4:
            return True, np.zeros((64, 64, 5), dtype=np.uint8)
        self.good += 1
        return True, frame


@needs_clips
def test_garbage_frames_are_counted_and_a_garbage_stream_reopened() -> None:
    opened: list[_Garbling] = []

    def opener(source: str) -> Capture:
        g = _Garbling(source, good_limit=20)
        opened.append(g)
        return g

    def until(src: CameraSource, msgs: list[wire.Message]) -> bool:
        return src.counters["garbage_streams"] >= 2

    src, msgs = asyncio.run(_live_run(
        lambda ep, ctx: _live_source(str(CLIPS / "V_DRONE_002.mp4"), ep, ctx, opener), until))
    assert src.counters["garbage_streams"] >= 2 and len(opened) >= 2
    assert src.detector.stats.bad_frames >= 80  # each one counted ...
    dets = [m for m in msgs if isinstance(m, wire.Detections)]
    assert len(dets) >= 20  # ... and the good frames between them published
    assert all(m.kind == "camera" for m in dets)
    assert any(isinstance(m, wire.Status) and m.state == "degraded" for m in msgs)


def _live_source(path: str, endpoint: str, ctx: zmq.asyncio.Context, opener: Any) -> CameraSource:
    """A source on a clip treated as live (as a device would be)."""
    src = CameraSource(path, endpoint, context=ctx, opener=opener, status_period_s=0.2)
    src.live = True
    src.pub.live = True
    return src


# --------------------------------------------------------------------------- configuration


def test_camera_table_parses_and_drives_the_adapter() -> None:
    from cuas.config import parse_config

    cfg = parse_config({"sensors": {"cam-n": {
        "kind": "camera", "origin": [51.557, -0.2796, 120],
        "camera": {"source": "rtsp://10.0.0.5/s1", "heading": -350, "pitch": 8, "roll": -1,
                   "fx": 1545.4, "fy": 1546.0, "cx": 971.2, "cy": 535.7, "width": 1920,
                   "height": 1080, "dist": [-0.011, 0.046, 0.0003, -0.0013, -0.15],
                   "horizon": [640, 700], "sky_polygon": [[0, 0], [1919, 0], [1919, 650]],
                   "method": "knn", "persistence": 1}}}})
    cam = cfg.sensors["cam-n"].settings["camera"]
    assert isinstance(cam, CameraSettings) and cam.sky_polygon == ((0.0, 0.0), (1919.0, 0.0), (1919.0, 650.0))
    geo = geometry_for(cam, 1920, 1080)
    assert geo.heading_deg == pytest.approx(10.0) and geo.model.dist[0] == -0.011
    assert not cfg.sensors["cam-n"].is_scanning


@pytest.mark.parametrize(("table", "key"), [
    ({"fx": 1000.0}, "sensors.c.camera.fx"),
    ({"method": "yolo"}, "sensors.c.camera.method"),
    ({"sky_polygon": [[0, 0], [1, 1]]}, "sensors.c.camera.sky_polygon"),
    ({"sky_polygon": [[0, 0], [1, "a"], [2, 2]]}, "sensors.c.camera.sky_polygon[1]"),
    ({"pitch": 95.0}, "sensors.c.camera.pitch"),
    ({"hfov_deg": 0.0}, "sensors.c.camera.hfov_deg"),
    ({"scale": 2.0}, "sensors.c.camera.scale"),
    ({"min_area_px": 50, "max_area_px": 10}, "sensors.c.camera.min_area_px"),
    ({"zoom": 2.0}, "sensors.c.camera.zoom"),
])
def test_bad_camera_tables_name_the_key(table: dict[str, Any], key: str) -> None:
    from cuas.config import parse_config
    from cuas.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_config({"sensors": {"c": {"kind": "camera", "camera": table}}})
    assert err.value.key == key


@needs_clips
def test_file_dated_1970_is_stamped_from_the_clock(tmp_path: Path) -> None:
    import os
    import shutil

    clip = tmp_path / "old.mp4"
    shutil.copy(CLIPS / "IR_DRONE_001.mp4", clip)
    os.utime(clip, (0, 0))

    async def main() -> list[wire.Detections]:
        ctx = zmq.asyncio.Context()
        sub = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=("det.",))
        src = CameraSource(str(clip), sub.getsockopt_string(zmq.LAST_ENDPOINT), speed=0.0,
                           context=ctx, max_frames=5)
        task = asyncio.create_task(src.run())
        got = []
        while len(got) < 5 and await sub.poll(10_000):
            got.append(bus.parse_frames(await sub.recv_multipart())[1])
        await task
        sub.close(0)
        ctx.term()
        assert src.counters["start_from_clock"] == 1
        return got  # type: ignore[return-value]

    got = asyncio.run(main())
    assert len(got) == 5 and abs(got[0].t - time.time()) < 60
