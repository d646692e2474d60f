#!/usr/bin/env python3
"""The camera classifier's measurements (tools/train_camera_classifier.py's report and tables
stages): per-class precision and recall per modality and distance bin, confusion matrices,
per-clip majority labels and the "track" figures, on the validation or the test clips, with
the models run by cv2.dnn (the runtime path); JSON for the model card and the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# (camera_classifier_data, beside this script, puts the repository on sys.path for cuas.)
from camera_classifier_data import CONFUSION, load, model_input

from cuas.sensors.camera.appearance import MODEL_CLASSES, AppearanceClassifier

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
