"""The numeric core: a multi-target Kalman tracker batched over all tracks with numpy.

Stone Soup's vocabulary, one module per stage: :mod:`models` (transition and measurement
models: the predictor's maths), :mod:`hypothesiser`, :mod:`associator`, :mod:`updater`,
:mod:`initiator`, :mod:`deleter`; :mod:`state` holds the struct-of-arrays track table,
:mod:`reorder` puts asynchronous sensors' batches in time order, and :mod:`tracker` runs it all.
"""

from cuas.tracking.tracker import StepResult, Tracker

__all__ = ["StepResult", "Tracker"]
