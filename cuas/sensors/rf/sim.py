"""Simulated RF scanner: frame ``none`` with ``freq_hz``, ``bw_hz``, ``duration_s``, ``snr_db``,
``rssi_dbm``, ``protocol``, ``confidence`` for each control link heard, one batch per sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cuas import geo, wire
from cuas.sim.scenario import SensorSpec
from cuas.sim.sensing import Clock, MessageBuilder, SimMessage, fspl_db

if TYPE_CHECKING:
    from cuas.sim.scenario import Scenario
    from cuas.sim.truth import ScenarioTruth


@dataclass(frozen=True, kw_only=True, slots=True)
class RfSpec(SensorSpec):
    """An RF scanner: one sweep every 1 / ``rate_hz`` s reporting each active control link
    whose received power (free-space loss from the link's EIRP) is above ``sensitivity_dbm``."""

    sensitivity_dbm: float = -95.0
    noise_floor_dbm: float = -105.0


def simulate(spec: RfSpec, sc: Scenario, truth: ScenarioTruth, site: geo.SiteFrame,
             rng: np.random.Generator) -> list[SimMessage]:
    """The scanner's messages (one per sweep) over the scenario run."""
    frame = site.sensor(spec.origin)
    b = MessageBuilder(spec, sc.t0)
    clock = Clock(spec, rng, sc.duration_s)
    members = [j for j, o in enumerate(truth.owner.tolist()) if sc.movers[o].rf is not None]
    looks = clock.looks()
    if not len(looks):
        return b.messages()
    pos_all, _, alive_all = truth.at(looks)
    for k, tr in enumerate(looks.tolist()):
        dets: list[wire.Detection] = []
        ids: list[str | None] = []
        for j in members:
            link = sc.movers[int(truth.owner[j])].rf
            assert link is not None
            d = float(np.linalg.norm(frame.site_to_local(pos_all[k, j][None, :])[0]))
            fade = float(rng.normal(0.0, 3.0))
            if not (alive_all[k, j] and link.on_s <= tr < link.off_s and d <= spec.max_range_m):
                continue
            rssi = link.eirp_dbm - float(fspl_db(d, link.freq_hz)) + fade
            if rssi < spec.sensitivity_dbm:
                continue
            snr = rssi - spec.noise_floor_dbm
            dets.append(wire.Detection(frame="none", z=(), attrs={
                "freq_hz": float(link.freq_hz), "bw_hz": float(link.bw_hz),
                "duration_s": float(link.burst_s), "snr_db": round(snr, 1),
                "rssi_dbm": round(rssi, 1), "protocol": link.protocol,
                "confidence": round(float(np.clip(0.5 + snr / 40.0, 0.0, 0.99)), 2)}))
            ids.append(truth.ids[j])
        b.emit(tr, clock.delay(), dets, ids, lost=bool(rng.random() < spec.dropout))
    return b.messages()


