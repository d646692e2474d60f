"""Which track each detection's class evidence belongs to, once the tracker has run a batch.

The tracker does not (yet) report its assignments detection by detection, so the engine finds
them: among the tracks this batch updated (their last update is the batch time and the sensor
contributed), the one nearest each detection: in metres for a detection that fixes a point,
in angle for a bearing (a camera). The association probability is 1 for such an assignment;
when the tracker reports per-detection weights (JPDA) the engine passes those instead.
Positionless evidence (an RF link) belongs to no track and is left to the classifier's RF
terms. A radar that declares its calibration has each plot's radar cross-section turned into
evidence here too (:mod:`cuas.sensors.radar.rcs`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cuas import wire
from cuas.classify.evidence import Observation
from cuas.sensors.radar.rcs import rcs_evidence
from cuas.sensors.radar.settings import RadarSettings
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import AzElModel
from cuas.vocabulary import CLASSES

F64 = NDArray[np.float64]

#: A point detection farther than this (m) from every updated track went to none of them.
MAX_POINT_M = 200.0
#: A bearing more than this (degrees) off every updated track went to none of them.
MAX_BEARING_DEG = 5.0
#: A detection with a second updated track this close (m, or degrees for a bearing) besides
#: the one it went to is ambiguous: the tracker may have swapped the two (a flock, a crowd).
AMBIGUOUS_M = 50.0
AMBIGUOUS_DEG = 1.5


Evidence = tuple[tuple[float, float, float, float], float, str | None, str | None]


def evidence_of(det: wire.Detection) -> Evidence | None:
    """(likelihood over CLASSES, confidence, label, basis) of a detection, None without any."""
    return evidence_of_class(getattr(det, "evidence", None))


def evidence_of_class(ev: Any) -> Evidence | None:
    """(likelihood over CLASSES, confidence, label, basis) of a ``wire.ClassEvidence``; None
    for None or a malformed one."""
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


def rcs_of(det: wire.Detection, radar: RadarSettings | None,
           drops: dict[str, int] | None = None) -> wire.ClassEvidence | None:
    """The radar cross-section evidence of a range-azimuth-elevation plot from a radar that
    declares its calibration (``[sensors.<id>.radar] snr_1km_db``), else None. A plot that
    carries ``snr_db`` but no usable estimate is counted in ``drops["rcs_unusable"]``."""
    if radar is None or radar.snr_1km_db is None or det.frame != "rae":
        return None
    attrs = det.attrs if isinstance(det.attrs, Mapping) else {}
    snr = attrs.get("snr_db")
    if snr is None:
        return None
    ev = rcs_evidence(snr, det.z[0] if det.z else None, radar.snr_1km_db, radar.rcs_confidence)
    if ev is None and drops is not None:
        drops["rcs_unusable"] = drops.get("rcs_unusable", 0) + 1
    return ev


def attribute(batch: wire.Detections, meas: MeasurementBatch, ids: NDArray[np.int64],
              x: F64, weights: Any = None, radar: RadarSettings | None = None,
              drops: dict[str, int] | None = None) -> list[Observation]:
    """Observations of ``batch``'s detections that carry evidence, each given to the track
    (``ids`` (K,), states ``x`` (K,6) site ENU, the tracks this batch updated) it went to.
    ``weights``: optional {(message index, track id): association probability} from the
    tracker; without it each detection goes, weight 1, to its nearest updated track.
    ``radar``: the sending radar's settings; with a calibration, each plot's RCS is evidence
    too, kept apart from the plot's own label as sensor ``"<sensor>/rcs"``."""
    if not len(ids) or not meas.m:
        return []
    dets = batch.dets
    out: list[Observation] = []
    for k in range(meas.m):
        i = int(meas.source[k])
        if not 0 <= i < len(dets):
            continue
        found = []
        ev = evidence_of(dets[i])
        if ev is not None:
            found.append((batch.sensor, ev))
        rcs = evidence_of_class(rcs_of(dets[i], radar, drops))
        if rcs is not None:
            found.append((f"{batch.sensor}/rcs", rcs))
        if not found:
            continue
        j, ambiguous = _nearest(meas, k, x)
        if weights is not None:
            # The tracker's weights say where it went; shared between tracks, or with another
            # track close by, it is ambiguous all the same.
            shared = [(tid, w) for tid in ids.tolist() if (w := weights.get((i, tid)))]
            ambiguous = ambiguous or len(shared) > 1
            for tid, w in shared:
                out.extend(Observation(tid, batch.t, sensor, e[0], e[1], float(w), e[2],
                                       e[3], ambiguous) for sensor, e in found)
            continue
        if j is None:
            continue
        out.extend(Observation(int(ids[j]), batch.t, sensor, e[0], e[1], 1.0, e[2], e[3],
                               ambiguous) for sensor, e in found)
    return out


def _nearest(meas: MeasurementBatch, k: int, x: F64) -> tuple[int | None, bool]:
    """Row of ``x`` nearest measurement ``k``: in metres for a point, in angle for a bearing
    (None when none is near enough), and whether another row is near it too (AMBIGUOUS_M,
    AMBIGUOUS_DEG)."""
    model = meas.models[int(meas.model[k])]
    if np.all(np.isfinite(meas.pos[k])):
        d = np.linalg.norm(x[:, :3] - meas.pos[k], axis=1)
        j = int(np.argmin(d))
        if d[j] > MAX_POINT_M:
            return None, False
        return j, int((d <= AMBIGUOUS_M).sum()) >= 2
    if model.is_bearing and meas.sensor_frame is not None:
        u = AzElModel.directions(meas.z[k: k + 1])[0]
        local = meas.sensor_frame.site_to_local(x[:, :3])
        norm = np.linalg.norm(local, axis=1)
        cos = (local @ u) / np.maximum(norm, 1e-9)
        j = int(np.argmax(cos))
        if cos[j] < math.cos(math.radians(MAX_BEARING_DEG)):
            return None, False
        return j, int((cos >= math.cos(math.radians(AMBIGUOUS_DEG))).sum()) >= 2
    return None, False
