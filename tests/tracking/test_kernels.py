"""The compiled tracker kernels (cuas.tracking.kernels) against their numpy oracle.

The kernels promise the numpy code's exact floating-point operations in its order, so on
seeded random inputs every result must be equal to the last bit (what keeps the golden digests);
on inputs hypothesis picks (states, covariances, steps, measurement models) they must agree to
1e-9. The numpy side runs with the kernels switched off (``use_kernels(False)``), so nothing
compiled leaks into the oracle.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.geo import SensorFrame
from cuas.tracking import updater
from cuas.tracking.imm import IMM, mode_update
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import AzElModel, CartesianModel, RangeAzElModel
from cuas.tracking.updater import innovation_covariance, inverse, log_abs_det, mahalanobis2

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-9


pytestmark = pytest.mark.usefixtures("kernels_on")


def numpy_side(fn, *args):  # type: ignore[no-untyped-def]
    """``fn(*args)`` with the kernels off: the oracle."""
    updater.use_kernels(False)
    try:
        return fn(*args)
    finally:
        updater.use_kernels(True)


def spd(rng: np.random.Generator, k: int, n: int, scale: float) -> np.ndarray:
    a = rng.normal(size=(k, n, n)) * scale
    return a @ np.swapaxes(a, 1, 2) + np.eye(n) * 0.1 * scale * scale


def imm_inputs(rng: np.random.Generator, k: int) -> tuple[np.ndarray, ...]:
    xm = rng.normal(size=(k, 3, 6)) * np.array([300.0, 300.0, 50.0, 8.0, 8.0, 2.0])
    xm[: k // 4, :, 3:5] *= 20.0  # fast movers: the stop limit bites
    Pm = spd(rng, 3 * k, 6, float(rng.choice([0.3, 3.0, 30.0]))).reshape(k, 3, 6, 6)
    mu = rng.dirichlet([1.0, 1.0, 1.0], k)
    mu[: k // 5] = (0.0, 1.0, 0.0)  # a new track: modes nothing reaches
    dt = rng.exponential(0.7, k)
    dt[: k // 10] = 0.0
    return xm, Pm, mu, dt


def standard_imm(max_decel: float | None = 10.0) -> IMM:
    return IMM.standard(0.5, 0.3, 4.0, 1.0, 60.0, 20.0, 8.0, max_decel=max_decel)


def assert_same(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("max_decel", [10.0, None])
def test_imm_predict_and_combine_are_bit_identical(max_decel: float | None) -> None:
    rng = np.random.default_rng(11)
    imm = standard_imm(max_decel)
    xm, Pm, mu, dt = imm_inputs(rng, 2000)
    want = numpy_side(imm.predict, xm, Pm, mu, dt)
    assert_same(imm.predict(xm, Pm, mu, dt), want)
    want_c = numpy_side(imm.combine, *want)
    assert_same(imm.predict_combined(xm, Pm, mu, dt), want + want_c)
    assert_same(imm.combine(*want), want_c)
    # strided views (a column of rows, as the duplicate check passes) give the same
    rows = np.arange(0, 2000, 3)
    assert_same(imm.predict(xm[rows], Pm[rows], mu[rows], dt[rows]),
                tuple(a[rows] for a in want))


def test_posterior_mu_is_bit_identical() -> None:
    rng = np.random.default_rng(12)
    cbar = rng.dirichlet([1.0, 1.0, 1.0], 3000)
    cbar[:100, 0] = 0.0
    loglik = rng.normal(size=(3000, 3)) * 20.0
    assert_same((IMM.posterior_mu(cbar, loglik),), (numpy_side(IMM.posterior_mu, cbar, loglik),))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_inverse_and_mahalanobis_are_bit_identical(n: int) -> None:
    rng = np.random.default_rng(13 + n)
    S = np.concatenate([spd(rng, 1000, n, s) for s in (1e-3, 1.0, 1e3)])
    y = rng.normal(size=(len(S), n)) * 10.0
    assert_same((inverse(S),), (np.linalg.inv(S),))
    general = rng.normal(size=(1000, n, n))  # not symmetric: the pivoting differs
    assert_same((inverse(general),), (np.linalg.inv(general),))
    S_inv = np.linalg.inv(S)
    assert_same((mahalanobis2(y, S_inv),), (np.einsum("ki,kij,kj->k", y, S_inv, y),))


@pytest.mark.parametrize("k", [1, 2, 7, 500])
def test_gate_quantities_are_bit_identical(k: int) -> None:
    """What the hypothesiser asks of the updater for each candidate pair: S = H P Hᵀ + R
    (H a Jacobian, or rows of one as a bearing's is), its inverse, log|det|, yᵀ S⁻¹ y."""
    rng = np.random.default_rng(30 + k)
    P = spd(rng, k, 6, 4.0)
    H3 = rng.normal(size=(k, 3, 6))
    for H in (H3, H3[:, 1:, :]):
        m = H.shape[1]
        R = spd(rng, k, m, 0.5)
        S = innovation_covariance(P, H, R)
        want = numpy_side(innovation_covariance, P, H, R)
        assert_same((S,), (want,))
        S_inv = inverse(S)
        assert_same((log_abs_det(S_inv),), (np.linalg.slogdet(np.linalg.inv(want))[1],))
    general = rng.normal(size=(k, 3, 3))
    assert_same((log_abs_det(general),), (np.linalg.slogdet(general)[1],))


def test_singular_matrix_raises_as_numpy_does() -> None:
    S = np.stack([np.eye(3), np.zeros((3, 3))])
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.inv(S)
    with pytest.raises(np.linalg.LinAlgError):
        inverse(S)


def mixed_batch(rng: np.random.Generator, k: int) -> MeasurementBatch:
    """k detections: Cartesian, range-azimuth-elevation and azimuth-elevation, some with a
    measured velocity."""
    rot = np.array([[np.cos(0.3), -np.sin(0.3), 0.0], [np.sin(0.3), np.cos(0.3), 0.0],
                    [0.0, 0.0, 1.0]])
    frame = SensorFrame((51.5, -0.1, 50.0), np.array([40.0, -70.0, 5.0]), rot)
    models = (CartesianModel(), RangeAzElModel(frame), AzElModel(frame))
    code = rng.integers(0, 3, k).astype(np.int8)
    z = np.empty((k, 3))
    R = np.tile(np.eye(3), (k, 1, 1))
    z[:, :] = rng.normal(size=(k, 3)) * 200.0
    rae = code == 1
    z[rae] = np.column_stack([rng.uniform(50, 3000, rae.sum()), rng.uniform(-180, 180, rae.sum()),
                              rng.uniform(-5, 60, rae.sum())])
    bearing = code == 2
    z[bearing, :2] = np.column_stack([rng.uniform(-180, 180, bearing.sum()),
                                      rng.uniform(-5, 60, bearing.sum())])
    z[bearing, 2] = 0.0
    R[code == 0] = spd(rng, int((code == 0).sum()), 3, 5.0)
    R[rae] = np.diag([25.0, 0.5, 0.5])
    R[bearing] = np.diag([0.2, 0.2, 1.0])
    has_vel = rng.random(k) < 0.4
    vel = np.where(has_vel[:, None], rng.normal(size=(k, 3)) * 10.0, np.nan)
    vel_R = np.where(has_vel[:, None, None], spd(rng, k, 3, 1.0), 0.0)
    return MeasurementBatch(t=0.0, models=models, model=code, z=z, R=R, pos=z.copy(),
                            pos_cov=R.copy(), vel=vel, vel_R=vel_R, has_vel=has_vel,
                            ident=np.full(k, -1, dtype=np.int64),
                            source=np.arange(k, dtype=np.int64), sensor_frame=frame)


def test_mode_update_is_bit_identical_for_every_measurement_model() -> None:
    rng = np.random.default_rng(14)
    k = 600
    xm, Pm, mu, dt = imm_inputs(rng, k)
    xp, Pp, _ = standard_imm().predict(xm, Pm, mu, dt)
    meas = mixed_batch(rng, k)
    dets = rng.permutation(k)
    got = mode_update(xp, Pp, meas, dets)
    want = numpy_side(mode_update, xp, Pp, meas, dets)
    assert_same(got, want)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_small_batches_are_bit_identical(k: int) -> None:
    """A batch of one or a few pairs: numpy's einsum drops the track axis of a single pair and
    sums a 2-D Mahalanobis distance row by row (a camera bearing alone in its batch)."""
    rng = np.random.default_rng(20 + k)
    imm = standard_imm()
    for _ in range(60):
        xm, Pm, mu, dt = imm_inputs(rng, k)
        got = imm.predict_combined(xm, Pm, mu, dt)
        want = numpy_side(imm.predict_combined, xm, Pm, mu, dt)
        assert_same(got, want)
        meas = mixed_batch(rng, k)
        dets = rng.permutation(k)
        assert_same(mode_update(got[0], got[1], meas, dets),
                    numpy_side(mode_update, want[0], want[1], meas, dets))
        for n in (2, 3):
            y = rng.normal(size=(k, n))
            S_inv = np.linalg.inv(spd(rng, k, n, 2.0))
            assert_same((mahalanobis2(y, S_inv),), (np.einsum("ki,kij,kj->k", y, S_inv, y),))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 40),
       pos_scale=st.floats(0.01, 1e4), vel_scale=st.floats(0.0, 300.0),
       cov_scale=st.floats(1e-3, 1e3), dt_scale=st.floats(0.0, 30.0),
       sojourn=st.floats(0.5, 120.0), max_decel=st.one_of(st.none(), st.floats(0.5, 50.0)))
def test_kernels_agree_with_numpy_on_any_state(seed: int, k: int, pos_scale: float,
                                               vel_scale: float, cov_scale: float,
                                               dt_scale: float, sojourn: float,
                                               max_decel: float | None) -> None:
    rng = np.random.default_rng(seed)
    imm = IMM.standard(0.5, 0.3, 4.0, 1.0, 60.0, 20.0, sojourn, max_decel=max_decel)
    xm = rng.normal(size=(k, 3, 6)) * np.array([pos_scale] * 3 + [vel_scale] * 3)
    Pm = spd(rng, 3 * k, 6, cov_scale).reshape(k, 3, 6, 6)
    mu = rng.dirichlet([0.5, 0.5, 0.5], k)
    dt = rng.random(k) * dt_scale
    got = imm.predict_combined(xm, Pm, mu, dt)
    want = numpy_side(imm.predict_combined, xm, Pm, mu, dt)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL * max(1.0, float(np.abs(w).max())))
    meas = mixed_batch(rng, k)
    dets = rng.permutation(k)
    got_u = mode_update(got[0], got[1], meas, dets)
    want_u = numpy_side(mode_update, want[0], want[1], meas, dets)
    for g, w in zip(got_u, want_u, strict=True):
        np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL * max(1.0, float(np.abs(w).max())))


def test_tracker_falls_back_to_numpy_where_no_jit_may_run() -> None:
    """Under systemd's MemoryDenyWriteExecute (here: the same kernel rule set with prctl), numba
    cannot map executable memory: the tracker warns once and runs the numpy path."""
    code = (
        "import ctypes, logging, sys\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.prctl(65, 1, 0, 0, 0) != 0:\n"  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        "    sys.exit(77)\n"
        "import numpy as np\n"
        "from cuas.tracking import updater\n"
        "from cuas.tracking.imm import IMM\n"
        "imm = IMM.standard(0.5, 0.3, 4.0, 1.0, 60.0, 20.0, 8.0, max_decel=10.0)\n"
        "xm = np.zeros((2, 3, 6)); Pm = np.tile(np.eye(6), (2, 3, 1, 1))\n"
        "out = imm.predict_combined(xm, Pm, np.full((2, 3), 1 / 3), np.ones(2))\n"
        "assert updater.kernels() is None\n"
        "print('numpy path', out[4].shape)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    if res.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert res.returncode == 0, res.stderr
    assert "numpy path (2, 6, 6)" in res.stdout
    assert "compiled tracker kernels unavailable" in res.stderr


def test_kernels_are_cached_on_disk(tmp_path: Path) -> None:
    """``cache=True``: a second interpreter loads the compiled kernels instead of compiling
    them (NUMBA_CACHE_DIR is where an installed, read-only package keeps them)."""
    code = ("import numpy as np\n"
            "from cuas.tracking import kernels\n"
            "kernels.inverse(np.eye(3)[None].copy())\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path))
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
    assert list(tmp_path.rglob("*.nbi")), "no cache index written"
    assert list(tmp_path.rglob("*.nbc")), "no compiled kernel cached"


@pytest.mark.parametrize("drop", [0.0, 0.01, 0.5, 1.0])
def test_table_compaction_is_the_numpy_one(drop: float) -> None:
    """TrackTable.keep compacts in place when compiled: every field as numpy's gather has it."""
    from cuas.tracking.state import TrackTable

    rng = np.random.default_rng(int(drop * 100))
    n = 700
    x, P = rng.normal(size=(n, 6)), spd(rng, n, 6, 2.0)
    status, looks = rng.integers(0, 3, n), rng.integers(0, 2**31, n)
    sources, xm = rng.random((n, 3)) < 0.5, rng.normal(size=(n, 3, 6))
    dup_n, mask = rng.integers(0, 100, n), rng.random(n) >= drop
    tables = []
    for on in (True, False):
        updater.use_kernels(on)
        tab = TrackTable(capacity=16, n_sensors=3)
        tab.append(np.arange(n, dtype=np.int64), x, P, 5.0)
        tab.status[:], tab.looks[:], tab.sources[:] = status, looks, sources
        tab.xm[:], tab.dup_n[:] = xm, dup_n
        tab.keep(mask)
        tables.append(tab)
    updater.use_kernels(True)
    got, want = tables
    assert got.n == want.n == int(mask.sum())
    for name, *_ in TrackTable._FIELDS:
        np.testing.assert_array_equal(getattr(got, name)[: got.n], getattr(want, name)[: want.n])
    np.testing.assert_array_equal(got.sources, want.sources)
    np.testing.assert_array_equal(got.ids, np.flatnonzero(mask))


def test_rows_read_in_place_are_the_rows_copied_out() -> None:
    """predict_combined and mode_update on ``rows`` of a table (no copy) give what they give on
    those rows copied out, compiled and in numpy."""
    rng = np.random.default_rng(31)
    k = 300
    xm, Pm, mu, dt = imm_inputs(rng, k)
    rows = np.sort(rng.choice(k, 120, replace=False)).astype(np.int64)
    imm = standard_imm()
    want = numpy_side(imm.predict_combined, xm[rows], Pm[rows], mu[rows], dt[rows])
    assert_same(imm.predict_combined(xm, Pm, mu, dt[rows], rows=rows), want)
    assert_same(numpy_side(imm.predict_combined, xm, Pm, mu, dt[rows], rows), want)
    meas = mixed_batch(rng, len(rows))
    dets = rng.permutation(len(rows))
    want_u = numpy_side(mode_update, xm[rows], Pm[rows], meas, dets)
    assert_same(mode_update(xm, Pm, meas, dets, rows=rows), want_u)
    assert_same(numpy_side(mode_update, xm, Pm, meas, dets, rows), want_u)
