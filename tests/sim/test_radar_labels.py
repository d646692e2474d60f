"""The simulated radar's own classifier: labels drawn from the confusion matrix its scenario
file states, never better than it; the likelihood sent is that matrix's column."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cuas.errors import ConfigError
from cuas.sensors.radar.sim import RADAR_LABELS, RadarSpec, label_evidence
from cuas.sim.runner import simulate_scenario
from cuas.sim.scenario import load_scenario
from cuas.vocabulary import CLASSES

ROOT = Path(__file__).resolve().parents[2]


def radar() -> RadarSpec:
    sc = load_scenario(ROOT / "recordings" / "scenarios" / "single-inbound.toml")
    spec = sc.sensors[0]
    assert isinstance(spec, RadarSpec)
    return spec


def test_labels_follow_the_stated_confusion_matrix() -> None:
    spec = radar()
    rng = np.random.default_rng(5)
    for band, r in ((0, 800.0), (1, 2500.0)):
        m = np.asarray(spec.label_confusion[band])
        for cls in range(4):
            got = Counter(label_evidence(spec, rng, cls, r).label for _ in range(4000))  # type: ignore[union-attr]
            freq = np.asarray([got[lab] / 4000 for lab in RADAR_LABELS])
            np.testing.assert_allclose(freq, m[cls], atol=0.03)
    ev = label_evidence(spec, rng, 0, 800.0)
    assert ev is not None and ev.basis == "micro-doppler" and ev.confidence == 0.7
    k = RADAR_LABELS.index(ev.label)  # type: ignore[arg-type]
    assert [ev.likelihood[c] for c in CLASSES] == pytest.approx(
        np.asarray(spec.label_confusion[0])[:, k].tolist())
    assert label_evidence(spec, rng, 0, 3500.0) is None  # beyond the last band: no label


def test_the_drone_is_labelled_in_the_recording() -> None:
    sc = load_scenario(ROOT / "recordings" / "scenarios" / "single-inbound.toml")
    run = simulate_scenario(sc, 1)
    labels = Counter(d.evidence.label for m in run.messages for d, tid in
                     zip(m.batch.dets, m.truth_ids, strict=True)
                     if tid is not None and tid.startswith("drone") and d.evidence is not None)
    assert labels["drone"] > labels["bird"] > 0


def test_a_bad_matrix_is_refused() -> None:
    spec = radar()
    with pytest.raises(ConfigError, match="label_confusion"):
        dataclasses.replace(spec, label_confusion=((( 0.5, 0.5, 0.5, 0.5),) * 4,) * 2)
    with pytest.raises(ConfigError, match="label_confusion"):
        dataclasses.replace(spec, label_ranges_m=(1000.0,))
