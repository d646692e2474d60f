"""Each evidence term of the classifier, one at a time, against the same baseline track."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.classify import Classifier
from cuas.classify.inputs import ICAO, RID, IdentReports, RfReport
from cuas.classify.model import BIRD, CLUTTER, MANNED, UAV
from tests.classify.helpers import T0, inputs, site

pytestmark = pytest.mark.filterwarnings("error")

#: A target 400 m out (outside every zone), 60 m up, 10 m/s: ambiguous between bird and drone.
BASE = [400.0, 400.0, 60.0, 7.0, 7.0, 0.0]


def probs(clf: Classifier, **kw: object) -> np.ndarray:
    idents = kw.pop("idents", None)
    rf = kw.pop("rf", ())
    x = kw.pop("x", BASE)
    return clf.classify(inputs(x, **kw), idents, rf).probs[0]  # type: ignore[arg-type]


def reports(kind: int, value: str, pos: list[float], vel: list[float] | None = None,
            t: float = T0) -> IdentReports:
    r = IdentReports()
    r.record(0, kind, value, None, t, np.asarray(pos, float),
             np.asarray(vel if vel is not None else [np.nan] * 3, float))
    return r


def test_baseline_is_ambiguous_and_sums_to_one() -> None:
    p = probs(Classifier(site()))
    assert np.isclose(p.sum(), 1.0)
    assert p.max() < 0.8  # kinematics alone cannot tell a bird from a drone here
    assert p[UAV] > 0.15 and p[BIRD] > 0.15


def test_adsb_is_strong_evidence_of_manned() -> None:
    clf = Classifier(site())
    p = probs(clf, ident=[0], idents=reports(ICAO, "406b90", BASE[:3]))
    assert p[MANNED] > 0.9


def test_remote_id_is_strong_evidence_of_uav() -> None:
    p = probs(Classifier(site()), ident=[0], idents=reports(RID, "SN1", BASE[:3]))
    assert p[UAV] > 0.95


def test_remote_id_disagreeing_with_the_track_is_suspicious() -> None:
    cfg = site()
    agree = Classifier(cfg).classify(inputs(BASE, ident=[0]),
                                     reports(RID, "SN1", BASE[:3], [7, 7, 0]))
    off = Classifier(cfg).classify(inputs(BASE, ident=[0]),
                                   reports(RID, "SN1", [900.0, 400.0, 60.0], [7, 7, 0]))
    assert off.probs[0, UAV] > 0.95  # still a drone ...
    assert off.score[0] > agree.score[0]  # ... and more of a threat, not less
    assert any("possible spoof" in r for r in off.reasons[0])
    assert not any("spoof" in r for r in agree.reasons[0])
    # A track only the Remote ID receiver sees cannot disagree with itself.
    alone = Classifier(cfg).classify(inputs(BASE, ident=[0], n_sources=1),
                                     reports(RID, "SN1", [900.0, 400.0, 60.0]))
    assert not any("spoof" in r for r in alone.reasons[0])


def test_remote_id_velocity_disagreeing_with_the_track_is_suspicious() -> None:
    # The broadcast is where the track is but says it flies north at 15 m/s; the track goes
    # north-east at 10 m/s: 11 m/s apart.
    c = Classifier(site()).classify(inputs(BASE, ident=[0]),
                                    reports(RID, "SN1", BASE[:3], [0.0, 15.0, 0.0]))
    assert "Remote ID velocity 11 m/s off the track: possible spoof" in c.reasons[0]
    unsure = Classifier(site()).classify(inputs(BASE, ident=[0], vel_sigma=8.0),
                                         reports(RID, "SN1", BASE[:3], [0.0, 15.0, 0.0]))
    assert not any("spoof" in r for r in unsure.reasons[0])  # the track's velocity is a guess


def test_rf_link_active_is_evidence_of_uav_and_timing_and_protocol_add() -> None:
    cfg = site()
    base = probs(Classifier(cfg))
    far = probs(Classifier(cfg), rf=[RfReport(T0 - 1, "rf", 2.4e9, None, "unknown")])
    assert far[UAV] > base[UAV]  # link heard; came up 59 s after the track
    onset = probs(Classifier(cfg), age=3.0, rf=[RfReport(T0 - 1, "rf", 2.4e9, None, "x")])
    assert onset[UAV] > probs(Classifier(cfg), age=3.0)[UAV]
    known = probs(Classifier(cfg), rf=[RfReport(T0 - 1, "rf", 868e6, None, "fhss")])
    assert known[UAV] > far[UAV]
    stale = probs(Classifier(cfg), rf=[RfReport(T0 - 60, "rf", 868e6, None, "fhss")])
    assert np.allclose(stale, base)  # heard a minute ago: not active now
    c = Classifier(cfg).classify(inputs([0, 0, 30, 0, 0, 0]), None,
                                 [RfReport(T0 - 1, "rf", 868e6, None, "fhss")])
    assert "868 MHz FHSS control link active" in c.reasons[0]


@pytest.mark.parametrize(("x", "cls"), [
    ([0, 600, 10_000, 230, 0, 0], MANNED),  # an airliner: fast and high
    ([500, 500, 40, 0, 0, 0], UAV),  # hovering at 40 m (speed term; the window adds more)
])
def test_kinematic_terms_point_the_right_way(x: list[float], cls: int) -> None:
    p = probs(Classifier(site()), x=x)
    assert np.argmax(p) == cls


def test_short_lived_erratic_single_sensor_tracks_lean_to_clutter() -> None:
    good = probs(Classifier(site()))
    poor = probs(Classifier(site()), age=1.0, hit_ratio=0.4, n_sources=1.0)
    assert poor[CLUTTER] > good[CLUTTER] and np.argmax(poor) == CLUTTER


def test_hovering_history_beats_bird() -> None:
    clf = Classifier(site())
    for j in range(15):
        c = clf.classify(inputs([300, 300, 40, 0.1, 0, 0], t=T0 + j))
    assert c.probs[0, UAV] > 0.6 and c.probs[0, UAV] > c.probs[0, BIRD]
    assert any(r.startswith("hovering at 40 m") for r in c.reasons[0])


def test_a_positionless_rf_link_goes_to_the_most_drone_like_tracks() -> None:
    """One link heard among a hovering drone and a passing gull: the drone gets the whole term,
    the gull little of it, and an airliner (ADS-B) none."""
    cfg = site()
    x = [[500, 500, 40, 0, 0, 0], BASE, [0, 600, 10_000, 230, 0, 0]]
    idents = reports(ICAO, "400ABC", [0, 600, 10_000])
    ident = np.array([-1, -1, 0])
    link = [RfReport(T0 - 1, "rf", 868e6, None, "fhss")]
    before = Classifier(cfg).classify(inputs(x, ident=ident), idents, ()).probs
    after = Classifier(cfg).classify(inputs(x, ident=ident), idents, link).probs
    alone = Classifier(cfg).classify(inputs(x[1:2]), None, link).probs  # the gull by itself
    lift = after[:, UAV] - before[:, UAV]
    assert lift[0] > 0.05
    assert 0 < lift[1] < (alone[0, UAV] - before[1, UAV]) / 2  # well under the full term
    assert np.isclose(lift[2], 0.0)


def test_one_link_among_look_alikes_is_shared_and_a_sweep_of_many_links_is_not() -> None:
    """Thirty identical anonymous tracks and one link: each gets a thirtieth of the term.
    The same thirty with thirty links heard in one sweep (a swarm): each gets all of it."""
    cfg = site()
    x = [BASE] * 30
    none = Classifier(cfg).classify(inputs(x), None, ()).probs[:, UAV]
    one = Classifier(cfg).classify(
        inputs(x), None, [RfReport(T0 - 1, "rf", 5.8e9, None, "o3", links=1)]).probs[:, UAV]
    many = Classifier(cfg).classify(
        inputs(x), None, [RfReport(T0 - 1, "rf", 5.8e9, None, "o3", links=30)]).probs[:, UAV]
    alone = Classifier(cfg).classify(
        inputs(x[:1]), None, [RfReport(T0 - 1, "rf", 5.8e9, None, "o3")]).probs[0, UAV]
    assert np.allclose(one, one[0]) and np.allclose(many, many[0])  # look-alikes stay alike
    assert 0 < one[0] - none[0] < (alone - none[0]) / 10
    assert np.isclose(many[0], alone)
