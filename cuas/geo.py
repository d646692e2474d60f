"""Geometry for a site: WGS-84 <-> the site's ENU frame, sensor-centred range/az/el, and
where bearing rays cross (least-squares triangulation, batched).

Everything is vectorised over arrays of points. pymap3d does the geodesy; the only thing
computed here is the rigid transform between two local ENU frames (a sensor's and the site's),
which lets the tracker work in site ENU while a radar measures in its own frame, exactly
rather than with a flat-earth shortcut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pymap3d
from numpy.typing import NDArray

from cuas.config import SiteConfig

F64 = NDArray[np.float64]


def _ecef_to_enu_rotation(lat_deg: float, lon_deg: float) -> F64:
    """Rotation taking ECEF vectors to the ENU frame at (lat, lon), built with pymap3d."""
    eye = np.eye(3)
    e, n, u = pymap3d.ecef2enuv(eye[0], eye[1], eye[2], lat_deg, lon_deg)
    return np.vstack([np.asarray(e), np.asarray(n), np.asarray(u)]).astype(np.float64)


@dataclass(frozen=True, slots=True)
class SensorFrame:
    """A sensor's local ENU frame expressed in the site frame.

    ``offset`` is the sensor position in site ENU (m); ``rotation`` takes site-ENU vectors to
    sensor-ENU vectors.
    """

    origin_lla: tuple[float, float, float]
    offset: F64
    rotation: F64

    def site_to_local(self, enu: F64) -> F64:
        """Site ENU points (N,3) -> sensor ENU points (N,3), metres."""
        return (enu - self.offset) @ self.rotation.T

    def local_to_site(self, local: F64) -> F64:
        """Sensor ENU points (N,3) -> site ENU points (N,3), metres."""
        return local @ self.rotation + self.offset


class SiteFrame:
    """Conversions between WGS-84 and the site's East-North-Up frame (metres)."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.lat0, self.lon0, self.h0 = site.lat, site.lon, site.h
        self._rot_site = _ecef_to_enu_rotation(site.lat, site.lon)
        self._sensors: dict[tuple[float, float, float], SensorFrame] = {}

    def lla_to_enu(self, lla: F64) -> F64:
        """WGS-84 (N,3) [lat deg, lon deg, h m] -> site ENU (N,3) metres."""
        lla = np.asarray(lla, dtype=np.float64).reshape(-1, 3)
        e, n, u = pymap3d.geodetic2enu(lla[:, 0], lla[:, 1], lla[:, 2],
                                       self.lat0, self.lon0, self.h0)
        return np.column_stack([e, n, u]).astype(np.float64)

    def enu_to_lla(self, enu: F64) -> F64:
        """Site ENU (N,3) metres -> WGS-84 (N,3) [lat deg, lon deg, h m]."""
        enu = np.asarray(enu, dtype=np.float64).reshape(-1, 3)
        lat, lon, h = pymap3d.enu2geodetic(enu[:, 0], enu[:, 1], enu[:, 2],
                                           self.lat0, self.lon0, self.h0)
        return np.column_stack([lat, lon, h]).astype(np.float64)

    def sensor(self, origin_lla: tuple[float, float, float]) -> SensorFrame:
        """The (cached) frame of a sensor at ``origin_lla`` (deg, deg, m)."""
        key = (float(origin_lla[0]), float(origin_lla[1]), float(origin_lla[2]))
        frame = self._sensors.get(key)
        if frame is None:
            offset = self.lla_to_enu(np.asarray([key]))[0]
            rot_sensor = _ecef_to_enu_rotation(key[0], key[1])
            frame = SensorFrame(key, offset, rot_sensor @ self._rot_site.T)
            if len(self._sensors) > 4096:  # sensors that move (a vehicle) must not grow this forever
                self._sensors.clear()
            self._sensors[key] = frame
        return frame


def rae_to_local(rae: F64) -> F64:
    """(N,3) [range m, azimuth deg from north clockwise, elevation deg] -> local ENU (N,3) m."""
    r = rae[:, 0]
    az = np.radians(rae[:, 1])
    el = np.radians(rae[:, 2])
    ce = np.cos(el)
    return np.column_stack([r * ce * np.sin(az), r * ce * np.cos(az), r * np.sin(el)])


def local_to_rae(local: F64) -> F64:
    """Local ENU (N,3) m -> (N,3) [range m, azimuth deg 0..360, elevation deg]."""
    e, n, u = local[:, 0], local[:, 1], local[:, 2]
    horiz = np.hypot(e, n)
    r = np.hypot(horiz, u)
    az = np.degrees(np.arctan2(e, n)) % 360.0
    el = np.degrees(np.arctan2(u, horiz))
    return np.column_stack([r, az, el])


def rae_jacobian(rae: F64) -> F64:
    """d(local ENU)/d(range, az deg, el deg) at each point: (N,3,3)."""
    r = rae[:, 0]
    az = np.radians(rae[:, 1])
    el = np.radians(rae[:, 2])
    sa, ca, se, ce = np.sin(az), np.cos(az), np.sin(el), np.cos(el)
    k = np.pi / 180.0
    jac = np.empty((len(r), 3, 3))
    jac[:, 0, 0] = ce * sa
    jac[:, 0, 1] = r * ce * ca * k
    jac[:, 0, 2] = -r * se * sa * k
    jac[:, 1, 0] = ce * ca
    jac[:, 1, 1] = -r * ce * sa * k
    jac[:, 1, 2] = -r * se * ca * k
    jac[:, 2, 0] = se
    jac[:, 2, 1] = 0.0
    jac[:, 2, 2] = r * ce * k
    return jac


# --------------------------------------------------------------------------- triangulation
#
# Least-squares triangulation of bearing rays (cameras), batched over groups of rays.
#
# A ray i starts at ``o_i`` (the sensor, site ENU metres) along the unit direction ``d_i``; its
# angular 1-sigma is ``s_i`` (rad). The point p minimising
#
#     Σ_i |(I − d_i d_iᵀ)(p − o_i)|² / w_i,    w_i = (s_i r_i)² + m_i²
#
# is found in closed form (a 3×3 solve), where ``r_i`` = d_i·(p − o_i) is the range along the ray
# (two passes: unweighted by range first, then with the ranges found) and ``m_i`` (m) is an extra
# position uncertainty of ray i (the target's motion between unsynchronised frames). The
# inverse of the normal matrix is the point's covariance. The *ray-miss gate* rejects a fit when
# any ray passes farther from the point than ``gate_sigma`` of its own uncertainty, when the
# point lies behind a sensor or too close to it, or when the rays are too nearly parallel for
# the range to be known (the covariance's largest axis beyond ``max_sigma_m``).

B = NDArray[np.bool_]

#: A point nearer a sensor than this (m) is no target (a bird on the lens, or a bad fit).
MIN_RANGE_M: Final = 2.0


@dataclass(frozen=True, slots=True)
class Triangulated:
    """Fits of K groups: points (K,3) and covariances (K,3,3) in site ENU metres, each ray's
    miss distance (K,R) m and miss in sigmas (K,R) (NaN for padding), ranges along the rays
    (K,R) m, the chi-square sum of the misses (K,), and ``ok`` (K,) where the gate passed."""

    point: F64
    cov: F64
    miss_m: F64
    miss_sigma: F64
    range_m: F64
    chi2: F64
    ok: B


def triangulate(origins: F64, dirs: F64, sigma_rad: F64, valid: B | None = None,
                extra_m: F64 | None = None, *, gate_sigma: float = 4.0,
                max_sigma_m: float = 500.0, min_range_m: float = MIN_RANGE_M) -> Triangulated:
    """Triangulate K groups of up to R rays: ``origins`` (K,R,3) m, unit ``dirs`` (K,R,3),
    ``sigma_rad`` (K,R); ``valid`` (K,R) marks real rays (default all); ``extra_m`` (K,R) adds
    position uncertainty per ray (m). Groups need two valid, non-parallel rays to pass."""
    o = np.asarray(origins, dtype=np.float64)
    d = np.asarray(dirs, dtype=np.float64)
    k, r = o.shape[:2]
    v = np.ones((k, r), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    s = np.where(v, np.asarray(sigma_rad, dtype=np.float64), 1.0)
    m2 = np.zeros((k, r)) if extra_m is None else np.where(v, np.asarray(extra_m) ** 2, 0.0)
    d = np.where(v[..., None], d, 0.0)
    proj = np.eye(3) - d[..., :, None] * d[..., None, :]  # (K,R,3,3): removes the ray direction
    ranges = np.ones((k, r))
    point = np.zeros((k, 3))
    A = np.zeros((k, 3, 3))
    for _ in range(2):
        w = np.where(v, 1.0 / ((s * ranges) ** 2 + m2), 0.0)
        A = np.einsum("kr,krij->kij", w, proj)
        b = np.einsum("kr,krij,krj->ki", w, proj, o)
        solvable = np.linalg.cond(A) < 1e12
        A_safe = np.where(solvable[:, None, None], A, np.eye(3))
        point = np.linalg.solve(A_safe, b[..., None])[..., 0]
        ranges = np.maximum(np.einsum("krj,krj->kr", d, point[:, None, :] - o), 1e-3)
    cov = np.linalg.inv(np.where(solvable[:, None, None], A, np.eye(3)))
    rel = point[:, None, :] - o
    along = np.einsum("krj,krj->kr", d, rel)
    miss = np.linalg.norm(rel - along[..., None] * d, axis=2)
    scale = np.sqrt((s * np.maximum(along, 1e-3)) ** 2 + m2)
    miss_sigma = np.where(v, miss / scale, np.nan)
    chi2 = np.nansum(miss_sigma**2, axis=1)
    n_rays = v.sum(axis=1)
    in_front = np.all(~v | (along >= min_range_m), axis=1)
    tight = np.all(~v | (miss_sigma <= gate_sigma), axis=1)
    axis_max = np.sqrt(np.maximum(np.linalg.eigvalsh(cov)[:, -1], 0.0))
    ok = solvable & (n_rays >= 2) & in_front & tight & (axis_max <= max_sigma_m)
    ok &= np.all(np.isfinite(point), axis=1)
    return Triangulated(point, cov, np.where(v, miss, np.nan), miss_sigma,
                        np.where(v, along, np.nan), chi2, ok)
