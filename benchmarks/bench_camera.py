#!/usr/bin/env python3
"""Benchmark: the camera detector's quality and speed, and bearing-only fusion on a real flight.

1. Detection quality on every Svanström clip (``shared/data/video/svanstrom2021``): recall and
   false blobs per frame against the per-frame boxes (scoring rules: ``cuas.sensors.camera.evaluate``,
   the same as ``SOURCES.md``'s), for cuas's detector and, measured in the same run with the same
   scoring, the peer: the plain MOG2 pipeline ``SOURCES.md`` describes (grey, 3×3 blur,
   MOG2(300, 25), 3×3 open, dilate ×2, components ≥ 4 px).
2. Throughput on one core (``cv2.setNumThreads(1)``; this process pinned to one CPU): frames
   per second of ``MotionDetector.process`` on decoded frames of V_DRONE_002 at 640×512, and
   the same frames resized to 1920×1080 (at full resolution and with ``scale=0.5``); the peer
   pipeline timed likewise; and decoding + detecting through ``cv2.VideoCapture``.
2b. The appearance classifier (``--parts classify``; cv2.dnn, one core, timed by the process
   CPU clock): ms per batch of 8 crops (the model alone, and with cropping and standardising),
   frames per second of detection alone and detection + classification on the 640x512 stream
   (the blobs of each frame as they come, and with 8 crops classified every frame as a worst
   case), and on the five drone clips the detector was first measured on: recall and false
   blobs per frame with blobs the classifier calls background tagged clutter (not counted),
   against the detector alone (``--parts classify-speed`` skips them); and ``cuas sensor
   camera --speed 0`` itself (decode, detect, classify, publish) on a visible and a thermal
   clip, classifier on and off: frames per second by the wall clock and frames per CPU-second
   of its process (start-up subtracted); the adapter runs pinned to the next CPU, so the
   subscriber timing it does not share its one core (it did until session 7); and where a
   frame's time goes (decode, grey, detect, classify, encode).
3. The Albl et al. flight (``shared/data/video/albl-multiview-dataset3``, read in place):
   orientations from the synchronised detections (first 40 % of the flight), triangulation
   of the held-out 60 %, distance of each point to the RTK path (median, p90) by number of
   cameras; then the cuas tracker fed the held-out bearings (``--track-seconds``).

    python benchmarks/bench_camera.py [--frames 300] [--track-seconds 120] [--cpu 0]
        [--parts quality,speed,classify,classify-speed,albl] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cuas.sensors.camera.appearance import (  # noqa: E402
    AppearanceClassifier,
    crop_box,
    prepare,
)
from cuas.sensors.camera.detect import DetectorConfig, MotionDetector, to_grey  # noqa: E402
from cuas.sensors.camera.evaluate import read_labels, score_clip  # noqa: E402

CLIPS = ROOT.parent / "shared" / "data" / "video" / "svanstrom2021"
#: Clip, what it shows, and the horizon a site would configure (None: sky to the bottom).
TABLE = [
    ("V_DRONE_001", "drone, close", None),
    ("V_DRONE_002", "drone, medium", None),
    ("V_DRONE_008", "drone, distant", (340.0, 400.0)),
    ("V_DRONE_010", "drone, distant", None),
    ("IR_DRONE_001", "drone, close, thermal", None),
    ("V_BIRD_001", "bird; exposure swings", None),
    ("V_BIRD_002", "bird; pans, exposure swings", None),
    ("V_AIRPLANE_001", "airplane; panning camera", None),
    ("V_HELICOPTER_003", "helicopter; panning camera", None),
    ("IR_BIRD_003", "bird, distant, thermal", None),
]


class PlainMog2:
    """The peer: SOURCES.md's plain MOG2 pipeline, blobs as (x, y) centroids."""

    def __init__(self) -> None:
        self.sub = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=25,
                                                      detectShadows=False)
        self.k = np.ones((3, 3), np.uint8)

    def process(self, frame: np.ndarray) -> list[tuple[float, float]]:
        g = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (3, 3), 0)
        fg = self.sub.apply(g)
        fg = cv2.dilate(cv2.morphologyEx(fg, cv2.MORPH_OPEN, self.k), self.k, iterations=2)
        n, _, stats, cents = cv2.connectedComponentsWithStats(fg)
        return [(float(cents[i][0]), float(cents[i][1])) for i in range(1, n)
                if stats[i, cv2.CC_STAT_AREA] >= 4]


def score_peer(clip: str, frames: int | None, skip: int = 30, pad: float = 5.0
               ) -> tuple[float, float]:
    boxes = read_labels(CLIPS / f"{clip}_labels.csv")
    cap = cv2.VideoCapture(str(CLIPS / f"{clip}.mp4"))
    peer = PlainMog2()
    hits = labelled = false = scored = 0
    i = -1
    while frames is None or i + 1 < frames:
        ok, frame = cap.read()
        if not ok:
            break
        i += 1
        blobs = peer.process(frame)
        if i < skip:
            continue
        scored += 1
        box = boxes.get(i)
        found = False
        for x, y in blobs:
            inside = box is not None and (box[0] - pad <= x <= box[0] + box[2] + pad
                                          and box[1] - pad <= y <= box[1] + box[3] + pad)
            found |= inside
            false += not inside
        if box is not None:
            labelled += 1
            hits += found
    cap.release()
    return hits / max(labelled, 1), false / max(scored, 1)


def quality(frames: int | None) -> list[dict[str, Any]]:
    rows = []
    print("\n1. Detection on the Svanström clips (recall / false blobs per frame; frames 1-30 are"
          " warm-up)")
    print(f"{'clip':18s} {'content':30s} {'cuas recall':>11s} {'cuas FP/f':>9s} {'gated':>7s}"
          f" {'MOG2 recall':>11s} {'MOG2 FP/f':>9s}")
    for clip, what, horizon in TABLE:
        s = score_clip(CLIPS / f"{clip}.mp4", CLIPS / f"{clip}_labels.csv",
                       DetectorConfig(horizon=horizon), max_frames=frames)
        pr, pf = score_peer(clip, frames)
        note = " (horizon set)" if horizon else ""
        print(f"{clip:18s} {what + note:30s} {s.recall:11.3f} {s.false_per_frame:9.3f} "
              f"{s.gated_frames:3d}/{s.frames:<3d} {pr:11.3f} {pf:9.3f}", flush=True)
        rows.append({"clip": clip, "content": what, "horizon": horizon, "recall": s.recall,
                     "false_per_frame": s.false_per_frame, "gated": s.gated_frames,
                     "frames": s.frames, "peer_recall": pr, "peer_false_per_frame": pf})
        if clip == "V_DRONE_008":  # also without the horizon, for the record
            s2 = score_clip(CLIPS / f"{clip}.mp4", CLIPS / f"{clip}_labels.csv",
                            max_frames=frames)
            print(f"{clip:18s} {'  same, no horizon':30s} {s2.recall:11.3f} "
                  f"{s2.false_per_frame:9.3f} {s2.gated_frames:3d}/{s2.frames:<3d}")
            rows.append({"clip": clip, "content": what + ", no horizon", "horizon": None,
                         "recall": s2.recall, "false_per_frame": s2.false_per_frame,
                         "gated": s2.gated_frames, "frames": s2.frames})
    return rows


def _time(fn: Any, frames: list[np.ndarray], repeat: int, clock: Any = time.perf_counter
          ) -> float:
    """Frames per second of ``fn`` over ``frames`` (best of ``repeat`` passes) by ``clock``."""
    best = 0.0
    for _ in range(repeat):
        t = clock()
        for f in frames:
            fn(f)
        best = max(best, len(frames) / max(1e-9, clock() - t))
    return best


def first_frames(clip: str, n_frames: int) -> list[np.ndarray]:
    """The first ``n_frames`` decoded frames (BGR) of ``clip`` in the dataset folder."""
    cap = cv2.VideoCapture(str(CLIPS / clip))
    frames: list[np.ndarray] = []
    while len(frames) < n_frames:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def speed(n_frames: int, repeat: int) -> dict[str, float]:
    small = first_frames("V_DRONE_002.mp4", n_frames)
    big = [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_LINEAR) for f in small]
    out: dict[str, float] = {}

    def detector(cfg: DetectorConfig) -> Any:
        d = MotionDetector(cfg)
        return d.process

    print(f"\n2. Throughput, one core, {len(small)} decoded frames (best of {repeat}); "
          "targets 60 fps at 640x512, 15 fps at 1920x1080")
    cases = [("cuas 640x512", lambda: detector(DetectorConfig()), small),
             ("peer MOG2 640x512", lambda: PlainMog2().process, small),
             ("cuas 1920x1080", lambda: detector(DetectorConfig()), big),
             ("cuas 1920x1080 scale 0.5", lambda: detector(DetectorConfig(scale=0.5)), big),
             ("peer MOG2 1920x1080", lambda: PlainMog2().process, big)]
    for name, make, frames in cases:
        fps = max(_time(make(), frames, 1) for _ in range(repeat))  # a fresh model each run
        out[name] = fps
        print(f"  {name:28s} {fps:8.1f} fps  ({1000.0 / fps:6.2f} ms/frame)", flush=True)
    # Decoding included: what `cuas sensor camera --speed 0` can sustain on a 640x512 clip.
    det = MotionDetector()
    cap = cv2.VideoCapture(str(CLIPS / "V_DRONE_002.mp4"))
    t = time.perf_counter()
    n = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        det.process(f)
        n += 1
    cap.release()
    out["cuas 640x512 decode+detect"] = n / (time.perf_counter() - t)
    print(f"  {'cuas 640x512 decode+detect':28s} {out['cuas 640x512 decode+detect']:8.1f} fps")
    print(f"  ratio cuas/peer at 640x512: {out['cuas 640x512'] / out['peer MOG2 640x512']:.2f}; "
          f"at 1080p: {out['cuas 1920x1080'] / out['peer MOG2 1920x1080']:.2f}")
    return out


DRONE_CLIPS = [row for row in TABLE if "DRONE" in row[0]]


def classification(n_frames: int, repeat: int, frames: int | None, clips: bool = True
                   ) -> dict[str, Any]:
    """Part 2b (``clips``: with the five drone clips' recall and false blobs, the slow part)."""
    clf = AppearanceClassifier()
    boxes = read_labels(CLIPS / "V_DRONE_002_labels.csv")
    small = first_frames("V_DRONE_002.mp4", n_frames)
    grey0 = to_grey(small[100])
    box = boxes[100]
    assert box is not None
    boxes8 = [(box[0] + 3 * k, box[1] + 2 * k, box[2], box[3]) for k in range(8)]
    crops = [c for c in (crop_box(grey0, b) for b in boxes8) if c is not None]
    x, _ = prepare(crops, "visible")
    out: dict[str, Any] = {}
    print("\n2b. Appearance classifier (cv2.dnn, one core; times by this process's CPU clock, "
          "which other work on a shared machine disturbs far less than the wall clock); "
          "targets <= 2 ms per batch of 8, >= 100 fps detection + classification at 640x512")
    for name, fn in (("model, batch of 8", lambda: clf.logits(x)),
                     ("crop + model, batch of 8",
                      lambda: clf.classify_boxes(grey0, boxes8, "visible"))):
        fn()
        best = float("inf")
        for _ in range(repeat):
            t = time.process_time()
            for _ in range(200):
                fn()
            best = min(best, (time.process_time() - t) / 200)
        out[name] = best * 1000.0
        print(f"  {name:34s} {best * 1000.0:6.3f} ms")

    def pipeline(crops: int | None) -> Any:
        det = MotionDetector()

        def run(f: np.ndarray) -> None:
            grey = to_grey(f)
            res = det.process(grey)
            if crops is None:
                return
            bxs = [b.bbox for b in res.blobs]
            if crops:
                bxs = (bxs + boxes8)[:crops]
            if bxs:
                clf.classify_boxes(grey, bxs, "visible")
        return run

    for name, crops in (("detect only 640x512 (same run)", None),
                        ("detect + classify 640x512", 0),
                        ("detect + classify 8 crops/frame", 8)):
        fps = max(_time(pipeline(crops), small, 1, time.process_time) for _ in range(repeat))
        out[name] = fps
        print(f"  {name:34s} {fps:8.1f} fps  ({1000.0 / fps:6.2f} ms/frame)", flush=True)
    out["stages"] = stages(n_frames=n_frames)
    if clips:
        out["drone_clips"] = five_clips(clf, frames)
    for clip in ("V_DRONE_002", "IR_DRONE_001"):
        for on in (False, True):
            name = f"cuas sensor camera {clip} classify {'on' if on else 'off'}"
            runs = [adapter_fps(clip, on) for _ in range(repeat)]
            out[name] = max(r[0] for r in runs)
            # Frames per CPU-second of the adapter process (its user + system time, less a
            # one-frame run's start-up): what one core would sustain, far less disturbed by
            # other work on a shared machine than the wall clock.
            start = min(adapter_fps(clip, on, max_frames=1)[1] for _ in range(repeat))
            cpu = min(r[1] for r in runs) - start
            out[name + " per CPU-second"] = (min(r[2] for r in runs) - 1) / cpu if cpu > 0 else 0.0
            print(f"  {name:44s} {out[name]:8.1f} fps  {out[name + ' per CPU-second']:6.1f} "
                  "frames per CPU-second", flush=True)
    return out


def stages(clip: str = "V_DRONE_002", n_frames: int = 300) -> dict[str, float]:
    """Where a frame's time goes in ``cuas sensor camera`` (decode, grey, detect, classify,
    detections and their wire encoding), ms per frame by this process's CPU clock, the
    adapter's own steps (``CameraSource._process``) on a clip's first ``n_frames``."""
    from cuas import bus, wire
    from cuas.sensors.camera.settings import CameraSettings
    from cuas.sensors.camera.source import blob_detections, geometry_for

    clf = AppearanceClassifier()
    det = MotionDetector()
    cap = cv2.VideoCapture(str(CLIPS / f"{clip}.mp4"))
    tot = dict.fromkeys(("decode", "grey", "detect", "classify", "detections + encode"), 0.0)
    geom = None
    n = 0
    clock = time.process_time
    while n < n_frames:
        t0 = clock()
        ok, frame = cap.read()
        t1 = clock()
        if not ok:
            break
        grey = to_grey(frame)
        t2 = clock()
        blobs = det.process(grey).blobs
        t3 = clock()
        looks = clf.classify_boxes(grey, [b.bbox for b in blobs], "visible") if blobs else []
        t4 = clock()
        if geom is None:
            geom = geometry_for(CameraSettings(), frame.shape[1], frame.shape[0])
        dets = blob_detections(geom, blobs, looks or None)
        bus.frames(wire.Detections(src="cam", seq=n + 1, t=1.7e9 + n / 30.0, sensor="cam",
                                   kind="camera", dets=dets))
        t5 = clock()
        for k, dt in zip(tot, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            tot[k] += dt
        n += 1
    cap.release()
    out = {k: 1000.0 * v / max(1, n) for k, v in tot.items()}
    total = sum(out.values())
    print(f"  where a frame's time goes, {clip} ({n} frames, CPU ms/frame): "
          + ", ".join(f"{k} {v:.2f}" for k, v in out.items())
          + f"; total {total:.2f} ms = {1000.0 / total:.0f} fps on one core", flush=True)
    out["total"] = total
    return out


def five_clips(clf: AppearanceClassifier, frames: int | None) -> list[dict[str, Any]]:
    """Recall and false blobs a frame of the detector alone and with the blobs the classifier
    calls background tagged clutter, on the five drone clips."""
    print("  the five drone clips: detector alone vs with blobs called background tagged "
          "clutter")
    print(f"  {'clip':14s} {'recall':>7s} {'FP/f':>6s} | {'recall':>7s} {'FP/f':>6s} "
          f"{'clutter/f':>9s} labels of in-box blobs")
    rows = []
    for clip, _what, horizon in DRONE_CLIPS:
        cfg = DetectorConfig(horizon=horizon)
        a = score_clip(CLIPS / f"{clip}.mp4", CLIPS / f"{clip}_labels.csv", cfg,
                       max_frames=frames)
        b = score_clip(CLIPS / f"{clip}.mp4", CLIPS / f"{clip}_labels.csv", cfg,
                       max_frames=frames, classifier=clf)
        lab = b.box_labels or {}
        n = sum(lab.values())
        shares = ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(lab.items(),
                                                                  key=lambda kv: -kv[1]))
        print(f"  {clip:14s} {a.recall:7.3f} {a.false_per_frame:6.3f} | {b.recall:7.3f} "
              f"{b.false_per_frame:6.3f} {b.clutter_per_frame:9.3f} {shares}", flush=True)
        rows.append({"clip": clip, "horizon": horizon, "recall": a.recall,
                     "false_per_frame": a.false_per_frame, "recall_classified": b.recall,
                     "false_per_frame_classified": b.false_per_frame,
                     "clutter_per_frame": b.clutter_per_frame, "box_labels": lab})
    return rows


#: The CPU the adapter process runs on (None: this process's): another one than this
#: process's when there are two, so the subscriber timing it does not share its one core.
ADAPTER_CPU: int | None = None


def _adapter_cpu() -> None:
    if ADAPTER_CPU is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {ADAPTER_CPU})


def adapter_fps(clip: str, classify: bool, max_frames: int | None = None
                ) -> tuple[float, float, int]:
    """Frames per second of ``cuas sensor camera --speed 0`` on a clip (a process of its own,
    on this process's CPUs; decoding, detection, classification and publishing included),
    timed by a subscriber on 127.0.0.1 from the first message to the last; the process's CPU
    seconds (user + system, start-up included); the messages received."""
    import resource

    import zmq

    from cuas import bus

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"det.")
    sub.bind("tcp://127.0.0.1:*")
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "site.toml"
        cfg.write_text("[site]\nlat = 51.556\nlon = -0.28\nh = 100.0\n\n[sensors.cam]\n"
                       'kind = "camera"\norigin = [51.556, -0.28, 100.0]\n\n'
                       f"[sensors.cam.camera]\nclassify = {'true' if classify else 'false'}\n")
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen([sys.executable, "-m", "cuas.cli.main", "sensor", "camera",
                                 "--config", str(cfg), "--sensor-id", "cam", "--source",
                                 str(CLIPS / f"{clip}.mp4"), "--publish", endpoint,
                                 "--speed", "0"]
                                + ([] if max_frames is None else
                                   ["--max-frames", str(max_frames)]),
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                preexec_fn=_adapter_cpu)
        n, first, last = 0, 0.0, 0.0
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                if sub.poll(200):
                    bus.parse_frames(sub.recv_multipart())
                    last = time.perf_counter()
                    first = first or last
                    n += 1
                elif proc.poll() is not None:
                    break
            proc.wait(timeout=30)
        finally:
            proc.kill()
            sub.close(0)
            ctx.term()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return (n - 1) / (last - first) if n > 1 and last > first else 0.0, cpu, n


def albl_figures(track_seconds: float) -> dict[str, Any]:
    from tests.tracking import albl

    if not albl.available():
        print("\n3. Albl dataset 3 not found: skipped")
        return {}
    t = time.perf_counter()
    data = albl.load()
    ev = albl.evaluate(data, step=4.0)
    fit_s = time.perf_counter() - t
    print(f"\n3. Albl et al. dataset 3 (six cameras, RTK truth); fit + triangulation {fit_s:.1f} s")
    print("  camera poses (survey frame; heading, pitch, roll deg) and median ray miss after "
          "the fit:")
    for k, (p, m) in enumerate(zip(ev.poses, ev.fit_miss_m, strict=True)):
        print(f"    cam{k} ({albl.CALIBRATION[k]:17s}) {p[0]:7.2f} {p[1]:6.2f} {p[2]:6.2f}"
              f"   miss {m:.3f} m")
    print(f"  survey -> RTK frame: turn {ev.yaw_deg:.2f} deg about the vertical, shift "
          f"{np.round(ev.shift_m, 2).tolist()} m")
    out: dict[str, Any] = {"fit_miss_m": ev.fit_miss_m.tolist(), "yaw_deg": ev.yaw_deg}
    print("  held-out triangulated points: distance to the RTK path by cameras seeing the drone")
    for k in (2, 3, 4, 5, 6):
        sel = ev.n_cams >= k
        if not sel.any():
            continue
        med, p90 = float(np.median(ev.error_m[sel])), float(np.percentile(ev.error_m[sel], 90))
        print(f"    >= {k} cameras: {sel.sum():5d} points, median {med:.3f} m, p90 {p90:.3f} m")
        out[f"triangulation_ge{k}"] = {"n": int(sel.sum()), "median_m": med, "p90_m": p90}
    if track_seconds > 0:
        t0 = min(tr[0, 0] for tr in data.tracks)
        t1 = max(tr[-1, 0] for tr in data.tracks)
        start = t0 + albl.FIT_FRACTION * (t1 - t0)
        seconds = min(track_seconds, (t1 - start) / albl.REF_FPS)
        t = time.perf_counter()
        run = albl.track(data, ev, start, seconds)
        el = time.perf_counter() - t
        print(f"  tracker fed {seconds:.0f} s of held-out bearings: {run.batches} batches in "
              f"{el:.1f} s, {run.tracks_created} track(s) created")
        for k in (2, 3):
            sel = run.n_cams >= k
            if sel.any():
                med = float(np.median(run.error_m[sel]))
                p90 = float(np.percentile(run.error_m[sel], 90))
                print(f"    confirmed track, >= {k} cameras: {sel.sum()} samples (1/s), median "
                      f"{med:.3f} m, p90 {p90:.3f} m")
                out[f"tracker_ge{k}"] = {"n": int(sel.sum()), "median_m": med, "p90_m": p90}
        out["tracks_created"] = run.tracks_created
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=None, help="frames per clip (default all)")
    ap.add_argument("--speed-frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--track-seconds", type=float, default=120.0,
                    help="held-out flight fed to the tracker (0: skip)")
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: none)")
    ap.add_argument("--parts", default="quality,speed,classify,albl",
                    help="comma-separated parts to run (default all; classify-speed: part 2b "
                    "without the five clips' recall)")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    if not (CLIPS / "V_DRONE_001.mp4").is_file():
        print(f"clips not found in {CLIPS}", file=sys.stderr)
        return 1
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
        global ADAPTER_CPU
        ncpu = os.cpu_count() or 1
        ADAPTER_CPU = (args.cpu + 1) % ncpu if ncpu > 1 else None
    cv2.setNumThreads(1)
    print(f"OpenCV {cv2.__version__}, numpy {np.__version__}, load average "
          f"{os.getloadavg()[0]:.1f}")
    parts = set(args.parts.split(","))
    result: dict[str, Any] = {}
    if "quality" in parts:
        result["quality"] = quality(args.frames)
    if "speed" in parts:
        result["speed"] = speed(args.speed_frames, args.repeat)
    if "classify" in parts or "classify-speed" in parts:
        result["classify"] = classification(args.speed_frames, args.repeat, args.frames,
                                            clips="classify" in parts)
    if "albl" in parts:
        result["albl"] = albl_figures(args.track_seconds)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
