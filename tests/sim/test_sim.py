"""Tests of the seeded scenario generator (cuas.sim.generators) and ``cuas sim``.

Statistical checks use fixed seeds and bounds of about six sigma, so they cannot flake.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from cuas import geo, wire
from cuas.cli.main import main
from cuas.config import SiteConfig
from cuas.errors import SimParamError
from cuas.sim.generators import (
    SIM_FRAMES,
    SimParams,
    SimResult,
    SimTruth,
    simulate,
    simulate_arrays,
)

SITE = SiteConfig()


def _run(**kw: object) -> SimResult:
    base: dict[str, object] = {"seed": 7, "n_targets": 20, "duration_s": 15.0}
    base.update(kw)
    return simulate(SimParams(**base), SITE)  # type: ignore[arg-type]


def _truth_equal(a: SimTruth, b: SimTruth) -> bool:
    return (a.ids == b.ids and np.array_equal(a.times, b.times) and np.array_equal(a.enu, b.enu)
            and np.array_equal(a.vel, b.vel) and np.array_equal(a.alive, b.alive))


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("frame", SIM_FRAMES)
def test_same_seed_gives_identical_output(frame: str) -> None:
    a, b = _run(frame=frame), _run(frame=frame)
    assert a.batches == b.batches
    assert [wire.encode(m) for m in a.batches] == [wire.encode(m) for m in b.batches]
    assert _truth_equal(a.truth, b.truth)
    for sa, sb in zip(a.scans, b.scans, strict=True):
        assert np.array_equal(sa.z, sb.z) and np.array_equal(sa.truth_index, sb.truth_index)


def test_different_seed_gives_different_output() -> None:
    a, b = _run(seed=1), _run(seed=2)
    assert a.batches != b.batches
    assert not np.allclose(a.truth.enu, b.truth.enu)


def test_sensor_settings_do_not_change_the_truth() -> None:
    a = _run(pd=0.9, clutter_per_scan=5.0, frame="enu")
    b = _run(pd=0.5, clutter_per_scan=50.0, frame="rae")
    assert _truth_equal(a.truth, b.truth)


# --------------------------------------------------------------------------- batches


def test_batches_are_well_formed_and_survive_the_wire() -> None:
    for frame in SIM_FRAMES:
        res = _run(frame=frame, scan_period_s=0.5)
        p = res.params
        assert len(res.batches) == p.n_scans == 30
        times = [b.t for b in res.batches]
        assert times == sorted(times) and times[0] == p.t0
        assert np.allclose(np.diff(times), 0.5)
        assert [b.seq for b in res.batches] == list(range(len(res.batches)))
        for b, scan in zip(res.batches, res.scans, strict=True):
            assert b.sensor == b.src == "radar-sim" and b.kind == "sim"
            assert b.t == scan.t and len(b.dets) == len(scan.truth_index)
            assert all(d.frame == frame for d in b.dets)
            assert (b.origin is not None) == (frame == "rae")
            assert wire.from_dict(wire.to_dict(b)) == b
            assert wire.decode(wire.encode(b)) == b


def test_detection_order_gives_nothing_away() -> None:
    res = _run(n_targets=50, clutter_per_scan=10.0, duration_s=5.0)
    idx = np.concatenate([s.truth_index for s in res.scans])
    # Unshuffled output would list targets in index order then clutter: every step ascending.
    steps = np.diff(np.where(idx < 0, 10_000, idx))
    assert np.count_nonzero(steps < 0) > len(steps) // 4


# --------------------------------------------------------------------------- statistics


def test_detection_counts_match_pd_and_clutter() -> None:
    pd, clutter = 0.8, 4.0
    res = _run(seed=11, n_targets=300, duration_s=40.0, pd=pd, clutter_per_scan=clutter)
    alive = res.truth.alive
    n_chances = int(alive.sum())
    hits = sum(int(np.count_nonzero(s.truth_index >= 0)) for s in res.scans)
    false = res.n_clutter
    assert abs(hits - pd * n_chances) < 6 * math.sqrt(n_chances * pd * (1 - pd))
    mean_false = clutter * len(res.scans)
    assert abs(false - mean_false) < 6 * math.sqrt(mean_false)
    for k, s in enumerate(res.scans):
        real = s.truth_index[s.truth_index >= 0]
        assert len(np.unique(real)) == len(real), "a target detected twice in one scan"
        assert alive[k, real].all(), "a detection of a target that does not exist"


def test_pd_one_and_no_clutter_sees_every_target_once() -> None:
    res = _run(pd=1.0, clutter_per_scan=0.0)
    for k, s in enumerate(res.scans):
        assert sorted(s.truth_index.tolist()) == np.flatnonzero(res.truth.alive[k]).tolist()


def test_random_targets_appear_and_disappear() -> None:
    alive = _run(n_targets=200, duration_s=30.0).truth.alive
    assert alive.sum(axis=1).min() < 200
    born_late = ~alive[0] & alive.any(axis=0)
    died_early = alive.any(axis=0) & ~alive[-1]
    assert born_late.sum() > 20 and died_early.sum() > 20
    assert alive.any(axis=0).all(), "every target exists for part of the run"


def test_rae_detections_decode_near_the_truth() -> None:
    res = _run(seed=3, n_targets=200, duration_s=20.0, frame="rae", clutter_per_scan=0.0)
    frame = geo.SiteFrame(SITE)
    sigma = np.asarray(res.params.measurement_sigma)
    d2: list[float] = []
    for b, s in zip(res.batches, res.scans, strict=True):
        assert b.origin == res.sensor_origin
        sensor = frame.sensor(b.origin)
        rae = np.array([d.z for d in b.dets]).reshape(-1, 3)
        enu = sensor.local_to_site(geo.rae_to_local(rae))
        truth = res.truth.enu[res.truth.times.tolist().index(b.t), s.truth_index]
        # Position covariance of each detection (site and sensor ENU axes agree here: the
        # sensor stands above the site origin).
        jac = geo.rae_jacobian(rae)
        cov = jac @ np.diag(sigma**2) @ jac.transpose(0, 2, 1)
        err = enu - truth
        d2.extend(np.einsum("mi,mij,mj->m", err, np.linalg.inv(cov), err).tolist())
    d2a = np.asarray(d2)
    # Squared Mahalanobis distances of 3-D Gaussian errors: chi-square, 3 degrees of freedom.
    assert len(d2a) > 2000
    assert abs(d2a.mean() - 3.0) < 6 * math.sqrt(6.0 / len(d2a))
    assert d2a.max() < 60.0


def test_lla_and_enu_noise_is_sigma_in_metres() -> None:
    for frame in ("enu", "lla"):
        res = _run(seed=5, n_targets=200, duration_s=10.0, frame=frame, clutter_per_scan=0.0)
        site_frame = geo.SiteFrame(SITE)
        errs = []
        for k, s in enumerate(res.scans):
            enu = site_frame.lla_to_enu(s.z) if frame == "lla" else s.z
            errs.append(enu - res.truth.enu[k, s.truth_index])
        err = np.vstack(errs)
        std = err.std(axis=0)
        n = len(err)
        assert np.all(np.abs(std / np.array([5.0, 5.0, 8.0]) - 1.0) < 6 / math.sqrt(2 * n))
        assert np.all(np.abs(err.mean(axis=0)) < 6 * np.array([5.0, 5.0, 8.0]) / math.sqrt(n))


def test_rae_coverage_limits_what_is_detected() -> None:
    res = _run(n_targets=100, frame="rae", max_range_m=1500.0, pd=1.0, clutter_per_scan=20.0)
    assert res.params.half_width_m > 1500.0
    for s in res.scans:
        assert np.all(s.z[:, 0] < 1500.0 + 6 * 7.5)
        assert np.all(s.z[:, 2] > -1.0 - 6 * 0.5)
    seen = sum(len(s.truth_index) for s in res.scans)
    assert 0 < seen < int(res.truth.alive.sum())


# --------------------------------------------------------------------------- scenarios


def test_crossing_pairs_really_cross() -> None:
    res = _run(scenario="crossing", n_targets=10, duration_s=30.0, clutter_per_scan=10.0)
    enu, vel = res.truth.enu, res.truth.vel
    assert res.truth.alive.all() and res.n_clutter > 0
    for a in range(0, 10, 2):
        b = a + 1
        dist = np.linalg.norm(enu[:, a] - enu[:, b], axis=1)
        k = int(dist.argmin())
        assert dist[k] < 1e-6, "the pair meets at one scan time"
        assert 0.25 * len(dist) <= k <= 0.75 * len(dist)
        assert np.all(enu[:, a, 2] == enu[:, b, 2]), "same height throughout"
        assert dist[0] > 40.0 and dist[-1] > 40.0
        # b passes from one side of a's path to the other, and a across b's.
        for me, other in ((a, b), (b, a)):
            rel = enu[:, other, :2] - enu[:, me, :2]
            side = vel[0, me, 0] * rel[:, 1] - vel[0, me, 1] * rel[:, 0]
            assert side[0] * side[-1] < 0
        cos = vel[0, a] @ vel[0, b] / np.linalg.norm(vel[0, a]) / np.linalg.norm(vel[0, b])
        assert math.cos(math.radians(160.0)) - 1e-9 <= cos <= math.cos(math.radians(20.0)) + 1e-9


def test_formation_flies_abreast() -> None:
    res = _run(scenario="formation", n_targets=9, manoeuvre_fraction=1.0, duration_s=30.0)
    enu = res.truth.enu
    for g in range(3):
        m = enu[:, 3 * g: 3 * g + 3]
        # Rigid: offsets to the leader never change, even through the common turn.
        assert np.allclose(m - m[:, :1], (m - m[:, :1])[0], atol=1e-6)
        gaps = np.linalg.norm(np.diff(m[0], axis=0), axis=1)
        assert np.allclose(gaps, 40.0)


def test_inbound_targets_close_on_the_site() -> None:
    res = _run(scenario="inbound", n_targets=50, manoeuvre_fraction=0.0, duration_s=30.0)
    r = np.linalg.norm(res.truth.enu[:, :, :2], axis=2)
    assert np.all(r[-1] < r[0])
    assert np.all(r[0] > 0.79 * res.params.half_width_m)


def test_manoeuvres_are_coordinated_turns_with_consistent_velocity() -> None:
    res = _run(n_targets=30, manoeuvre_fraction=1.0, scan_period_s=0.1, duration_s=20.0)
    enu, vel = res.truth.enu, res.truth.vel
    central = (enu[2:] - enu[:-2]) / 0.2
    # Central differences are exact to O(dt^2) inside a straight leg or a turn; across the
    # start or end of a turn they are off by up to a * dt / 2, a = omega * v <= 6.6 m/s^2.
    err = np.abs(central - vel[1:-1])
    assert err.max() < 0.35
    assert np.percentile(err, 95) < 0.01
    speed = np.linalg.norm(vel[:, :, :2], axis=2)
    assert np.allclose(speed, speed[0])  # a coordinated turn keeps the speed
    heading = np.arctan2(vel[:, :, 1], vel[:, :, 0])
    turned = np.degrees(np.abs(np.angle(np.exp(1j * (heading[-1] - heading[0])))))
    rate = np.degrees(np.abs(np.angle(np.exp(1j * np.diff(heading, axis=0))))) / 0.1
    assert rate.max() <= 15.0 + 1e-6
    assert np.count_nonzero(turned > 5.0) >= 25
    lo, hi = res.params.altitude_range
    assert enu[:, :, 2].min() >= lo - 1e-9 and enu[:, :, 2].max() <= hi + 1e-9


def test_region_grows_with_the_number_of_targets() -> None:
    small = SimParams(seed=0, n_targets=100, duration_s=1.0)
    big = SimParams(seed=0, n_targets=10_000, duration_s=1.0)
    assert big.half_width_m == pytest.approx(10 * small.half_width_m)
    res = simulate_arrays(big, SITE)
    xy = res.truth.enu[0, :, :2]
    assert np.abs(xy).max() <= big.half_width_m
    assert np.abs(xy).max() > 0.9 * big.half_width_m


def test_large_run_shapes() -> None:
    p = SimParams(seed=1, n_targets=10_000, duration_s=20.0, frame="rae")
    arrays = simulate_arrays(p, SITE)
    assert arrays.truth.enu.shape == (20, 10_000, 3)
    assert len(arrays.scans) == 20
    s = arrays.scans[0]
    assert s.z.shape == (len(s.truth_index), 3) and s.sigma.shape == (3,)
    assert s.truth_index.dtype == np.int64


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pd": 1.5}, "pd"),
        ({"n_targets": -1}, "n_targets"),
        ({"duration_s": 0.0}, "duration_s"),
        ({"frame": "ae"}, "frame"),
        ({"scenario": "stadium"}, "scenario"),
        ({"scenario": "crossing", "n_targets": 3}, "n_targets"),
        ({"sigma": (1.0, 0.0, 1.0)}, "sigma"),
        ({"speed_range": (10.0, 5.0)}, "speed_range"),
        ({"clutter_per_scan": float("nan")}, "clutter_per_scan"),
        ({"t0": 0.0}, "t0"),
        ({"sensor_origin": (95.0, 0.0, 0.0)}, "sensor_origin"),
        ({"seed": -3}, "seed"),
    ],
)
def test_invalid_parameters_name_the_field(change: dict[str, object], field: str) -> None:
    kw: dict[str, object] = {"seed": 1, "n_targets": 4, "duration_s": 10.0, **change}
    with pytest.raises(SimParamError, match=rf"SimParams\.{field}\b") as info:
        SimParams(**kw)  # type: ignore[arg-type]
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_params_are_frozen() -> None:
    p = SimParams(seed=1, n_targets=1, duration_s=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.pd = 0.5  # type: ignore[misc]


# --------------------------------------------------------------------------- files and CLI



@pytest.mark.parametrize("suffix", [".mcap", ".jsonl"])
def test_cli_writes_a_recording_and_truth_that_read_back(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from cuas.eval import truth as evaluation
    from cuas.record import recording

    out, truth_path = tmp_path / f"rec{suffix}", tmp_path / "truth.jsonl"
    rc = main(["sim", "crossing", "--out", str(out), "--truth", str(truth_path), "--seed", "4",
               "--targets", "6", "--duration", "12", "--frame", "rae", "--clutter", "2"])
    assert rc == 0
    line = capsys.readouterr().out.strip()
    assert "12 scans" in line and "6 targets" in line and "clutter" in line

    expected = simulate(SimParams(seed=4, n_targets=6, duration_s=12.0, scenario="crossing",
                                          frame="rae", clutter_per_scan=2.0), SITE)
    reader = recording.RecordingReader(out)
    got = [m for _, m in recording.iter_messages(reader)]
    assert not reader.torn and reader.skipped == 0
    assert got == list(expected.batches)
    assert len(line.split()) > 3 and f"{expected.n_detections} detections" in line

    truth = evaluation.read_truth(truth_path)
    assert truth.header.site.lat == SITE.lat and truth.header.site.h == SITE.h
    assert set(truth.header.objects) == set(expected.truth.ids)
    assert all(o.object_class == "uav" and o.threat for o in truth.header.objects.values())
    assert np.array_equal(truth.times, expected.truth.times)
    for i, oid in enumerate(expected.truth.ids):
        obj = truth.objects[oid]
        assert np.allclose(obj.enu, expected.truth.enu[:, i])
        assert obj.vel is not None and np.allclose(obj.vel, expected.truth.vel[:, i])


def test_cli_uses_the_configured_site_and_sensor(tmp_path: Path) -> None:
    from cuas.record import recording

    cfg = tmp_path / "site.toml"
    cfg.write_text('[site]\nname = "test"\nlat = 48.0\nlon = 11.0\nh = 500.0\n'
                   '[sensors.r1]\nkind = "radar"\norigin = [48.001, 11.0, 520.0]\n'
                   'max_range_m = 800.0\n')
    out, truth = tmp_path / "rec.jsonl", tmp_path / "truth.jsonl"
    rc = main(["sim", "--out", str(out), "--truth", str(truth), "--seed", "1", "--duration", "5",
               "--frame", "rae", "--sensor", "r1", "--config", str(cfg)])
    assert rc == 0
    batches = [m for _, m in recording.iter_messages(recording.RecordingReader(out))]
    assert len(batches) == 5
    for b in batches:
        assert isinstance(b, wire.Detections) and b.sensor == "r1"
        assert b.origin == (48.001, 11.0, 520.0)
        assert all(d.z[0] < 800.0 + 6 * 7.5 for d in b.dets)


def test_cli_reports_bad_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["sim", "--out", str(tmp_path / "r.mcap"), "--truth", str(tmp_path / "t.jsonl"),
               "--seed", "1", "--pd", "1.5"])
    assert rc == 1
    assert "SimParams.pd" in capsys.readouterr().err
    assert not (tmp_path / "r.mcap").exists()
