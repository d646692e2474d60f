"""Simulated sensors: the spec every one has, and the toolkit each kind's model is built with.

A kind's model (``cuas/sensors/<kind>/sim.py``, named by its registry entry) turns a scenario's
truth into ``detections`` messages exactly as the real adapter publishes them (docs/wire.md).
Each sensor has its own clock (rate and a random phase), latency (receipt after measurement),
random message loss and outage windows. Times: run seconds ``t_rel``; messages carry UTC
``t = t0 + t_rel``. Positions are site ENU metres; angles degrees (azimuth true north,
clockwise). Every random draw comes from the sensor's own stream of the scenario seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import numpy as np
from numpy.typing import NDArray

from cuas import geo, wire
from cuas.sim.scenario import MoverSpec, Scenario, SensorSpec
from cuas.sim.truth import ScenarioTruth

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: Free-space path loss constant: FSPL(dB) = 20 log10(d m) + 20 log10(f Hz) - 147.55.
_FSPL_CONST_DB: Final = -147.55


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One simulated message: when the adapter had it (``recv_t`` UTC s, the recording's
    ``log_time``), the batch, and for each detection the truth id that caused it (None for a
    false alarm): what tests check geometry against, never on the wire."""

    recv_t: float
    batch: wire.Detections
    truth_ids: tuple[str | None, ...]


@dataclass
class Clock:
    """A sensor's look times (run s) with a random phase, and per-look receipt delays."""

    spec: SensorSpec
    rng: np.random.Generator
    duration_s: float

    def looks(self) -> F64:
        period = 1.0 / self.spec.rate_hz
        t = self.rng.uniform(0.0, period) + np.arange(0.0, self.duration_s, period)
        t = t[t < self.duration_s]
        return t[~self.spec.in_outage(t)]

    def delay(self) -> float:
        return receipt_delay(self.spec, self.rng)


def receipt_delay(spec: SensorSpec, rng: np.random.Generator) -> float:
    """Seconds from measurement to receipt: the mean latency give or take the jitter."""
    return spec.latency_s + float(rng.uniform(-spec.latency_jitter_s, spec.latency_jitter_s))


def diag_r(sig: tuple[float, ...]) -> tuple[float, ...]:
    """R as the wire reader rebuilds it from sigma (so decode(encode(b)) == b)."""
    n = len(sig)
    return tuple(sig[i] * sig[i] if i == j else 0.0 for i in range(n) for j in range(n))


def wrap180(a: F64) -> F64:
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


def azimuth_360(a: float) -> float:
    # Twice: a tiny negative azimuth mod 360 rounds to 360.0, which the reader would map to 0.
    return float((a % 360.0) % 360.0)


class MessageBuilder:
    """Collects one sensor's messages; ``seq`` is numbered in order of receipt, as the adapter
    numbers what it publishes."""

    def __init__(self, spec: SensorSpec, t0: float) -> None:
        self.spec = spec
        self.t0 = t0
        self._pending: list[tuple[float, float, tuple[wire.Detection, ...],
                                  tuple[str | None, ...], tuple[float, float, float] | None,
                                  bool]] = []

    def emit(self, t_rel: float, delay: float, dets: list[wire.Detection],
             ids: list[str | None], origin: tuple[float, float, float] | None = None,
             lost: bool = False) -> None:
        """One message; a message lost in transport still uses up its seq (a visible gap)."""
        t = self.t0 + t_rel
        self._pending.append((t + delay, t, tuple(dets), tuple(ids), origin, lost))

    def messages(self) -> list[SimMessage]:
        out = []
        for seq, (recv, t, dets, ids, origin, lost) in enumerate(
                sorted(self._pending, key=lambda p: p[0])):
            if not lost:
                batch = wire.Detections(src=self.spec.id, seq=seq, t=t, sensor=self.spec.id,
                                        kind=self.spec.kind, dets=dets, origin=origin)
                out.append(SimMessage(recv, batch, ids))
        return out


def mover_rcs_dbsm(m: MoverSpec) -> float:
    return m.rcs_dbsm if m.rcs_dbsm is not None else m.kind.rcs_dbsm


def mover_size_m(m: MoverSpec) -> float:
    return m.size_m if m.size_m is not None else m.kind.size_m


def fspl_db(d_m: float | F64, f_hz: float) -> Any:
    """Free-space path loss (dB) over ``d_m`` metres at ``f_hz``."""
    return 20.0 * np.log10(np.maximum(d_m, 1.0)) + 20.0 * math.log10(f_hz) + _FSPL_CONST_DB


def per_target_messages(spec: SensorSpec, sc: Scenario, truth: ScenarioTruth, frame: geo.SensorFrame,
                rng: np.random.Generator, members: list[int],
                make: Callable[[int, float, F64, F64], wire.Detection]) -> list[SimMessage]:
    """One message per target report (ADS-B, Remote ID): each target transmits at the
    sensor's rate with its own phase and +-10 % jitter; received when alive, within range,
    not in an outage and not lost."""
    b = MessageBuilder(spec, sc.t0)
    period = 1.0 / spec.rate_hz
    reports: list[tuple[float, int]] = []
    for j in members:
        n = int(sc.duration_s / period) + 2
        t = rng.uniform(0.0, period) + np.arange(n) * period + rng.uniform(-0.1, 0.1, n) * period
        t = np.sort(t[(t >= 0.0) & (t < sc.duration_s)])
        reports.extend((float(x), j) for x in t.tolist())
    reports.sort()
    if not reports:
        return b.messages()
    times = np.array([r[0] for r in reports])
    pos_all, vel_all, alive_all = truth.at(times)
    off = spec.in_outage(times)
    for k, (tr, j) in enumerate(reports):
        pos, vel = pos_all[k, j], vel_all[k, j]
        rng_m = float(np.linalg.norm(frame.site_to_local(pos[None, :])[0]))
        lost = rng.random() < spec.dropout  # drawn always: the stream must not depend on range
        if alive_all[k, j] and not off[k] and rng_m <= spec.max_range_m and not lost:
            b.emit(tr, receipt_delay(spec, rng), [make(j, rng_m, pos, vel)], [truth.ids[j]])
    return b.messages()


#: A kind's model: ``simulate(spec, scenario, truth, site, rng)``, that sensor's messages.
SensorModel: TypeAlias = Callable[["SensorSpec", "Scenario", "ScenarioTruth", geo.SiteFrame,
                                   np.random.Generator], list[SimMessage]]


def simulate_sensors(sc: Scenario, truth: ScenarioTruth, seed: int) -> list[SimMessage]:
    """Every sensor's messages, merged in order of receipt (``recv_t``), ties by sensor order;
    each sensor simulated by its kind's model (:mod:`cuas.sensors.registry`)."""
    from cuas.sensors import registry

    site = geo.SiteFrame(sc.config.site)
    streams = np.random.SeedSequence([seed, 2]).spawn(max(len(sc.sensors), 1))
    per_sensor: list[list[SimMessage]] = []
    for spec, ss in zip(sc.sensors, streams, strict=False):
        rng = np.random.default_rng(ss)
        ref = registry.get(spec.kind).sim_model
        if ref is None:
            raise ValueError(f"sensor kind {spec.kind!r} has no simulated model")
        model: SensorModel = registry.resolve(ref)
        per_sensor.append(model(spec, sc, truth, site, rng))
    merged = [(m.recv_t, i, n, m) for i, msgs in enumerate(per_sensor)
              for n, m in enumerate(msgs)]
    merged.sort(key=lambda x: (x[0], x[1], x[2]))
    return [m for *_, m in merged]


def iter_batches(messages: list[SimMessage]) -> Iterator[wire.Detections]:
    """The wire batches in order of receipt."""
    return (m.batch for m in messages)
