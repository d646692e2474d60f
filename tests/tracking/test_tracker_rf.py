"""Which positionless RF detections the tracker keeps as link evidence for the classifier."""

from __future__ import annotations

from typing import Any

from cuas import wire
from cuas.config import reference_config
from cuas.fusion.engine import FusionEngine

T0 = 1_790_000_000.0


def _rf(seq: int, attrs: dict[str, Any], ident: dict[str, Any] | None = None) -> wire.Detections:
    det: dict[str, Any] = {"frame": "none", "z": [], "attrs": attrs}
    if ident is not None:
        det["ident"] = ident
    msg = wire.from_dict({"v": 1, "type": "detections", "src": "rf-roof", "seq": seq,
                          "t": T0 + seq, "sensor": "rf-roof", "kind": "rf", "dets": [det]})
    assert isinstance(msg, wire.Detections)
    return msg


def test_links_are_kept_and_what_the_sensor_calls_no_link_is_not() -> None:
    tracker = FusionEngine(reference_config())
    tracker.process(_rf(0, {"freq_hz": 868.4e6, "protocol": "elrs", "link": "control"}))
    tracker.process(_rf(1, {"freq_hz": 1.28e9, "protocol": "fpv-analog", "link": "video"}))
    tracker.process(_rf(2, {"freq_hz": 433.92e6, "protocol": "ism", "link": "none"}))
    tracker.process(_rf(3, {"freq_hz": 2.44e9, "protocol": "ocusync"}))  # a sensor without `link`
    tracker.process(_rf(4, {}, ident={"rid": "1581F5FKD0001"}))  # Remote ID without a fix
    assert [r.protocol for r in tracker.rf_log.reports] == ["elrs", "fpv-analog", "ocusync"]


def test_each_report_knows_how_many_links_its_sweep_heard() -> None:
    tracker = FusionEngine(reference_config())
    msg = wire.from_dict({"v": 1, "type": "detections", "src": "rf-roof", "seq": 0, "t": T0,
                          "sensor": "rf-roof", "kind": "rf", "dets": [
                              {"frame": "none", "z": [], "attrs": {"protocol": "o3"}},
                              {"frame": "none", "z": [], "attrs": {"protocol": "o3"}},
                              {"frame": "none", "z": [], "attrs": {"link": "none"}}]})
    assert isinstance(msg, wire.Detections)
    tracker.process(msg)
    assert [r.links for r in tracker.rf_log.reports] == [2, 2]
