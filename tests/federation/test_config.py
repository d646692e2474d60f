"""``[federation]``: defaults, strict validation, and what the NATS connection is given."""

from __future__ import annotations

import pytest

from cuas.config import FederationConfig, parse_config
from cuas.errors import ConfigError
from cuas.federation import link


def test_defaults_and_a_full_section() -> None:
    assert parse_config({}).federation == FederationConfig()
    cfg = parse_config({"federation": {
        "site": "wembley", "servers": "nats://10.0.0.1:4222, tls://hub.example:4222",
        "user": "wembley", "password": "pw", "region": "london", "max_skew_s": 5.0}}).federation
    assert cfg.server_list == ("nats://10.0.0.1:4222", "tls://hub.example:4222")
    opts = link.connect_options(cfg)
    assert opts["user"] == "wembley" and opts["password"] == "pw"
    assert opts["max_reconnect_attempts"] == -1 and "tls" in opts  # a tls:// URL


@pytest.mark.parametrize(("table", "key"), [
    ({"site": "a.b"}, "federation.site"),          # a dot would split the subject
    ({"site": "*"}, "federation.site"),
    ({"servers": "http://x:1"}, "federation.servers"),
    ({"user": "u"}, "federation.password"),
    ({"user": "u", "password": "p", "nkeys_seed_file": "x.nk"}, "federation.nkeys_seed_file"),
    ({"cert_file": "c.pem"}, "federation.key_file"),
    ({"gate_chi2": 0.0}, "federation.gate_chi2"),
    ({"max_buffered": 0}, "federation.max_buffered"),
    ({"region_lat": 91.0}, "federation.region_lat"),
    ({"rate_hz": "2"}, "federation.rate_hz"),
    ({"colour": "red"}, "federation.colour"),
    ({"sites": "a, b.c"}, "federation.sites"),
])
def test_bad_values_name_their_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"federation": table}, path="site.toml")
    assert err.value.key == key


def test_a_missing_nkeys_file_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = FederationConfig(nkeys_seed_file=str(tmp_path / "none.nk"))
    with pytest.raises(ConfigError, match="not found"):
        link.connect_options(cfg)


def test_a_shard_lists_its_sites() -> None:
    assert FederationConfig(sites="wembley, twickenham").site_list == ("wembley", "twickenham")
    assert FederationConfig().site_list == ()


def test_subjects_round_trip() -> None:
    assert link.split_subject(link.subject("wembley", "alert")) == ("wembley", "alert")
    for bad in ("cuas.x", "cuas..trk", "other.x.trk", "cuas.x.trk.y", "cuas.x.nope"):
        assert link.split_subject(bad) is None
