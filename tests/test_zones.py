"""The additive configuration of the classifier: [classify], [zones.*], [assets.*], [allow],
[deny]; every mistake names the file and the dotted key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cuas.config import Config, load_config, parse_config
from cuas.errors import ConfigError
from cuas.zones import SiteGeometry
from tests.classify.helpers import wembley

SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10]]


def test_wembley_has_its_zones_assets_and_lists() -> None:
    cfg = wembley()
    assert [z.id for z in cfg.zones] == ["bowl", "inner", "outer", "olympic-way"]
    bowl = cfg.zones[0]
    assert bowl.level == "critical" and bowl.crowd and bowl.enu is not None
    assert cfg.zones[2].lla is not None  # the outer ring is drawn in lat/lon
    assert {a.id for a in cfg.assets} == {"stands", "station"}
    assert cfg.allow.icao == {"43c0f1": "police helicopter (example)"}
    assert "1581F5VENUE0001" in cfg.allow.rid and "1581F5BANNED001" in cfg.deny.rid
    geo = SiteGeometry(cfg)
    inside = geo.inside(np.array([[0.0, 0.0, 50.0], [0.0, 600.0, 50.0], [0.0, 950.0, 50.0],
                                  [0.0, 0.0, 900.0]]))
    assert inside.tolist() == [[True, True, True, False], [False, False, True, True],
                               [False, False, True, False], [False, False, False, False]]
    # The station asset, given in lat/lon, is ~830 m north of the centre spot.
    assert 800 < geo.asset_centre[1, 1] < 860


def test_defaults_have_no_zones_and_classification_on() -> None:
    cfg = Config()
    assert cfg.zones == () and cfg.assets == () and cfg.classify.enabled
    assert parse_config({"classify": {"enabled": False}}).classify.enabled is False


@pytest.mark.parametrize(("doc", "key"), [
    ({"zones": {"z": {"enu": SQUARE[:2]}}}, "zones.z.enu"),
    ({"zones": {"z": {}}}, "zones.z.enu"),
    ({"zones": {"z": {"enu": SQUARE, "lla": [[51, 0]] * 3}}}, "zones.z.enu"),
    ({"zones": {"z": {"enu": [[0, 0], [10, 10], [10, 0], [0, 10]]}}}, "zones.z.enu"),
    ({"zones": {"z": {"lla": [[95, 0], [51, 0], [51, 1]]}}}, "zones.z.lla"),
    ({"zones": {"z": {"enu": SQUARE, "level": "severe"}}}, "zones.z.level"),
    ({"zones": {"z": {"enu": SQUARE, "kind": "pitch"}}}, "zones.z.kind"),
    ({"zones": {"z": {"enu": SQUARE, "floor_m": 100, "ceiling_m": 50}}}, "zones.z.floor_m"),
    ({"zones": {"z": {"enu": SQUARE, "colour": "red"}}}, "zones.z.colour"),
    ({"zones": {"z": {"enu": [[0, 0], [1, "a"], [2, 2]]}}}, "zones.z.enu[1][1]"),
    ({"zones": []}, "zones"),
    ({"assets": {"a": {"radius_m": 5}}}, "assets.a.enu"),
    ({"assets": {"a": {"enu": [0, 0, 0], "radius_m": -1}}}, "assets.a.radius_m"),
    ({"assets": {"a": {"lla": [91, 0, 0]}}}, "assets.a.lla"),
    ({"allow": {"icao": {"12345": "x"}}}, "allow.icao.12345"),
    ({"allow": {"icao": {"abcdef": 3}}}, "allow.icao.abcdef"),
    ({"deny": {"serials": {}}}, "deny.serials"),
    ({"deny": {"rid": ["x"]}}, "deny.rid"),
    ({"classify": {"hysteresis": 0.9}}, "classify.hysteresis"),
    ({"classify": {"hold_s": -1.0}}, "classify.hold_s"),
])
def test_bad_classifier_config_names_the_key(tmp_path: Path, doc: dict[str, object],
                                             key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "site.toml")
    assert err.value.key == key and err.value.path == "site.toml", str(err.value)


def test_identity_lists_normalise_icao(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('[allow.icao]\n"4CAAAE" = "airline"\n[deny.rid]\n"X-1" = "banned"\n')
    cfg = load_config(p)
    assert cfg.allow.icao == {"4caaae": "airline"} and cfg.deny.rid == {"X-1": "banned"}
