"""Radar cross-section from snr_db and range: the conversion, the class evidence it gives, bad
values (no evidence or a counted drop, never an exception) and the path through the engine."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import geo, wire
from cuas.errors import ConfigError
from cuas.fusion.engine import FusionEngine
from cuas.sensors.radar.rcs import rcs_dbsm, rcs_evidence, rcs_likelihood
from cuas.sensors.radar.settings import RadarSettings, parse_settings
from cuas.sensors.radar.sim import RadarSpec
from tests.classify.helpers import T0, wembley

C = 45.0  # the reference radar's constant: SNR of 0 dBsm at 1 km


def test_the_radar_equation_inverts() -> None:
    # At 1 km the RCS is the SNR less the constant; every doubling of range is 12 dB.
    assert rcs_dbsm(30.0, 1000.0, C) == pytest.approx(-15.0)
    assert rcs_dbsm(30.0 - 40 * math.log10(2.0), 2000.0, C) == pytest.approx(-15.0)
    assert rcs_dbsm(40, 500, C) == pytest.approx(40 - 45 - 40 * math.log10(2.0))
    for rcs in (-30.0, -15.0, 0.0, 20.0):  # what the simulated radar sends, read back
        for r in (100.0, 800.0, 5000.0):
            snr = RadarSpec.__dataclass_fields__["snr_1km_db"].default + rcs - 40 * math.log10(
                r / 1000.0)
            assert rcs_dbsm(snr, r, C) == pytest.approx(rcs)


def test_each_class_leads_where_its_published_sizes_lie() -> None:
    def best(rcs: float) -> str:
        lik = rcs_likelihood(rcs)
        return ("uav", "bird", "manned", "clutter")[int(np.argmax(lik))]

    assert best(-14.0) == "uav"
    assert best(-28.0) == "bird"
    assert best(8.0) == "manned"
    assert best(-55.0) == "clutter"  # far outside every airborne class
    # Weak by design: a drone-sized look does not rule a bird out.
    lik = rcs_likelihood(-15.0)
    assert 0.3 < lik[1] / lik[0] < 1.0
    ev = rcs_evidence(30.0, 1000.0, C)
    assert ev is not None and ev.basis == "rcs" and ev.label == "drone-sized RCS"
    assert max(ev.likelihood.values()) == pytest.approx(1.0)


BAD = st.one_of(st.none(), st.text(max_size=5), st.booleans(), st.just(float("nan")),
                st.just(float("inf")), st.just(-float("inf")), st.lists(st.floats(), max_size=2),
                st.floats(max_value=0.0), st.floats(min_value=1e12, allow_infinity=False))


@settings(max_examples=200, deadline=None)
@given(BAD, st.one_of(BAD, st.floats(1.0, 1e5)))
def test_bad_or_absent_values_give_no_evidence_never_an_exception(snr: Any, r: Any) -> None:
    assert rcs_evidence(snr, r, C) is None or isinstance(snr, float) and (
        math.isfinite(snr) and isinstance(r, float))


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True), st.floats(allow_nan=True))
def test_any_numbers_give_a_bounded_estimate_or_none(snr: float, r: float) -> None:
    ev = rcs_evidence(snr, r, C)
    if ev is not None:
        lik = list(ev.likelihood.values())
        assert all(0.0 <= v <= 1.0 for v in lik) and max(lik) == pytest.approx(1.0)


def test_a_subnormal_range_gives_none_not_a_domain_error() -> None:
    # Found by hypothesis: 5e-324 m / 1000 rounds to 0 before the logarithm.
    assert rcs_dbsm(0.0, 5e-324, C) is None
    assert rcs_evidence(0.0, 5e-324, C) is None


def test_settings_are_checked() -> None:
    assert parse_settings({}, "sensors.r.radar", None) == RadarSettings()
    assert parse_settings({"snr_1km_db": 50}, "k", None).snr_1km_db == 50.0
    for bad in ({"snr_1km_db": float("nan")}, {"snr_1km_db": 500.0}, {"rcs_confidence": 0.0},
                {"snr_1km_db": "loud"}, {"gain": 3}):
        with pytest.raises(ConfigError):
            parse_settings(bad, "k", None)
    # The bundled site declares its radar's calibration.
    radar = wembley().sensor("radar-north", "radar").settings.get("radar")
    assert isinstance(radar, RadarSettings) and radar.snr_1km_db == C


def plots(t: float, seq: int, targets: list[tuple[float, float, float]], snr: list[Any],
          sensor: str = "radar-north") -> wire.Detections:
    """A radar-north look: rae plots of site-ENU points with the given snr_db attrs."""
    cfg = wembley()
    origin = cfg.sensor(sensor, "radar").origin
    assert origin is not None
    frame = geo.SiteFrame(cfg.site).sensor(origin)
    rae = geo.local_to_rae(frame.site_to_local(np.asarray(targets, dtype=float)))
    dets = [{"frame": "rae", "z": [r, a % 360.0, e], "sigma": [5.0, 0.4, 0.8],
             "attrs": {"snr_db": s}} for (r, a, e), s in zip(rae.tolist(), snr, strict=True)]
    msg = wire.from_dict({"v": 1, "type": "detections", "src": sensor, "seq": seq, "t": t,
                          "sensor": sensor, "kind": "radar", "dets": dets})
    assert isinstance(msg, wire.Detections)
    return msg


def test_the_engine_turns_each_plot_into_rcs_evidence_for_its_track() -> None:
    engine = FusionEngine(wembley())
    cfg = wembley()
    origin = cfg.sensor("radar-north", "radar").origin
    assert origin is not None
    frame = geo.SiteFrame(cfg.site).sensor(origin)
    snap = None
    for k in range(30):
        t = T0 + k
        # Two targets 600 m apart flying alike: a drone-sized echo and an aircraft-sized one.
        pts = [(1500.0 + 8 * k, 1500.0, 80.0), (1500.0 + 8 * k, 2100.0, 80.0)]
        r = geo.local_to_rae(frame.site_to_local(np.asarray(pts)))[:, 0]
        snr = [C - 15.0 - 40 * math.log10(r[0] / 1000), C + 8.0 - 40 * math.log10(r[1] / 1000)]
        engine.process(plots(t, k, pts, snr))
        snap = engine.snapshot(t)
    assert snap is not None
    live = sorted((tr for tr in snap.tracks if tr.status != "deleted"), key=lambda tr: tr.enu[1])
    assert len(live) == 2
    small, big = live
    assert small.class_probs["manned"] < big.class_probs["manned"]
    assert small.class_probs["uav"] > big.class_probs["uav"]
    assert engine.counters["evidence_used"] >= 2 * 25
    # Bad values: counted, never an exception, no evidence.
    used = engine.counters["evidence_used"]
    for k, bad in enumerate(["x", -1e9, None, True, 1e9]):  # NaN the contract refuses
        t = T0 + 30 + k
        engine.process(plots(t, 30 + k, [(1500.0 + 8 * (30 + k), 1500.0, 80.0)], [bad]))
    assert engine.counters["evidence_rcs_unusable"] >= 3
    assert engine.counters["evidence_used"] == used
