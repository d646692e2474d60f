"""A SAPIENT module's classifications become class evidence on the contract detection."""

from __future__ import annotations

import pytest

from cuas.sapient import convert
from cuas.sapient.evidence import FLOOR, SAPIENT_TRUST, class_of, sapient_evidence
from cuas.sapient.proto import ulid_at
from tests.sapient.conftest import MODULE_ID, location_report
from tests.sapient.test_convert import SITE, S, node


@pytest.mark.parametrize(("label", "cls"), [
    ("UAV", "uav"), ("UAV Rotary Wing", "uav"), ("UAV Fixed Wing", "uav"),
    ("Air Vehicle/Drone", "uav"), ("Quadcopter", "uav"), ("Bird", "bird"),
    ("Fixed Wing", "manned"), ("Helicopter", "manned"), ("Human", "clutter"),
    ("Vehicle", "clutter"), ("Unknown", None), ("", None)])
def test_labels_map_by_their_words(label: str, cls: str | None) -> None:
    assert class_of(label) == cls


def test_the_named_class_leads_and_no_class_is_ruled_out() -> None:
    ev = sapient_evidence({"UAV": 0.8, "Bird": 0.1, "Tree": 0.5})
    assert ev is not None and ev.basis == "sapient" and ev.label == "UAV"
    assert ev.confidence == SAPIENT_TRUST
    assert ev.likelihood["uav"] == pytest.approx(0.8)
    assert ev.likelihood["bird"] == pytest.approx(0.1)
    assert min(ev.likelihood.values()) >= FLOOR
    assert max(ev.likelihood, key=ev.likelihood.__getitem__) == "uav"
    assert sapient_evidence({"Unknown": 0.9}) is None
    assert sapient_evidence({"UAV": 0.0}) is None


def test_a_report_carries_its_evidence_through_the_contract() -> None:
    msg = location_report(MODULE_ID, ulid_at(1.7e9, b"x"), 51.5, -0.3, 80.0)
    det = convert.report_to_detections(msg, node(), 7, S, SITE).dets[0]
    assert det.evidence is not None and det.evidence.label == "UAV"
    assert det.evidence.likelihood["uav"] == pytest.approx(0.8)
