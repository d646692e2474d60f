"""Measurement and motion models: every EKF Jacobian against finite differences of h(x), and
each model's conversion to the site frame against its own h(x)."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.config import SiteConfig
from cuas.geo import SiteFrame
from cuas.tracking.models import (
    AzElModel,
    CartesianModel,
    PositionlessModel,
    RangeAzElModel,
    wrap_residual,
)

SITE = SiteFrame(SiteConfig(name="t", lat=51.556, lon=-0.2796, h=40.0))
#: A sensor 2 km north-east of the site origin and 30 m higher: its frame is rotated a little
#: against the site's, so H carries the rotation too.
SENSOR = SITE.sensor((51.5690, -0.2510, 70.0))

#: Target positions relative to the sensor (local ENU, m), each a case the maths must survive.
LOCAL_CASES = {
    "ordinary": [1200.0, 3400.0, 250.0],
    "azimuth just west of north (wrap at 0/360)": [-0.5, 3000.0, 200.0],
    "azimuth just east of north": [0.5, 3000.0, 200.0],
    "due south (azimuth 180)": [1e-3, -2500.0, 300.0],
    "high elevation (85 deg)": [30.0, 40.0, 50.0 / np.tan(np.radians(5.0))],
    "near zenith (89.5 deg)": [5.0, 3.0, 700.0],
    "below the sensor (negative elevation)": [-800.0, -600.0, -60.0],
    "close (50 m)": [30.0, -35.0, 20.0],
    "far (40 km)": [-28_000.0, 28_000.0, 3000.0],
}


def _state(local: list[float]) -> np.ndarray:
    x = np.zeros((1, 6))
    x[0, :3] = SENSOR.local_to_site(np.asarray([local], dtype=float))[0]
    x[0, 3:] = [12.0, -7.0, 1.5]  # velocity must not enter a position measurement
    return x


def _numeric_jacobian(model, x: np.ndarray) -> np.ndarray:
    """Central differences of h over the state, residuals wrapped like the filter's."""
    dim = model.dim
    J = np.zeros((dim, 6))
    h0 = model.predict(x)[0][0]
    for i in range(6):
        step = 1e-3 * max(1.0, abs(x[0, i])) * 1e-3
        up, down = x.copy(), x.copy()
        up[0, i] += step
        down[0, i] -= step
        dz = wrap_residual((model.predict(up)[0] - model.predict(down)[0]), model.angular)[0]
        J[:, i] = dz / (2 * step)
    assert np.all(np.isfinite(h0))
    return J


@pytest.mark.parametrize("case", sorted(LOCAL_CASES))
@pytest.mark.parametrize("model", [RangeAzElModel(SENSOR), AzElModel(SENSOR)],
                         ids=["range-az-el", "az-el"])
def test_ekf_jacobian_matches_finite_differences(model, case: str) -> None:
    x = _state(LOCAL_CASES[case])
    _, H = model.predict(x)
    numeric = _numeric_jacobian(model, x)
    assert H.shape == (1, model.dim, 6)
    scale = np.abs(numeric).max()
    # Near the zenith the azimuth's derivatives are large and curved: relative tolerance.
    assert np.allclose(H[0], numeric, rtol=1e-4, atol=1e-6 * scale), (H[0], numeric)
    assert np.all(H[0][:, 3:] == 0.0)


def test_range_az_el_prediction_is_the_sensor_geometry() -> None:
    x = _state([-0.5, 3000.0, 200.0])
    zhat, _ = RangeAzElModel(SENSOR).predict(x)
    rng = np.hypot(3000.0, np.hypot(0.5, 200.0))
    assert zhat[0, 0] == pytest.approx(rng, rel=1e-9)
    assert zhat[0, 1] == pytest.approx(360.0 - np.degrees(np.arctan2(0.5, 3000.0)), abs=1e-7)
    assert zhat[0, 2] == pytest.approx(np.degrees(np.arctan2(200.0, np.hypot(0.5, 3000.0))),
                                       abs=1e-7)
    # The wrap: 0.01 deg measured against 359.99 deg predicted is a 0.02 deg residual.
    y = wrap_residual(np.array([[0.0, 0.01 - 359.99, 0.0]]), RangeAzElModel.angular)
    assert y[0, 1] == pytest.approx(0.02)


@pytest.mark.parametrize("case", sorted(LOCAL_CASES))
def test_range_az_el_to_site_inverts_h_and_carries_the_covariance(case: str) -> None:
    model = RangeAzElModel(SENSOR)
    x = _state(LOCAL_CASES[case])
    z, _ = model.predict(x)
    R = np.diag([25.0, 0.04, 0.09])[None]
    pos, cov = model.to_site(z, R)
    assert np.allclose(pos[0], x[0, :3], atol=1e-6 * max(1.0, np.abs(x[0, :3]).max()))
    # The site covariance is G R Gᵀ with G = d(site point)/d(z): check G numerically.
    G = np.zeros((3, 3))
    for i, step in enumerate((1e-3, 1e-6, 1e-6)):
        up, down = z.copy(), z.copy()
        up[0, i] += step
        down[0, i] -= step
        G[:, i] = (model.to_site(up, R)[0][0] - model.to_site(down, R)[0][0]) / (2 * step)
    assert np.allclose(cov[0], G @ R[0] @ G.T, rtol=1e-5, atol=1e-6 * np.abs(cov[0]).max())


def test_cartesian_model_is_linear_and_starts_tracks() -> None:
    x = _state([100.0, 200.0, 300.0])
    zhat, H = CartesianModel().predict(x)
    assert np.array_equal(zhat, x[:, :3])
    assert np.array_equal(H[0], np.hstack([np.eye(3), np.zeros((3, 3))]))
    R = np.eye(3)[None] * 4.0
    pos, cov = CartesianModel().to_site(zhat, R)
    assert np.array_equal(pos, zhat) and np.array_equal(cov, R)
    assert CartesianModel.starts_track and CartesianModel.has_point


def test_what_each_model_declares() -> None:
    rae, ae, none = RangeAzElModel(SENSOR), AzElModel(SENSOR), PositionlessModel()
    assert (rae.dim, ae.dim, none.dim) == (3, 2, 0)
    assert list(rae.angular) == [False, True, False] and list(ae.angular) == [True, False]
    assert rae.starts_track and not ae.starts_track and not none.starts_track
    assert ae.is_bearing and not rae.is_bearing
    pos, _ = ae.to_site(np.zeros((2, 2)), np.zeros((2, 2, 2)))
    assert np.isnan(pos).all()  # a bearing fixes no point
