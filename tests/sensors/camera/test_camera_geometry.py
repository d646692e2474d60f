"""Camera geometry: pixel <-> azimuth/elevation, mount pose, distortion, angle sigma and the
orientation estimators, checked against independent constructions and real calibrations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.sensors.camera.geometry import (
    CameraGeometry,
    CameraModel,
    az_el_to_directions,
    directions_to_az_el,
    fit_rotation,
    orientation_from_points,
    orientations_from_synchronised,
    pose_from_rotation,
    rotation_from_pose,
)

#: A real lens: the Sony a5100 calibration of the Albl et al. multi-view dataset (strong
#: enough distortion to matter at the corners).
SONY = CameraModel.from_matrix(1920, 1080, [[1545.43, 0, 971.16], [0, 1545.97, 535.68], [0, 0, 1]],
                               [-0.01123, 0.04593, 0.00026, -0.00125, -0.15170])
GOPRO = CameraModel.from_matrix(1920, 1080, [[874.47, 0, 970.27], [0, 894.11, 531.28], [0, 0, 1]],
                                [-0.26072, 0.07495, -0.00014, 0.00017, -0.00906])


def test_principal_point_is_the_mount_heading_and_pitch() -> None:
    g = CameraGeometry(CameraModel.from_fov(640, 512, 60.0), 123.0, 17.0, 5.0)
    az, el = g.az_el(np.array([[320.0, 256.0]]))[0]
    assert az == pytest.approx(123.0, abs=1e-9)
    assert el == pytest.approx(17.0, abs=1e-9)


def test_default_model_edges_are_half_the_field_of_view() -> None:
    g = CameraGeometry(CameraModel.from_fov(640, 512, 60.0))
    ae = g.az_el(np.array([[640.0, 256.0], [0.0, 256.0], [320.0, 0.0], [320.0, 512.0]]))
    assert ae[0] == pytest.approx([30.0, 0.0], abs=1e-9)  # right edge: east of north
    assert ae[1] == pytest.approx([330.0, 0.0], abs=1e-9)
    vfov = math.degrees(math.atan(256.0 / (320.0 / math.tan(math.radians(30.0)))))
    assert ae[2] == pytest.approx([0.0, vfov], abs=1e-9)  # top of the image is up
    assert ae[3] == pytest.approx([0.0, -vfov], abs=1e-9)


def test_roll_turns_the_right_side_down() -> None:
    g = CameraGeometry(CameraModel.from_fov(640, 512, 60.0), 0.0, 0.0, 20.0)
    right = g.az_el(np.array([[640.0, 256.0]]))[0]
    left = g.az_el(np.array([[0.0, 256.0]]))[0]
    assert right[1] < -5.0 < 5.0 < left[1]


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 359.9), st.floats(-80, 80), st.floats(-170, 170))
def test_pose_round_trip(h: float, p: float, r: float) -> None:
    R = rotation_from_pose(h, p, r)
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-12)
    h2, p2, r2 = pose_from_rotation(R)
    assert ((h2 - h + 180) % 360 - 180) == pytest.approx(0.0, abs=1e-7)
    assert p2 == pytest.approx(p, abs=1e-7)
    assert r2 == pytest.approx(r, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 359.9), st.floats(-60, 60), st.floats(-30, 30))
def test_pixels_round_trip_through_distortion(h: float, p: float, r: float) -> None:
    g = CameraGeometry(SONY, h, p, r)
    px = np.random.default_rng(0).uniform([50, 50], [1870, 1030], size=(50, 2))
    back, inside = g.pixels(g.az_el(px))
    assert inside.all()
    assert back == pytest.approx(px, abs=1e-3)


def test_distortion_is_undone() -> None:
    """Near the corner of the wide GoPro lens: with its distortion the ray differs by degrees
    from the pinhole one, and projecting the ray back with OpenCV gives the pixel again."""
    corner = np.array([[150.0, 120.0]])
    pinhole = CameraModel(GOPRO.width, GOPRO.height, GOPRO.fx, GOPRO.fy, GOPRO.cx, GOPRO.cy)
    a = GOPRO.rays(corner)[0]
    b = pinhole.rays(corner)[0]
    assert math.degrees(math.acos(float(a @ b))) > 3.0
    px, _ = GOPRO.project(a[None, :])
    assert px[0] == pytest.approx(corner[0], abs=1e-3)


def test_az_el_directions_round_trip() -> None:
    ae = np.array([[0.0, 0.0], [90.0, 10.0], [359.5, -20.0], [180.0, 89.0]])
    assert directions_to_az_el(az_el_to_directions(ae)) == pytest.approx(ae, abs=1e-9)


def test_angle_sigma_grows_with_blob_size_and_towards_the_zenith() -> None:
    g = CameraGeometry(CameraModel.from_fov(640, 512, 60.0), calib_sigma_deg=0.05)
    s = g.sigma(np.array([2.0, 40.0, 40.0]), np.array([0.0, 0.0, 60.0]))
    deg_per_px = math.degrees(1.0 / g.model.fx)
    assert s[0, 1] == pytest.approx(math.hypot(0.5 * deg_per_px, 0.05))  # floor 0.5 px
    assert s[1, 1] == pytest.approx(math.hypot(4.0 * deg_per_px, 0.05))  # a tenth of 40 px
    assert s[2, 0] == pytest.approx(2.0 * s[2, 1])  # azimuth spread 1/cos(60 deg)


def test_fit_rotation_recovers_a_rotation_from_noisy_directions() -> None:
    rng = np.random.default_rng(1)
    R = rotation_from_pose(211.0, 23.0, -4.0)
    cam = rng.normal(size=(200, 3))
    cam /= np.linalg.norm(cam, axis=1, keepdims=True)
    world = cam @ R.T + rng.normal(scale=1e-3, size=cam.shape)
    assert fit_rotation(cam, world) == pytest.approx(R, abs=1e-3)


def test_orientation_from_known_points() -> None:
    """Surveyed points seen by a camera of known centre give back its pose."""
    rng = np.random.default_rng(2)
    g = CameraGeometry(SONY, 305.0, 12.0, 1.5)
    centre = np.array([10.0, -4.0, 1.6])
    px = rng.uniform([100, 100], [1800, 1000], size=(12, 2))
    pts = centre + g.rays_enu(px) * rng.uniform(20, 300, size=(12, 1))
    h, p, r, rms = orientation_from_points(SONY, centre, pts, px + rng.normal(0, 0.3, px.shape))
    assert (h, p, r) == pytest.approx((305.0, 12.0, 1.5), abs=0.05)
    assert rms < 0.05


def test_orientations_from_synchronised_detections() -> None:
    """Four cameras around a field watching one target: their poses come back from the
    synchronised pixels and the surveyed centres alone."""
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0, 1.5], [80.0, 5.0, 1.2], [40.0, 90.0, 2.0], [-30.0, 60.0, 1.0]])
    target = np.array([25.0, 40.0, 30.0])
    poses = []
    for c in centres:
        ae = directions_to_az_el((target - c)[None, :])[0]
        poses.append((float(ae[0]) + rng.uniform(-8, 8), float(ae[1]) + rng.uniform(-5, 5),
                      rng.uniform(-3, 3)))
    geoms = [CameraGeometry(SONY, *p) for p in poses]
    t = np.linspace(0, 2 * np.pi, 300)
    path = target + np.column_stack([25 * np.cos(t), 18 * np.sin(2 * t), 10 * np.sin(t)])
    rays = np.zeros((len(t), 4, 3))
    known = np.zeros((len(t), 4), dtype=bool)
    for k, (g, c) in enumerate(zip(geoms, centres, strict=True)):
        px, inside = g.pixels(directions_to_az_el(path - c))
        px += rng.normal(0, 0.5, px.shape)
        known[:, k] = inside
        rays[inside, k] = g.model.rays(px[inside])
    rots, miss = orientations_from_synchronised(centres, rays, known)
    for R, g in zip(rots, geoms, strict=True):
        angle = math.degrees(math.acos(min(1.0, (np.trace(R.T @ g.rotation) - 1) / 2)))
        assert angle < 0.3  # 0.5 px of noise on a 1545 px focal length: 0.02 deg a point
    assert np.all(miss < 0.2)


def test_bad_intrinsics_are_refused() -> None:
    with pytest.raises(ValueError):
        CameraModel(640, 512, 0.0, 500.0, 320.0, 256.0)
    with pytest.raises(ValueError):
        CameraModel(0, 512, 500.0, 500.0, 320.0, 256.0)
    with pytest.raises(ValueError):
        CameraModel(640, 512, 500.0, 500.0, float("nan"), 256.0)
    with pytest.raises(ValueError):
        CameraModel(640, 512, 500.0, 500.0, 320.0, 256.0, (0.1, 0.2, 0.3))
    with pytest.raises(ValueError):
        CameraModel.from_fov(640, 512, 0.0)
