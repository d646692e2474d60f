"""The numeric core: a multi-target Kalman tracker batched over all tracks with numpy; arrays
in (:class:`~cuas.tracking.measurements.MeasurementBatch`), table rows out.

May import only ``cuas.config``, ``cuas.geo``, numpy and scipy (never wire, classify, sensors or
fusion). Stone Soup's vocabulary, one module per stage: :mod:`models` (motion and measurement
models as objects), :mod:`hypothesiser`, :mod:`associator`, :mod:`updater`, :mod:`initiator`,
:mod:`deleter`; :mod:`state` holds the struct-of-arrays track table, :mod:`reorder` puts
asynchronous sensors' batches in time order, and :mod:`tracker` runs the stages.
"""

from cuas.tracking.tracker import StepResult, Tracker

__all__ = ["StepResult", "Tracker"]
