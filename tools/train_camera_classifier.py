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

The split, extract and load code is in camera_classifier_data.py, the report and tables in
camera_classifier_report.py, beside this script.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# (camera_classifier_data, beside this script, puts the repository on sys.path for cuas.)
from camera_classifier_data import (
    CONFUSION,
    CROP_PX,
    ROOT,
    SEED,
    WIDE_PX,
    extract,
    load,
    make_split,
    model_input,
)
from camera_classifier_report import report, tables, test_report

from cuas.sensors.camera.appearance import (
    MODEL_CLASSES,
    MODEL_PATH,
    THERMAL_MODEL_PATH,
    AppearanceClassifier,
)

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
