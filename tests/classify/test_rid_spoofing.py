"""Remote ID through the real Tracker and classifier: one drone one identity (serial, MAC and
the other ids joined; Wi-Fi and Bluetooth at once give one track) and each kind of spoofing
evidence becoming a reason on the track: a broadcast 500 m from where the radar sees the drone,
an impossible jump, one serial from two places at once, and a frozen signal strength."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cuas import wire
from cuas.config import Config, parse_config
from cuas.fusion.engine import FusionEngine as Tracker
from cuas.geo import SiteFrame

from .helpers import ROOT, T0

RECEIVER = (51.5581, -0.2790, 135.0)


def config() -> Config:
    return parse_config({"sensors": {
        "radar-north": {"kind": "radar", "origin": list(RECEIVER)},
        "rid-wifi": {"kind": "remoteid", "origin": list(RECEIVER)},
        "rid-bt": {"kind": "remoteid", "origin": list(RECEIVER)}}})


class Feed:
    """Builds and runs batches through one tracker, with a snapshot (the classifier) each step."""

    def __init__(self, cfg: Config | None = None) -> None:
        self.tracker = Tracker(cfg or config())
        self.site = SiteFrame(self.tracker.config.site)
        self.seq = 0
        self.last: wire.Tracks | None = None

    def rid(self, sensor: str, t: float, enu: np.ndarray, vel: np.ndarray, serial: str | None,
            mac: str, rssi: float = -60.0, aliases: tuple[str, ...] = ()) -> None:
        lat, lon, h = self.site.enu_to_lla(enu)[0].tolist()
        ident: dict[str, Any] = {"rid": serial if serial else f"mac:{mac}"}
        al = [*aliases, f"mac:{mac}"] if serial else list(aliases)
        if al:
            ident["aliases"] = al
        self._run({"frame": "lla", "z": [lat, lon, h], "sigma": [3.0, 3.0, 5.0],
                   "vel": vel.tolist(), "vel_sigma": [0.5, 0.5, 0.5], "ident": ident,
                   "attrs": {"mac": mac, "rssi_dbm": rssi, "transport": "wifi-beacon"}},
                  sensor, "remoteid", t)

    def radar(self, t: float, enu: np.ndarray) -> None:
        self._run({"frame": "enu", "z": enu.tolist(), "sigma": [5.0, 5.0, 5.0]}, "radar-north",
                  "radar", t)

    def _run(self, det: dict[str, Any], sensor: str, kind: str, t: float) -> None:
        self.seq += 1
        msg = wire.from_dict({"v": 1, "type": "detections", "src": sensor, "seq": self.seq,
                              "t": t, "sensor": sensor, "kind": kind, "dets": [det]})
        assert isinstance(msg, wire.Detections)
        assert self.tracker.process(msg).accepted

    def snapshot(self, t: float) -> wire.Tracks:
        self.last = self.tracker.snapshot(t)
        return self.last

    def live(self) -> list[wire.Track]:
        assert self.last is not None
        return [tr for tr in self.last.tracks if tr.status != "deleted"]


def path(t: float, start: tuple[float, float, float] = (-1500.0, 1000.0, 80.0),
         vel: tuple[float, float, float] = (8.3, -5.5, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vel)
    return np.asarray(start) + v * t, v


def spoof_reasons(tr: wire.Track) -> list[str]:
    return [r for r in tr.reasons if "spoof" in r]


# --------------------------------------------------------------------------- one identity


def test_wifi_and_bluetooth_of_one_drone_are_one_track_and_one_identity() -> None:
    feed = Feed()
    rng = np.random.default_rng(7)
    for k in range(40):
        t = T0 + k
        pos, vel = path(k, (-300.0, 200.0, 60.0), (3.0, -2.0, 0.0))
        # Bluetooth is heard first by its MAC alone (its Location before its Basic ID).
        serial = "1581F5BOTH0001" if k >= 5 else None
        feed.rid("rid-bt", t, pos + rng.normal(0, 2, 3), vel, serial, "11:22:33:44:55:66")
        feed.rid("rid-wifi", t + 0.3, pos + rng.normal(0, 2, 3), vel, "1581F5BOTH0001",
                 "60:60:1f:aa:bb:cc", aliases=("session:SESSION-77",))
        feed.radar(t + 0.5, pos + rng.normal(0, 4, 3))
        feed.snapshot(t + 0.6)
    tracks = feed.live()
    assert len(tracks) == 1, [(t.id, t.ident, t.sources) for t in tracks]
    # The MAC-only Bluetooth track was folded into the serial's when a report joined them.
    assert feed.tracker.counters["tracks_merged_identity"] == 1
    tr = tracks[0]
    assert set(tr.sources) == {"rid-bt", "rid-wifi", "radar-north"}
    assert tr.ident is not None and tr.ident.rid == "1581F5BOTH0001"
    assert {"mac:11:22:33:44:55:66", "mac:60:60:1f:aa:bb:cc", "session:SESSION-77"} <= set(
        tr.ident.aliases)
    assert not spoof_reasons(tr)
    assert "Remote ID 1581F5BOTH0001" in tr.reasons


def test_an_allow_listed_serial_first_heard_by_its_mac_is_friendly() -> None:
    cfg = config()
    doc: dict[str, Any] = {"sensors": {sid: {"kind": s.kind, "origin": list(RECEIVER)}
                                       for sid, s in cfg.sensors.items()},
                           "allow": {"rid": {"1581F5VENUE0001": "venue survey drone"}}}
    feed = Feed(parse_config(doc))
    for k in range(15):
        pos, vel = path(k, (-100.0, 50.0, 50.0), (2.0, 0.0, 0.0))
        feed.rid("rid-bt", T0 + k, pos, vel, "1581F5VENUE0001" if k >= 3 else None,
                 "11:22:33:44:55:77")
        feed.snapshot(T0 + k + 0.1)
    (tr,) = feed.live()
    assert any("allow list: venue survey drone" in r for r in tr.reasons), tr.reasons
    assert tr.threat in ("none", "low")


# --------------------------------------------------------------------------- spoofing


def test_remote_id_500_m_from_the_radar_track_is_flagged_on_both_tracks() -> None:
    feed = Feed()
    rng = np.random.default_rng(3)
    serial = "1581F5SPOOF0042"
    for k in range(80):
        t = T0 + k
        pos, vel = path(min(k, 60))  # flies 60 s, then hovers (the two no longer move alike)
        vel = vel if k < 60 else np.zeros(3)
        claimed = pos + np.asarray([500.0, 0.0, 0.0])
        feed.radar(t, pos + rng.normal(0, 4, 3))
        feed.rid("rid-wifi", t + 0.2, claimed + rng.normal(0, 1.5, 3), vel, serial,
                 "60:60:1f:00:00:42", rssi=-70.0 + rng.normal(0, 3))
        feed.snapshot(t + 0.5)
    tracks = feed.live()
    rid_tracks = [tr for tr in tracks if tr.ident is not None and tr.ident.rid == serial]
    radar_tracks = [tr for tr in tracks if tr.ident is None and "radar-north" in tr.sources]
    assert len(rid_tracks) == 1 and len(radar_tracks) >= 1
    (rid_tr,) = rid_tracks
    real = min(radar_tracks, key=lambda tr: math.dist(tr.enu[:2], path(60)[0][:2]))
    reasons = spoof_reasons(rid_tr)
    assert reasons and f"from track {real.id}," in reasons[0], rid_tr.reasons
    metres = int(re.search(r"position (\d+) m", reasons[0]).group(1))  # type: ignore[union-attr]
    assert 450 <= metres <= 550
    assert any(f"moves like Remote ID {serial}" in r for r in real.reasons), real.reasons
    assert rid_tr.threat in ("medium", "high", "critical")


def test_honest_remote_id_seen_by_the_radar_has_no_spoof_reason() -> None:
    feed = Feed()
    rng = np.random.default_rng(4)
    for k in range(60):
        t = T0 + k
        pos, vel = path(k)
        feed.radar(t, pos + rng.normal(0, 4, 3))
        feed.rid("rid-wifi", t + 0.2, pos + rng.normal(0, 1.5, 3), vel, "1581F5HONEST01",
                 "60:60:1f:00:00:43", rssi=-70.0 + rng.normal(0, 3))
        feed.snapshot(t + 0.5)
    tracks = feed.live()
    assert len(tracks) == 1 and not spoof_reasons(tracks[0]), [t.reasons for t in tracks]


def test_impossible_jump() -> None:
    feed = Feed()
    for k in range(20):
        pos, vel = path(k, (-200.0, 0.0, 60.0), (5.0, 0.0, 0.0))
        if k >= 12:
            pos = pos + np.asarray([0.0, 2000.0, 0.0])  # 2 km in one second
        feed.rid("rid-wifi", T0 + k, pos, vel, "1581F5JUMP0001", "60:60:1f:00:00:44")
        feed.snapshot(T0 + k + 0.1)
    flagged = [r for tr in feed.live() for r in spoof_reasons(tr)]
    assert any("jumped at 20" in r for r in flagged), flagged  # ~2000 m/s


def test_claimed_speed_no_drone_flies() -> None:
    feed = Feed()
    for k in range(10):
        # The position creeps along while the message claims 150 m/s (a forged message).
        pos, _ = path(k, (-200.0, 0.0, 60.0), (5.0, 0.0, 0.0))
        feed.rid("rid-wifi", T0 + k, pos, np.asarray([150.0, 0.0, 0.0]), "1581F5FAST0001",
                 "60:60:1f:00:00:47")
        feed.snapshot(T0 + k + 0.1)
    flagged = [r for tr in feed.live() for r in spoof_reasons(tr)]
    assert "Remote ID claims 150 m/s, faster than any drone: possible spoof" in flagged, flagged


def test_one_serial_from_two_places_at_once() -> None:
    feed = Feed()
    for k in range(20):
        pos, vel = path(k, (-200.0, 0.0, 60.0), (5.0, 0.0, 0.0))
        feed.rid("rid-wifi", T0 + k, pos, vel, "1581F5TWIN0001", "60:60:1f:00:00:45")
        feed.rid("rid-wifi", T0 + k + 0.5, pos + np.asarray([0.0, 900.0, 0.0]), vel,
                 "1581F5TWIN0001", "60:60:1f:00:00:99")
        feed.snapshot(T0 + k + 0.6)
    flagged = [r for tr in feed.live() for r in spoof_reasons(tr)]
    assert any("two places 900 m apart" in r for r in flagged), flagged


def test_frozen_signal_strength_while_the_claimed_position_moves() -> None:
    def fly(rssi_of_range: bool) -> list[str]:
        feed = Feed()
        site = feed.site
        rx = site.lla_to_enu(np.asarray([RECEIVER]))[0]
        rng = np.random.default_rng(5)
        for k in range(40):
            pos, vel = path(k, tuple(rx + np.asarray([50.0, 0.0, -50.0])), (10.0, 0.0, 0.0))
            r = float(np.linalg.norm(pos - rx))
            rssi = -40.0 - 20 * math.log10(r / 10.0) + rng.normal(0, 0.3) if rssi_of_range \
                else -55.0 + rng.normal(0, 0.3)
            feed.rid("rid-wifi", T0 + k, pos, vel, "1581F5FROZEN01", "60:60:1f:00:00:46", rssi)
            feed.snapshot(T0 + k + 0.1)
        return [r for tr in feed.live() for r in spoof_reasons(tr)]

    frozen = fly(False)
    assert any("signal strength frozen at -55 dBm" in r for r in frozen), frozen
    assert fly(True) == []


def test_rid_spoof_scenario_end_to_end(tmp_path: Path) -> None:
    """The scenario helper's ``rid-spoof`` scenario (a drone whose Remote ID claims a position
    500 m east of where the radar and camera see it; an honest Remote ID drone nearby),
    simulated by ``cuas sim`` and run through ``cuas replay --offline``: the spoofer's Remote ID
    track and the radar's track of it both carry the spoofing reason; the honest drone never."""
    scenario = ROOT / "recordings" / "scenarios" / "rid-spoof.toml"
    if not scenario.exists():
        pytest.skip(f"no {scenario} (the scenarios of `cuas sim`)")
    pytest.importorskip("cuas.sim.scenario")
    from cuas.cli.main import main

    rec, truth, out = tmp_path / "s.mcap", tmp_path / "s.truth.jsonl", tmp_path / "t.jsonl"
    assert main(["sim", "rid-spoof", "--seed", "1", "--out", str(rec), "--truth", str(truth),
                 "--duration", "90"]) == 0
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(out)]) == 0
    spoof_rid: set[int] = set()
    spoof_anon: set[int] = set()
    honest: set[str] = set()
    for line in out.read_text().splitlines():
        msg = wire.from_dict(json.loads(line))
        assert isinstance(msg, wire.Tracks)
        for tr in msg.tracks:
            flagged = spoof_reasons(tr)
            rid = tr.ident.rid if tr.ident is not None else None
            if rid == "1581F5VENUE0001" and flagged:
                honest.update(flagged)
            elif rid == "1581F5SPOOF0042" and flagged:
                spoof_rid.add(tr.id)
            elif rid is None and any("moves like Remote ID 1581F5SPOOF0042" in r
                                     for r in flagged):
                spoof_anon.add(tr.id)
    assert spoof_rid and spoof_anon and not honest
