"""Property tests of the whole classifier on random track tables: probabilities sum to 1, levels
and flags agree, every track has reasons; and adding a favourable piece of evidence (an ADS-B
identity, a Remote ID, an RF link) never lowers its class's probability."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cuas.classify import Classifier
from cuas.classify.inputs import ICAO, RID, IdentReports, RfReport
from cuas.classify.model import MANNED, UAV
from cuas.vocabulary import THREAT_LEVELS
from tests.classify.helpers import T0, inputs, wembley

pytestmark = pytest.mark.filterwarnings("error")  # no overflow or NaN warnings either

PROPS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])
CLF = Classifier(wembley())  # the model and geometry; each example gets fresh state below

coord = st.floats(-5000, 5000, allow_nan=False)
states = st.integers(0, 30).flatmap(lambda n: hnp.arrays(
    np.float64, (n, 6), elements=st.floats(-3000, 12000, allow_nan=False)))


def fresh() -> Classifier:
    return Classifier(CLF.config, CLF.site, CLF.model)


@PROPS
@given(states, st.floats(0.0, 100.0), st.floats(0.0, 1.0), st.floats(0.1, 50.0))
def test_any_table_gives_valid_output(x: np.ndarray, age: float, hit: float,
                                      vsig: float) -> None:
    c = fresh().classify(inputs(x, age=age, hit_ratio=hit, vel_sigma=vsig))
    assert c.probs.shape == (len(x), 4)
    assert np.all(c.probs >= 0) and np.allclose(c.probs.sum(axis=1), 1.0)
    assert np.all((c.level >= 0) & (c.level < len(THREAT_LEVELS)))
    assert np.array_equal(c.malicious, c.level >= THREAT_LEVELS.index("high"))
    assert len(c.reasons) == len(x) and all(r and all(isinstance(s, str) and s for s in r)
                                            for r in c.reasons)


def _with(kind: int, n: int) -> IdentReports:
    r = IdentReports()
    for i in range(n):
        r.record(i, kind, f"{0x400000 + i:06x}" if kind == ICAO else f"SN{i}", None, T0,
                 np.full(3, np.nan), np.full(3, np.nan))
    return r


@PROPS
@given(states.filter(len), st.sampled_from([(ICAO, MANNED), (RID, UAV)]))
def test_a_cooperative_identity_never_lowers_its_class(x: np.ndarray,
                                                       kind_cls: tuple[int, int]) -> None:
    kind, cls = kind_cls
    n = len(x)
    before = fresh().classify(inputs(x)).probs[:, cls]
    after = fresh().classify(inputs(x, ident=np.arange(n)), _with(kind, n)).probs[:, cls]
    assert np.all(after >= before - 1e-12)


@PROPS
@given(states.filter(len), st.sampled_from(["fhss", "elrs", "unknown", ""]),
       st.floats(1.0, 100.0))
def test_an_rf_link_never_lowers_uav(x: np.ndarray, protocol: str, age: float) -> None:
    rf = [RfReport(T0 - 1.0, "rf-1", 868e6, None, protocol or None)]
    before = fresh().classify(inputs(x, age=age)).probs[:, UAV]
    after = fresh().classify(inputs(x, age=age), None, rf).probs[:, UAV]
    assert np.all(after >= before - 1e-12)
