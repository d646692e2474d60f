"""The RF adapter's class evidence: a control or video link speaks for a drone, nothing else
speaks at all; it survives the contract."""

from __future__ import annotations

from cuas import wire
from cuas.sensors.rf.source import LINK_TRUST, link_evidence


def test_links_are_drone_evidence_and_background_is_none() -> None:
    assert link_evidence("none", 0.9) is None
    assert link_evidence("control", 0.0) is None
    ev = link_evidence("control", 0.8)
    assert ev is not None and ev.basis == "rf" and ev.label == "control link"
    assert ev.confidence == LINK_TRUST * 0.8
    assert max(ev.likelihood, key=ev.likelihood.__getitem__) == "uav"


def test_link_evidence_survives_the_wire() -> None:
    det = wire.Detection(frame="none", z=(), attrs={"freq_hz": 868e6},
                         evidence=link_evidence("video", 0.6))
    batch = wire.Detections(src="rf-1", seq=0, t=1.8e9, sensor="rf-1", kind="rf", dets=(det,))
    back = wire.decode(wire.encode(batch))
    assert isinstance(back, wire.Detections)
    assert back.dets[0].evidence == det.evidence
