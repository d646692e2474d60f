"""From a validated ``detections`` message to the arrays the tracker works on.

All positional detections of a batch are converted to a Cartesian site-ENU point with a
Cartesian covariance (for coarse gating and for starting tracks), and keep their own
measurement (z, R) in their own frame for the Kalman update. This is the one place that loops
over the detections of a message: it is the boundary where typed messages become arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
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
#: Heights (m, site ENU up) outside which no airborne target can be: below the deepest valley
#: near any site, above what any aircraft a C-UAS system tracks can reach.
MIN_UP_M: Final = -2_000.0
MAX_UP_M: Final = 40_000.0
EARTH_RADIUS_M: Final = 6_371_000.0
#: No aircraft a C-UAS site tracks is faster than this (m/s); faster velocity reports are bogus.
MAX_SPEED_MS: Final = 1_000.0


@dataclass(frozen=True, slots=True)
class MeasurementBatch:
    """One batch as arrays. M = number of positional detections kept.

    ``model``: FRAME_POS / FRAME_RAE / FRAME_AE per detection. ``z`` (M,3) holds each
    measurement in its own frame (``ae`` uses the first two columns), ``R`` (M,3,3) its
    covariance (``ae`` padded). ``pos``/``pos_cov`` are the site-ENU point and its covariance
    (NaN for ``ae``, which fixes no point). ``vel``/``vel_R`` are NaN/zero where absent.
    ``ident`` indexes the tracker's identity registry (-1 = none); ``source`` is the detection's
    index in the message. ``n_dropped`` counts detections left out; ``drop_reasons`` says why
    (and names velocities that were ignored as implausible).
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
    #: Identities found to be one in this batch: (folded index, index it now is).
    merged: tuple[tuple[int, int], ...] = ()

    @property
    def m(self) -> int:
        return len(self.model)


def _stack(rows: Iterable[Iterable[float]], n: int, width: int) -> F64:
    """(n, width) array from n rows of floats (several times faster than np.asarray on tuples)."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=n * width)
    return flat.reshape(n, width)


def identity_index(ident_index: dict[str, int], idn: wire.Ident,
                   merged: list[tuple[int, int]] | None = None) -> int:
    """The registry index of an identity: that of the first of its keys (its ICAO address or
    Remote ID, then its aliases) already known, else a new one; every key of it is registered
    to that index. So a drone first heard by its MAC and later by its serial (with the MAC as
    an alias), or over Wi-Fi and Bluetooth at once, is one identity. When the keys name two
    identities known apart until now, the others are folded into the first: each (old, new)
    pair is appended to ``merged``."""
    keys = idn.keys
    found = [ident_index[k] for k in keys if k in ident_index]
    index = len(ident_index) if not found else found[0]  # len only grows: never reused
    others = set(found) - {index}
    if others:
        for k, v in ident_index.items():
            if v in others:
                ident_index[k] = index
        if merged is not None:
            merged.extend((o, index) for o in sorted(others))
    for k in keys:
        ident_index.setdefault(k, index)
    return index


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
    dets = batch.dets
    reasons: list[str] = []
    frames = [d.frame for d in dets]
    groups: dict[str, Sequence[int]]
    if frames and frames.count(frames[0]) == len(frames):  # the usual case: one frame
        groups = {frames[0]: range(len(dets))}
    else:
        groups = {}
        for i, frame in enumerate(frames):
            groups.setdefault(frame, []).append(i)  # type: ignore[attr-defined]
    n_nonpos = len(groups.pop("none", ()))
    if sensor_frame is None:
        for frame in ("rae", "ae"):
            for i in groups.pop(frame, ()):
                reasons.append(f"dets[{i}]: frame {frame} needs the sensor origin")
    n_no_origin = len(reasons)

    # One block of rows per frame, built with comprehensions rather than per-row appends: a
    # radar scan can hold thousands of plots.
    codes = {"enu": FRAME_POS, "lla": FRAME_POS, "rae": FRAME_RAE, "ae": FRAME_AE}
    order = [f for f in ("enu", "lla", "rae", "ae") if f in groups]
    sources = (np.concatenate([np.asarray(groups[f], dtype=np.int64) for f in order])
               if order else np.zeros(0, dtype=np.int64))
    m = len(sources)
    model = np.concatenate([np.full(len(groups[f]), codes[f], dtype=np.int8) for f in order]
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
        dim = 2 if f == "ae" else 3
        z[rows, :dim] = _stack((dets[i].z for i in idx), len(idx), dim)
        # The wire module fills R for every positional detection.
        R[rows, :dim, :dim] = _stack((dets[i].R or () for i in idx), len(idx), dim * dim).reshape(
            -1, dim, dim)
        if f == "ae":
            R[rows, 2, 2] = 1.0  # padding only, keeps the block invertible; never used
        elif f == "enu":
            pos[rows] = z[rows]
            pos_cov[rows] = R[rows]
        elif f == "lla":
            z[rows] = site.lla_to_enu(z[rows])  # the update works on the converted point
            pos[rows] = z[rows]
            pos_cov[rows] = R[rows]
        else:
            assert sensor_frame is not None
            pos[rows] = sensor_frame.local_to_site(rae_to_local(z[rows]))
            J = sensor_frame.rotation.T @ rae_jacobian(z[rows])
            pos_cov[rows] = J @ R[rows] @ np.swapaxes(J, 1, 2)

    kept = dets if len(order) == 1 and m == len(dets) else [dets[i] for i in sources.tolist()]
    vels = [d.vel for d in kept]
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
    ident = np.full(m, -1, dtype=np.int64)
    merged: list[tuple[int, int]] = []
    idents = [d.ident for d in kept]
    if idents.count(None) != m:
        for j, idn in enumerate(idents):
            if idn is not None and idn.key is not None:
                ident[j] = identity_index(ident_index, idn, merged)
        # One aircraft cannot be in two places in one look: a repeated identity in a batch is
        # a feed error, and only its first detection keeps the identity.
        valid = np.flatnonzero(ident >= 0)
        _, first = np.unique(ident[valid], return_index=True)
        repeated = np.setdiff1d(valid, valid[first])
        if len(repeated):
            ident[repeated] = -1
            reasons.extend(f"dets[{sources[j]}]: identity repeated in one batch, ignored"
                           for j in repeated)

    far = np.zeros(m, dtype=bool)
    has_point = model != FRAME_AE
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
        ident=ident[keep],
        source=sources[keep],
        sensor_frame=sensor_frame,
        n_nonpositional=n_nonpos,
        n_dropped=n_no_origin + int(far.sum()),
        drop_reasons=tuple(reasons),
        merged=tuple(merged),
    )
