"""The tracker's input: one batch of detections as arrays, each row with its measurement model.

All positional detections of a batch carry a Cartesian site-ENU point with a Cartesian
covariance (for coarse gating and for starting tracks), and keep their own measurement (z, R)
in their model's space for the Kalman update. Building one from a ``detections`` message is
fusion's job (:mod:`cuas.fusion.measurements`); the tracker sees only these arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cuas.geo import SensorFrame
from cuas.tracking.models import MeasurementModel

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MeasurementBatch:
    """One batch as arrays, measured at ``t`` (UTC s). M = number of positional detections.

    ``model`` (M,) indexes ``models``, the measurement models of this batch. ``z`` (M,3) holds
    each measurement in its model's space (a model of dimension 2 uses the first two columns),
    ``R`` (M,3,3) its covariance (padded with 1 on the diagonal, never used). ``pos``/``pos_cov``
    are the site-ENU point and its covariance (NaN where the model fixes no point).
    ``vel``/``vel_R`` are NaN/zero where absent. ``ident`` indexes fusion's identity registry
    (-1 = none); ``source`` is the detection's index in its message. ``n_dropped`` counts
    detections left out; ``drop_reasons`` says why (and names velocities ignored as
    implausible). ``merged``: identities found to be one in this batch (folded index, index it
    now is).
    """

    t: float
    models: tuple[MeasurementModel, ...]
    model: NDArray[np.int8]
    z: F64
    R: F64
    pos: F64
    pos_cov: F64
    vel: F64
    vel_R: F64
    has_vel: NDArray[np.bool_]
    ident: NDArray[np.int64]
    source: NDArray[np.int64]
    #: The reporting sensor's frame (None when its position is unknown).
    sensor_frame: SensorFrame | None = None
    #: Detections of the message without a position (kept out of the arrays).
    n_nonpositional: int = 0
    n_dropped: int = 0
    drop_reasons: tuple[str, ...] = ()
    merged: tuple[tuple[int, int], ...] = ()

    @property
    def m(self) -> int:
        return len(self.model)

    def per_model(self, values: Sequence[Any], dtype: Any) -> NDArray[Any]:
        """``values`` given once per model (aligned with ``models``), spread over the detections
        (M,)."""
        return np.asarray(values, dtype=dtype).reshape(len(self.models))[self.model]
