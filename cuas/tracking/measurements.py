"""From a validated ``detections`` message to the arrays the tracker works on.

All positional detections of a batch are converted to a Cartesian site-ENU point with a
Cartesian covariance (for coarse gating and for starting tracks), and keep their own
measurement (z, R) in their own frame for the Kalman update. This is the one place that loops
over the detections of a message: it is the boundary where typed messages become arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from cuas import wire
from cuas.geo import SensorFrame, SiteFrame, rae_jacobian, rae_to_local

F64 = NDArray[np.float64]

FRAME_POS: Final = 0  # enu, or lla converted to site ENU
FRAME_RAE: Final = 1
FRAME_AE: Final = 2

#: A detection farther than this from the site origin (m) is not a target of this site.
MAX_SITE_DISTANCE_M: Final = 500_000.0


@dataclass(frozen=True, slots=True)
class MeasurementBatch:
    """One batch as arrays. M = number of positional detections kept.

    ``model``: FRAME_POS / FRAME_RAE / FRAME_AE per detection. ``z`` (M,3) holds each
    measurement in its own frame (``ae`` uses the first two columns), ``R`` (M,3,3) its
    covariance (``ae`` padded). ``pos``/``pos_cov`` are the site-ENU point and its covariance
    (NaN for ``ae``, which fixes no point). ``vel``/``vel_R`` are NaN/zero where absent.
    ``ident`` indexes the tracker's identity registry (-1 = none); ``source`` is the detection's
    index in the message.
    """

    t: float
    sensor: str
    kind: str
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
    sensor_frame: SensorFrame | None
    n_nonpositional: int
    n_dropped: int
    drop_reasons: tuple[str, ...]

    @property
    def m(self) -> int:
        return len(self.model)


def _empty(n: int, *shape: int) -> F64:
    return np.zeros((n, *shape))


def to_measurements(
    batch: wire.Detections,
    site: SiteFrame,
    origin: tuple[float, float, float] | None,
    ident_index: dict[str, int],
    default_vel_sigma: float = 2.0,
) -> MeasurementBatch:
    """Convert a validated batch to arrays in the site frame.

    ``origin`` is the sensor position (lat, lon, h) to use for ``rae``/``ae`` (the message's own
    origin wins). ``ident_index`` maps identity keys to registry indices; new keys are added.
    Detections that cannot be used are dropped and their reasons returned (never raised).
    """
    sensor_origin = batch.origin if batch.origin is not None else origin
    sensor_frame = site.sensor(sensor_origin) if sensor_origin is not None else None
    reasons: list[str] = []
    models: list[int] = []
    zs: list[tuple[float, ...]] = []
    Rs: list[tuple[float, ...]] = []
    vels: list[tuple[float, float, float] | None] = []
    vel_sigmas: list[tuple[float, float, float] | None] = []
    idents: list[int] = []
    sources: list[int] = []
    n_nonpos = 0
    for i, det in enumerate(batch.dets):
        if det.frame == "none":
            n_nonpos += 1
            continue
        if det.frame in ("rae", "ae") and sensor_frame is None:
            reasons.append(f"dets[{i}]: frame {det.frame} needs the sensor origin")
            continue
        models.append(FRAME_RAE if det.frame == "rae" else FRAME_AE if det.frame == "ae" else FRAME_POS)
        zs.append(det.z if det.frame != "ae" else (*det.z, 0.0))
        assert det.R is not None  # the wire module fills R for every positional detection
        Rs.append(det.R)
        vels.append(det.vel)
        vel_sigmas.append(det.vel_sigma)
        key = det.ident.key if det.ident is not None else None
        if key is None:
            idents.append(-1)
        else:
            idents.append(ident_index.setdefault(key, len(ident_index)))
        sources.append(i)
    m = len(models)
    model = np.asarray(models, dtype=np.int8)
    z = np.asarray(zs, dtype=np.float64).reshape(m, 3)
    R = np.zeros((m, 3, 3))
    for k in (2, 3):  # ae detections carry a 2×2 R, the others 3×3
        sel = np.fromiter((len(r) == k * k for r in Rs), dtype=bool, count=m)
        if sel.any():
            R[sel, :k, :k] = np.asarray([r for r, s in zip(Rs, sel, strict=True) if s]).reshape(-1, k, k)
    ae = model == FRAME_AE
    R[ae, 2, 2] = 1.0  # padding only, keeps the block invertible; never used in an update

    pos = np.full((m, 3), np.nan)
    pos_cov = np.full((m, 3, 3), np.nan)
    is_pos = model == FRAME_POS
    if is_pos.any():
        lla_rows = np.fromiter(
            (batch.dets[s].frame == "lla" for s in sources), dtype=bool, count=m
        )
        pos[is_pos & ~lla_rows] = z[is_pos & ~lla_rows]
        if lla_rows.any():
            enu = site.lla_to_enu(z[lla_rows])
            pos[lla_rows] = enu
            z[lla_rows] = enu  # the update works on the converted point
        pos_cov[is_pos] = R[is_pos]
    rae = model == FRAME_RAE
    if rae.any():
        assert sensor_frame is not None
        pos[rae] = sensor_frame.local_to_site(rae_to_local(z[rae]))
        J = sensor_frame.rotation.T @ rae_jacobian(z[rae])
        pos_cov[rae] = J @ R[rae] @ np.swapaxes(J, 1, 2)

    far = np.zeros(m, dtype=bool)
    has_point = ~ae
    far[has_point] = np.linalg.norm(pos[has_point], axis=1) > MAX_SITE_DISTANCE_M
    if far.any():
        reasons.extend(f"dets[{sources[i]}]: more than {MAX_SITE_DISTANCE_M / 1000:.0f} km from the site"
                       for i in np.flatnonzero(far))

    has_vel = np.fromiter((v is not None for v in vels), dtype=bool, count=m)
    vel = np.full((m, 3), np.nan)
    vel_R = np.zeros((m, 3, 3))
    if has_vel.any():
        vel[has_vel] = np.asarray([v for v in vels if v is not None])
        vs = np.asarray([s if s is not None else (default_vel_sigma,) * 3
                         for v, s in zip(vels, vel_sigmas, strict=True) if v is not None])
        idx = np.arange(3)
        vel_R[np.flatnonzero(has_vel)[:, None], idx, idx] = vs**2

    keep = ~far
    return MeasurementBatch(
        t=batch.t,
        sensor=batch.sensor,
        kind=batch.kind,
        model=model[keep],
        z=z[keep],
        R=R[keep],
        pos=pos[keep],
        pos_cov=pos_cov[keep],
        vel=vel[keep],
        vel_R=vel_R[keep],
        has_vel=has_vel[keep],
        ident=np.asarray(idents, dtype=np.int64)[keep],
        source=np.asarray(sources, dtype=np.int64)[keep],
        sensor_frame=sensor_frame,
        n_nonpositional=n_nonpos,
        n_dropped=len(reasons),
        drop_reasons=tuple(reasons),
    )
