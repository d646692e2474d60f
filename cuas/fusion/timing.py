"""Where the live daemon's time goes, stage by stage, reported in its ``status`` heartbeats.

Each stage keeps the durations (or ages) seen since the last heartbeat; the heartbeat turns
them into integer counters ``stage.<name>.n``, ``.p50_us``, ``.p99_us`` and ``.max_us`` and
starts afresh, so a console or a benchmark reads what the daemon did in the last second
without a profiler. Stages (seconds, wall clock or monotonic as each says):

* ``receive``: one message from the socket to the queue (decode, validation, admission,
  the recorder's copy);
* ``age_received`` (live only; a replay's stamps are of the past): a batch's age when the daemon had it (receive wall time minus ``t``: the
  network, the sender's clock and the socket's own queue);
* ``hold``: a batch from the receiver's queue to the tracker (the queue and the reorder
  window);
* ``step``: the fusion engine on one batch (measurements, tracker step, identities);
* ``age_fused`` (live only): a batch's age when the tracker had taken it (wall clock minus ``t``);
* ``snapshot``: building and encoding one ``tracks`` snapshot (prediction, classification,
  export);
* ``publish``: handing a message to the publisher socket;
* ``gc``: a collection of the garbage collector's oldest generation (the loop stops for it:
  140 ms over the 135,000 objects the tracker's imports leave, before the daemon froze them
  at start-up, see :func:`cuas.fusion.daemon.settle_heap`).
"""

from __future__ import annotations

import collections
from typing import Final

import numpy as np

#: The stages, in pipeline order.
STAGES: Final = ("receive", "age_received", "hold", "step", "age_fused", "snapshot", "publish",
                  "gc")
#: Samples kept per stage between heartbeats (the oldest go first: a flood must not grow it).
MAX_SAMPLES: Final = 8192


class StageTimes:
    """Durations per stage since the last :meth:`report` (seconds in, microseconds out)."""

    def __init__(self) -> None:
        self._samples: dict[str, collections.deque[float]] = {
            name: collections.deque(maxlen=MAX_SAMPLES) for name in STAGES}
        self._counts: collections.Counter[str] = collections.Counter()

    def add(self, stage: str, seconds: float) -> None:
        """One sample of ``stage`` (s; a negative one, an age against a sender's clock that
        runs ahead, counts as 0: the contract's counters are never negative)."""
        self._samples[stage].append(max(seconds, 0.0))
        self._counts[stage] += 1

    def report(self) -> dict[str, int]:
        """``stage.<name>.{n,p50_us,p99_us,max_us}`` over the samples since the last report
        (``n`` counts them all, the percentiles the last :data:`MAX_SAMPLES`), then forget them."""
        out: dict[str, int] = {}
        for name in STAGES:
            samples = self._samples[name]
            out[f"stage.{name}.n"] = self._counts[name]
            if samples:
                us = np.asarray(samples) * 1e6
                p50, p99 = np.percentile(us, (50.0, 99.0))
                out[f"stage.{name}.p50_us"] = round(float(p50))
                out[f"stage.{name}.p99_us"] = round(float(p99))
                out[f"stage.{name}.max_us"] = round(float(us.max()))
            samples.clear()
        self._counts.clear()
        return out
