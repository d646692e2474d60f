"""The console's parts without a network: accounts (argon2, roles, the file), the hash-chained
audit log, sessions and the login limiter, the picture's deltas, history, trails and health,
the site layers, and the [web] configuration."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cuas import wire
from cuas.config import parse_config, reference_config
from cuas.errors import AccountError, AuditError, ConfigError
from cuas.web import audit
from cuas.web.accounts import Accounts, may
from cuas.web.picture import Picture
from cuas.web.sessions import RateLimiter, Sessions
from cuas.web.site import site_layers


def test_accounts_hash_with_argon2id_and_keep_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    accounts = Accounts(path)
    accounts.add("olivia", "operator", "operator-pass")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["users"]["olivia"]["hash"].startswith("$argon2id$")
    assert "operator-pass" not in path.read_text()
    again = Accounts(path)
    assert again.verify("olivia", "operator-pass") is not None
    assert again.verify("olivia", "operator-pasS") is None
    assert again.verify("nobody", "operator-pass") is None
    for name, role, password in (("bad name", "viewer", "long enough"),
                                 ("ok", "root", "long enough"), ("ok", "viewer", "short")):
        with pytest.raises(AccountError):
            again.add(name, role, password)
    again.set_role("olivia", "admin")
    assert Accounts(path).get("olivia").role == "admin"  # type: ignore[union-attr]
    again.remove("olivia")
    assert len(Accounts(path)) == 0
    path.write_text("{not json")
    with pytest.raises(AccountError, match="cannot read"):
        Accounts(path)


def test_roles_are_ordered() -> None:
    assert may("admin", "operator") and may("operator", "operator") and may("viewer", "viewer")
    assert not may("viewer", "operator") and not may("operator", "admin")
    assert not may("root", "viewer")


def test_the_audit_log_is_a_hash_chain_that_finds_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, clock=lambda: 1_700_000_000.0)
    log.append("olivia", "operator", "login")
    log.append("olivia", "operator", "acknowledged", alert_id="cuas:3", track_id=7,
               note="seen, \u00e9tudiant \"quoted\"\nnext line")
    log.close()
    log = audit.AuditLog(path)  # reopened: the chain goes on from the last line
    log.append("olivia", "operator", "logout")
    log.close()
    records = audit.read(path)
    assert [r["action"] for r in records] == ["login", "acknowledged", "logout"]
    assert list(records[1]) == ["t", "user", "role", "action", "alert_id", "track_id", "note",
                                "prev"]
    assert records[0]["prev"] == "" and records[1]["alert_id"] == "cuas:3"
    assert records[1]["track_id"] == 7 and records[0]["alert_id"] is None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = path.read_bytes().splitlines()
    for tampered in (
            [lines[0], lines[1].replace(b"seen", b"SEEN"), lines[2]],  # an edit
            [lines[0], lines[2]],                                        # a deletion
            [lines[1], lines[2]]):                                       # the head cut off
        path.write_bytes(b"\n".join(tampered) + b"\n")
        with pytest.raises(AuditError, match="hash chain is broken"):
            audit.verify(path)
    with pytest.raises(AuditError):
        audit.AuditLog(tmp_path / "a.jsonl").append("x", "viewer", "deleted_everything")


def test_sessions_end_on_logout_idle_and_age_and_the_limiter_counts() -> None:
    now = [0.0]
    sessions = Sessions(idle_s=100.0, max_s=1000.0, clock=lambda: now[0])
    a = sessions.new("olivia", "operator")
    assert sessions.get(a.token) is a and a.csrf_ok(a.csrf) and not a.csrf_ok("x")
    now[0] = 150.0
    assert sessions.get(a.token) is None  # idle too long
    b = sessions.new("olivia", "operator")
    for t in range(200, 1150, 90):
        now[0] = float(t)
        assert sessions.get(b.token) is b  # never idle, ...
    now[0] = 1151.0
    assert sessions.get(b.token) is None  # ... but too old
    c = sessions.new("victor", "viewer")
    sessions.end(c.token)
    assert sessions.get(c.token) is None and sessions.get(None) is None
    limiter = RateLimiter(3, 60.0, clock=lambda: now[0])
    for _ in range(3):
        assert not limiter.blocked("ip:1")
        limiter.fail("ip:1")
    assert limiter.blocked("ip:1") and not limiter.blocked("ip:2")
    assert 0 < limiter.retry_after_s("ip:1") <= 60
    now[0] += 61
    assert not limiter.blocked("ip:1")


def _track(i: int, lat: float, threat: str = "none", reasons: tuple[str, ...] = ()) -> wire.Track:
    return wire.Track(id=i, status="confirmed", lla=(lat, -0.28, 150.0), enu=(0.0, 0.0, 60.0),
                      vel=(3.0, 4.0, 0.5), pos_sigma=(1.0, 1.0, 1.0), t_update=100.0,
                      sources=("radar-north",), class_probs={"uav": 0.7, "bird": 0.1,
                                                             "manned": 0.1, "clutter": 0.1},
                      threat=threat, reasons=reasons)


def test_frames_carry_only_what_changed_and_history_is_bounded() -> None:
    pic = Picture(trail_s=10.0, history_s=5.0, history_period_s=1.0)
    first = pic.apply(wire.Tracks("cuas", 0, 100.0, (_track(1, 51.5), _track(2, 51.6))))
    assert [p[0] for p in first["p"]] == [1, 2] and len(first["m"]) == 2
    assert first["p"][0][4] == 37  # heading of (3, 4) m/s, degrees from north
    assert first["p"][0][5] == 5.0
    second = pic.apply(wire.Tracks("cuas", 1, 100.5, (
        _track(1, 51.5), _track(2, 51.6001, "high", ("inside the bowl",)))))
    assert [p[0] for p in second["p"]] == [2]  # track 1 did not move
    assert [m["id"] for m in second["m"]] == [2] and second["m"][0]["rs"] == ["inside the bowl"]
    third = pic.apply(wire.Tracks("cuas", 2, 101.0, (_track(2, 51.6001, "high",
                                                            ("inside the bowl",)),)))
    assert third["gone"] == [1] and third["p"] == [] and third["m"] == []
    for k in range(3, 30):
        pic.apply(wire.Tracks("cuas", k, 100.0 + k, (_track(2, 51.6 + k * 1e-4),)))
    assert pic.history_t[0] >= pic.history_t[-1] - 5.0 and len(pic.history_t) <= 6
    past = pic.past_frame(126.2)
    assert past["t"] == 126.0 and past["tracks"][0][0] == 2
    assert past["tracks"][0][4] == 0  # threat index ("none" again in these frames)
    trail = pic.trails[2]
    assert trail[0][0] >= 129.0 - 10.0 and len(trail) <= 11
    init = pic.init()
    assert init["history"] == [pic.history_t[0], pic.history_t[-1]]
    json.dumps(init)  # what the socket sends


def test_alerts_and_health() -> None:
    pic = Picture(sensors_known=("cam-west", "radar-north"))
    pic.apply(wire.Tracks("cuas", 0, 100.0, (_track(5, 51.5, "high"),)))
    msg = pic.add_alert(wire.Alert("cuas", 3, 100.0, 5, "high", "low", ("inside",), "bowl"))
    aid = msg["alert"]["id"]
    assert aid == "cuas:3" and msg["alert"]["state"] == "open"
    settled = pic.settle(aid, "acknowledged", "olivia", "seen", 101.0)
    assert settled is not None and settled["alert"]["by"] == "olivia"
    assert pic.settle("nope", "dismissed", "olivia", "", 101.0) is None
    counters = {"sensor.radar-north.received": 10, "received": 10}
    pic.status(wire.Status("cuas", 0, 200.0, "ok", 5.0, counters, {"radar-north": 199.0}))
    counters = {"sensor.radar-north.received": 30, "received": 30}
    health = pic.status(wire.Status("cuas", 1, 210.0, "ok", 15.0, counters,
                                    {"radar-north": 209.5}))
    sensors = {s["id"]: s for s in health["sensors"]}
    assert sensors["radar-north"]["state"] == "ok" and sensors["radar-north"]["rate_hz"] == 2.0
    assert sensors["cam-west"]["state"] == "down" and sensors["cam-west"]["last_seen"] is None
    health = pic.status(wire.Status("cuas", 2, 240.0, "ok", 45.0, counters,
                                    {"radar-north": 209.5}))
    assert {s["id"]: s["state"] for s in health["sensors"]}["radar-north"] == "degraded"


def test_site_layers_put_zones_and_rings_where_the_config_says() -> None:
    import tomllib

    from tests.web.helpers import ROOT

    doc = tomllib.loads((ROOT / "configs" / "wembley.toml").read_text())
    config = parse_config(doc)
    layers = site_layers(config)
    zones = {f["properties"]["id"]: f for f in layers["zones"]["features"]}
    assert set(zones) == {"bowl", "inner", "outer", "olympic-way"}
    outer = zones["outer"]["geometry"]["coordinates"][0]
    assert outer[0] == [-0.2796, 51.5650] and outer[-1] == outer[0]  # lla: lon, lat
    bowl = zones["bowl"]["geometry"]["coordinates"][0]
    # enu (-150, -80) m from the centre spot: west and south of it.
    assert bowl[0][0] < config.site.lon and bowl[0][1] < config.site.lat
    assert zones["bowl"]["properties"]["level"] == "critical"
    radar = [f for f in layers["coverage"]["features"] if f["properties"]["id"] == "radar-north"]
    assert len(radar) == 1  # max_range_m = 6000: a ring
    ring = radar[0]["geometry"]["coordinates"][0]
    lats = [p[1] for p in ring]
    assert max(lats) - 51.5581 == pytest.approx(6000 / 111_250, rel=0.01)
    json.dumps(layers)


def test_web_config_is_checked() -> None:
    assert reference_config().web.listen == "127.0.0.1:8080"
    cfg = parse_config({"web": {"listen": "[::1]:9000", "trail_s": 30.0}})
    assert cfg.web.loopback and cfg.web.host_port == ("::1", 9000)
    assert not parse_config({"web": {"listen": "0.0.0.0:443"}}).web.loopback
    for bad, key in (({"listen": "nowhere"}, "web.listen"),
                     ({"tls_cert": "c.pem"}, "web.tls_key"),
                     ({"tile_url": "ftp://x/{z}"}, "web.tile_url"),
                     ({"history_s": -1.0}, "web.history_s"),
                     ({"login_attempts": 0}, "web.login_attempts"),
                     ({"colour": "red"}, "web.colour")):
        with pytest.raises(ConfigError) as err:
            parse_config({"web": bad})
        assert err.value.key == key, bad


def test_the_incident_report_reads_the_console_audit_log(tmp_path: Path) -> None:
    """Issue 19's report reads this log: the chain holds there too, and it finds the acks."""
    from cuas.report.load import read_audit_log

    path = tmp_path / "audit.jsonl"
    log = audit.AuditLog(path, clock=lambda: 1_800_000_000.0)
    log.append("olivia", "operator", "login")
    log.append("olivia", "operator", "acknowledged", alert_id="cuas:3", track_id=7, note="seen")
    log.append("olivia", "operator", "dismissed", alert_id="cuas:4", track_id=9, note="a kite")
    log.close()
    check, acks = read_audit_log(path)
    assert check.ok and check.lines == 3
    assert [(a.action, a.alert_id, a.track_id, a.note, a.user, a.role) for a in acks] == [
        ("acknowledged", "cuas:3", 7, "seen", "olivia", "operator"),
        ("dismissed", "cuas:4", 9, "a kite", "olivia", "operator")]
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([lines[0], lines[2]]) + b"\n")
    assert read_audit_log(path)[0].bad_line == 2
