"""From a validated ``detections`` message to the arrays the tracker works on.

Each wire frame maps to a measurement model (:mod:`cuas.tracking.models`): ``enu`` and ``lla``
(converted to site ENU here) to the Cartesian one, ``rae`` and ``ae`` to the sensor-relative
ones, ``none`` to the positionless one, whose detections stay out of the arrays. The model
gives each positional detection its site-ENU point and covariance. This is the one place
that loops over the detections of a message: the boundary where typed messages become arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Final

import numpy as np
from numpy.typing import NDArray

from cuas import wire
from cuas.fusion.identities import IdentityKeys
from cuas.geo import SensorFrame, SiteFrame
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import (
    AzElModel,
    CartesianModel,
    MeasurementModel,
    PositionlessModel,
    RangeAzElModel,
)
from cuas.vocabulary import EARTH_RADIUS_M
from cuas.wire.arrays import ArrayDetections

F64 = NDArray[np.float64]

#: Wire frames in the order their rows are laid out in a batch.
POSITIONAL_FRAMES: Final = ("enu", "lla", "rae", "ae")
#: The model of detections without a position (they never reach the tracker).
POSITIONLESS: Final = PositionlessModel()
_CARTESIAN: Final = CartesianModel()

#: A detection farther than this from the site origin (m) is not a target of this site.
MAX_SITE_DISTANCE_M: Final = 500_000.0
#: Heights (m, site ENU up) outside which no airborne target can be: below the deepest valley
#: near any site, above what any aircraft a C-UAS system tracks can reach.
MIN_UP_M: Final = -2_000.0
MAX_UP_M: Final = 40_000.0
#: No aircraft a C-UAS site tracks is faster than this (m/s); faster velocity reports are bogus.
MAX_SPEED_MS: Final = 1_000.0
# Field readers for the per-detection passes (map with these runs without a Python frame per
# detection: a radar scan can hold thousands of plots).
_FRAME = attrgetter("frame")
_Z = attrgetter("z")
_R = attrgetter("R")
_VEL = attrgetter("vel")
_IDENT = attrgetter("ident")


def _stack(rows: Iterable[Iterable[float]], n: int, width: int) -> F64:
    """(n, width) array from n rows of floats (several times faster than np.asarray on tuples)."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=n * width)
    return flat.reshape(n, width)


def _relative(model: Callable[[SensorFrame], MeasurementModel]
              ) -> Callable[[SensorFrame | None], MeasurementModel | None]:
    """A sensor-relative model, which cannot be used while the sensor's position is unknown."""
    return lambda sensor: model(sensor) if sensor is not None else None


#: Each wire frame's measurement model for a sensor at a frame (None: position unknown).
FRAME_MODELS: Final[dict[str, Callable[[SensorFrame | None], MeasurementModel | None]]] = {
    "enu": lambda _: _CARTESIAN,
    "lla": lambda _: _CARTESIAN,
    "rae": _relative(RangeAzElModel),
    "ae": _relative(AzElModel),
    "none": lambda _: POSITIONLESS,
}
#: Frames whose coordinates are converted to site ENU before their model sees them.
_TO_SITE_ENU: Final[dict[str, Callable[[SiteFrame, F64], F64]]] = {"lla": SiteFrame.lla_to_enu}


def to_measurements(
    batch: wire.Detections,
    site: SiteFrame,
    origin: tuple[float, float, float] | None,
    ident_index: IdentityKeys,
    default_vel_sigma: float = 2.0,
) -> MeasurementBatch:
    """Convert a validated batch to arrays in the site frame.

    ``origin`` is the sensor position (lat, lon, h) to use for ``rae``/``ae`` (the message's own
    origin wins). ``ident_index`` maps identity keys to registry indices; new keys are added (only
    for detections kept: one dropped as out of range registers nothing).
    Detections that cannot be used are dropped and their reasons returned (never raised).
    """
    sensor_origin = batch.origin if batch.origin is not None else origin
    sensor_frame = site.sensor(sensor_origin) if sensor_origin is not None else None
    if isinstance(batch, ArrayDetections):
        fast = _from_arrays(batch, site, sensor_frame, ident_index, default_vel_sigma)
        if fast is not None:
            return fast
    dets = batch.dets
    reasons: list[str] = []
    frames = list(map(_FRAME, dets))
    groups: dict[str, Sequence[int]]
    if frames and frames.count(frames[0]) == len(frames):  # the usual case: one frame
        groups = {frames[0]: range(len(dets))}
    else:
        groups = {}
        for i, frame in enumerate(frames):
            groups.setdefault(frame, []).append(i)  # type: ignore[attr-defined]
    n_nonpos = len(groups.pop("none", ()))
    models_of: dict[str, MeasurementModel] = {}
    for frame in POSITIONAL_FRAMES:
        if frame in groups:
            found = FRAME_MODELS[frame](sensor_frame)
            if found is None:
                reasons.extend(f"dets[{i}]: frame {frame} needs the sensor origin"
                               for i in groups.pop(frame))
            else:
                models_of[frame] = found
    n_no_origin = len(reasons)

    # One block of rows per frame, built with comprehensions rather than per-row appends: a
    # radar scan can hold thousands of plots.
    order = [f for f in POSITIONAL_FRAMES if f in groups]
    models = tuple(dict.fromkeys(models_of[f] for f in order))  # enu and lla share one
    code = {f: models.index(models_of[f]) for f in order}
    sources = (np.concatenate([np.asarray(groups[f], dtype=np.int64) for f in order])
               if order else np.zeros(0, dtype=np.int64))
    m = len(sources)
    model = np.concatenate([np.full(len(groups[f]), code[f], dtype=np.int8) for f in order]
                           ) if m else np.zeros(0, dtype=np.int8)
    z = np.zeros((m, 3))
    R = np.zeros((m, 3, 3))
    pos = np.full((m, 3), np.nan)
    pos_cov = np.full((m, 3, 3), np.nan)
    row = 0
    for f in order:
        idx = groups[f]
        rows = slice(row, row + len(idx))
        row += len(idx)
        frame_model_ = models_of[f]
        dim = frame_model_.dim
        group = dets if len(idx) == len(dets) else [dets[i] for i in idx]
        z[rows, :dim] = _stack(map(_Z, group), len(idx), dim)
        # The wire module fills R for every positional detection.
        covs = list(map(_R, group))
        if covs.count(None):
            covs = [c or () for c in covs]
        if covs and covs.count(covs[0]) == len(covs):  # one sensor, one noise: usual
            R[rows, :dim, :dim] = np.asarray(covs[0], dtype=np.float64).reshape(dim, dim)
        else:
            R[rows, :dim, :dim] = _stack(covs, len(idx), dim * dim).reshape(-1, dim, dim)
        for pad in range(dim, 3):
            R[rows, pad, pad] = 1.0  # padding only, keeps the block invertible; never used
        convert = _TO_SITE_ENU.get(f)
        if convert is not None:
            z[rows] = convert(site, z[rows])  # the update works on the converted point
        if frame_model_.has_point:
            pos[rows], pos_cov[rows] = frame_model_.to_site(z[rows], R[rows])

    kept = dets if len(order) == 1 and m == len(dets) else [dets[i] for i in sources.tolist()]
    vels = list(map(_VEL, kept))
    has_vel = np.zeros(m, dtype=bool)
    vel = np.full((m, 3), np.nan)
    vel_R = np.zeros((m, 3, 3))
    if vels.count(None) != m:  # only cooperative sensors and some radars measure velocity
        with_vel = [j for j, v in enumerate(vels) if v is not None]
        has_vel[with_vel] = True
        vel[with_vel] = np.asarray([vels[j] for j in with_vel])
        vs = np.asarray([kept[j].vel_sigma or (default_vel_sigma,) * 3 for j in with_vel])
        diag = np.arange(3)
        vel_R[np.asarray(with_vel)[:, None], diag, diag] = vs**2
    return _finish(batch.t, models, model, z, R, pos, pos_cov, vel, vel_R, has_vel, sources,
                   sensor_frame, n_nonpos, reasons, n_no_origin, list(map(_IDENT, kept)),
                   ident_index)


def _from_arrays(batch: ArrayDetections, site: SiteFrame, sensor_frame: SensorFrame | None,
                 ident_index: IdentityKeys, default_vel_sigma: float) -> MeasurementBatch | None:
    """:func:`to_measurements` of a message that came in as columns (one frame, no
    identities, every detection positional), without a per-detection object; None when its
    frame needs a sensor origin that is unknown (the general path then says so per detection)."""
    arr = batch.arrays
    frame = arr.frame
    found = FRAME_MODELS[frame](sensor_frame)
    if found is None:
        return None
    m = len(arr)
    dim = found.dim
    z = np.zeros((m, 3))
    z[:, :dim] = arr.z
    R = np.zeros((m, 3, 3))
    R[:, :dim, :dim] = arr.R.reshape(-1, dim, dim)
    for pad in range(dim, 3):
        R[:, pad, pad] = 1.0  # padding only, as in to_measurements
    convert = _TO_SITE_ENU.get(frame)
    if convert is not None:
        z = convert(site, z)
    pos = np.full((m, 3), np.nan)
    pos_cov = np.full((m, 3, 3), np.nan)
    if found.has_point:
        pos, pos_cov = found.to_site(z, R)
    vel = np.full((m, 3), np.nan)
    vel_R = np.zeros((m, 3, 3))
    has_vel = np.zeros(m, dtype=bool)
    if arr.vel is not None:
        has_vel[:] = True
        vel = arr.vel.copy()
        vs = arr.vel_sigma if arr.vel_sigma is not None else np.full((m, 3), default_vel_sigma)
        diag = np.arange(3)
        vel_R[:, diag, diag] = vs**2
    return _finish(batch.t, (found,), np.zeros(m, dtype=np.int8), z, R, pos, pos_cov, vel,
                   vel_R, has_vel, np.arange(m, dtype=np.int64), sensor_frame, 0, [], 0, None,
                   ident_index)


def _finish(t: float, models: tuple[MeasurementModel, ...], model: NDArray[np.int8], z: F64,
            R: F64, pos: F64, pos_cov: F64, vel: F64, vel_R: F64, has_vel: NDArray[np.bool_],
            sources: NDArray[np.int64], sensor_frame: SensorFrame | None, n_nonpos: int,
            reasons: list[str], n_no_origin: int, idents: list[wire.Ident | None] | None,
            ident_index: IdentityKeys) -> MeasurementBatch:
    """The checks every positional detection passes (site distance, height, speed) and the
    identity columns, then the batch."""
    m = len(model)
    far = np.zeros(m, dtype=bool)
    has_point = np.asarray([mm.has_point for mm in models], dtype=bool).reshape(len(models))[model]
    far[has_point] = np.linalg.norm(pos[has_point], axis=1) > MAX_SITE_DISTANCE_M
    if far.any():
        reasons.extend(f"dets[{sources[i]}]: more than {MAX_SITE_DISTANCE_M / 1000:.0f} km from the site"
                       for i in np.flatnonzero(far))
    up = pos[:, 2]
    # The local "up" of a distant aircraft drops with the Earth's curvature (d²/2R: 1.8 km
    # at 150 km), so the floor follows it down.
    floor = MIN_UP_M - np.sum(np.nan_to_num(pos[:, :2]) ** 2, axis=1) / (2.0 * EARTH_RADIUS_M)
    implausible = has_point & ~far & ((up < floor) | (up > MAX_UP_M))
    if implausible.any():
        reasons.extend(f"dets[{sources[i]}]: {up[i]:.0f} m above the site is not airspace"
                       for i in np.flatnonzero(implausible))
        far |= implausible
    too_fast = has_vel & (np.linalg.norm(np.nan_to_num(vel), axis=1) > MAX_SPEED_MS)
    if too_fast.any():  # keep the position, distrust the velocity
        reasons.extend(f"dets[{sources[i]}]: velocity over {MAX_SPEED_MS:.0f} m/s ignored"
                       for i in np.flatnonzero(too_fast))
        has_vel &= ~too_fast

    ident = np.full(m, -1, dtype=np.int64)
    merged: list[tuple[int, int]] = []
    if idents is not None and idents.count(None) != m:
        for j, idn in enumerate(idents):
            if idn is not None and idn.key is not None and not far[j]:
                ident[j] = ident_index.index_of(idn, merged)
        # One aircraft cannot be in two places in one look: a repeated identity in a batch is
        # a feed error, and only its first detection keeps the identity.
        valid = np.flatnonzero(ident >= 0)
        _, first = np.unique(ident[valid], return_index=True)
        repeated = np.setdiff1d(valid, valid[first])
        if len(repeated):
            ident[repeated] = -1
            reasons.extend(f"dets[{sources[j]}]: identity repeated in one batch, ignored"
                           for j in repeated)

    keep = ~far if far.any() else slice(None)  # nothing dropped: no copies
    return MeasurementBatch(
        t=t,
        models=models,
        model=model[keep],
        z=z[keep],
        R=R[keep],
        pos=pos[keep],
        pos_cov=pos_cov[keep],
        vel=vel[keep],
        vel_R=vel_R[keep],
        has_vel=has_vel[keep],
        ident=ident[keep],
        source=sources[keep],
        sensor_frame=sensor_frame,
        n_nonpositional=n_nonpos,
        n_dropped=n_no_origin + int(far.sum()),
        drop_reasons=tuple(reasons),
        merged=tuple(merged),
    )
