"""Simulated ADS-B receiver: ``lla`` with ``ident.icao``/``callsign``, ``vel``, sigma from NACp,
one batch per airborne-position message (2 Hz per aircraft) as the ADS-B adapter does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

from cuas import geo, wire
from cuas.sensors.adsb.decode import FT, SIGMA_V_BARO_CORRECTED, horizontal_sigma
from cuas.sim.scenario import SensorSpec
from cuas.sim.sensing import F64, SimMessage, diag_r, per_target_messages

if TYPE_CHECKING:
    from cuas.sim.scenario import Scenario
    from cuas.sim.truth import ScenarioTruth

#: ADS-B velocity 1-sigma (m/s), NACv 2 (95 % within 3 m/s).
ADSB_VEL_SIGMA: Final = 3.0 / 1.96


@dataclass(frozen=True, kw_only=True, slots=True)
class AdsbSpec(SensorSpec):
    """An ADS-B receiver: ``rate_hz`` airborne-position messages per aircraft (2 Hz in the
    standard), each received with probability 1 - ``dropout``; NACp gives the sigma."""

    nacp: int = 9


def simulate(spec: AdsbSpec, sc: Scenario, truth: ScenarioTruth, site: geo.SiteFrame,
             rng: np.random.Generator) -> list[SimMessage]:
    """The receiver's messages (one per airborne-position message heard) over the run."""
    frame = site.sensor(spec.origin)
    members = [j for j, o in enumerate(truth.owner.tolist()) if sc.movers[o].adsb is not None]
    sh = horizontal_sigma(spec.nacp, None, 10.0)
    sv = SIGMA_V_BARO_CORRECTED
    sig_t = (sh, sh, sv)
    r_t = diag_r(sig_t)

    def make(j: int, _rng_m: float, pos: F64, vel: F64) -> wire.Detection:
        ident = sc.movers[int(truth.owner[j])].adsb
        assert ident is not None
        noisy = pos + rng.standard_normal(3) * np.array(sig_t)
        lat, lon, h = site.enu_to_lla(noisy[None, :])[0].tolist()
        v = vel + rng.standard_normal(3) * np.array([ADSB_VEL_SIGMA, ADSB_VEL_SIGMA, 0.5])
        alt_ft = round(h / FT / 25.0) * 25.0  # 25 ft quantisation of the altitude field
        return wire.Detection(
            frame="lla", z=(lat, lon, h), R=r_t, sigma=sig_t,
            vel=(float(v[0]), float(v[1]), float(v[2])),
            vel_sigma=(ADSB_VEL_SIGMA, ADSB_VEL_SIGMA, 1.0),
            ident=wire.Ident(icao=ident.icao, callsign=ident.callsign or None),
            attrs={"protocol": "adsb", "alt_ft": alt_ft, "alt_source": "baro+geo_minus_baro"})

    return per_target_messages(spec, sc, truth, frame, rng, members, make)


