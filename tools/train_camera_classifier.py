#!/usr/bin/env python3
"""Train the camera's appearance classifier (cuas/sensors/camera/appearance.onnx) on the
Svanström CC0 clips in ../shared/data/video/svanstrom2021, and measure it.

Stages (each reads what the previous one cached under --cache, outside the repo):

  split    write the clip-level split (tools/camera_classifier_split.csv): per (modality, class,
           distance bin) a seeded quarter of the clips goes to validation, and the ten clips
           SOURCES.md first measured the detector on are always validation (the detector's
           false-blob figures must not come from clips the model learnt).
  extract  run cuas's own MotionDetector (default settings, as the adapter runs it) over every
           clip; every --step-th frame gives the labelled box's crop and one crop per detector
           blob: inside the labelled box (padded 5 px) it has the clip's class, outside it is
           background (at most --max-bg per frame, --max-bg-clip per clip, seeded choice;
           only from frames that have a labelled box, since in the others a blob may be the
           unlabelled target).
  train    a small CNN in PyTorch (the `train` extra) on 48 px crops cut with random scale,
           shift, flip, brightness, contrast and blur from the cached wider crops; sampling
           balanced by class, then (modality, distance bin), then clip; fixed seed; exported
           to ONNX (opset 13) and checked to give the same outputs under cv2.dnn.
  report   per-class precision/recall per modality and distance bin, confusion matrices,
           per-clip majority labels, on the validation clips, with the shipped model run by
           cv2.dnn (the runtime path); JSON for the model card and the simulator.

  nice -n 10 python tools/train_camera_classifier.py all --cache /tmp/cuas-camera48
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cuas.sensors.camera.appearance import (  # noqa: E402
    CROP_PX,
    MODEL_CLASSES,
    MODEL_PATH,
    THERMAL_MODEL_PATH,
    AppearanceClassifier,
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


# ---------------------------------------------------------------------------------- train

def build_net(channels: tuple[int, ...] = (8, 16, 32, 64), hidden: int = 96) -> Any:
    """Four 3x3 convolutions (default 8, 16, 32, 64 channels; batch norm, ReLU, 2x2 max-pool)
    take the 48 px crop to 3x3 by the last width, then a ``hidden``-unit dense layer: narrow
    early layers keep the cost at about 2.4 M multiply-adds a crop (the 2 ms budget per batch
    of 8 on one core); width in the last two layers, at 12 and 6 px, costs little."""
    import torch.nn as nn

    layers: list[Any] = []
    c_in = 2
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                   nn.MaxPool2d(2)]
        c_in = c
    side = CROP_PX // 2 ** len(channels)
    return nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.3),
                         nn.Linear(c_in * side * side, hidden), nn.ReLU(),
                         nn.Linear(hidden, len(MODEL_CLASSES)))


def jitter(wide: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Runtime-sized crops cut from cached wide crops with random scale (window 0.8-1.25 of
    the runtime one: detector boxes are tighter or looser than the labels), shift (up to 1/12
    of the window), horizontal flip (a target flies either way; up stays up: wings and rotors
    are level), brightness/contrast change and, for a quarter, a slight blur (focus, haze)."""
    out = np.empty((len(wide), CROP_PX, CROP_PX), dtype=np.uint8)
    for i, w in enumerate(wide):
        side = CROP_PX * float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
        cx = WIDE_PX / 2 + rng.uniform(-1, 1) * side / 12
        cy = WIDE_PX / 2 + rng.uniform(-1, 1) * side / 12
        m = np.array([[side / CROP_PX, 0, cx - side / 2], [0, side / CROP_PX, cy - side / 2]])
        c = cv2.warpAffine(w, m, (CROP_PX, CROP_PX), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        if rng.random() < 0.5:
            c = c[:, ::-1]
        if rng.random() < 0.25:
            c = cv2.GaussianBlur(c, (0, 0), rng.uniform(0.5, 1.0))
        mean = float(c.mean())
        c = (c - mean) * rng.uniform(0.7, 1.4) + mean + rng.uniform(-25, 25)
        out[i] = np.clip(c, 0, 255).astype(np.uint8)
    return out


def train(cache: Path, epochs: int, out: Path, per_epoch: int = 16_000, threads: int = 1,
          eval_every: int = 0, modality: str | None = None,
          channels: tuple[int, ...] = (8, 16, 32, 64), hidden: int = 96,
          hard_boost: float = 0.0, hard_every: int = 6) -> None:
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    d = load(cache, "train")
    _, ok = model_input(d)
    if modality is not None:  # a model of one modality's crops only
        ok &= d["modality"] == modality
    keep = np.flatnonzero(ok)
    d = {k: v[keep] for k, v in d.items()}
    y = d["y"]
    counts = np.bincount(y, minlength=len(MODEL_CLASSES))
    per_class = dict(zip(MODEL_CLASSES, counts.tolist(), strict=True))
    print(f"train: {len(y)} crops, per class {per_class}")
    # Balanced classes (equal priors), and within a class each (modality, distance bin) group
    # and each clip weighs the same, so the smaller thermal or visible side of a class, its
    # rarer distance bins and clips with few crops are not drowned by the rest.
    w = np.zeros(len(y))
    for c in range(len(MODEL_CLASSES)):
        groups = {(m, b) for m, b in zip(d["modality"][y == c], d["dist"][y == c], strict=True)}
        for m, b in groups:
            sel = (y == c) & (d["modality"] == m) & (d["dist"] == b)
            clips = set(d["clip"][sel])
            for clip in clips:
                s2 = sel & (d["clip"] == clip)
                w[s2] = 1.0 / (len(groups) * len(clips) * s2.sum())
    w /= w.sum()
    w_base = w.copy()
    net = build_net(channels, hidden)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    per_epoch = min(len(y), per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * (
        per_epoch // 128 + 1))
    yt = torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    rng = np.random.default_rng(SEED)
    if eval_every:
        # Monitoring only (the model is chosen by the report, not by this): validation loss
        # and drone-vs-not accuracy on the labelled boxes, to see where training levels off.
        dv = load(cache, "val")
        Xv, okv = model_input(dv)
        boxv = okv & (dv["src"] == 0)
        if modality is not None:
            boxv &= dv["modality"] == modality
        Xvt, yvt = torch.from_numpy(Xv[boxv]), torch.from_numpy(dv["y"][boxv])
    t0 = time.monotonic()
    for ep in range(epochs):
        if hard_boost and ep >= epochs // 3 and (ep - epochs // 3) % hard_every == 0:
            # Hard examples: the training crops the model gets wrong in the drone / not-drone
            # sense (a bird or airplane called drone, a drone called something else), drawn
            # (1 + hard_boost) times as often until the next refresh; judged on the plain
            # centre crops, as the runtime sees them.
            net.eval()
            wrong = np.zeros(len(y), dtype=bool)
            with torch.no_grad():
                for s in range(0, len(y), 1024):
                    sub = {"x": d["x"][s:s + 1024], "modality": d["modality"][s:s + 1024]}
                    xs, oks = model_input(sub)
                    p = net(torch.from_numpy(xs)).argmax(1).numpy()
                    wrong[s:s + 1024] = oks & ((p == 0) != (y[s:s + 1024] == 0))
            w = w_base * (1.0 + hard_boost * wrong)
            w /= w.sum()
            print(f"hard examples: {int(wrong.sum())} of {len(y)} crops, now "
                  f"{float(w[wrong].sum()):.2f} of the draws", flush=True)
        net.train()
        idx = rng.choice(len(y), size=per_epoch, p=w)
        total = 0.0
        for s in range(0, per_epoch, 128):
            b = idx[s:s + 128]
            sub = {"modality": d["modality"][b]}
            xb, okb = model_input(sub, jitter(d["x"][b], rng))
            xb, yb = torch.from_numpy(xb[okb]), yt[torch.from_numpy(b[okb])]
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(yb)
        line = f"epoch {ep + 1}/{epochs}: loss {total / per_epoch:.3f}"
        if eval_every and ((ep + 1) % eval_every == 0 or ep + 1 == epochs):
            net.eval()
            with torch.no_grad():
                lv = torch.cat([net(Xvt[i:i + 512]) for i in range(0, len(yvt), 512)])
            pv = lv.argmax(1)
            acc = float(((pv == 0) == (yvt == 0)).float().mean())
            line += (f", val loss {float(torch.nn.functional.cross_entropy(lv, yvt)):.3f}"
                     f" drone-vs-not {acc:.3f} 5-class {float((pv == yvt).float().mean()):.3f}")
        print(f"{line}, {time.monotonic() - t0:.0f} s", flush=True)
    X, _ = model_input({"x": d["x"][:64], "modality": d["modality"][:64]})
    net.eval()
    dummy = torch.zeros(1, 2, CROP_PX, CROP_PX)
    torch.onnx.export(net, (dummy,), str(out), input_names=["crop"], output_names=["logits"],
                      opset_version=13, dynamic_axes={"crop": {0: "n"}, "logits": {0: "n"}},
                      dynamo=False)
    # The runtime path must agree with PyTorch.
    probe = torch.from_numpy(X[:64])
    with torch.no_grad():
        ref = net(probe).numpy()
    got = AppearanceClassifier(out).logits(X[:64])
    err = float(np.abs(ref - got).max())
    print(f"exported {out} ({out.stat().st_size} bytes); cv2.dnn vs torch max |diff| {err:.2e}")
    if err > 1e-3:
        raise SystemExit("cv2.dnn disagrees with PyTorch")


# --------------------------------------------------------------------------------- report

def prf(y: np.ndarray, p: np.ndarray, c: int) -> tuple[float | None, float | None, int]:
    tp = int(((y == c) & (p == c)).sum())
    n_true, n_pred = int((y == c).sum()), int((p == c).sum())
    return (round(tp / n_pred, 3) if n_pred else None, round(tp / n_true, 3) if n_true else None,
            n_true)


#: Crops (every --step-th frame) the "track" figures average over: 8 crops of every 4th
#: frame are about a second of a 25-30 fps stream.
TRACK_WINDOW = 8


def track_calls(d: dict[str, np.ndarray], logits: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Per selected crop, the class a track's evidence would name after this crop and the
    previous TRACK_WINDOW - 1 of the same clip (and source): the sum of the log-probabilities
    (floored at 0.01, as cuas.classify.evidence floors likelihoods) over that window."""
    logp = np.log(np.maximum(np.exp(logits - logits.max(axis=1, keepdims=True))
                             / np.exp(logits - logits.max(axis=1, keepdims=True)).sum(
                                 axis=1, keepdims=True), 0.01))
    out = np.full(len(logits), -1)
    idx = np.flatnonzero(sel)
    for clip in set(d["clip"][idx]):
        for src in (0, 1):
            rows = idx[(d["clip"][idx] == clip) & (d["src"][idx] == src)]
            rows = rows[np.argsort(d["frame"][rows], kind="stable")]
            csum = np.cumsum(logp[rows], axis=0)
            lag = np.vstack([np.zeros((TRACK_WINDOW, logp.shape[1])), csum])[:len(rows)]
            out[rows] = (csum - lag).argmax(axis=1)
    return out


def report(cache: Path, model: Path, out: Path | None, thermal_model: Path | None = None,
           confusion: Path | None = CONFUSION, which: str = "val") -> None:
    """Measure ``model`` on the visible ``which`` clips ("val" or "test") and
    ``thermal_model`` (default: the same model) on the thermal ones; write the report ``out``
    and (unless None) the simulator's ``confusion`` matrices."""
    d = load(cache, which)
    X, ok = model_input(d)
    logits = np.zeros((len(X), len(MODEL_CLASSES)), dtype=np.float32)
    for mod, path in (("visible", model), ("thermal", thermal_model or model)):
        clf = AppearanceClassifier(path)
        sel = np.flatnonzero(d["modality"] == mod)
        for s in range(0, len(sel), 256):
            logits[sel[s:s + 256]] = clf.logits(X[sel[s:s + 256]])
    pred = logits.argmax(axis=1)
    pred[~ok] = -1
    y = d["y"]
    drone, bg = MODEL_CLASSES.index("drone"), MODEL_CLASSES.index("background")
    tcall = track_calls(d, logits, ok & (y != bg))
    res: dict[str, Any] = {"split": which, "model": model.name, "bytes": model.stat().st_size,
                           **({"thermal_model": thermal_model.name,
                               "thermal_bytes": thermal_model.stat().st_size}
                              if thermal_model else {}),
                           "val_clips": len(set(d["clip"])), "crops": int(len(y)),
                           "unusable_crops": int((~ok).sum())}
    rows = []
    for src_name, src_sel in (("box", d["src"] == 0), ("blob", d["src"] == 1)):
        for mod in ("visible", "thermal"):
            for dist in ("close", "medium", "distant", "all"):
                sel = src_sel & (d["modality"] == mod) & ok
                if dist != "all":
                    sel &= d["dist"] == dist
                tgt = sel & (y != bg)
                if not tgt.any():
                    continue
                yd, pd_ = (y[tgt] == drone), (pred[tgt] == drone)
                r: dict[str, Any] = {"crops": src_name, "modality": mod, "distance": dist,
                                     "n": int(tgt.sum()),
                                     "drone_vs_not_acc": round(float((yd == pd_).mean()), 3),
                                     "class_acc": round(float((y[tgt] == pred[tgt]).mean()), 3),
                                     # What a track's evidence names over the last
                                     # TRACK_WINDOW crops (not the bar, which is per crop).
                                     "track_drone_vs_not_acc": round(float(
                                         (yd == (tcall[tgt] == drone)).mean()), 3)}
                for c, name in enumerate(MODEL_CLASSES):
                    p_, r_, n_ = prf(y[sel], pred[sel], c)
                    r[name] = {"precision": p_, "recall": r_, "n": n_}
                for name in ("bird", "airplane", "helicopter"):
                    s2 = tgt & (y == MODEL_CLASSES.index(name))
                    r[f"{name}_called_drone"] = (round(float((pred[s2] == drone).mean()), 3)
                                                 if s2.any() else None)
                    r[f"track_{name}_called_drone"] = (
                        round(float((tcall[s2] == drone).mean()), 3) if s2.any() else None)
                rows.append(r)
    res["bins"] = rows
    # Confusion matrices (rows true, columns predicted), all val crops per modality.
    res["confusion"] = {}
    for mod in ("visible", "thermal"):
        sel = (d["modality"] == mod) & ok
        cm = np.zeros((5, 5), dtype=int)
        np.add.at(cm, (y[sel], pred[sel]), 1)
        res["confusion"][mod] = cm.tolist()
    # By target size (box side px) for the simulator: labelled boxes and blobs, targets only.
    edges = [0, 8, 16, 32, 64, 10_000]
    res["size_edges_px"] = edges
    res["confusion_by_size"] = {}
    for mod in ("visible", "thermal"):
        mats = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = (d["modality"] == mod) & ok & (d["side"] >= lo) & (d["side"] < hi)
            cm = np.zeros((5, 5), dtype=int)
            np.add.at(cm, (y[sel], pred[sel]), 1)
            mats.append(cm.tolist())
        res["confusion_by_size"][mod] = mats
    # Majority label per clip over its labelled-box crops.
    maj: dict[str, Any] = {}
    for clip in sorted(set(d["clip"])):
        sel = (d["clip"] == clip) & (d["src"] == 0) & ok
        if not sel.any():
            continue
        votes = np.bincount(pred[sel], minlength=5)
        maj[clip] = {"class": str(d["clip_class"][sel][0]),
                     "majority": MODEL_CLASSES[int(votes.argmax())],
                     "share": round(float(votes.max() / sel.sum()), 3)}
    res["clip_majority"] = maj
    dr = [v for v in maj.values() if v["class"] == "drone"]
    res["drone_clips_majority_drone"] = round(sum(v["majority"] == "drone" for v in dr)
                                              / max(1, len(dr)), 3)
    res["drone_clips"] = len(dr)
    # The same over the detector's blobs inside the labelled box (what the adapter labels).
    maj_b: dict[str, Any] = {}
    for clip in sorted(set(d["clip"])):
        sel = (d["clip"] == clip) & (d["src"] == 1) & (y != bg) & ok
        if sel.any():
            votes = np.bincount(pred[sel], minlength=5)
            maj_b[clip] = {"class": str(d["clip_class"][sel][0]),
                           "majority": MODEL_CLASSES[int(votes.argmax())],
                           "share": round(float(votes.max() / sel.sum()), 3)}
    res["clip_majority_blobs"] = maj_b
    dr_b = [v for v in maj_b.values() if v["class"] == "drone"]
    res["drone_clips_majority_drone_blobs"] = round(
        sum(v["majority"] == "drone" for v in dr_b) / max(1, len(dr_b)), 3)
    res["drone_clips_blobs"] = len(dr_b)
    if out is not None:
        out.write_text(json.dumps(res, indent=1) + "\n")
        print(f"report ({which}) -> {out}")
    for r in rows:
        print(f"{r['crops']:4s} {r['modality']:8s} {r['distance']:8s} n={r['n']:5d} "
              f"drone-vs-not {r['drone_vs_not_acc']:.3f} 5-class {r['class_acc']:.3f} "
              f"bird->drone {r['bird_called_drone']} airplane->drone {r['airplane_called_drone']}"
              f" | track: drone-vs-not {r['track_drone_vs_not_acc']:.3f} bird->drone "
              f"{r['track_bird_called_drone']} airplane->drone {r['track_airplane_called_drone']}")
    print(f"drone clips with majority drone: {res['drone_clips_majority_drone']} of "
          f"{len(dr)} (labelled boxes), {res['drone_clips_majority_drone_blobs']} of "
          f"{len(dr_b)} (blobs)")
    for mod, cm in res["confusion"].items():
        print(mod, "confusion (rows true, cols predicted):", cm)
    if confusion is None:
        return
    confusion.write_text(json.dumps({
        "about": "appearance classifier confusion counts on the "
                 f"{which.replace('+', ' and ')} clips "
                 "(tools/train_camera_classifier.py report): confusion_by_size[modality][bin]"
                 "[true][predicted], bins of the crop's box side (px) split at size_edges_px",
        "classes": list(MODEL_CLASSES), "size_edges_px": edges,
        "confusion_by_size": res["confusion_by_size"]}, indent=1) + "\n")
    print(f"confusion matrices -> {confusion}")


def test_report(path: Path) -> Path:
    """The test split's report beside the validation one (``x.json`` -> ``x-test.json``)."""
    return path.with_name(f"{path.stem}-test{path.suffix}")


def tables(report_path: Path) -> None:
    """Markdown tables of a report (for docs/camera-model-card.md)."""
    r = json.loads(report_path.read_text())
    print(f"\n### {r.get('split', 'val')} clips ({r['val_clips']})\n")
    print("| crops | modality | distance | n | drone vs not | 5-class | drone P / R | bird P / R "
          "| airplane P / R | helicopter P / R | bird called drone | airplane called drone "
          "| track: drone vs not | track: bird / airplane called drone |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- | --- | --- | --- | ---: | ---: | ---: "
          "| ---: |")

    def f(v: Any) -> str:
        return "–" if v is None else f"{v:.2f}"

    for b in r["bins"]:
        pr = " | ".join(f"{f(b[c]['precision'])} / {f(b[c]['recall'])}"
                        for c in ("drone", "bird", "airplane", "helicopter"))
        print(f"| {b['crops']} | {b['modality']} | {b['distance']} | {b['n']} | "
              f"{b['drone_vs_not_acc']:.3f} | {b['class_acc']:.3f} | {pr} | "
              f"{f(b['bird_called_drone'])} | {f(b['airplane_called_drone'])} | "
              f"{f(b.get('track_drone_vs_not_acc'))} | {f(b.get('track_bird_called_drone'))} / "
              f"{f(b.get('track_airplane_called_drone'))} |")
    for mod, cm in r["confusion"].items():
        print(f"\n{mod} (rows: true class, columns: predicted)\n")
        print("| true \\ predicted | " + " | ".join(MODEL_CLASSES) + " |")
        print("| --- |" + " ---: |" * len(MODEL_CLASSES))
        for name, row in zip(MODEL_CLASSES, cm, strict=True):
            print(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    dr = [v for v in r["clip_majority"].values() if v["class"] == "drone"]
    dr_b = [v for v in r.get("clip_majority_blobs", {}).values() if v["class"] == "drone"]
    print(f"\ndrone clips with majority label drone: {sum(v['majority'] == 'drone' for v in dr)}"
          f" of {len(dr)} (labelled boxes), {sum(v['majority'] == 'drone' for v in dr_b)} of "
          f"{len(dr_b)} (blobs)")
    wrong = {k: v for k, v in r["clip_majority"].items() if v["majority"] != v["class"]}
    print(f"\nclips whose majority label is wrong ({len(wrong)} of {len(r['clip_majority'])}):")
    for k, v in wrong.items():
        print(f"  {k}: {v['class']} called {v['majority']} ({v['share']:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("split", "extract", "train", "report", "tables", "all"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/cuas-camera48"))
    ap.add_argument("--step", type=int, default=4, help="every STEP-th frame gives crops")
    ap.add_argument("--max-bg", type=int, default=4, help="background crops per frame")
    ap.add_argument("--max-bg-clip", type=int, default=120, help="background crops per clip")
    ap.add_argument("--max-frames", type=int, default=200, help="frames read per clip")
    ap.add_argument("--workers", type=int, default=2, help="clips extracted in parallel")
    ap.add_argument("--epochs", type=int, default=36)
    ap.add_argument("--per-epoch", type=int, default=4_000,
                    help="crops drawn per epoch (twice that for the joint model of the pair)")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads")
    ap.add_argument("--eval-every", type=int, default=0,
                    help="print validation loss every N epochs (monitoring only)")
    ap.add_argument("--modality", choices=("both", "visible", "thermal", "joint"),
                    default="both", help="train: the shipped pair (default: the joint model to "
                    "--model, the thermal-only one to --thermal-model), or one model (to --model) "
                    "of one modality's crops or of both (joint)")
    ap.add_argument("--channels", default="8,16,32,64",
                    help="train: the four convolutions' widths")
    ap.add_argument("--hidden", type=int, default=96, help="train: the dense layer's units")
    ap.add_argument("--hard-boost", type=float, default=0.0,
                    help="train: from a third of the epochs on, crops the model gets wrong "
                    "(drone vs not) are drawn 1 + this times as often (0: off)")
    ap.add_argument("--hard-every", type=int, default=6,
                    help="train: epochs between refreshes of the hard examples")
    ap.add_argument("--model", type=Path, default=MODEL_PATH)
    ap.add_argument("--thermal-model", type=Path, default=THERMAL_MODEL_PATH,
                    help="the thermal model (trained with --modality both, measured by report)")
    ap.add_argument("--confusion", type=Path, default=CONFUSION,
                    help="report: where the simulator's confusion matrices go")
    ap.add_argument("--report", type=Path, default=ROOT / "docs" / "camera-model-report.json")
    ap.add_argument("--clips", nargs="*", help="extract only these clips")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    if a.stage in ("split", "all"):
        make_split()
    if a.stage in ("extract", "all"):
        extract(a.cache, a.step, a.max_bg, a.max_bg_clip, a.max_frames, a.clips, a.workers)
    if a.stage in ("train", "all"):
        # The shipped pair: the joint model (both modalities' crops, the modality a second
        # input plane; 8,000 crops an epoch) runs on visible streams, a model of the thermal
        # crops only (4,000 an epoch) on thermal ones: on the validation clips that pair beat
        # a visible-only model and the joint model on thermal clips (docs/camera-model-card.md).
        jobs = ((("joint", a.model, 2 * a.per_epoch), ("thermal", a.thermal_model, a.per_epoch))
                if a.modality == "both" else ((a.modality, a.model, a.per_epoch),))
        for mod, path, per_epoch in jobs:
            train(a.cache, a.epochs, path, per_epoch, a.threads, a.eval_every,
                  None if mod == "joint" else mod,
                  tuple(int(c) for c in a.channels.split(",")), a.hidden, a.hard_boost,
                  a.hard_every)
    if a.stage in ("report", "all"):
        # The validation clips (models are chosen on these), the held-out test clips (never
        # chosen on), and the simulator's confusion matrices from both (every clip no model
        # was trained on: the matrices are counts by size bin, and need the crops).
        thermal = a.model if a.modality == "joint" else a.thermal_model
        report(a.cache, a.model, a.report, thermal, None, "val")
        report(a.cache, a.model, test_report(a.report), thermal, None, "test")
        report(a.cache, a.model, None, thermal, a.confusion, "val+test")
    if a.stage == "tables":
        tables(a.report)
        tables(test_report(a.report))


if __name__ == "__main__":
    main()
