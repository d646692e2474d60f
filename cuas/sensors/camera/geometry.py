"""Camera geometry, pure: pixels to azimuth/elevation and back, angle uncertainty, and the
estimation of a camera's orientation from known points or a known path.

Frames and units:

- image: pixels, x to the right, y down, origin at the top-left corner;
- camera: OpenCV's, x right, y down, z along the optical axis (forward);
- local ENU at the camera: metres east, north, up. Azimuth: degrees from true north,
  clockwise, in [0, 360); elevation: degrees above the horizontal, in [-90, 90].

Mount pose: the optical axis points at ``heading`` (azimuth, deg) and ``pitch`` (elevation,
deg); ``roll`` (deg) turns the camera about its optical axis, positive turning the image's x
axis towards its y axis (the right-hand side of the picture down). With heading, pitch and roll
all 0 the camera looks north, level, image x east and image y down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

#: Horizontal field of view (deg) of the default camera model used when nothing is configured:
#: a typical fixed security camera's wide lens.
DEFAULT_HFOV_DEG: Final = 60.0
#: Camera axes in local ENU at heading = pitch = roll = 0 (columns: image x, image y, optical
#: axis -> east, down, north).
_UNDISTORT_CRITERIA: Final = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
_BASE: Final = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True, slots=True)
class CameraModel:
    """Intrinsics of one camera at one resolution: focal lengths ``fx``, ``fy`` and principal
    point ``cx``, ``cy`` (px), OpenCV distortion ``dist`` (k1, k2, p1, p2[, k3...]), image size
    ``width`` × ``height`` (px)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    dist: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size {self.width}x{self.height} must be positive")
        for name in ("fx", "fy", "cx", "cy"):
            v = getattr(self, name)
            if not math.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v}")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError("focal lengths must be > 0")
        if len(self.dist) not in (0, 4, 5, 8, 12, 14) or not all(map(math.isfinite, self.dist)):
            raise ValueError("dist must hold 4, 5, 8, 12 or 14 finite OpenCV coefficients")

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG) -> CameraModel:
        """A distortion-free camera of horizontal field of view ``hfov_deg`` (square pixels,
        principal point at the image centre)."""
        if not 0.1 <= hfov_deg < 179.0:
            raise ValueError(f"hfov_deg must lie in [0.1, 179), got {hfov_deg}")
        f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(width, height, f, f, width / 2.0, height / 2.0)

    @classmethod
    def from_matrix(cls, width: int, height: int, K: Sequence[Sequence[float]],
                    dist: Sequence[float] = ()) -> CameraModel:
        """From a 3×3 camera matrix ``K`` (px) and distortion coefficients."""
        k = np.asarray(K, dtype=np.float64)
        if k.shape != (3, 3):
            raise ValueError(f"K must be 3x3, got shape {k.shape}")
        return cls(width, height, float(k[0, 0]), float(k[1, 1]), float(k[0, 2]),
                   float(k[1, 2]), tuple(float(d) for d in dist))

    def scaled(self, width: int, height: int) -> CameraModel:
        """The same lens at another resolution (a stream scaled from the calibrated one)."""
        sx, sy = width / self.width, height / self.height
        return CameraModel(width, height, self.fx * sx, self.fy * sy, self.cx * sx,
                           self.cy * sy, self.dist)

    @property
    def matrix(self) -> F64:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def rad_per_px(self) -> float:
        """Angle subtended by one pixel at the principal point (rad)."""
        return 1.0 / math.sqrt(self.fx * self.fy)

    def rays(self, pixels: F64) -> F64:
        """Unit ray directions (N,3) in the camera frame for pixels (N,2), undistorted with
        ``cv2.undistortPoints`` (iterated to 1e-10 in normalised coordinates)."""
        pts = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
        if len(pts) == 0:
            return np.zeros((0, 3))
        dist = np.asarray(self.dist, dtype=np.float64) if self.dist else None
        norm = np.asarray(cv2.undistortPoints(pts, self.matrix, dist, None, None, None,
                                              _UNDISTORT_CRITERIA),
                          dtype=np.float64).reshape(-1, 2)
        if dist is not None:
            # OpenCV's fixed-point inversion stalls in the corners of a wide lens (7 px off
            # at the corner of the Albl dataset's GoPro): polish with a few steps of the
            # forward model's error, which converges where the distortion is monotonic.
            norm = self._polish(pts.reshape(-1, 2), norm, dist)
        v = np.column_stack([norm, np.ones(len(norm))])
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def _polish(self, target: F64, norm: F64, dist: F64) -> F64:
        """Refine normalised coordinates ``norm`` (N,2) so that they project onto pixels
        ``target`` (N,2): damped steps along the pixel error, each point keeping its best."""
        f = np.array([self.fx, self.fy])

        def error(n: F64) -> F64:
            obj = np.column_stack([n, np.ones(len(n))]).reshape(-1, 1, 3)
            px, _ = cv2.projectPoints(obj, np.zeros(3), np.zeros(3), self.matrix, dist)
            return target - np.asarray(px, dtype=np.float64).reshape(-1, 2)

        best = norm.copy()
        best_err = error(best)
        step = np.ones(len(norm))
        for _ in range(40):
            size = np.abs(best_err).max(axis=1)
            if float(size.max()) < 1e-6:
                break
            cand = best + step[:, None] * best_err / f
            err = error(cand)
            better = np.abs(err).max(axis=1) < size
            best[better] = cand[better]
            best_err[better] = err[better]
            step = np.where(better, np.minimum(step * 1.5, 1.0), step * 0.5)
        return best

    def project(self, rays: F64) -> tuple[F64, NDArray[np.bool_]]:
        """Pixels (N,2) of camera-frame directions (N,3), and which lie in front of the camera
        and inside the image."""
        v = np.asarray(rays, dtype=np.float64).reshape(-1, 3)
        front = v[:, 2] > 1e-9
        pts = np.where(front[:, None], v, np.array([0.0, 0.0, 1.0]))
        dist = np.asarray(self.dist, dtype=np.float64) if self.dist else None
        px, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), self.matrix,
                                  dist)
        px = np.asarray(px, dtype=np.float64).reshape(-1, 2)
        inside = front & (px[:, 0] >= 0) & (px[:, 0] < self.width) & (px[:, 1] >= 0) & (
            px[:, 1] < self.height)
        return px, inside


def rotation_from_pose(heading_deg: float, pitch_deg: float, roll_deg: float) -> F64:
    """Rotation (3,3) taking camera-frame vectors to local ENU for a mount pose (deg)."""
    h, p, r = (math.radians(a) for a in (heading_deg, pitch_deg, roll_deg))
    ch, sh, cp, sp, cr, sr = math.cos(h), math.sin(h), math.cos(p), math.sin(p), math.cos(r), \
        math.sin(r)
    turn = np.array([[ch, sh, 0.0], [-sh, ch, 0.0], [0.0, 0.0, 1.0]])  # clockwise from north
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])  # axis up, about image x
    spin = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])  # about the optical axis
    return turn @ _BASE @ tilt @ spin


def pose_from_rotation(R: F64) -> tuple[float, float, float]:
    """(heading, pitch, roll) in degrees of a camera-to-ENU rotation (inverse of
    :func:`rotation_from_pose`; heading in [0, 360))."""
    fwd = R[:, 2]
    heading = math.degrees(math.atan2(fwd[0], fwd[1])) % 360.0
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, float(fwd[2])))))
    spin = rotation_from_pose(heading, pitch, 0.0).T @ R
    roll = math.degrees(math.atan2(spin[1, 0], spin[0, 0]))
    return heading, pitch, roll


def directions_to_az_el(v: F64) -> F64:
    """Azimuth and elevation (N,2) in degrees of local-ENU directions (N,3)."""
    e, n, u = v[:, 0], v[:, 1], v[:, 2]
    az = np.degrees(np.arctan2(e, n)) % 360.0
    el = np.degrees(np.arctan2(u, np.hypot(e, n)))
    return np.column_stack([az, el])


def az_el_to_directions(ae: F64) -> F64:
    """Unit local-ENU directions (N,3) of azimuth/elevation pairs (N,2) in degrees."""
    az = np.radians(ae[:, 0])
    el = np.radians(ae[:, 1])
    return np.column_stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])


@dataclass(frozen=True, slots=True)
class CameraGeometry:
    """A camera's lens and mount: pixels <-> azimuth/elevation in its local ENU frame.

    ``calib_sigma_deg`` is the 1-sigma of the mount's pointing (how well heading/pitch/roll
    are known); ``centroid_fraction`` the 1-sigma of a blob's centroid as a fraction of its
    size (px), floored at ``min_pixel_sigma`` px.
    """

    model: CameraModel
    heading_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    calib_sigma_deg: float = 0.1
    centroid_fraction: float = 0.1
    min_pixel_sigma: float = 0.5

    @property
    def rotation(self) -> F64:
        """Camera frame -> local ENU rotation (3,3)."""
        return rotation_from_pose(self.heading_deg, self.pitch_deg, self.roll_deg)

    def az_el(self, pixels: F64) -> F64:
        """Azimuth/elevation (N,2) deg of pixels (N,2); the principal point maps to
        (heading, pitch)."""
        return directions_to_az_el(self.rays_enu(pixels))

    def rays_enu(self, pixels: F64) -> F64:
        """Unit local-ENU ray directions (N,3) of pixels (N,2)."""
        return self.model.rays(pixels) @ self.rotation.T

    def pixels(self, az_el: F64) -> tuple[F64, NDArray[np.bool_]]:
        """Pixels (N,2) of azimuth/elevation pairs (N,2) deg, and which are in the image."""
        return self.model.project(az_el_to_directions(np.asarray(az_el, dtype=np.float64))
                                  @ self.rotation)

    def sigma(self, sizes_px: F64, el_deg: F64) -> F64:
        """1-sigma of (azimuth, elevation) (N,2) in degrees for blobs of size ``sizes_px``
        (N,) (the larger side of the box) seen at elevation ``el_deg`` (N,).

        Pixel noise (a fraction of the blob's size) and the pointing error add in quadrature;
        the azimuth's sigma grows as 1/cos(elevation) (a fixed angle near the zenith spans
        many degrees of azimuth)."""
        px = np.maximum(self.centroid_fraction * np.asarray(sizes_px, dtype=np.float64),
                        self.min_pixel_sigma)
        ang = np.hypot(np.degrees(px * self.model.rad_per_px), self.calib_sigma_deg)
        cos_el = np.maximum(np.cos(np.radians(el_deg)), 0.02)
        return np.column_stack([np.minimum(ang / cos_el, 180.0), ang])


# --------------------------------------------------------------------------- calibration


def fit_rotation(cam_rays: F64, enu_dirs: F64, weights: F64 | None = None) -> F64:
    """The rotation R (camera -> ENU) that best maps unit camera rays (N,3) onto unit ENU
    directions (N,3) in the least-squares sense (Wahba's problem, solved by SVD; N >= 2
    non-parallel pairs)."""
    w = np.ones(len(cam_rays)) if weights is None else np.asarray(weights, dtype=np.float64)
    B = (enu_dirs * w[:, None]).T @ cam_rays
    U, _, Vt = np.linalg.svd(B)
    d = np.sign(np.linalg.det(U @ Vt))
    return np.asarray(U @ np.diag([1.0, 1.0, d]) @ Vt, dtype=np.float64)


def orientation_from_points(model: CameraModel, centre: F64, points: F64,
                            pixels: F64) -> tuple[float, float, float, float]:
    """A camera's (heading, pitch, roll) in degrees from known points: ``points`` (N,3)
    local-ENU metres seen at ``pixels`` (N,2), camera at ``centre`` (3,) metres (surveyed).

    Returns also the RMS angular residual (deg). With the centre known, only the rotation is
    unknown: an exact least-squares fit of ray directions (no initial guess needed), used in
    preference to ``cv2.solvePnP``, which would re-estimate the surveyed centre too."""
    rays = model.rays(pixels)
    dirs = np.asarray(points, dtype=np.float64) - np.asarray(centre, dtype=np.float64)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    R = fit_rotation(rays, dirs)
    resid = np.degrees(np.arccos(np.clip(np.sum((rays @ R.T) * dirs, axis=1), -1.0, 1.0)))
    h, p, r = pose_from_rotation(R)
    return h, p, r, float(np.sqrt(np.mean(resid**2)))


def relative_baseline(rays_a: F64, rays_b: F64, threshold: float = 1e-3,
                      ) -> tuple[F64, F64, float]:
    """Relative pose of camera b seen from camera a, from simultaneous rays of one target
    (N,3) each in its own camera frame: the rotation R (b-frame vectors = R @ a-frame vectors),
    the unit direction from a's centre to b's in a's frame, and the RANSAC inlier share.

    The essential matrix (``cv2.findEssentialMat`` on normalised coordinates, RANSAC with
    ``threshold`` in normalised units) and ``cv2.recoverPose``; needs at least 5 pairs seen in
    front of both cameras, from a target that does not stay on one line."""
    pa = rays_a[:, :2] / rays_a[:, 2:]
    pb = rays_b[:, :2] / rays_b[:, 2:]
    E, mask = cv2.findEssentialMat(pa, pb, np.eye(3), method=cv2.RANSAC, prob=0.999,
                                   threshold=threshold)
    if E is None or E.shape[0] < 3:
        raise ValueError("no essential matrix: too few or degenerate correspondences")
    _, R, t, _ = cv2.recoverPose(np.asarray(E[:3], dtype=np.float64), pa, pb, np.eye(3),
                                 mask=mask)
    rot = np.asarray(R, dtype=np.float64)
    c = np.asarray(-(rot.T @ np.asarray(t, dtype=np.float64)).ravel(), dtype=np.float64)
    return rot, c / np.linalg.norm(c), float(np.mean(np.asarray(mask) > 0))


def orientations_from_synchronised(centres: F64, rays: F64, known: NDArray[np.bool_], *,
                                   reference: int = 0, refine: int = 10,
                                   sigma_rad: float = 2e-3) -> tuple[list[F64], F64]:
    """Rotations (camera -> local ENU) of N cameras with surveyed ``centres`` (N,3) m from
    synchronised detections of one target: ``rays`` (T,N,3) unit camera-frame rays at T
    instants, ``known`` (T,N) where camera n saw it. No target position is needed.

    1. For each camera k, its relative pose from the ``reference`` camera
       (:func:`relative_baseline`): a rotation and the direction of the baseline in the
       reference camera's frame;
    2. the reference camera's rotation maps those baseline directions onto the surveyed
       baselines (:func:`fit_rotation`); every other rotation follows from its relative one;
    3. ``refine`` rounds of: triangulate every instant seen by two or more cameras, refit each
       camera's rotation to the directions of the points it saw.

    Returns the rotations and the median miss distance (m) of each camera's rays at the end.
    Raises ValueError when a camera shares too few instants with the reference camera."""
    from cuas.geo import triangulate

    c = np.asarray(centres, dtype=np.float64)
    n = len(c)
    rel: dict[int, F64] = {}
    cam_dirs: list[F64] = []
    world_dirs: list[F64] = []
    for k in range(n):
        if k == reference:
            continue
        both = known[:, reference] & known[:, k]
        if both.sum() < 8:
            raise ValueError(f"camera {k} shares {int(both.sum())} instants with camera "
                             f"{reference}; at least 8 are needed")
        R, base, _ = relative_baseline(rays[both, reference], rays[both, k])
        rel[k] = R
        cam_dirs.append(base)
        b = c[k] - c[reference]
        world_dirs.append(b / np.linalg.norm(b))
    R_ref = fit_rotation(np.asarray(cam_dirs), np.asarray(world_dirs))
    rots = [R_ref if k == reference else R_ref @ rel[k].T for k in range(n)]
    miss = np.full(n, np.nan)
    use = known.sum(axis=1) >= 2
    for i in range(refine + 1):
        dirs = np.einsum("kij,tkj->tki", np.stack(rots), rays[use])
        tri = triangulate(np.broadcast_to(c, (int(use.sum()), n, 3)), dirs,
                          np.full((int(use.sum()), n), sigma_rad), known[use], gate_sigma=1e9)
        miss = np.nanmedian(np.where(tri.ok[:, None], tri.miss_m, np.nan), axis=0)
        if i == refine:
            break
        for k in range(n):
            sel = known[use][:, k] & tri.ok
            if sel.sum() < 3:
                continue
            to = tri.point[sel] - c[k]
            to /= np.linalg.norm(to, axis=1, keepdims=True)
            rots[k] = fit_rotation(rays[use][sel, k], to)
    return rots, miss
