"""What the live daemon lets in: the checks a decoded ``detections`` message passes before it
is republished and queued for fusion, each refusal counted and logged (rate-limited).

* the topic must name the message's own sensor (a sender cannot pose as another);
* at most ``daemon.max_detections_per_message`` detections; ``attrs`` of at most
  ``daemon.max_attrs_bytes`` bytes each (larger ones are removed, the detection kept);
* the sensor's clock: live, a batch stamped more than the lateness window ahead of the wall
  clock is dropped (the fusion clock never runs ahead of it, whatever a batch says), and a
  sensor whose clock model runs away (:mod:`cuas.fusion.clock`) is quarantined;
* per-sensor health (last seen, sequence gaps) comes from detections only: a ``status``
  message cannot make a silent sensor look alive.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass

import msgpack

from cuas import wire
from cuas.config import Config
from cuas.fusion.clock import ClockModel, Clocks
from cuas.wire.arrays import ArrayDetections, n_detections

log = logging.getLogger("cuas.fusion.daemon")


class RateLimitedLog:
    """Logs each cause at most once per ``period_s``, saying how many were suppressed."""

    def __init__(self, logger: logging.Logger, period_s: float = 1.0) -> None:
        self.logger = logger
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def warning(self, cause: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(cause, -1e9) >= self.period_s:
            extra = self._suppressed.pop(cause, 0)
            suffix = f" (and {extra} more since the last report)" if extra else ""
            self.logger.warning(message + suffix, *args)
            self._last[cause] = now
        else:
            self._suppressed[cause] += 1


@dataclass
class SensorHealth:
    """What the daemon knows of one sensor's feed."""

    last_seen: float = 0.0  # wall clock, UTC s, of its last detections message
    last_seq: int | None = None
    received: int = 0
    seq_gaps: int = 0  # messages missing according to `seq`
    dropped: int = 0  # its batches refused here (clock, caps, topic)
    quarantined: bool = False
    clock_offset_s: float = 0.0
    #: Its clock model (drift computed only when asked: nothing asks per message).
    clock: ClockModel | None = None

    @property
    def clock_drift(self) -> float:
        """Its clock's drift against the wall clock (s/s)."""
        return self.clock.drift if self.clock is not None else 0.0


class Admission:
    """The daemon's gate for detections messages (one event loop: no locks).

    ``sensors`` (the health table) keeps at most ``tracker.max_sensors`` sensors, the least
    recently seen forgotten first. ``replay``: the stream keeps its own time, so its stamps
    are not held against the wall clock.
    """

    def __init__(self, config: Config, counters: Counter[str], sensors: dict[str, SensorHealth],
                 rlog: RateLimitedLog, *, replay: bool) -> None:
        self.config = config
        self.counters = counters
        self.sensors = sensors
        self.rlog = rlog
        self.replay = replay
        self.max_sensors = config.tracker.max_sensors
        self.clocks = Clocks(config.daemon.max_clock_offset_s, self.max_sensors)
        for name in ("dropped_topic_mismatch", "dropped_too_many_dets", "dropped_clock_ahead",
                     "dropped_quarantined", "attrs_removed", "sensors_quarantined"):
            counters[name] += 0

    def health(self, sensor: str) -> SensorHealth:
        """The sensor's health record (created, evicting the least recently seen if full)."""
        sensors = self.sensors
        health = sensors.get(sensor)
        if health is None:
            health = sensors[sensor] = SensorHealth()
            while len(sensors) > self.max_sensors:
                del sensors[next(iter(sensors))]
                self.counters["sensors_evicted"] += 1
        elif isinstance(sensors, collections.OrderedDict):
            sensors.move_to_end(sensor)
        else:  # a plain dict keeps insertion order: re-insert to mark it recent
            del sensors[sensor]
            sensors[sensor] = health
        return health

    def admit(self, topic: str, msg: wire.Detections, wall: float,
              size: int) -> wire.Detections | None:
        """``msg`` (``size`` bytes on the wire, received at ``wall``, UTC s) as it may go on
        (``attrs`` over the cap removed), or None if refused."""
        counters = self.counters
        if topic != f"det.{msg.sensor}":
            counters["dropped_topic_mismatch"] += 1
            self.rlog.warning("topic", "dropped a batch of sensor %r sent on topic %r",
                              msg.sensor[:64], topic[:64])
            return None
        health = self.health(msg.sensor)
        health.last_seen = wall
        health.received += 1
        if health.last_seq is not None and msg.seq > health.last_seq + 1:
            health.seq_gaps += msg.seq - health.last_seq - 1
            counters["seq_gaps"] += msg.seq - health.last_seq - 1
        health.last_seq = msg.seq
        n_dets = n_detections(msg)  # an array message builds no detection object for it
        if n_dets > self.config.daemon.max_detections_per_message:
            counters["dropped_too_many_dets"] += 1
            health.dropped += 1
            self.rlog.warning("dets", "dropped a batch of %d detections from %r (more than "
                              "daemon.max_detections_per_message = %d)", n_dets,
                              msg.sensor[:64], self.config.daemon.max_detections_per_message)
            return None
        if not self.replay and not self._clock_ok(msg, health, wall):
            return None
        # No detection's attrs can be larger than the whole message; a bare array message
        # has none.
        return (self._trim_attrs(msg) if size > self.config.daemon.max_attrs_bytes
                and not (isinstance(msg, ArrayDetections) and msg.bare) else msg)

    def _clock_ok(self, msg: wire.Detections, health: SensorHealth, wall: float) -> bool:
        model, change = self.clocks.observe(msg.sensor, msg.t, wall)
        health.clock_offset_s = model.offset_s
        health.clock = model
        health.quarantined = model.quarantined
        if change is True:
            self.counters["sensors_quarantined"] += 1
            self.rlog.warning("quarantine", "sensor %r quarantined: its clock runs %.1f s "
                              "ahead of the daemon's (bound daemon.max_clock_offset_s = %.1f "
                              "s); its batches are dropped until it recovers",
                              msg.sensor[:64], model.offset_s, self.clocks.bound_s)
        elif change is False:
            self.rlog.warning("readmit", "sensor %r re-admitted: its clock is %.2f s from the "
                              "daemon's", msg.sensor[:64], model.offset_s)
        if model.quarantined:
            self.counters["dropped_quarantined"] += 1
            health.dropped += 1
            return False
        ahead = msg.t - wall
        if ahead > self.config.tracker.lateness_s:
            self.counters["dropped_clock_ahead"] += 1
            health.dropped += 1
            self.rlog.warning("ahead", "dropped a batch of %r stamped %.1f s ahead of the "
                              "wall clock", msg.sensor[:64], ahead)
            return False
        return True

    def _trim_attrs(self, msg: wire.Detections) -> wire.Detections:
        """Remove ``attrs`` larger than ``daemon.max_attrs_bytes`` (encoded)."""
        cap = self.config.daemon.max_attrs_bytes
        attrs = msg.attrs_list() if isinstance(msg, ArrayDetections) else [
            d.attrs for d in msg.dets]
        over = [i for i, a in enumerate(attrs)
                if a and len(msgpack.packb(a, use_bin_type=True)) > cap]
        if not over:
            return msg
        self.counters["attrs_removed"] += len(over)
        self.rlog.warning("attrs", "removed attrs over %d bytes from %d detections of %r",
                          cap, len(over), msg.sensor[:64])
        if isinstance(msg, ArrayDetections):  # stays columns
            return ArrayDetections(msg, msg.arrays.without_attrs(over))
        dets = list(msg.dets)
        for i in over:
            dets[i] = dataclasses.replace(dets[i], attrs={})
        return dataclasses.replace(msg, dets=tuple(dets))
