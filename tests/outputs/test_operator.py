"""The operator's table (cuas.outputs.operator.render_table) on hand-built wire messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from cuas import wire
from cuas.outputs import operator
from cuas.outputs.operator import ALARM, WARN, render_table

T0 = 1_790_000_000.0
SPEC_TRACKS = Path(__file__).resolve().parents[1] / "data" / "spec-examples" / "tracks.json"


def track(tid: int, *, status: str = "confirmed", threat: str = "none", malicious: bool = False,
          enu: wire.Vec3 = (100.0, 0.0, 50.0), vel: wire.Vec3 = (0.0, 10.0, 0.0),
          t_update: float = T0, sources: tuple[str, ...] = ("radar-1",),
          ident: wire.Ident | None = None, uav: float = 0.9) -> wire.Track:
    rest = (1.0 - uav) / 3
    return wire.Track(
        id=tid, status=status, lla=(51.556, -0.2796, 140.0), enu=enu, vel=vel,
        pos_sigma=(2.0, 2.0, 3.0), t_update=t_update, sources=sources,
        class_probs={"uav": uav, "bird": rest, "manned": rest, "clutter": rest},
        threat=threat, malicious=malicious, ident=ident)


def snapshot(*tracks: wire.Track, t: float = T0) -> wire.Tracks:
    return wire.Tracks(src="cuas-test", seq=7, t=t, tracks=tuple(tracks))


def heartbeat(t: float = T0, state: str = "ok",
              counters: Mapping[str, int] | None = None) -> wire.Status:
    return wire.Status(src="cuas-test", seq=3, t=t, state=state, uptime_s=125.0,
                       counters=counters if counters is not None else {"received": 10})


def alert(tid: int, t: float = T0, threat: str = "high") -> wire.Alert:
    return wire.Alert(src="cuas-test", seq=1, t=t, track_id=tid, threat=threat,
                      previous="low", reasons=("inside the no-fly zone",), zone="north-stand")


def rows(text: str) -> dict[int, str]:
    """Track rows of a rendered table by id (the marker takes columns 0-1, the id 3-7)."""
    out = {}
    for line in text.split("\n"):
        cell = line[3:8].strip()
        if cell.isdigit():
            out[int(cell)] = line
    return out


def column(text: str, title: str, tid: int) -> str:
    """The cell under ``title`` in track ``tid``'s row (fixed columns start after the marker)."""
    start = 3
    for name, width, _ in operator._FIXED:
        if name == title:
            return rows(text)[tid][start:start + width].strip()
        start += width + 1
    raise AssertionError(f"no column {title!r}")


def render(tracks: wire.Tracks | None, **kw: object) -> str:
    args: dict[str, object] = {"now": T0 + 0.5, "status": heartbeat(), "width": 120,
                               "height": 40, "color": False}
    args.update(kw)
    return render_table(tracks, **args)  # type: ignore[arg-type]


def test_sorted_by_threat_then_id() -> None:
    snap = snapshot(track(5, threat="low"), track(3, threat="none"), track(9, threat="critical"),
                    track(2, threat="high"), track(1, threat="low"), track(4, threat="critical"))
    text = render(snap)
    assert list(rows(text)) == [4, 9, 2, 1, 5, 3]


def test_spec_example_row() -> None:
    snap = wire.from_dict(json.loads(SPEC_TRACKS.read_text()))
    assert isinstance(snap, wire.Tracks)
    text = render(snap, now=snap.t + 0.4, width=200)
    row = rows(text)[17]
    assert "uav 0.97" in row and "high" in row and "radar-north,rid-1" in row
    assert "1588E040445AC004418" in row
    assert "51.55490 -0.28180" in row  # a wide terminal adds latitude and longitude
    # enu (-153.1, -122.3, 51.6): 196 m from the origin, bearing 231, 52 m up.
    assert column(text, "rng m", 17) == "196"
    assert column(text, "brg", 17) == "231"
    assert column(text, "hgt m", 17) == "52"
    assert "NPAS14 43c6e1" in rows(text)[9]
    assert column(text, "class", 9) == "manned 0.99"


@pytest.mark.parametrize(("vel", "hdg"), [
    ((0.0, 10.0, 0.0), "000"), ((10.0, 0.0, 0.0), "090"), ((0.0, -3.0, 0.0), "180"),
    ((-10.0, 0.0, 0.0), "270"), ((7.0, 7.0, 0.0), "045"), ((-0.07, 10.0, 0.0), "000"),
    ((0.3, 0.3, 5.0), ""),  # climbing straight up: 0.42 m/s over ground, no heading
])
def test_heading_true_clockwise(vel: wire.Vec3, hdg: str) -> None:
    text = render(snapshot(track(1, vel=vel)))
    assert column(text, "hdg", 1) == hdg


def test_speed_is_ground_speed_plus_climb() -> None:
    text = render(snapshot(track(1, vel=(3.0, -4.0, -2.5)), track(2, vel=(0.0, 0.0, 1.25))))
    assert column(text, "speed", 1) == "5.0"
    assert column(text, "climb", 1) == "-2.5"
    assert column(text, "speed", 2) == "0.0"
    assert column(text, "climb", 2) == "+1.2"


def test_age_since_last_update() -> None:
    snap = snapshot(track(1, t_update=T0 - 2.0), track(2, t_update=T0 - 185.0),
                    track(3, t_update=T0 - 7300.0))
    text = render(snap, now=T0 + 0.5)
    assert column(text, "age", 1) == "2.5s"
    assert column(text, "age", 2) == "3m05s"
    assert column(text, "age", 3) == "2h01m"
    assert operator.duration(3 * 86400 + 7200) == "3d02h"


def test_deleted_tracks_are_hidden_and_not_counted() -> None:
    snap = snapshot(track(1), track(2, status="deleted", threat="critical"),
                    track(3, status="coasting"), track(4, status="tentative"))
    text = render(snap)
    assert set(rows(text)) == {1, 3, 4}
    assert "3 tracks: 1 confirmed, 1 coasting, 1 tentative" in text.split("\n")[0]
    one = render(snapshot(track(1, status="tentative"), track(2, status="deleted")))
    assert one.split("\n")[0].endswith("1 track: 1 tentative")
    assert render(snapshot()).split("\n")[0].endswith("0 tracks")


def test_truncated_to_height_with_more_line() -> None:
    snap = snapshot(*(track(i) for i in range(30)))
    text = render(snap, height=10, width=80)
    lines = text.split("\n")
    assert len(lines) == 10
    shown = rows(text)
    assert list(shown) == list(range(len(shown)))
    assert lines[-1] == f"+{30 - len(shown)} more"
    assert all(len(line) <= 80 for line in lines)


def test_everything_fits_when_not_truncated() -> None:
    text = render(snapshot(*(track(i) for i in range(5))), height=10)
    assert len(rows(text)) == 5 and "more" not in text


def test_eighty_columns_keep_every_fixed_column() -> None:
    long_sources = tuple(f"radar-{i}" for i in range(20))
    text = render(snapshot(track(1, sources=long_sources, t_update=T0 - 3.0)), width=79)
    assert all(len(line) <= 79 for line in text.split("\n"))
    assert column(text, "age", 1) == "3.5s"


def test_highlight_without_color() -> None:
    snap = snapshot(track(1), track(2, malicious=True), track(3), track(4))
    alerts = [alert(4, t=T0 - 600.0), alert(3, t=T0 - 5.0)]  # 4's alert is old news
    text = render(snap, alerts=alerts)
    assert "\x1b" not in text
    r = rows(text)
    assert r[2].startswith("!!") and r[3].startswith("!!")
    assert r[1].startswith("  ") and r[4].startswith("  ")
    alert_lines = [line for line in text.split("\n") if line.startswith("!! ") and "track" in line]
    assert len(alert_lines) == 2
    assert "track 3 HIGH (was low) in north-stand: inside the no-fly zone" in alert_lines[0]
    assert "track 4" in alert_lines[1]  # newest first


def test_highlight_with_color() -> None:
    snap = snapshot(track(1), track(2, malicious=True), track(3))
    text = render(snap, alerts=[alert(3, t=T0)], color=True)
    by_line = text.split("\n")
    hot = [line for line in by_line if line.startswith(ALARM)]
    assert any("track 3 HIGH" in line for line in hot)  # the alert itself
    assert sum(1 for line in hot if line[len(ALARM):][3:8].strip() in {"2", "3"}) == 2
    plain_row = next(line for line in by_line if line[3:8].strip() == "1")
    assert "\x1b" not in plain_row


def test_only_the_last_alerts_are_listed() -> None:
    alerts = [alert(100 + i, t=T0 - 60 + i) for i in range(12)]
    text = render(snapshot(track(1)), alerts=alerts)
    listed = [line for line in text.split("\n") if line.startswith("!! ")]
    assert len(listed) == operator.MAX_ALERTS_SHOWN
    assert "track 111" in listed[0]


def test_stale_status_and_snapshot_flagged() -> None:
    snap = snapshot(track(1), t=T0)
    fresh = render(snap, now=T0 + 1.0, status=heartbeat(t=T0 + 0.5))
    assert "STALE" not in fresh
    old_status = render(snap, now=T0 + 1.0, status=heartbeat(t=T0 - 20.0))
    first, second = old_status.split("\n")[:2]
    assert "STALE" in second and "STALE" not in first
    old_snapshot = render(snap, now=T0 + 30.0, status=heartbeat(t=T0 + 29.5), color=True)
    first, second = old_snapshot.split("\n")[:2]
    assert first.startswith(WARN) and "STALE" in first and "30.0s ago" in first
    assert not second.startswith(WARN)


def test_status_problems_flagged() -> None:
    text = render(snapshot(track(1)), status=heartbeat(state="degraded"), color=True)
    assert text.split("\n")[1].startswith(WARN) and "DEGRADED" in text
    missing = render(snapshot(track(1)), status=None)
    assert "status: none received" in missing


def test_counters_summary() -> None:
    counters = {"published": 40, "received": 120, "received_bytes": 9000, "dropped_late": 2,
                "dropped_malformed": 0,
                "tracks_created": 9, "sensor.radar-1.received": 60, "sensor.radar-1.seq_gaps": 3,
                "sensor.adsb-1.seq_gaps": 0}
    assert (operator.counters_summary(counters)
            == "received=120 published=40 dropped_late=2 sensor.radar-1.seq_gaps=3")
    text = render(snapshot(track(1)), status=heartbeat(counters=counters), bad=4)
    assert "received=120" in text and "viewer: 4 malformed skipped" in text


def test_waiting_for_the_first_snapshot() -> None:
    text = render(None, status=None, endpoint="tcp://127.0.0.1:5551")
    assert text.split("\n")[0] == "waiting for tracks on tcp://127.0.0.1:5551"
    assert rows(text) == {}


def test_escape_sequences_from_the_wire_are_neutralised() -> None:
    evil = track(1, sources=("radar\x1b[2J",), ident=wire.Ident(callsign="X\x07Y"))
    text = render(snapshot(evil), alerts=[alert(1)], color=False)
    assert "\x1b" not in text and "\x07" not in text
    assert "radar?[2J" in text and "X?Y" in text


def test_class_ties_are_unclassified() -> None:
    tied = {"clutter": 0.4, "bird": 0.4, "uav": 0.1, "manned": 0.1}
    assert operator.top_class(tied) == ("bird", 0.4)  # the contract's class order
    assert operator.class_text(tied) == "unclassified"
    assert operator.class_text(wire.NEUTRAL_CLASS) == "unclassified"
    assert operator.class_text({"uav": 0.5, "bird": 0.3, "manned": 0.1, "clutter": 0.1}) == (
        "uav 0.50")


def test_a_short_terminal_keeps_the_more_line_under_many_alerts() -> None:
    alerts = [alert(100 + i, t=T0 - i) for i in range(5)]
    text = render(snapshot(track(1), track(2), track(3)), alerts=alerts, height=6)
    lines = text.split("\n")
    assert len(lines) == 6 and lines[-1] == "+3 more"
    assert sum(1 for line in lines if line.startswith("!! ")) == 2
