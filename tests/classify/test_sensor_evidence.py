"""Per-track fusion of sensor class evidence (cuas/classify/evidence.py) and the alert policy
(cuas/classify/alerts.py): properties hunted with hypothesis, and the classifier using both."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.classify import Classifier
from cuas.classify.alerts import AlertState, decide
from cuas.classify.evidence import EvidenceLedger, Observation
from cuas.classify.model import UAV, combine
from cuas.config.alerts import AlertPolicyConfig
from cuas.errors import ConfigError
from tests.classify.helpers import T0, inputs, site

pytestmark = pytest.mark.filterwarnings("error")

PRIOR = np.log(np.asarray([0.2, 0.3, 0.15, 0.35]))
prob = st.floats(0.0, 1.0, allow_nan=False)
likelihood = st.tuples(prob, prob, prob, prob).filter(lambda v: max(v) > 0)
obs_args = st.tuples(likelihood, st.floats(0.01, 1.0), st.floats(0.01, 1.0),
                     st.floats(0.0, 120.0), st.sampled_from(["radar", "cam-1", "sapient-3"]))


def posterior(ledger: EvidenceLedger, t: float, track: int = 1) -> np.ndarray:
    return combine(PRIOR, ledger.log_evidence(t, np.asarray([track])))[0]


def fill(ledger: EvidenceLedger, history: list[tuple]) -> float:
    t_last = T0
    for lik, conf, w, dt, sensor in history:
        t_last = T0 + dt
        ledger.add(Observation(1, t_last, sensor, lik, conf, w))
    return t_last


@settings(max_examples=200, deadline=None)
@given(st.lists(obs_args, max_size=20), likelihood, st.floats(0.01, 1.0), st.integers(0, 3),
       st.floats(0.0, 30.0))
def test_favourable_evidence_never_lowers_its_class(history: list[tuple], lik: tuple,
                                                   conf: float, c: int, later: float) -> None:
    ledger = EvidenceLedger(half_life_s=20.0)
    t = fill(ledger, history) + later
    before = posterior(ledger, t)
    favour = list(lik)
    favour[c] = max(lik)  # the observation is at least as likely under class c as any other
    ledger.add(Observation(1, t, "new-sensor", tuple(favour), conf))  # type: ignore[arg-type]
    after = posterior(ledger, t)
    assert after[c] >= before[c] - 1e-12
    assert abs(after.sum() - 1.0) < 1e-9 and (after >= 0).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(obs_args, min_size=1, max_size=20))
def test_each_detection_is_counted_once(history: list[tuple]) -> None:
    ledger = EvidenceLedger()
    t = fill(ledger, history)
    once = ledger.log_evidence(t, np.asarray([1]))
    for lik, conf, w, dt, sensor in history:  # every detection delivered again
        assert not ledger.add(Observation(1, T0 + dt, sensor, lik, conf, w))
    np.testing.assert_array_equal(ledger.log_evidence(t, np.asarray([1])), once)


@settings(max_examples=100, deadline=None)
@given(st.lists(obs_args, max_size=30), st.floats(0.0, 1e4))
def test_posteriors_sum_to_one_and_stay_finite(history: list[tuple], later: float) -> None:
    ledger = EvidenceLedger()
    t = fill(ledger, history) + later
    p = posterior(ledger, t)
    assert np.isfinite(p).all() and abs(p.sum() - 1.0) < 1e-9


def test_evidence_fades_with_its_half_life() -> None:
    ledger = EvidenceLedger(half_life_s=10.0)
    ledger.add(Observation(1, T0, "radar", (0.9, 0.1, 0.05, 0.05), 1.0))
    now = ledger.log_evidence(T0, np.asarray([1]))[0]
    np.testing.assert_allclose(ledger.log_evidence(T0 + 10.0, np.asarray([1]))[0], now / 2)
    np.testing.assert_allclose(ledger.log_evidence(T0 + 30.0, np.asarray([1]))[0], now / 8)


def test_frames_closer_than_the_decorrelation_time_count_as_one_look() -> None:
    fast, slow = EvidenceLedger(decorrelation_s=1.0), EvidenceLedger(decorrelation_s=1.0)
    lik = (0.9, 0.1, 0.05, 0.05)
    for k in range(10):  # ten frames in one second ...
        fast.add(Observation(1, T0 + 0.1 * k, "cam", lik, 1.0))
    slow.add(Observation(1, T0, "cam", lik, 1.0))
    slow.add(Observation(1, T0 + 1.0, "cam", lik, 1.0))  # ... against two looks a second apart
    a = fast.log_evidence(T0 + 1.0, np.asarray([1]))[0]
    b = slow.log_evidence(T0 + 1.0, np.asarray([1]))[0]
    assert a[UAV] <= b[UAV] * 1.05


def test_malformed_or_zero_confidence_evidence_adds_nothing() -> None:
    ledger = EvidenceLedger()
    for lik, conf, w in [((0.0, 0.0, 0.0, 0.0), 1.0, 1.0), ((np.nan, 0.1, 0.1, 0.1), 1.0, 1.0),
                         ((0.9, 0.1, 0.1, 0.1), 0.0, 1.0), ((0.9, 0.1, 0.1, 0.1), 1.0, 0.0),
                         ((0.9, 0.1, 0.1, 0.1), 1.5, 1.0)]:
        assert not ledger.add(Observation(1, T0, "x", lik, conf, w))  # type: ignore[arg-type]
    assert len(ledger) == 0


def test_reasons_name_the_sensor_and_its_label() -> None:
    clf = Classifier(site())
    for k in range(14):
        clf.evidence.add(Observation(1, T0 - 14 + k, "cam-north", (0.93, 0.05, 0.01, 0.01), 1.0,
                                     label="drone", basis="appearance"))
    out = clf.classify(inputs([400.0, 400.0, 60.0, 7.0, 7.0, 0.0]))
    assert out.probs[0, UAV] > 0.95
    assert any(r.startswith("cam-north: drone 0.93 over 14 looks") for r in out.reasons[0]), \
        out.reasons[0]


def test_a_long_hover_is_strong_drone_evidence_and_a_reason() -> None:
    clf = Classifier(site())
    x = [300.0, 300.0, 60.0, 0.0, 0.0, 0.0]  # outside the zone, still
    out = None
    for k in range(40):
        out = clf.classify(inputs(x, t=T0 + k, n_sources=1.0))
    assert out is not None
    assert out.probs[0, UAV] > 0.8, out.probs[0]
    assert any(r.startswith("hovered ") for r in out.reasons[0]), out.reasons[0]


# ------------------------------------------------------------------ alert policy


def _state(n: int) -> AlertState:
    return AlertState(np.zeros(n, np.int8), np.zeros(n, np.int64), np.full(n, -np.inf),
                      np.zeros(n, np.int64))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=200), st.floats(0.0, 60.0),
       st.floats(0.1, 5.0))
def test_the_rate_limit_holds_under_a_flapping_track(levels: list[int], limit: float,
                                                     dt: float) -> None:
    policy = AlertPolicyConfig(rate_limit_s=limit)
    state, sent = _state(1), []
    ids = np.asarray([7])
    for k, lv in enumerate(levels):
        t = T0 + k * dt
        alerts, state = decide(t, ids, np.asarray([lv], np.int8),
                               np.asarray([levels[k - 1] if k else -1], np.int8), np.asarray([True]),
                               np.asarray([k % 2 == 0]), np.asarray([k % 3], np.int64),
                               ("a", "b"), np.asarray([3, 4], np.int8), (("r",),), state, policy)
        sent += [(t, a) for a in alerts]
    # Level rises are rate-limited; zone entries (each zone once) are not held back.
    times = [t for t, a in sent if a.zone is None]
    assert all(b - a >= limit - 1e-9 for a, b in zip(times, times[1:], strict=False))
    assert sum(a.zone is not None for _, a in sent) <= 2
    assert len({a.id for _, a in sent}) == len(sent)  # every alert has its own id
    for _, a in sent:  # only `high` and up, or a zone entry
        assert a.threat in ("high", "critical") or a.zone is not None


def test_no_alert_below_high_and_one_per_level_change() -> None:
    policy = AlertPolicyConfig(rate_limit_s=0.0, zone_entry=False)
    state = _state(1)
    got = []
    levels = [1, 2, 3, 3, 3, 4, 4, 3, 3, 4]
    for k, lv in enumerate(levels):
        alerts, state = decide(T0 + k, np.asarray([1]), np.asarray([lv], np.int8),
                               np.asarray([levels[k - 1] if k else -1], np.int8),
                               np.asarray([True]), np.asarray([False]), np.zeros(1, np.int64),
                               (), np.zeros(0, np.int8), (("r",),), state, policy)
        got += [(a.previous, a.threat) for a in alerts]
    assert got == [("medium", "high"), ("high", "critical"), ("high", "critical")]


def test_alert_policy_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="alerts.min_level"):
        AlertPolicyConfig(min_level="none")
    with pytest.raises(ConfigError, match="alerts.rate_limit_s"):
        AlertPolicyConfig(rate_limit_s=-1.0)
    assert site(alerts={"min_level": "critical"}).alerts.min_level == "critical"


# ------------------------------------------------------------------ Remote ID authentication


def test_signed_remote_id_is_less_threat_than_unsigned_and_says_so() -> None:
    from tests.classify.test_threat import rid_reports

    x = [0.0, 300.0, 60.0, 0.0, -8.0, 0.0]  # unlisted Remote ID drone closing on the box
    got = {}
    for auth in ("present", "absent"):
        clf = Classifier(site())
        clf.note_rid_auth("SN-9", auth)
        out = clf.classify(inputs(x, ident=[0]), rid_reports(["SN-9"]))
        got[auth] = (float(out.score[0]), out.reasons[0])
    assert got["present"][0] < got["absent"][0]
    assert any(r.endswith("(signed)") for r in got["present"][1]), got["present"][1]
    assert any(r.endswith("(unsigned)") for r in got["absent"][1]), got["absent"][1]
