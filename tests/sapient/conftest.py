"""Shared pieces of the SAPIENT tests: Dstl's reference messages (Apache-2.0, copied into
tests/data/sapient with their notice, so the tests run on a fresh clone) and small builders of
messages a sensor module sends."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("sapient_msg", reason="SAPIENT tests need the sapient extra (sapient-msg)")

from cuas.sapient import convert, outbound  # noqa: E402
from cuas.sapient.proto import DetectionReport, SapientMessage, StatusReport, new_ulid  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "sapient"
#: The project's shared original of the same files (absent on a user's clone).
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sapient"

#: A module id of our own for the built messages (the Dstl files use ...c9 / ...c8).
MODULE_ID = "5b0e2c8e-6f7d-4c1a-9e35-2d6a8c1f0b47"


def data_dir(kind: str) -> Path:
    """``valid`` or ``invalid`` reference directory, or skip when the shared data is absent."""
    d = DATA / kind
    if not d.is_dir():
        pytest.skip(f"SAPIENT reference messages not found at {d}")
    return d


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig")  # some files start with a BOM


def status_report(node_id: str, lat: float, lon: float, h: float, t: float | None = None
                  ) -> SapientMessage:
    """A module's StatusReport giving its location (degrees, metres)."""
    t = time.time() if t is None else t
    msg = convert.envelope(node_id, t)
    rep = StatusReport(report_id=new_ulid(t), system=StatusReport.SYSTEM_OK,
                       info=StatusReport.INFO_NEW, mode="Default")
    rep.node_location.CopyFrom(outbound.location_from_lla((lat, lon, h), (1.0, 1.0, 1.0)))
    msg.status_report.CopyFrom(rep)
    return msg


def location_report(node_id: str, object_id: str, lat: float, lon: float, h: float,
                    t: float | None = None, vel: tuple[float, float, float] | None = None
                    ) -> SapientMessage:
    """A DetectionReport at (lat, lon, h) in LAT_LNG_DEG_M / WGS84_E, errors ~3 m."""
    t = time.time() if t is None else t
    msg = convert.envelope(node_id, t)
    rep = DetectionReport(report_id=new_ulid(t), object_id=object_id, detection_confidence=0.9)
    rep.location.CopyFrom(outbound.location_from_lla((lat, lon, h), (3.0, 3.0, 3.0)))
    if vel is not None:
        rep.enu_velocity.east_rate, rep.enu_velocity.north_rate, rep.enu_velocity.up_rate = vel
    rep.classification.add(type="UAV", confidence=0.8)
    msg.detection_report.CopyFrom(rep)
    return msg
