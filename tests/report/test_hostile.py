"""Whatever a recording's trk, alert and ack payloads hold, a report is made: bad messages and
tracks are counted and skipped, never fatal (hypothesis hunts for the ones that are)."""

from __future__ import annotations

from pathlib import Path

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.config import reference_config
from cuas.record.writer import RecordingWriter
from cuas.report.exports import to_csv, to_geojson, to_gpx, to_kml
from cuas.report.load import load_incident

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                    st.binary(max_size=8))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4)
                      | st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=12)
track = st.fixed_dictionaries({}, optional={
    "id": values | st.integers(0, 5), "status": values | st.sampled_from(["confirmed", "coasting"]),
    "lla": values | st.tuples(st.floats(-90, 90), st.floats(-180, 180), st.floats(-100, 1e4)),
    "enu": values | st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)),
    "threat": values | st.sampled_from(["none", "low", "high"]),
    "class": values | st.dictionaries(st.sampled_from(["uav", "bird"]), st.floats(0, 1)),
    "sources": values | st.lists(st.text(max_size=4), max_size=3), "reasons": values,
    "ident": values | st.fixed_dictionaries({}, optional={"rid": values, "operator_lla": values}),
})
message = st.fixed_dictionaries({}, optional={
    "t": values | st.floats(1.79e9, 1.79e9 + 100), "tracks": values | st.lists(track, max_size=3),
    "src": values, "seq": values, "track_id": values, "threat": values, "previous": values,
    "reasons": values, "id": values, "user": values, "action": values, "alert_id": values,
    "note": values})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(msgs=st.lists(st.tuples(st.sampled_from(["trk", "alert", "ack", "det.x"]),
                               message | values), min_size=1, max_size=12))
def test_any_payload_gives_a_report(tmp_path: Path, msgs: list[tuple[str, object]]) -> None:
    rec = tmp_path / "h.mcap"
    with RecordingWriter(rec, manifest=True) as w:
        for i, (topic, m) in enumerate(msgs):
            payload = msgpack.packb(m, use_bin_type=True) if i % 5 else b"\xc1"
            w.write(topic, payload, log_time_ns=i, publish_time_ns=i)
    inc = load_incident(rec, reference_config())
    for export in (to_geojson, to_kml, to_gpx, to_csv):
        assert export(inc)
    assert inc.integrity is not None and inc.integrity.status == "intact"
