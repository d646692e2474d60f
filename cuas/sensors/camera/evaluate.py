"""Scoring the camera detector against labelled clips (per-frame boxes): recall and false blobs
per frame, the figures ``shared/data/video/SOURCES.md`` gives for a plain MOG2 pipeline.

Rules (the same as that baseline, so the figures compare): a labelled frame is *recalled*
when a blob's centroid lies inside its box padded by ``pad_px``; every blob whose centroid
lies outside the padded box is a false blob (a target split in two fragments is not); frames before ``skip`` (warm-up) are not scored.

With an appearance classifier, the blobs it calls background (probability at least
``clutter_min_prob``) are tagged clutter: they count neither as false blobs nor towards recall
(what a consumer that drops them would see), and are counted separately.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2

from cuas.sensors.camera.appearance import AppearanceClassifier, modality_of
from cuas.sensors.camera.detect import DetectorConfig, MotionDetector, to_grey

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class ClipScore:
    """Recall over labelled frames, false blobs per scored frame, frames gated, frames scored."""

    clip: str
    recall: float
    false_per_frame: float
    gated_frames: int
    frames: int
    labelled: int
    #: With a classifier: blobs tagged clutter per scored frame (outside / inside the box), and
    #: the labels of the blobs inside the box {label: count}.
    clutter_per_frame: float = 0.0
    clutter_in_box: int = 0
    box_labels: dict[str, int] | None = None


def read_labels(path: Path) -> dict[int, Box | None]:
    """``frame_index,label_row,x,y,w,h`` rows -> {frame index: (x, y, w, h) px or None}."""
    out: dict[int, Box | None] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            i = int(row["frame_index"])
            if i < 0:
                continue
            if row["x"] in ("", None):
                out[i] = None
            else:
                out[i] = (float(row["x"]), float(row["y"]), float(row["w"]), float(row["h"]))
    return out


def score_clip(video: Path, labels: Path, config: DetectorConfig | None = None, *,
               max_frames: int | None = None, skip: int = 30, pad_px: float = 5.0,
               classifier: AppearanceClassifier | None = None,
               clutter_min_prob: float = 0.5) -> ClipScore:
    """Run a fresh detector (and ``classifier`` on its blobs) over ``video`` (up to
    ``max_frames`` frames) and score it."""
    boxes = read_labels(labels)
    det = MotionDetector(config)
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise OSError(f"cannot open {video}")
    hits = labelled = false = scored = gated = clutter_out = clutter_in = 0
    box_labels: dict[str, int] = {}
    i = -1
    try:
        while max_frames is None or i + 1 < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            i += 1
            res = det.process(frame)
            if i < skip:
                continue
            scored += 1
            gated += res.gated
            box = boxes.get(i)
            found = False
            clutter = [False] * len(res.blobs)
            labels_ = [""] * len(res.blobs)
            if classifier is not None and res.blobs:
                grey = to_grey(frame)
                looks = classifier.classify_boxes(grey, [b.bbox for b in res.blobs],
                                                  modality_of(grey.shape[1], grey.shape[0]))
                clutter = [a.label == "background" and a.confidence >= clutter_min_prob
                           for a in looks]
                labels_ = [a.label for a in looks]
            for b, is_clutter, lab in zip(res.blobs, clutter, labels_, strict=True):
                inside = box is not None and (box[0] - pad_px <= b.x <= box[0] + box[2] + pad_px
                                              and box[1] - pad_px <= b.y
                                              <= box[1] + box[3] + pad_px)
                if inside and lab:
                    box_labels[lab] = box_labels.get(lab, 0) + 1
                if is_clutter:
                    clutter_in += inside
                    clutter_out += not inside
                    continue
                found |= inside
                false += not inside
            if box is not None:
                labelled += 1
                hits += found
    finally:
        cap.release()
    return ClipScore(video.stem, hits / labelled if labelled else float("nan"),
                     false / scored if scored else float("nan"), gated, scored, labelled,
                     clutter_out / scored if scored else float("nan"), clutter_in,
                     box_labels if classifier is not None else None)
