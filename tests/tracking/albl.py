"""The Albl et al. multi-view drone dataset 3 (ETH Zurich, CC BY-NC-SA 4.0), read in place from
``../shared/data/video/albl-multiview-dataset3`` (never copied into the project): six surveyed
cameras, their pixel detections of a hexacopter, per-camera time sync and the RTK path.

Method (shared by the tests and ``benchmarks/bench_camera.py``):

- time: camera 0's frame index is the reference clock; a detection in camera k's frame j is at
  reference frame (j − β₀ₖ)/α₀ₖ (the dataset README's sync table, row "ref. camera 0"). Each
  camera's pixel track is interpolated linearly to the reference frames (never across gaps
  longer than two of its own frames).
- orientation: not given. Estimated from the surveyed centres and the synchronised detections
  alone (no RTK): ``orientations_from_synchronised`` (essential matrix of each camera with
  camera 0, the surveyed baselines fixing camera 0's rotation, then alternating triangulation
  and per-camera rotation refits), using only the first ``FIT_FRACTION`` of the flight; the rest
  is left for evaluation.
- frames: the survey's XYZ frame (``campos.txt``) and the RTK's ENU frame are not the same (the
  points land ~14 m from the path without alignment). Both are level, so the points
  triangulated in the fitting part are aligned to the RTK path by a turn about the vertical and
  a shift (``align_to_path``, ICP against the path's shape); the held-out points are mapped
  with that same transform.
- error: each triangulated point's distance to the RTK path (a polyline resampled every
  0.1 m), since the path has no time column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from cuas.geo import Triangulated, triangulate
from cuas.sensors.camera.geometry import (
    CameraModel,
    orientations_from_synchronised,
    pose_from_rotation,
)

F64 = NDArray[np.float64]

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "video" / \
    "albl-multiview-dataset3"
#: Calibration file per camera (cameras.txt order). For mate10 both files hold the same
#: intrinsics; for sonyG the second (full five-coefficient) calibration fits better.
CALIBRATION = ("gopro3", "mate7", "mate10_1", "sony5n_1440x1080", "sony5100", "sonyG_2")
#: Row "ref. camera 0" of the README's sync tables: frame j of camera k = α·i + β.
ALPHA = (1.0, 0.5005, 0.4960, 0.4171, 0.5000, 0.8341)
BETA = (0.0, 1013.95, 546.98, 251.16, 961.02, 137.51)
#: Row of ``campos.txt`` holding camera k's centre. Not the cameras.txt order the dataset's
#: README states: the relative poses of the synchronised detections (essential matrices)
#: agree with the surveyed baselines to 0.65 deg (median) in this order and 33 deg in that one.
CENTRE_ROW = (0, 4, 2, 1, 3, 5)
#: Frame rate of camera 0, the reference clock (gopro3.json).
REF_FPS = 59.94006
#: Share of the flight (by reference time) whose detections fit the orientations.
FIT_FRACTION = 0.4
#: 1-sigma of a detection's direction (rad): a pixel or two at these focal lengths, plus
#: the orientation's own error.
RAY_SIGMA_RAD = 2e-3


@dataclass(frozen=True, slots=True)
class Dataset:
    centres: F64            # (6,3) m
    models: tuple[CameraModel, ...]
    tracks: tuple[F64, ...]  # per camera (N,3): reference frame, x px, y px
    rtk: F64                # (M,3) m


def available() -> bool:
    return (ROOT / "trajectory" / "rtk.txt").is_file()


def load() -> Dataset:
    centres = np.loadtxt(ROOT / "camera-locations" / "campos.txt")[list(CENTRE_ROW)]
    models = []
    tracks = []
    for k, name in enumerate(CALIBRATION):
        cal = json.loads((ROOT / "calibration" / f"{name}.json").read_text())
        w, h = cal["resolution"]
        models.append(CameraModel.from_matrix(int(w), int(h), cal["K-matrix"], cal["distCoeff"]))
        det = np.loadtxt(ROOT / "detections" / f"cam{k}.txt", skiprows=1)
        det = det[(det[:, 1] > 0) | (det[:, 2] > 0)]  # (0, 0): no detection in that frame
        ref = (det[:, 0] - BETA[k]) / ALPHA[k]
        tracks.append(np.column_stack([ref, det[:, 1:3]]))
    rtk = np.loadtxt(ROOT / "trajectory" / "rtk.txt")
    return Dataset(centres, tuple(models), tuple(tracks), rtk)


def resample(track: F64, times: F64, alpha: float) -> tuple[F64, NDArray[np.bool_]]:
    """Pixels (T,2) of a camera's track at reference ``times`` (T,), and where known (no
    interpolation across a gap of more than two of the camera's frames)."""
    t = track[:, 0]
    x = np.interp(times, t, track[:, 1])
    y = np.interp(times, t, track[:, 2])
    i = np.clip(np.searchsorted(t, times), 1, len(t) - 1)
    gap = t[i] - t[i - 1]
    known = (times >= t[0]) & (times <= t[-1]) & (gap <= 2.0 / alpha + 1e-6)
    return np.column_stack([x, y]), known


def path_distance(rtk: F64, points: F64, step_m: float = 0.1) -> F64:
    """Distance (m) of each point (N,3) to the RTK polyline resampled every ``step_m``."""
    seg = np.diff(rtk, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    parts = [rtk[:1]]
    for a, s, length in zip(rtk[:-1], seg, lengths, strict=True):
        n = max(1, int(np.ceil(length / step_m)))
        parts.append(a + s * (np.arange(1, n + 1) / n)[:, None])
    dist, _ = cKDTree(np.vstack(parts)).query(points)
    return np.asarray(dist, dtype=np.float64)


def _sample(data: Dataset, models: list[CameraModel], times: F64) -> tuple[F64, NDArray[np.bool_]]:
    """Camera-frame unit rays (T,6,3) of every camera at reference ``times``, and where known."""
    n = len(data.tracks)
    rays = np.zeros((len(times), n, 3))
    known = np.zeros((len(times), n), dtype=bool)
    for k, (model, tr) in enumerate(zip(models, data.tracks, strict=True)):
        px, kn = resample(tr, times, ALPHA[k])
        known[:, k] = kn
        if kn.any():
            rays[kn, k] = model.rays(px[kn])
    return rays, known


def align_to_path(points: F64, path: F64, iterations: int = 50) -> tuple[F64, F64]:
    """Rigid transform (R (3,3), t (3,)) taking ``points`` (N,3) onto the polyline ``path``:
    a turn about the vertical and a shift (the camera survey's frame is level, like the RTK's),
    by iterative closest point from 12 starting headings; the best fit (median distance) wins."""
    dense = np.vstack([path[:-1] + (path[1:] - path[:-1]) * f for f in np.linspace(0, 1, 5)])
    tree = cKDTree(dense)
    best: tuple[float, F64, F64] = (np.inf, np.eye(3), np.zeros(3))
    for yaw0 in np.radians(np.arange(0.0, 360.0, 30.0)):
        c, s_ = np.cos(yaw0), np.sin(yaw0)
        R = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
        t = dense.mean(axis=0) - points.mean(axis=0) @ R.T
        for _ in range(iterations):
            moved = points @ R.T + t
            dist, idx = tree.query(moved)
            keep = dist <= max(3.0 * float(np.median(dist)), 0.5)
            src, dst = points[keep], dense[idx[keep]]
            ms, md = src.mean(axis=0), dst.mean(axis=0)
            H = (src - ms)[:, :2].T @ (dst - md)[:, :2]  # yaw only: the 2-D Kabsch problem
            U, _, Vt = np.linalg.svd(H)
            R2 = Vt.T @ np.diag([1.0, np.sign(np.linalg.det(Vt.T @ U.T))]) @ U.T
            R = np.eye(3)
            R[:2, :2] = R2
            t_new = md - ms @ R.T
            done = np.allclose(t_new, t, atol=1e-4)
            t = t_new
            if done:
                break
        dist, _ = tree.query(points @ R.T + t)
        score = float(np.median(dist))
        if score < best[0]:
            best = (score, R, t)
    return best[1], best[2]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Orientation fit, alignment and the held-out triangulation errors."""

    poses: tuple[tuple[float, float, float], ...]  # heading, pitch, roll per camera (deg)
    fit_miss_m: F64      # median ray miss per camera after the orientation fit (m)
    yaw_deg: float       # survey frame -> RTK frame turn
    shift_m: F64         # survey frame -> RTK frame shift
    n_cams: NDArray[np.int64]
    points: F64          # held-out triangulated points, RTK frame
    error_m: F64         # their distances to the RTK path


def evaluate(data: Dataset, step: float = 4.0, fit_fraction: float = FIT_FRACTION,
             sigma_rad: float = RAY_SIGMA_RAD) -> Evaluation:
    """Orientations and the survey-to-RTK alignment from the first ``fit_fraction`` of the
    flight; triangulation errors on the rest (every ``step`` reference frames)."""
    t0 = min(tr[0, 0] for tr in data.tracks)
    t1 = max(tr[-1, 0] for tr in data.tracks)
    split = t0 + fit_fraction * (t1 - t0)
    fit_times = np.arange(np.ceil(t0), split, step)
    rays, known = _sample(data, list(data.models), fit_times)
    rots, miss = orientations_from_synchronised(data.centres, rays, known)
    n = len(data.models)
    stacked = np.stack(rots)

    def points(rays_: F64, known_: NDArray[np.bool_]) -> Triangulated:
        dirs = np.einsum("kij,tkj->tki", stacked, rays_)
        return triangulate(np.broadcast_to(data.centres, (len(dirs), n, 3)), dirs,
                           np.full((len(dirs), n), sigma_rad), known_)

    use = known.sum(axis=1) >= 2
    fit_tri = points(rays[use], known[use])
    R, t = align_to_path(fit_tri.point[fit_tri.ok], data.rtk)
    times = np.arange(np.ceil(split), t1, step)
    rays, known = _sample(data, list(data.models), times)
    use = known.sum(axis=1) >= 2
    tri = points(rays[use], known[use])
    pts = tri.point[tri.ok] @ R.T + t
    return Evaluation(
        poses=tuple(pose_from_rotation(r) for r in rots), fit_miss_m=miss,
        yaw_deg=float(np.degrees(np.arctan2(R[1, 0], R[0, 0]))), shift_m=t,
        n_cams=known[use][tri.ok].sum(axis=1), points=pts,
        error_m=path_distance(data.rtk, pts))


#: Site origin the flight is placed at for the tracker (the survey frame is local ENU there).
SITE_LLA = (47.3769, 8.5417, 410.0)


@dataclass(frozen=True, slots=True)
class TrackRun:
    """The tracker fed with the held-out bearings: track points (RTK frame) sampled once per
    ``sample`` reference frames, each with the number of cameras that saw the drone then, and
    their distances to the RTK path; tracks created in all."""

    points: F64
    n_cams: NDArray[np.int64]
    error_m: F64
    tracks_created: int
    batches: int


def track(data: Dataset, ev: Evaluation, start: float, seconds: float,
          sigma_deg: float = 0.15, sample: int = 30) -> TrackRun:
    """Feed ``seconds`` of the flight from reference frame ``start`` to the cuas tracker as six
    cameras' ``ae`` detections (one message per camera per 1/30 s; orientations from
    ``evaluate``), then compare its confirmed track with the RTK path."""
    from cuas import wire
    from cuas.config import Config, SensorConfig, SiteConfig
    from cuas.fusion.engine import FusionEngine
    from cuas.geo import SiteFrame
    from cuas.sensors.camera.geometry import directions_to_az_el, rotation_from_pose

    site = SiteConfig(name="albl", lat=SITE_LLA[0], lon=SITE_LLA[1], h=SITE_LLA[2])
    frame = SiteFrame(site)
    n = len(data.models)
    lla = frame.enu_to_lla(data.centres)
    sensors = {f"cam{k}": SensorConfig(id=f"cam{k}", kind="camera",
                                       origin=(float(lla[k, 0]), float(lla[k, 1]),
                                               float(lla[k, 2]))) for k in range(n)}
    tracker = FusionEngine(Config(site=site, sensors=sensors), classify=False)
    rots = np.stack([rotation_from_pose(*p) for p in ev.poses])
    c, s_ = np.cos(np.radians(ev.yaw_deg)), np.sin(np.radians(ev.yaw_deg))
    to_rtk = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
    ref_fps = REF_FPS
    times = np.arange(start, start + seconds * ref_fps, 2.0)  # 30 Hz
    rays, known = _sample(data, list(data.models), times)
    t0 = 1_700_000_000.0
    out_pts: list[F64] = []
    out_n: list[int] = []
    batches = 0
    for i, ref in enumerate(times):
        for k in range(n):
            if not known[i, k]:
                continue
            ae = directions_to_az_el((rots[k] @ rays[i, k])[None, :])[0]
            det = wire.Detection(frame="ae", z=(float(ae[0]), float(ae[1])),
                                 sigma=(sigma_deg, sigma_deg),
                                 R=(sigma_deg**2, 0.0, 0.0, sigma_deg**2))
            tracker.process(wire.Detections(src=f"cam{k}", seq=i, t=t0 + ref / ref_fps + 1e-3 * k,
                                            sensor=f"cam{k}", kind="camera", dets=(det,)))
            batches += 1
        if i % sample == sample - 1:
            snap = tracker.snapshot(t0 + ref / ref_fps + 1e-3 * n)
            firm = [tr for tr in snap.tracks if tr.status == "confirmed"]
            if len(firm) == 1:  # one drone: one firm track is the fused estimate
                out_pts.append(np.asarray(firm[0].enu) @ to_rtk.T + ev.shift_m)
                out_n.append(int(known[i].sum()))
    pts = np.asarray(out_pts).reshape(-1, 3)
    return TrackRun(pts, np.asarray(out_n, dtype=np.int64),
                    path_distance(data.rtk, pts) if len(pts) else np.zeros(0),
                    tracker.counters["tracks_created"], batches)
