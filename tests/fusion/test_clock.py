"""The per-sensor clock model's running statistics against numpy's."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.fusion.clock import WINDOW, ClockModel

_STAMPS = st.lists(st.tuples(st.floats(-300.0, 300.0), st.floats(0.0, 0.5)), max_size=3 * WINDOW)


@settings(max_examples=200, deadline=None)
@given(_STAMPS)
def test_median_and_minimum_are_numpys_over_the_window(samples: list[tuple[float, float]]) -> None:
    """The sorted window the model keeps gives np.median's offset (the mean of the middle two
    of an even count) and the smallest offset, after every sample, as old ones go out."""
    model = ClockModel()
    if not samples:
        assert model.offset_s == 0.0
    for k, (offset, delay) in enumerate(samples):
        receipt = 1.8e9 + k * 0.1 + delay
        model.add(receipt + offset, receipt)
        kept = np.fromiter(model.offsets, float)
        assert len(model.ordered) == len(kept) <= WINDOW
        assert model.offset_s == float(np.median(kept))
        assert model.min_offset_s == float(kept.min())
