"""Simulated Remote ID receiver: ``lla`` with ``ident.rid``/``operator_lla``, ``vel``,
``ua_type``/``status``/``transport``/``rssi_dbm``, one batch per location message (1 Hz per drone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

from cuas import geo, wire
from cuas.sim.scenario import SensorSpec
from cuas.sim.sensing import F64, SimMessage, diag_r, fspl_db, per_target_messages

if TYPE_CHECKING:
    from cuas.sim.scenario import Scenario
    from cuas.sim.truth import ScenarioTruth

#: Remote ID velocity 1-sigma (m/s): ASTM F3411 speed accuracy class.
RID_VEL_SIGMA: Final = 0.5


@dataclass(frozen=True, kw_only=True, slots=True)
class RemoteIdSpec(SensorSpec):
    """A Remote ID receiver (Bluetooth/Wi-Fi broadcast, location message at ``rate_hz``)."""

    sigma_h_m: float = 4.0
    sigma_v_m: float = 6.0


def simulate(spec: RemoteIdSpec, sc: Scenario, truth: ScenarioTruth, site: geo.SiteFrame,
             rng: np.random.Generator) -> list[SimMessage]:
    """The receiver's messages (one per location message heard) over the run."""
    frame = site.sensor(spec.origin)
    members = [j for j, o in enumerate(truth.owner.tolist()) if sc.movers[o].remoteid is not None]
    sig_t = (spec.sigma_h_m, spec.sigma_h_m, spec.sigma_v_m)
    r_t = diag_r(sig_t)

    def make(j: int, rng_m: float, pos: F64, vel: F64) -> wire.Detection:
        rid = sc.movers[int(truth.owner[j])].remoteid
        assert rid is not None
        claimed = pos + np.asarray(rid.offset_m) + rng.standard_normal(3) * np.array(sig_t)
        lat, lon, h = site.enu_to_lla(claimed[None, :])[0].tolist()
        op = site.enu_to_lla(np.asarray([rid.operator]))[0].tolist()
        v = vel + rng.standard_normal(3) * RID_VEL_SIGMA
        # Bluetooth at 2.4 GHz, 10 dBm: free-space loss plus 2 dB of fading.
        rssi = 10.0 - fspl_db(rng_m, 2.44e9) + float(rng.normal(0.0, 2.0))
        return wire.Detection(
            frame="lla", z=(lat, lon, h), R=r_t, sigma=sig_t,
            vel=(float(v[0]), float(v[1]), float(v[2])),
            vel_sigma=(RID_VEL_SIGMA, RID_VEL_SIGMA, RID_VEL_SIGMA),
            ident=wire.Ident(rid=rid.serial, operator_lla=(op[0], op[1], op[2])),
            attrs={"ua_type": rid.ua_type, "status": "airborne" if pos[2] > 2.0 else "ground",
                   "transport": rid.transport, "rssi_dbm": round(float(rssi), 1)})

    return per_target_messages(spec, sc, truth, frame, rng, members, make)


