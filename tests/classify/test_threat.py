"""Threat: levels from the score, hysteresis, zones, approach, loitering, allow and deny lists,
reasons and alerts."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.classify import Classifier
from cuas.classify import threat as th
from cuas.classify.inputs import ICAO, RID, IdentReports
from tests.classify.helpers import T0, inputs, site

pytestmark = pytest.mark.filterwarnings("error")

#: A drone by any measure: it broadcasts Remote ID (which is not on any list).
RID_DRONE = 0


def rid_reports(serials: list[str], kind: int = RID) -> IdentReports:
    r = IdentReports()
    for i, s in enumerate(serials):
        r.record(i, kind, s, None, T0, np.full(3, np.nan), np.full(3, np.nan))
    return r


# --------------------------------------------------------------------------- hysteresis


def test_levels_rise_at_once_and_fall_only_after_the_hold() -> None:
    level = np.array([-1], dtype=np.int8)
    below = np.array([np.nan])
    seen = []
    # Rise to high, then hover just under its threshold, then drop clearly.
    scores = [0.65, 0.58, 0.66, 0.58, 0.58, 0.58, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45]
    for j, s in enumerate(scores):
        level, below = th.hysteresis(T0 + j, np.array([s]), level, below, 0.08, 5.0)
        seen.append(int(level[0]))
    assert seen[:6] == [th.HIGH] * 6  # 0.58 is within the margin: no flicker, no hold needed
    assert seen[6:11] == [th.HIGH] * 5  # below threshold - margin, waiting out the hold
    assert seen[11] == th.MEDIUM  # 5 s after it first fell below


def test_a_new_track_starts_at_its_raw_level_and_a_dip_resets_the_hold() -> None:
    level, below = th.hysteresis(T0, np.array([0.85, 0.1]), np.array([-1, -1], np.int8),
                                 np.full(2, np.nan), 0.08, 5.0)
    assert level.tolist() == [th.CRITICAL, th.NONE]
    level, below = th.hysteresis(T0 + 1, np.array([0.5, 0.1]), level, below, 0.08, 5.0)
    assert below[0] == T0 + 1
    level, below = th.hysteresis(T0 + 2, np.array([0.9, 0.1]), level, below, 0.08, 5.0)
    assert np.isnan(below[0]) and level[0] == th.CRITICAL


def test_level_thresholds() -> None:
    assert th.level_of(np.array([0.0, 0.2, 0.39, 0.4, 0.6, 0.8, 1.0])).tolist() == [
        0, 1, 1, 2, 3, 4, 4]


# --------------------------------------------------------------------------- zones and assets


def test_a_drone_in_the_no_fly_zone_is_critical_and_says_why() -> None:
    c = Classifier(site()).classify(inputs([10, 10, 40, 0, 0, 0], ident=[0]),
                                    rid_reports(["SN-1"]))
    assert th.name(int(c.level[0])) == "critical" and c.malicious[0]
    assert c.reasons[0][0] in ("inside the test box (no-fly zone)", "over the centre")
    assert "Remote ID SN-1" in c.reasons[0]


def test_zone_height_band() -> None:
    c = Classifier(site()).classify(inputs([[10, 10, 40, 0, 0, 0], [10, 10, 400, 0, 0, 0]]))
    assert c.inside[:, 0].tolist() == [True, False]


def test_closing_on_an_asset_gives_time_to_reach_it() -> None:
    # 650 m east of the centre's edge (radius 50), closing at 12 m/s: ~54 s.
    c = Classifier(site()).classify(inputs([700, 0, 40, -12, 0, 0], ident=[0]),
                                    rid_reports(["SN-1"]))
    assert any(r == "closing at 12 m/s, 54 s to the centre" for r in c.reasons[0])
    assert th.name(int(c.level[0])) == "medium"
    going = Classifier(site()).classify(inputs([700, 0, 40, 12, 0, 0], ident=[0]),
                                        rid_reports(["SN-1"]))
    assert going.score[0] < c.score[0]


def test_loitering_over_the_crowd() -> None:
    clf = Classifier(site(zones={"crowd": {"kind": "crowd", "level": "low", "crowd": True,
                                           "enu": [[0, 0], [300, 0], [300, 300], [0, 300]]}}))
    for j in range(15):
        a = np.radians(20 * j)
        x = [150 + 20 * np.cos(a), 150 + 20 * np.sin(a), 40, 0, 0, 0]
        c = clf.classify(inputs(x, t=T0 + j, ident=[0]), rid_reports(["SN-1"]))
    assert c.reasons[0][0].startswith("loitering over the crowd for 14 s")
    assert th.name(int(c.level[0])) == "critical"


# --------------------------------------------------------------------------- lists


def test_allow_listed_drone_is_never_malicious_even_in_the_no_fly_zone() -> None:
    cfg = site(allow={"rid": {"VENUE-1": "venue drone"}})
    c = Classifier(cfg).classify(inputs([10, 10, 40, 0, 0, 0], ident=[0]),
                                 rid_reports(["VENUE-1"]))
    assert not c.malicious[0] and th.name(int(c.level[0])) == "low"
    assert c.reasons[0][0] == "Remote ID VENUE-1 on allow list: venue drone"


def test_allow_list_drops_the_level_at_once() -> None:
    cfg = site(allow={"rid": {"VENUE-1": "venue drone"}})
    clf = Classifier(cfg)
    c = clf.classify(inputs([10, 10, 40, 0, 0, 0]))  # no identity yet: a threat
    assert c.malicious[0]
    c = clf.classify(inputs([10, 10, 40, 0, 0, 0], t=T0 + 1, ident=[0]),
                     rid_reports(["VENUE-1"]))
    assert not c.malicious[0]


def test_deny_listed_identity_is_critical_anywhere() -> None:
    cfg = site(deny={"rid": {"BAD-1": "banned operator"}})
    c = Classifier(cfg).classify(inputs([3000, 3000, 40, 0, 0, 0], ident=[0]),
                                 rid_reports(["BAD-1"]))
    assert th.name(int(c.level[0])) == "critical"
    assert c.reasons[0][0] == "Remote ID BAD-1 on deny list: banned operator"


def test_adsb_aircraft_over_the_no_fly_zone_is_not_malicious() -> None:
    c = Classifier(site()).classify(inputs([0, 0, 120, 40, 0, 0], ident=[0]),
                                    rid_reports(["4007f1"], kind=ICAO))
    assert not c.malicious[0] and int(c.level[0]) <= th.LOW
    assert "ADS-B 4007f1: manned aircraft" in c.reasons[0]


def test_a_friendly_serial_whose_position_disagrees_is_not_trusted() -> None:
    cfg = site(allow={"rid": {"VENUE-1": "venue drone"}})
    r = IdentReports()
    r.record(0, RID, "VENUE-1", None, T0, np.array([900.0, 0, 40]), np.zeros(3))
    c = Classifier(cfg).classify(inputs([10, 10, 40, 0, 0, 0], ident=[0]), r)
    assert c.malicious[0]
    assert any("possible spoof" in s for s in c.reasons[0])


# --------------------------------------------------------------------------- alerts


def test_one_alert_per_level_change_and_per_zone_entered() -> None:
    clf = Classifier(site())
    alerts = []
    # Approach from the east at 10 m/s, enter the box, stay, then leave and come back.
    xs = [*range(600, 0, -10), *[0] * 20]
    for j, e in enumerate(xs):
        c = clf.classify(inputs([e, 0, 40, -10 if e else 0, 0, 0], t=T0 + j, ident=[0]),
                         rid_reports(["SN-1"]))
        alerts.extend(c.alerts)
    levels = [(a.previous, a.threat) for a in alerts if a.previous != a.threat]
    assert levels == sorted(set(levels), key=levels.index)  # no repeats
    rising = [th.THREAT_LEVELS.index(a.threat) for a in alerts if a.previous != a.threat]
    assert rising == sorted(rising) and rising[-1] == th.CRITICAL
    assert sum(a.zone == "box" for a in alerts) == 1
    assert all(a.reasons for a in alerts)


def test_tentative_and_benign_tracks_raise_no_alerts() -> None:
    clf = Classifier(site())
    c = clf.classify(inputs([10, 10, 40, 0, 0, 0], firm=False))
    assert c.malicious[0] and not c.alerts  # flagged in the snapshot, alert once confirmed
    c = clf.classify(inputs([10, 10, 40, 0, 0, 0], t=T0 + 1))
    assert [(a.previous, a.threat) for a in c.alerts] == [("none", "critical")]
    airliner = Classifier(site()).classify(inputs([0, 0, 120, 200, 0, 0]))
    assert not airliner.alerts


def test_state_of_deleted_tracks_is_evicted() -> None:
    clf = Classifier(site())
    clf.classify(inputs([[10, 10, 40, 0, 0, 0]] * 3))
    clf.classify(inputs([[10, 10, 40, 0, 0, 0]] * 3, t=T0 + 1, deleted=[False, True, False]))
    assert clf._state.ids.tolist() == [1, 3] and clf.history.ids.tolist() == [1, 3]


def test_an_anonymous_track_on_top_of_a_friendly_one_is_not_flagged() -> None:
    """The radar's own track of the venue drone, before the tracker merges it with the Remote
    ID track: capped at medium, and it says why; one 70 m away is not covered."""
    cfg = site(allow={"rid": {"VENUE-1": "venue drone"}})
    x = [[10, 10, 40, 0, 0, 0], [14, 10, 41, 0, 0, 0], [-40, -40, 40, 0, 0, 0]]
    c = Classifier(cfg).classify(inputs(x, ident=[0, -1, -1]), rid_reports(["VENUE-1"]))
    assert c.malicious.tolist() == [False, False, True]
    assert th.name(int(c.level[1])) == "medium"
    assert c.reasons[1][0] == "4 m from track 1 (venue drone): probably the same aircraft"
