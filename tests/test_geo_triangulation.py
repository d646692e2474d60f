"""Least-squares ray triangulation and its ray-miss gate; the real test is the Albl et al.
multi-view flight (six cameras, RTK truth), read in place from ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.geo import triangulate
from tests.tracking import albl


def _rays(origins: np.ndarray, target: np.ndarray, rng: np.random.Generator,
          sigma: float) -> np.ndarray:
    d = target - origins
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    d = d + rng.normal(scale=sigma, size=d.shape)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def test_exact_rays_meet_at_the_target() -> None:
    origins = np.array([[[0.0, 0.0, 2.0], [100.0, 0.0, 2.0], [50.0, 80.0, 1.0]]])
    target = np.array([40.0, 30.0, 25.0])
    tri = triangulate(origins, _rays(origins, target, np.random.default_rng(0), 0.0),
                      np.full((1, 3), 1e-3))
    assert tri.ok[0]
    assert tri.point[0] == pytest.approx(target, abs=1e-9)
    assert tri.miss_m[0] == pytest.approx(0.0, abs=1e-9)
    assert tri.range_m[0] == pytest.approx(np.linalg.norm(target - origins[0], axis=1))


def test_covariance_matches_the_scatter_of_noisy_fits() -> None:
    """Monte Carlo: the spread of 2,000 noisy two-ray fits agrees with the stated covariance
    (its largest axis along the rays' bisector, the range direction)."""
    rng = np.random.default_rng(1)
    n = 2000
    origins = np.broadcast_to(np.array([[0.0, 0.0, 0.0], [60.0, 0.0, 0.0]]), (n, 2, 3)).copy()
    target = np.array([30.0, 200.0, 40.0])
    sigma = 2e-3
    tri = triangulate(origins, _rays(origins, target, rng, sigma),
                      np.full((n, 2), sigma))
    assert tri.ok.all()
    scatter = np.cov((tri.point - target).T)
    stated = np.median(tri.cov, axis=0)
    ratio = np.sqrt(np.diag(scatter) / np.diag(stated))
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio


def test_ray_miss_gate() -> None:
    """Two rays that pass 20 m apart at 100 m (0.2 rad ≫ 2 mrad) are two targets, not one."""
    origins = np.array([[[0.0, 0.0, 0.0], [50.0, 0.0, 0.0]]])
    a = np.array([0.0, 100.0, 20.0])
    b = np.array([0.0, 100.0, 40.0])
    dirs = np.stack([a - origins[0, 0], b - origins[0, 1]])[None]
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    tri = triangulate(origins, dirs, np.full((1, 2), 2e-3))
    assert not tri.ok[0]
    assert np.nanmax(tri.miss_sigma[0]) > 4.0


def test_point_behind_a_camera_and_parallel_rays_are_refused() -> None:
    origins = np.array([[[0.0, 0.0, 0.0], [50.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    # 1: the rays diverge (they "meet" behind the cameras); 2: parallel rays, no range.
    dirs = np.array([[[-1.0, 1.0, 0.0], [1.0, 1.0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]])
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    tri = triangulate(origins, dirs, np.full((2, 2), 2e-3))
    assert not tri.ok.any()


def test_one_ray_fixes_no_point() -> None:
    origins = np.array([[[0.0, 0.0, 0.0], [50.0, 0.0, 0.0]]])
    dirs = np.array([[[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]])
    tri = triangulate(origins, dirs, np.full((1, 2), 2e-3), valid=np.array([[True, False]]))
    assert not tri.ok[0]


def test_motion_between_frames_widens_the_gate() -> None:
    """A ray taken 0.1 s before another of a target at 15 m/s misses by up to 1.5 m: refused
    at 2 mrad alone, accepted once that motion is allowed for."""
    origins = np.array([[[0.0, 0.0, 0.0], [80.0, 0.0, 0.0]]])
    now = np.array([40.0, 60.0, 30.0])
    before = now - np.array([0.0, 0.0, 1.5])
    dirs = np.stack([now - origins[0, 0], before - origins[0, 1]])[None]
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    sig = np.full((1, 2), 2e-3)
    assert not triangulate(origins, dirs, sig).ok[0]
    assert triangulate(origins, dirs, sig, extra_m=np.array([[0.0, 1.5]])).ok[0]


needs_albl = pytest.mark.skipif(not albl.available(), reason="Albl et al. dataset 3 not found "
                                f"in {albl.ROOT} (shared data absent in a fresh clone)")


@pytest.fixture(scope="module")
def albl_fit() -> tuple[albl.Dataset, albl.Evaluation]:
    data = albl.load()
    return data, albl.evaluate(data, step=8)


@needs_albl
def test_albl_flight_triangulated_within_bound(
        albl_fit: tuple[albl.Dataset, albl.Evaluation]) -> None:
    """Six real cameras, orientations estimated from the synchronised detections and surveyed
    centres (first 40 % of the flight), survey frame aligned to the RTK frame there; on the
    held-out 60 % the triangulated points lie within a median 0.5 m of the RTK path where
    three or more cameras see the drone (issue target: 2 m; measured 0.28 m)."""
    _, ev = albl_fit
    three = ev.n_cams >= 3
    assert three.sum() > 1000
    median = float(np.median(ev.error_m[three]))
    print(f"Albl dataset 3: {three.sum()} held-out points seen by >=3 cameras, median distance "
          f"to the RTK path {median:.2f} m, p90 {np.percentile(ev.error_m[three], 90):.2f} m")
    assert median < 0.5
    assert float(np.percentile(ev.error_m[three], 90)) < 1.5
    assert np.all(ev.fit_miss_m < 0.5)  # every camera's rays agree after the orientation fit


@needs_albl
def test_albl_bearings_through_the_tracker(
        albl_fit: tuple[albl.Dataset, albl.Evaluation]) -> None:
    """12 s of the held-out flight as six cameras' ``ae`` detections (30 Hz each) into the cuas
    tracker: one track, started by crossing bearings and kept by the az/el EKF, within a
    median 0.5 m of the RTK path."""
    data, ev = albl_fit
    t0 = min(tr[0, 0] for tr in data.tracks)
    t1 = max(tr[-1, 0] for tr in data.tracks)
    start = t0 + albl.FIT_FRACTION * (t1 - t0) + 600.0
    run = albl.track(data, ev, start, 12.0, sample=15)
    three = run.n_cams >= 3
    print(f"Albl through the tracker: {run.batches} batches, {run.tracks_created} track(s), "
          f"median {np.median(run.error_m[three]):.2f} m over {three.sum()} samples")
    assert run.tracks_created == 1
    assert three.sum() >= 18
    assert float(np.median(run.error_m[three])) < 0.5
    assert float(np.max(run.error_m)) < 3.0
