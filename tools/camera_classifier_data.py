#!/usr/bin/env python3
"""The camera classifier's data (tools/train_camera_classifier.py's split, extract and load
stages): the clip-level split file, the crops cached per clip by cuas's own detector, and
the model's input built from them. Training-only; nothing at run time imports it."""

from __future__ import annotations

import csv
import multiprocessing
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cuas.sensors.camera.appearance import (  # noqa: E402
    CROP_PX,
    MODEL_CLASSES,
    crop_box,
    prepare,
)
from cuas.sensors.camera.detect import DetectorConfig, MotionDetector, to_grey  # noqa: E402
from cuas.sensors.camera.evaluate import read_labels  # noqa: E402

CLIPS = ROOT.parent / "shared" / "data" / "video" / "svanstrom2021"
SPLIT = ROOT / "tools" / "camera_classifier_split.csv"
CONFUSION = ROOT / "cuas" / "sensors" / "camera" / "appearance_confusion.json"
SEED = 17
#: The clips the detector was first measured on (SOURCES.md, benchmarks/bench_camera.py).
BENCH_CLIPS = ("V_DRONE_001", "V_DRONE_002", "V_DRONE_008", "V_DRONE_010", "IR_DRONE_001",
               "V_BIRD_001", "V_BIRD_002", "V_AIRPLANE_001", "V_HELICOPTER_003", "IR_BIRD_003")
PAD_PX = 5.0
#: The cache keeps crops WIDE times the runtime window at WIDE_PX px, so that the centre
#: CROP_PX square is the runtime crop and training can jitter the scale around it.
WIDE = 4.0 / 3.0
WIDE_PX = round(CROP_PX * WIDE)


def read_clips() -> list[dict[str, str]]:
    with (CLIPS / "clips.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def read_split(path: Path = SPLIT) -> dict[str, str]:
    """{clip: "train" | "val" | "test"} from the split file."""
    with path.open(newline="") as fh:
        return {r["clip"]: r["split"] for r in csv.DictReader(fh)}


# ---------------------------------------------------------------------------------- split

def make_split(val_fraction: float = 0.25) -> None:
    rng = np.random.default_rng(SEED)
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in read_clips():
        groups[(r["modality"], r["class"], r["distance_bin"])].append(r["clip"])
    split: dict[str, str] = {}
    for key in sorted(groups):
        names = sorted(groups[key])
        fixed = [n for n in names if n in BENCH_CLIPS]
        rest = [n for n in names if n not in BENCH_CLIPS]
        n_val = max(1, round(val_fraction * len(names))) - len(fixed)
        order = rng.permutation(len(rest))
        val = set(fixed) | {rest[i] for i in order[:max(0, n_val)]}
        for n in names:
            split[n] = "val" if n in val else "train"
    # The held-out test clips: half of each group's validation clips (rounded down; never the
    # ten detector clips), drawn by a second seeded stream so the training and validation
    # clips above stay those every earlier model was trained and chosen on. Models are
    # chosen on "val" only; "test" is reported, never chosen on.
    rng_test = np.random.default_rng([SEED, 1])
    for key in sorted(groups):
        pool = [n for n in sorted(groups[key]) if split[n] == "val" and n not in BENCH_CLIPS]
        n_val = sum(split[n] == "val" for n in groups[key])
        for i in rng_test.permutation(len(pool))[:n_val // 2].tolist():
            split[pool[i]] = "test"
    with SPLIT.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip", "split"])
        for n in sorted(split):
            w.writerow([n, split[n]])
    n = {k: sum(v == k for v in split.values()) for k in ("train", "val", "test")}
    print(f"split: {n['train']} train, {n['val']} val, {n['test']} test clips -> "
          f"{SPLIT.relative_to(ROOT)}")


# -------------------------------------------------------------------------------- extract

def extract_clip(row: dict[str, str], step: int, max_bg: int, max_bg_clip: int,
                 rng: np.random.Generator, max_frames: int) -> dict[str, np.ndarray]:
    """Crops of one clip: uint8 (N, WIDE_PX, WIDE_PX), class index, source (0 labelled box,
    1 detector blob), frame index, box side (px)."""
    clip = row["clip"]
    boxes = read_labels(CLIPS / f"{clip}_labels.csv")
    cls = MODEL_CLASSES.index(row["class"])
    bg = MODEL_CLASSES.index("background")
    # Persistence 1: every blob the background subtraction finds, a superset of what the
    # adapter's detector (persistence 2) publishes, so the background class sees more clutter.
    det = MotionDetector(DetectorConfig(persistence=1))
    cap = cv2.VideoCapture(str(CLIPS / f"{clip}.mp4"))
    crops: list[np.ndarray] = []
    meta: list[tuple[int, int, int, float]] = []
    n_bg = 0
    i = -1
    while i + 1 < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        i += 1
        grey = to_grey(frame)
        res = det.process(grey)
        if i % step:
            continue
        box = boxes.get(i)
        if box is not None:
            c = crop_box(grey, box, WIDE, WIDE_PX)
            if c is not None:
                crops.append(c)
                meta.append((cls, 0, i, max(box[2], box[3])))
        outside = []
        for b in res.blobs:
            inside = box is not None and (box[0] - PAD_PX <= b.x <= box[0] + box[2] + PAD_PX
                                          and box[1] - PAD_PX <= b.y <= box[1] + box[3] + PAD_PX)
            if inside:
                c = crop_box(grey, b.bbox, WIDE, WIDE_PX)
                if c is not None:
                    crops.append(c)
                    meta.append((cls, 1, i, float(max(b.bbox[2], b.bbox[3]))))
            else:
                outside.append(b)
        if outside and n_bg < max_bg_clip:
            take = rng.permutation(len(outside))[:min(max_bg, max_bg_clip - n_bg)]
            for k in take.tolist():
                b = outside[k]
                c = crop_box(grey, b.bbox, WIDE, WIDE_PX)
                if c is not None:
                    crops.append(c)
                    meta.append((bg, 1, i, float(max(b.bbox[2], b.bbox[3]))))
                    n_bg += 1
    cap.release()
    m = np.array(meta, dtype=np.float64).reshape(-1, 4)
    return {"x": np.array(crops, dtype=np.uint8).reshape(-1, WIDE_PX, WIDE_PX),
            "y": m[:, 0].astype(np.int64), "src": m[:, 1].astype(np.int64),
            "frame": m[:, 2].astype(np.int64), "side": m[:, 3]}


def _extract_one(job: tuple[int, dict[str, str], Path, int, int, int, int]) -> str:
    k, row, cache, step, max_bg, max_bg_clip, max_frames = job
    cv2.setNumThreads(1)
    out = cache / f"{row['clip']}.npz"
    rng = np.random.default_rng([SEED, k])
    d = extract_clip(row, step, max_bg, max_bg_clip, rng, max_frames)
    np.savez_compressed(out, **d)
    return f"{row['clip']}: {len(d['y'])} crops ({int((d['y'] == 4).sum())} background)"


def extract(cache: Path, step: int, max_bg: int, max_bg_clip: int, max_frames: int,
            only: list[str] | None, workers: int) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    rows = read_clips()
    jobs = [(k, row, cache, step, max_bg, max_bg_clip, max_frames) for k, row in enumerate(rows)
            if (not only or row["clip"] in only) and not (cache / f"{row['clip']}.npz").exists()]
    t0 = time.monotonic()
    with multiprocessing.Pool(workers) as pool:
        for n, line in enumerate(pool.imap_unordered(_extract_one, jobs), 1):
            print(f"{n}/{len(jobs)} {line}, {time.monotonic() - t0:.0f} s", flush=True)


def load(cache: Path, which: str) -> dict[str, np.ndarray]:
    """The cached crops of the ``which`` ("train", "val", "test" or several joined by "+")
    clips, with per-crop clip metadata."""
    split = read_split()
    info = {r["clip"]: r for r in read_clips()}
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    for clip in sorted(split):
        if split[clip] not in which.split("+"):
            continue
        z = np.load(cache / f"{clip}.npz")
        # A blob in a frame without a labelled box may be the unlabelled target itself (some
        # clips label only part of their frames, a few none): background only comes from
        # frames whose target is boxed elsewhere.
        boxed = read_labels(CLIPS / f"{clip}_labels.csv")
        keep = np.array([not (y == MODEL_CLASSES.index("background") and boxed.get(f) is None)
                         for y, f in zip(z["y"].tolist(), z["frame"].tolist(), strict=True)],
                        dtype=bool)
        d = {key: z[key][keep] for key in ("x", "y", "src", "frame", "side")}
        n = len(d["y"])
        r = info[clip]
        for key in ("x", "y", "src", "frame", "side"):
            parts[key].append(d[key])
        parts["clip"].append(np.array([clip] * n, dtype=object))
        parts["modality"].append(np.array([r["modality"]] * n, dtype=object))
        parts["dist"].append(np.array([r["distance_bin"]] * n, dtype=object))
        parts["clip_class"].append(np.array([r["class"]] * n, dtype=object))
    return {k: np.concatenate(v) for k, v in parts.items()}


def centre(x: np.ndarray) -> np.ndarray:
    """The runtime crops (N, CROP_PX, CROP_PX) inside cached wide crops (N, WIDE_PX, WIDE_PX)."""
    o = (WIDE_PX - CROP_PX) // 2
    return x[:, o:o + CROP_PX, o:o + CROP_PX]


def model_input(d: dict[str, np.ndarray], x: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """The model's input for the crops ``x`` (default: the centre of each cached crop of
    ``d``), each prepared with its clip's modality, and which crops are usable."""
    crops = centre(d["x"]) if x is None else x
    n = len(crops)
    X = np.zeros((n, 2, CROP_PX, CROP_PX), dtype=np.float32)
    OK = np.zeros(n, dtype=bool)
    for mod in ("visible", "thermal"):
        sel = np.flatnonzero(d["modality"] == mod)
        if len(sel):
            X[sel], OK[sel] = prepare(list(crops[sel]), mod)
    return X, OK
