"""Tests of the scenario library (cuas.sim.scenario, cuas.sim.truth, the kinds' simulated models, ``cuas sim SCENARIO``):
every file loads, truth is physically sensible, sensors see only what they can see, every
message is valid under the wire contract's JSON Schema, runs are byte-identical per seed, and
a small scenario goes through sim -> offline replay -> eval (with plots) end to end."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import geo, wire
from cuas.cli.main import main
from cuas.errors import ConfigError
from cuas.sensors.adsb.sim import AdsbSpec
from cuas.sensors.camera.sim import CameraSpec, camera_deg_per_px
from cuas.sensors.radar.sim import RadarSpec, radar_pd
from cuas.sensors.remoteid.sim import RemoteIdSpec
from cuas.sensors.rf.sim import RfSpec
from cuas.sim.runner import ScenarioRun, simulate_scenario, write_scenario_truth
from cuas.sim.scenario import (
    GRID_DT_S,
    MOVER_TYPES,
    Scenario,
    load_scenario,
    parse_scenario,
    replace_duration,
)
from cuas.sim.truth import compute_truth

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "recordings" / "scenarios").glob("*.toml"))
SCHEMA = json.loads((ROOT / "docs" / "wire.schema.json").read_text())


@cache
def _short_run(name: str, duration: float, seed: int = 5) -> ScenarioRun:
    sc = replace_duration(load_scenario(ROOT / "recordings" / "scenarios" / f"{name}.toml"),
                          duration)
    return simulate_scenario(sc, seed)


def test_library_has_the_required_scenarios() -> None:
    names = {p.stem for p in SCENARIOS}
    assert len(names) >= 8
    assert {"stadium-reference", "crossing-clutter", "bird-flock-drone", "swarm-20",
            "long-range-fast", "sensor-outage", "rid-spoof"} <= names
    ref = load_scenario(ROOT / "recordings" / "scenarios" / "stadium-reference.toml")
    assert ref.duration_s == 600.0
    types = {m.type for m in ref.movers}
    assert types == set(MOVER_TYPES)  # every kind of mover in the reference scenario
    assert {s.kind for s in ref.sensors} == {"radar", "camera", "adsb", "remoteid", "rf"}
    assert any(m.count > 1 and m.type == "bird" for m in ref.movers)
    swarm = load_scenario(ROOT / "recordings" / "scenarios" / "swarm-20.toml")
    assert sum(m.count for m in swarm.movers if m.threat) == 20


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_truth_is_physically_sensible(path: Path) -> None:
    """Speeds, accelerations and heights within each mover type's envelope over the whole run;
    birds fly at 8-22 m/s; nothing below ground."""
    sc = load_scenario(path)
    truth = compute_truth(sc, seed=3)
    assert truth.enu.shape == (len(truth.t), len(truth.ids), 3)
    assert np.all(np.isfinite(truth.enu)) and np.all(np.isfinite(truth.vel))
    accel = np.gradient(truth.vel, GRID_DT_S, axis=0)
    for j, typ in enumerate(truth.types):
        kind = MOVER_TYPES[typ]
        alive = truth.alive[:, j]
        assert alive.any(), truth.ids[j]
        speed = np.linalg.norm(truth.vel[alive, j], axis=1)
        acc = np.linalg.norm(accel[alive, j], axis=1)
        up = truth.enu[alive, j, 2]
        assert speed.max() <= kind.max_speed, (truth.ids[j], speed.max())
        assert acc.max() <= kind.max_accel, (truth.ids[j], acc.max())
        assert up.min() >= 0.0 and up.max() <= kind.ceiling_m, truth.ids[j]
        if typ == "bird":
            horizontal = np.linalg.norm(truth.vel[alive, j, :2], axis=1)
            assert 5.0 <= np.median(horizontal) <= 22.0, truth.ids[j]


def test_dash_in_reaches_25_m_s_and_lands_on_the_pitch() -> None:
    sc = load_scenario(ROOT / "recordings" / "scenarios" / "stadium-reference.toml")
    truth = compute_truth(sc, seed=1)
    j = truth.ids.index("hostile-quad")
    alive = np.flatnonzero(truth.alive[:, j])
    speed = np.linalg.norm(truth.vel[alive, j], axis=1)
    assert 23.0 <= speed.max() <= 25.5
    last = truth.enu[alive[-1], j]
    assert np.hypot(last[0], last[1]) < 5.0 and last[2] < 2.0  # down on the centre spot


def _check_geometry(run: ScenarioRun) -> dict[str, int]:
    """Every detection inside its sensor's coverage; every detection a mover caused has that
    mover really inside the coverage at the measurement time. Returns detections per kind."""
    sc = run.scenario
    site = geo.SiteFrame(sc.config.site)
    specs = {s.id: s for s in sc.sensors}
    counts: dict[str, int] = defaultdict(int)
    last_seq: dict[str, int] = {}
    prev_recv = -math.inf
    for m in run.messages:
        b = m.batch
        spec = specs[b.sensor]
        t_rel = b.t - sc.t0
        assert not spec.in_outage(np.array([t_rel]))[0], (b.sensor, t_rel)
        delay = m.recv_t - b.t
        assert spec.latency_s - spec.latency_jitter_s - 1e-9 <= delay <= (
            spec.latency_s + spec.latency_jitter_s + 1e-9)
        assert m.recv_t >= prev_recv  # in order of receipt
        prev_recv = m.recv_t
        assert b.seq > last_seq.get(b.sensor, -1)
        last_seq[b.sensor] = b.seq
        frame = site.sensor(spec.origin)
        pos, _, alive = run.truth.at(np.array([t_rel]))
        for det, oid in zip(b.dets, m.truth_ids, strict=True):
            counts[spec.kind] += 1
            true_local = None
            if oid is not None:
                j = run.truth.ids.index(oid)
                assert alive[0, j], (oid, t_rel)
                true_local = frame.site_to_local(pos[0, j][None, :])
            if isinstance(spec, RadarSpec):
                assert det.frame == "rae" and b.origin == spec.origin
                r, _, e = det.z
                assert spec.min_range_m <= r <= spec.max_range_m
                assert spec.min_elevation_deg <= e <= spec.max_elevation_deg
                assert "snr_db" in det.attrs
                if true_local is not None:
                    tr = geo.local_to_rae(true_local)[0]
                    assert spec.min_range_m <= tr[0] <= spec.max_range_m
                    assert spec.min_elevation_deg <= tr[2] <= spec.max_elevation_deg
            elif isinstance(spec, CameraSpec):
                assert det.frame == "ae" and b.origin == spec.origin
                az, el = det.z
                half_px = camera_deg_per_px(spec) * 1e-6
                assert abs((az - spec.azimuth_deg + 180) % 360 - 180) <= spec.hfov_deg / 2 + half_px
                assert abs(el - spec.elevation_deg) <= spec.vfov_deg / 2 + half_px
                x, y, w, h = det.attrs["bbox"]
                # The centre lies on the image (bbox values are rounded to 0.1 px).
                assert -0.1 <= x + w / 2 <= spec.width_px + 0.1
                assert -0.1 <= y + h / 2 <= spec.height_px + 0.1
                assert det.attrs["area_px"] > 0 and 0 < det.attrs["contrast"] < 1
                if true_local is not None:
                    tr = geo.local_to_rae(true_local)[0]
                    assert tr[0] <= spec.max_range_m
                    assert abs((tr[1] - spec.azimuth_deg + 180) % 360 - 180) <= spec.hfov_deg / 2
                    assert abs(tr[2] - spec.elevation_deg) <= spec.vfov_deg / 2
            elif isinstance(spec, AdsbSpec | RemoteIdSpec):
                assert det.frame == "lla" and det.vel is not None and det.ident is not None
                assert oid is not None and true_local is not None
                assert float(np.linalg.norm(true_local)) <= spec.max_range_m
                if isinstance(spec, AdsbSpec):
                    assert det.ident.icao and det.attrs["protocol"] == "adsb"
                else:
                    assert det.ident.rid and det.ident.operator_lla is not None
                    assert {"ua_type", "status", "transport", "rssi_dbm"} <= set(det.attrs)
            elif isinstance(spec, RfSpec):
                assert det.frame == "none" and det.z == ()
                assert {"freq_hz", "bw_hz", "duration_s", "snr_db", "rssi_dbm", "protocol",
                        "confidence"} <= set(det.attrs)
                assert oid is not None and true_local is not None
                assert float(np.linalg.norm(true_local)) <= spec.max_range_m
                link = sc.movers[int(run.truth.owner[run.truth.ids.index(oid)])].rf
                assert link is not None and link.on_s <= t_rel < link.off_s
    return counts


def test_sensor_geometry_latency_and_order_in_the_stadium() -> None:
    run = _short_run("stadium-reference", 150.0)
    counts = _check_geometry(run)
    assert all(counts[k] > 0 for k in ("radar", "camera", "adsb", "remoteid", "rf")), counts
    assert run.n_false > 0  # clutter, false alarms and false blobs exist


def test_sensor_outage_window_is_silent() -> None:
    run = _short_run("sensor-outage", 170.0)
    _check_geometry(run)
    radar_t = np.array([m.batch.t - run.scenario.t0 for m in run.messages
                        if m.batch.sensor == "radar-north"])
    assert not np.any((radar_t >= 80.0) & (radar_t < 150.0))
    assert np.any(radar_t < 80.0) and np.any(radar_t >= 150.0)
    cam_t = np.array([m.batch.t - run.scenario.t0 for m in run.messages
                      if m.batch.sensor == "cam-west"])
    assert np.any((cam_t >= 80.0) & (cam_t < 150.0))  # the camera kept going


def test_remote_id_spoofer_claims_500_m_east() -> None:
    """The spoofer's Remote ID positions sit 500 m east of the truth (the radar's view); the
    honest drone's within a few metres."""
    run = _short_run("rid-spoof", 60.0)
    _check_geometry(run)
    site = geo.SiteFrame(run.scenario.config.site)
    offsets: dict[str, list[np.ndarray]] = defaultdict(list)
    for m in run.messages:
        if m.batch.kind != "remoteid":
            continue
        det, oid = m.batch.dets[0], m.truth_ids[0]
        assert oid is not None
        pos, _, _ = run.truth.at(np.array([m.batch.t - run.scenario.t0]))
        claimed = site.lla_to_enu(np.array([det.z]))[0]
        offsets[oid].append(claimed - pos[0, run.truth.ids.index(oid)])
    spoof = np.mean(offsets["spoofer"], axis=0)
    honest = np.mean(offsets["venue-drone"], axis=0)
    assert spoof == pytest.approx([500.0, 0.0, 0.0], abs=5.0)
    assert np.linalg.norm(honest) < 5.0


@pytest.mark.parametrize("name,duration", [("stadium-reference", 120.0), ("rid-spoof", 30.0),
                                           ("swarm-20", 30.0)])
def test_every_message_is_valid_under_the_contract(name: str, duration: float) -> None:
    run = _short_run(name, duration)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for m in run.messages:
        d = wire.to_dict(m.batch)
        validator.validate(d)
        assert wire.decode(wire.encode(m.batch)) == m.batch


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    argv = ["sim", "stadium-reference", "--duration", "40", "--seed", "11"]
    outs = []
    for k, seed in enumerate(("11", "11", "12")):
        rec, truth = tmp_path / f"r{k}.mcap", tmp_path / f"t{k}.jsonl"
        argv[-1] = seed
        assert main([*argv, "--out", str(rec), "--truth", str(truth)]) == 0
        outs.append((rec.read_bytes(), truth.read_bytes()))
    assert outs[0] == outs[1]
    assert outs[0][0] != outs[2][0] and outs[0][1] != outs[2][1]


def test_truth_file_lists_class_threat_and_zone_entry(tmp_path: Path) -> None:
    run = _short_run("stadium-reference", 150.0)
    path = tmp_path / "truth.jsonl"
    write_scenario_truth(run, path)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    objs = header["objects"]
    assert objs["hostile-quad"]["threat"] is True and objs["hostile-quad"]["class"] == "uav"
    assert objs["gulls-00"]["class"] == "bird" and objs["baw-arrival"]["class"] == "manned"
    assert objs["venue-drone"]["threat"] is False
    assert objs["venue-drone"]["entry_t"] == run.scenario.t0  # it flies over the bowl
    assert len(lines) == 1 + 151  # 1 Hz, both ends
    first = json.loads(lines[1])
    assert {"id", "enu", "vel"} <= set(first["objects"][0])
    # detected_t: the first positional detection of each mover, from the messages' own
    # attribution (an RF link heard fixes nothing and does not count).
    firsts: dict[str, float] = {}
    for m in run.messages:
        for det, oid in zip(m.batch.dets, m.truth_ids, strict=True):
            if oid is not None and det.frame != "none":
                firsts[oid] = min(firsts.get(oid, m.batch.t), m.batch.t)
    assert firsts and {oid: o["detected_t"] for oid, o in objs.items()
                       if "detected_t" in o} == firsts
    assert all(run.scenario.t0 <= t <= run.scenario.t0 + 150.0 for t in firsts.values())


def _doc(**movers: Any) -> dict[str, Any]:
    mover = {"id": "d", "type": "multirotor", "waypoints": [[0, 0, 50], [100, 0, 50]],
             "speed": 10.0} | movers
    return {"scenario": {"name": "x", "duration_s": 60.0},
            "sensors": {"r": {"kind": "radar", "origin": [51.556, -0.2796, 120.0]}},
            "movers": [mover]}


@pytest.mark.parametrize("change,key", [
    ({"speed": 40.0}, "movers[0].speed"),
    ({"type": "jet"}, "movers[0].type"),
    ({"waypoints": [[0, 0, 50], [1, 2]]}, "movers[0].waypoints"),
    ({"colour": "red"}, "movers[0].colour"),
    ({"waypoints": [[0, 0, -5], [10, 0, 5]]}, "movers[0].waypoints"),
    ({"start_s": 70.0}, "movers[0].start_s"),
    ({"speeds": [5.0, 6.0]}, "movers[0].speeds"),
])
def test_bad_scenarios_name_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_scenario(_doc(**change), "x.toml")
    assert info.value.key == key, info.value


def test_bad_sensor_and_head_name_the_key() -> None:
    doc = _doc()
    doc["sensors"]["r"]["latency_s"] = 2.0
    with pytest.raises(ConfigError, match="latency"):
        parse_scenario(doc, "x.toml")
    doc = _doc()
    doc["sensors"]["r"]["kind"] = "sonar"
    with pytest.raises(ConfigError) as info:
        parse_scenario(doc, "x.toml")
    assert info.value.key == "sensors.r.kind"
    doc = _doc()
    doc["scenario"]["duration_s"] = math.inf
    with pytest.raises(ConfigError) as info:
        parse_scenario(doc, "x.toml")
    assert info.value.key == "scenario.duration_s"


def test_radar_pd_falls_with_range() -> None:
    """Swerling 1: Pd = Pfa^(1/(1+SNR)); 13 dB at Pfa 1e-6 gives ~0.5, 40 dB nearly 1."""
    pd = radar_pd(np.array([0.0, 13.0, 20.0, 40.0]), 1e-6)
    assert np.all(np.diff(pd) > 0)
    assert pd[1] == pytest.approx(1e-6 ** (1 / (1 + 10**1.3)))
    assert pd[3] > 0.99 and pd[0] < 1e-2


def test_scenario_dataclasses_are_frozen() -> None:
    sc = load_scenario(ROOT / "recordings" / "scenarios" / "single-inbound.toml")
    assert isinstance(sc, Scenario)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.movers[0].speed = 3.0  # type: ignore[misc]


def test_small_scenario_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """cuas sim -> cuas replay --offline -> cuas eval --json and --plot on an easy scenario:
    the drone is tracked most of the time, confirmed within seconds, flagged malicious."""
    rec, truth, tracks = tmp_path / "s.mcap", tmp_path / "s.truth.jsonl", tmp_path / "t.jsonl"
    cfg = str(ROOT / "configs" / "wembley.toml")
    assert main(["sim", "single-inbound", "--seed", "2", "--out", str(rec),
                 "--truth", str(truth)]) == 0
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(tracks),
                 "--config", cfg]) == 0
    capsys.readouterr()
    assert main(["eval", "--truth", str(truth), "--tracks", str(tracks), "--json",
                 "--plot", str(tmp_path / "fig"), "--config", cfg]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["c"] == 20.0 and figures["steps"] > 100
    drone = figures["objects"]["drone"]
    assert drone["matched_steps"] > 0.8 * drone["steps"]
    assert drone["time_to_confirm_s"] is not None and drone["time_to_confirm_s"] < 20.0
    assert figures["gospa_mean"] < 20.0
    assert set(figures["threats"]) == {"drone"}
    assert figures["threats"]["drone"]["flagged_t"] is not None
    for name in ("map.png", "gospa.png", "alerts.png"):
        data = (tmp_path / "fig" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_cli_names_an_unknown_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "no-such-scenario", "--seed", "1", "--out", str(tmp_path / "x.mcap"),
                 "--truth", str(tmp_path / "x.jsonl")])
    err = capsys.readouterr().err
    assert code == 1 and "no-such-scenario" in err and "stadium-reference" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "b"\nduration_s = 10.0\n[[movers]]\nid = "d"\n'
                   'type = "multirotor"\nwaypoints = [[0.0, 0.0, 10.0], [5.0, 0.0, 10.0]]\n'
                   'speed = 99.0\n')
    code = main(["sim", str(bad), "--seed", "1", "--out", str(tmp_path / "x.mcap"),
                 "--truth", str(tmp_path / "x.jsonl")])
    err = capsys.readouterr().err
    assert code == 1 and "movers[0].speed" in err and str(bad) in err
    assert not (tmp_path / "x.mcap").exists()


_values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                    st.lists(st.floats(-1e4, 1e4), max_size=4),
                    st.lists(st.lists(st.floats(-1e4, 1e4), max_size=4), max_size=4),
                    st.dictionaries(st.sampled_from(["centre", "radius_m", "serial", "icao"]),
                                    st.integers(-5, 5), max_size=2))
_mover_keys = st.sampled_from(["id", "type", "threat", "start_s", "end_s", "waypoints", "speed",
                               "speeds", "hold_s", "loop", "orbit", "count", "spread_m",
                               "flap_period_s", "rf", "remoteid", "adsb", "smooth_s", "unknown"])
_sensor_keys = st.sampled_from(["kind", "origin", "rate_hz", "latency_s", "latency_jitter_s",
                                "dropout", "outages", "max_range_m", "sigma", "hfov_deg",
                                "width_px", "bogus"])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_mover_keys, _values, max_size=6),
       st.dictionaries(_sensor_keys, _values, max_size=4))
def test_wild_scenario_tables_raise_config_error_or_load(mover: dict[str, Any],
                                                         sensor: dict[str, Any]) -> None:
    """Whatever a scenario file holds, loading it either works or raises ConfigError."""
    doc = _doc(**mover)
    doc["sensors"]["r"].update(sensor)
    try:
        sc = parse_scenario(doc, "x.toml")
    except ConfigError:
        return
    compute_truth(replace_duration(sc, 2.0), seed=0)
