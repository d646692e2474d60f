"""The Foxglove export: channels carry Foxglove's well-known protobuf schemas, and every
message decodes with the schema stored in the file (not with our own classes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cuas.cli.main import main
from tests.report.conftest import CONFIG

pytest.importorskip("foxglove_schemas_protobuf", reason="the foxglove extra")
decoder = pytest.importorskip("mcap_protobuf.decoder", reason="the foxglove extra")


def test_foxglove_mcap_uses_the_well_known_schemas(incident_dir: Path, tmp_path: Path) -> None:
    from mcap.reader import make_reader

    out = tmp_path / "incident.mcap"
    assert main(["report", str(incident_dir / "incident.mcap"), "--config", str(CONFIG),
                 "--out", str(out)]) == 0
    seen: dict[str, int] = {}
    with open(out, "rb") as f:
        reader = make_reader(f, decoder_factories=[decoder.DecoderFactory()])
        for schema, channel, _message, decoded in reader.iter_decoded_messages():
            assert schema is not None and schema.encoding == "protobuf"
            seen[channel.topic] = seen.get(channel.topic, 0) + 1
            name = schema.name
            if name == "foxglove.LocationFix":
                assert -90 <= decoded.latitude <= 90 and decoded.frame_id.startswith("track ")
                assert decoded.timestamp.seconds > 1_700_000_000
            elif name == "foxglove.SceneUpdate":
                assert decoded.entities and decoded.entities[0].frame_id == "site"
                assert decoded.entities[0].spheres
            elif name == "foxglove.Log":
                assert decoded.message and decoded.level in (2, 3, 4)
            elif name == "foxglove.GeoJSON":
                assert json.loads(decoded.geojson)["type"] == "FeatureCollection"
            else:
                raise AssertionError(f"unexpected schema {name}")
        schemas = {c.topic: reader.get_summary().schemas[c.schema_id].name
                   for c in reader.get_summary().channels.values()}
    assert schemas == {"/map/tracks": "foxglove.LocationFix", "/map/overlay": "foxglove.GeoJSON",
                       "/scene": "foxglove.SceneUpdate", "/alerts": "foxglove.Log"}
    assert seen["/map/overlay"] == 1 and seen["/map/tracks"] > 100 and seen["/alerts"] >= 2
