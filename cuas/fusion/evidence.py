"""Which track each detection's class evidence belongs to, once the tracker has run a batch.

The tracker does not (yet) report its assignments detection by detection, so the engine finds
them: among the tracks this batch updated (their last update is the batch time and the sensor
contributed), the one nearest each detection: in metres for a detection that fixes a point,
in angle for a bearing (a camera). The association probability is 1 for such an assignment;
when the tracker reports per-detection weights (JPDA) the engine passes those instead.
Positionless evidence (an RF link) belongs to no track and is left to the classifier's RF
terms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cuas import wire
from cuas.classify.evidence import Observation
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import AzElModel
from cuas.vocabulary import CLASSES

F64 = NDArray[np.float64]

#: A point detection farther than this (m) from every updated track went to none of them.
MAX_POINT_M = 200.0
#: A bearing more than this (degrees) off every updated track went to none of them.
MAX_BEARING_DEG = 5.0


def evidence_of(det: wire.Detection) -> tuple[tuple[float, float, float, float], float,
                                              str | None, str | None] | None:
    """(likelihood over CLASSES, confidence, label, basis) of a detection, None without any."""
    ev: Any = getattr(det, "evidence", None)
    if ev is None:
        return None
    try:
        lik = tuple(float(ev.likelihood.get(c, 0.0)) for c in CLASSES)
        conf = float(ev.confidence)
    except (AttributeError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in lik) or not any(lik) or not (
            math.isfinite(conf) and 0.0 < conf <= 1.0):
        return None
    return ((lik[0], lik[1], lik[2], lik[3]), conf, getattr(ev, "label", None),
            getattr(ev, "basis", None))


def attribute(batch: wire.Detections, meas: MeasurementBatch, ids: NDArray[np.int64],
              x: F64, weights: Any = None) -> list[Observation]:
    """Observations of ``batch``'s detections that carry evidence, each given to the track
    (``ids`` (K,), states ``x`` (K,6) site ENU, the tracks this batch updated) it went to.
    ``weights``: optional {(message index, track id): association probability} from the
    tracker; without it each detection goes, weight 1, to its nearest updated track."""
    if not len(ids) or not meas.m:
        return []
    dets = batch.dets
    out: list[Observation] = []
    for k in range(meas.m):
        i = int(meas.source[k])
        ev = evidence_of(dets[i]) if 0 <= i < len(dets) else None
        if ev is None:
            continue
        lik, conf, label, basis = ev
        if weights is not None:
            for tid in ids.tolist():
                w = weights.get((i, tid))
                if w:
                    out.append(Observation(tid, batch.t, batch.sensor, lik, conf, float(w),
                                           label, basis))
            continue
        model = meas.models[int(meas.model[k])]
        if np.all(np.isfinite(meas.pos[k])):
            d = np.linalg.norm(x[:, :3] - meas.pos[k], axis=1)
            j = int(np.argmin(d))
            if d[j] > MAX_POINT_M:
                continue
        elif model.is_bearing and meas.sensor_frame is not None:
            u = AzElModel.directions(meas.z[k: k + 1])[0]
            local = meas.sensor_frame.site_to_local(x[:, :3])
            norm = np.linalg.norm(local, axis=1)
            cos = (local @ u) / np.maximum(norm, 1e-9)
            j = int(np.argmax(cos))
            if cos[j] < math.cos(math.radians(MAX_BEARING_DEG)):
                continue
        else:
            continue
        out.append(Observation(int(ids[j]), batch.t, batch.sensor, lik, conf, 1.0, label,
                               basis))
    return out
