"""Whatever valid-but-wild input arrives, the tracker neither crashes nor corrupts its table."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.config import Config, SensorConfig
from cuas.errors import DecodeError
from cuas.fusion.engine import FusionEngine
from tests.tracking.helpers import T0, check_table_invariants

coord = st.floats(-2e5, 2e5, allow_nan=False)
sigma = st.floats(1e-3, 1e5, allow_nan=False)
raw_number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20),
                       st.just(0.0), st.just(-1.0))


@st.composite
def detection_maps(draw: st.DrawFn) -> dict[str, object]:
    frame = draw(st.sampled_from(["enu", "lla", "rae", "ae", "none"]))
    if frame == "enu":
        z = [draw(coord), draw(coord), draw(st.floats(-1e3, 2e4))]
    elif frame == "lla":
        z = [draw(st.floats(51.0, 52.0)), draw(st.floats(-1.0, 0.5)), draw(st.floats(-100, 20000))]
    elif frame == "rae":
        z = [draw(st.floats(0.01, 2e5)), draw(st.floats(-720, 720)), draw(st.floats(-90, 90))]
    elif frame == "ae":
        z = [draw(st.floats(-720, 720)), draw(st.floats(-90, 90))]
    else:
        z = []
    det: dict[str, object] = {"frame": frame, "z": z}
    if z:
        det["sigma"] = [draw(sigma) for _ in z]
    if draw(st.booleans()):
        det["vel"] = [draw(st.floats(-400, 400)) for _ in range(3)]
    if draw(st.integers(0, 3)) == 0:
        det["ident"] = {"icao": draw(st.sampled_from(["4ca1fa", "400f01", "ABCDEF"]))}
    if draw(st.integers(0, 5)) == 0:  # a malformed field somewhere
        det[draw(st.sampled_from(["z", "sigma", "vel", "R"]))] = draw(
            st.lists(raw_number, max_size=10))
    return det


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, object]]:
    out = []
    t = T0
    for seq in range(draw(st.integers(1, 25))):
        t += draw(st.sampled_from([0.0, 0.001, 0.5, 1.0, 30.0, -2.0, 1e6, -1e9]))
        sensor = draw(st.sampled_from(["radar-north", "adsb-1", "cam"]))
        out.append({
            "v": 1, "type": "detections", "src": sensor, "seq": seq, "t": t, "sensor": sensor,
            "kind": {"radar-north": "radar", "adsb-1": "adsb", "cam": "camera"}[sensor],
            "dets": draw(st.lists(detection_maps(), max_size=8)),
        })
    return out


@settings(max_examples=120, deadline=None)
@given(messages=batches())
def test_tracker_survives_anything_the_wire_lets_through(messages: list[dict[str, object]]) -> None:
    cfg = Config(sensors={
        "radar-north": SensorConfig(id="radar-north", kind="radar",
                                    origin=(51.5581, -0.2790, 135.0), max_range_m=6000.0),
        "cam": SensorConfig(id="cam", kind="camera", origin=(51.5560, -0.2796, 120.0)),
    })
    tracker = FusionEngine(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning is a bug too
        for raw in messages:
            try:
                msg = wire.from_dict(raw)
            except DecodeError:
                continue
            assert isinstance(msg, wire.Detections)
            tracker.process(msg)
            check_table_invariants(tracker)
        snap = tracker.snapshot()
    wire.from_dict(wire.to_dict(snap))  # what it publishes is valid per the contract
    assert all(np.isfinite(trk.enu).all() for trk in snap.tracks)
