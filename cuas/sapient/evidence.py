"""A SAPIENT module's own classifications (BSI Flex 335 ``DetectionReport.classification``:
type and confidence) as class evidence over the contract's classes.

Labels are matched by words, case-insensitively, so that a module's own taxonomy ("UAV Rotary
Wing", "Air Vehicle/Drone", "Quadcopter", "Bird", "Fixed Wing", "Human") maps without a table
per vendor. A label that maps nowhere is kept in ``attrs`` and adds no evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from cuas import wire
from cuas.vocabulary import CLASSES

#: Words of a label, checked in this order (the first class with a matching word wins, so a
#: "UAV Fixed Wing" is a drone before it is an aircraft).
CLASS_WORDS: Final = (
    ("uav", ("uav", "uas", "suas", "drone", "quadcopter", "multirotor", "multicopter",
             "hexacopter", "octocopter", "rpas")),
    ("bird", ("bird", "gull", "pigeon", "raptor", "flock")),
    ("manned", ("aircraft", "aeroplane", "airplane", "helicopter", "fixed", "rotary", "jet",
                "manned", "airliner", "glider")),
    ("clutter", ("clutter", "human", "person", "vehicle", "car", "truck", "animal", "ground",
                 "false")),
)
#: How far a fuser trusts a module's classification (its calibration is unknown to cuas: a
#: module's confidence is its own score, not a measured probability), 0..1.
SAPIENT_TRUST: Final = 0.5
#: Least likelihood left to a class no label names (a module's "90 % drone" is not a proof).
FLOOR: Final = 0.05


def class_of(label: str) -> str | None:
    """The contract class a module's label names, or None."""
    words = set(re.findall(r"[a-z]+", label.lower()))
    for cls, vocab in CLASS_WORDS:
        if words.intersection(vocab):
            return cls
    return None


def sapient_evidence(classes: Mapping[str, float]) -> wire.ClassEvidence | None:
    """Evidence from a report's classifications ({type: confidence in [0, 1]}): each class
    gets the highest confidence of a label naming it; the rest share what is left (at least
    FLOOR each). None when no label names a class or all confidences are 0."""
    score: dict[str, float] = {}
    label = None
    for text, conf in classes.items():
        cls = class_of(text)
        if cls is None or not 0.0 < conf <= 1.0:
            continue
        if conf > score.get(cls, 0.0):
            score[cls] = conf
            if label is None or conf >= max(score.values()):
                label = text
    if not score:
        return None
    rest = [c for c in CLASSES if c not in score]
    left = max(0.0, 1.0 - sum(score.values()))
    lik = {c: max(FLOOR, score[c] if c in score else left / len(rest)) for c in CLASSES}
    return wire.ClassEvidence(likelihood=lik, confidence=SAPIENT_TRUST, label=label,
                              basis="sapient")
