"""The evidence ledger's fast paths against plain references (issue 16, speed): the cached
per-track sentences a snapshot shows (:meth:`EvidenceLedger.sensed`) against the uncached
:meth:`EvidenceLedger.describe`, and the float arithmetic of :meth:`EvidenceLedger.add`
against :func:`observation_term` with numpy row operations, to the bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.classify.evidence import EvidenceLedger, Observation, observation_term

pytestmark = pytest.mark.filterwarnings("error")

prob = st.floats(0.0, 1.0, allow_nan=False)
likelihood = st.tuples(prob, prob, prob, prob).filter(lambda v: max(v) > 0)
step = st.tuples(
    st.integers(1, 4),  # track
    st.floats(0.0, 40.0),  # time step (s) from the previous event
    st.sampled_from(["radar", "cam-1", "sapient-3", None]),  # None: a snapshot, no observation
    likelihood, st.floats(0.01, 1.0), st.floats(0.01, 1.0),
    st.sampled_from([None, "UAV", "bird"]),
    st.lists(st.integers(0, 3), min_size=4, max_size=4),  # each track's most probable class
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=40), st.floats(0.0, 90.0))
def test_sensed_sentences_are_what_describe_says(events: list[tuple], window: float) -> None:
    ledger = EvidenceLedger(half_life_s=20.0)
    ids = np.arange(1, 5, dtype=np.int64)
    t = 1_000.0
    for track, dt, sensor, lik, conf, w, label, best in events:
        t += dt
        if sensor is not None:
            ledger.add(Observation(track, t, sensor, lik, conf, w, label))
            continue
        want = [ledger.describe(int(i), t, best=b) for i, b in zip(ids.tolist(), best,
                                                                        strict=True)]
        rows, texts, weights = ledger.sensed(t, ids, np.asarray(best, dtype=np.int64))
        got = {int(r): (float(wt), s) for r, s, wt in zip(rows.tolist(), texts, weights.tolist(),
                                                         strict=True)}
        for r, said in enumerate(want):
            assert got.get(r) == (said[0] if said else None)
            assert ledger.top(int(ids[r]), t, best[r]) == (said[0] if said else None)
    ledger.forget(ids[:2])
    rows, _, _ = ledger.sensed(t + window, ids, np.zeros(4, dtype=np.int64))
    assert not ({0, 1} & set(rows.tolist()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.floats(-5.0, 30.0), likelihood,
                          st.floats(0.01, 1.0), st.floats(0.01, 1.0),
                          st.sampled_from(["radar", "cam-1"])), max_size=30))
def test_add_matches_the_numpy_reference_to_the_bit(obs: list[tuple]) -> None:
    hl, dec = 20.0, 1.0
    ledger = EvidenceLedger(half_life_s=hl, decorrelation_s=dec)
    ref: dict[int, tuple[np.ndarray, float]] = {}
    last: dict[tuple[int, str], float] = {}
    t = 1_000.0
    for track, dt, lik, conf, w, sensor in obs:
        t_obs = t + dt
        t = max(t, t_obs)
        added = ledger.add(Observation(track, t_obs, sensor, lik, conf, w))
        prev = last.get((track, sensor))
        assert added == (prev is None or t_obs > prev)
        if not added:
            continue
        eff = 1.0 if prev is None else min(1.0, (t_obs - prev) / dec)
        last[(track, sensor)] = t_obs
        row, t_ev = ref.get(track, (np.zeros(4), t_obs))
        if t_obs > t_ev:
            row = row * 0.5 ** ((t_obs - t_ev) / hl)
            t_ev = t_obs
        term = observation_term(np.asarray(lik), conf, w, eff)
        if t_ev - t_obs > 0:
            term = term * 0.5 ** ((t_ev - t_obs) / hl)
        ref[track] = (row + term, t_ev)
    for track, (row, t_ev) in ref.items():
        got = ledger.log_evidence(t_ev, np.asarray([track], dtype=np.int64))[0]
        assert got.tolist() == row.tolist()
