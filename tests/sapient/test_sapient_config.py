"""The ``[sapient]`` and ``[sensors.<id>.sapient]`` configuration tables."""

from __future__ import annotations

import pytest

from cuas.config import parse_config
from cuas.errors import ConfigError

NODE = "a8654cdf-4328-47de-81fa-c495589e30c9"


def test_defaults_and_values() -> None:
    cfg = parse_config({})
    assert cfg.sapient.listen == "127.0.0.1:5020" and cfg.sapient.export_to is None
    cfg = parse_config({"sapient": {"listen": "[::1]:6000", "export_to": "hq.example:5020",
                                    "default_sigma_m": 10.0},
                        "sensors": {"r": {"sapient": {"node_id": NODE, "utm_zone": "30U"}}}})
    assert cfg.sapient.default_sigma_m == 10.0
    sc = cfg.sensors["r"].sapient
    assert sc is not None and sc.node_id == NODE and sc.utm_zone == "30U"


@pytest.mark.parametrize("doc,key", [
    ({"sapient": {"listen": "5020"}}, "sapient.listen"),
    ({"sapient": {"export_to": "host:99999"}}, "sapient.export_to"),
    ({"sapient": {"node_id": "cuas"}}, "sapient.node_id"),
    ({"sapient": {"default_angle_sigma_deg": 0.0}}, "sapient.default_angle_sigma_deg"),
    ({"sapient": {"max_message_bytes": 10}}, "sapient.max_message_bytes"),
    ({"sapient": {"colour": "red"}}, "sapient.colour"),
    ({"sensors": {"r": {"sapient": {"node_id": "x"}}}}, "sensors.r.sapient.node_id"),
    ({"sensors": {"r": {"sapient": {"node_id": NODE, "north_offset_deg": 400.0}}}},
     "sensors.r.sapient.north_offset_deg"),
])
def test_bad_values_name_their_key(doc: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert info.value.key == key
