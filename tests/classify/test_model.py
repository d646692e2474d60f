"""The evidence model: likelihood curves from the data file, clipping, missing features, and
the naive-Bayes combination (property tests: probabilities sum to 1; favourable evidence never
lowers its class's probability)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cuas.classify.model import UAV, Curve, combine, load_model
from cuas.errors import ConfigError
from cuas.vocabulary import CLASSES

pytestmark = pytest.mark.filterwarnings("error")

PROPS = settings(max_examples=200, deadline=None, derandomize=True, database=None)


def test_packaged_file_loads_with_every_feature_and_cites_sources() -> None:
    m = load_model()
    assert set(m.curves) >= {"speed", "height", "climb", "turn_rate", "straightness", "hover_s",
                             "age", "hit_ratio", "n_sources"}
    assert np.isclose(np.exp(m.log_prior).sum(), 1.0)
    text = (Path(__file__).resolve().parents[2] / "cuas" / "classify" / "likelihoods.toml"
            ).read_text()
    for source in ("Alerstam", "2019/945", "FAA-H-8083-3", "F3411", "EN 300 220"):
        assert source in text


def test_curve_interpolates_clips_and_ignores_missing() -> None:
    c = Curve("f", "m", np.array([0.0, 10.0]), np.array([[0, 4], [0, -4], [0, 1], [0, 0]],
                                                         dtype=float), clip=2.0)
    out = c(np.array([5.0, 10.0, 100.0, np.nan, -3.0]))
    assert out[0].tolist() == [2.0, -2.0, 0.5, 0.0]  # halfway, clipped to +-2
    assert out[1].tolist() == [2.0, -2.0, 1.0, 0.0]
    assert out[2].tolist() == out[1].tolist()  # flat beyond the ends
    assert out[3].tolist() == [0.0] * 4  # missing: no evidence
    assert out[4].tolist() == [0.0] * 4


def test_bird_speeds_are_weak_evidence_and_airliner_speeds_strong() -> None:
    speed = load_model().curves["speed"]
    cruise = speed(np.array([12.0]))[0]  # a bird and a small drone both fly this fast
    assert abs(cruise[CLASSES.index("bird")] - cruise[UAV]) < 0.5
    jet = speed(np.array([230.0]))[0]
    assert jet[CLASSES.index("manned")] - jet[UAV] >= 4.0


def test_a_broken_likelihood_file_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "l.toml"
    p.write_text('classes = ["uav", "bird", "manned", "clutter"]\n'
                 '[prior]\nuav = 1\nbird = 1\nmanned = 1\nclutter = 1\n'
                 '[features.speed]\nx = [1.0, 0.0]\nuav = [0, 0]\nbird = [0, 0]\n'
                 'manned = [0, 0]\nclutter = [0, 0]\n')
    with pytest.raises(ConfigError, match="features.speed.x"):
        load_model(p)


terms_st = hnp.arrays(np.float64, st.tuples(st.integers(1, 20), st.just(4)),
                      elements=st.floats(-50, 50))
prior_st = hnp.arrays(np.float64, 4, elements=st.floats(0.01, 1.0)).map(
    lambda p: np.log(p / p.sum()))


@PROPS
@given(prior_st, terms_st)
def test_probabilities_sum_to_one(log_prior: np.ndarray, terms: np.ndarray) -> None:
    p = combine(log_prior, terms)
    assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0)


@PROPS
@given(prior_st, terms_st, st.integers(0, 3),
       hnp.arrays(np.float64, 4, elements=st.floats(-10, 10)))
def test_favourable_evidence_never_lowers_its_class(log_prior: np.ndarray, terms: np.ndarray,
                                                    cls: int, extra: np.ndarray) -> None:
    # Favourable to `cls`: the term is at least as large for it as for every other class.
    extra = extra.copy()
    extra[cls] = extra.max()
    before = combine(log_prior, terms)[:, cls]
    after = combine(log_prior, terms + extra)[:, cls]
    assert np.all(after >= before - 1e-12)
