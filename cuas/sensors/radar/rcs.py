"""Radar cross-section from a plot's ``snr_db`` and range, and the class evidence it carries.

The radar equation for a given radar and waveform: SNR (dB) = C + RCS (dBsm) - 40 log10(R / 1 km),
where C (``snr_1km_db``, declared in ``[sensors.<id>.radar]``) is the SNR of a 1 m² target at
1 km. So RCS = SNR - C + 40 log10(R / 1 km).

What an RCS says about the class, from published measurements (dBsm; a normal in dB per class
over the targets of that class, widened by the look-to-look fluctuation below):

- **Small drones** (uav): mean -15, spread 5. Five consumer and professional drones at 24 GHz
  (Phantom 3, Bebop, 3DR Solo, Mavic Pro, Matrice 600): mean RCS -19.1 to -8.1 dBsm depending
  on size, shape and polarisation (IEICE Communications Express 9(7):262-267, 2020, "RCS
  patterns of five types of drones", doi:10.1587/comex.2020XBL0018); X band: "on the order of
  0.01 m²" (-20 dBsm) for small drones (Di Vincenzo et al., "Exploring the Dynamic RCS of Small
  Drones Using FMCW Radar", 2025, DJI Matrice 300 and Mavic 2 at 9.55 GHz).
- **Birds**: mean -25, spread 6. A bird is 0.001 to 0.01 m² (-30 to -20 dBsm) at microwave
  frequencies (Encyclopaedia Britannica, "Radar: target size"; Vaughn, "Birds and insects as
  radar targets: a review", Proc. IEEE 73(2):205-227, 1985); large sea birds reach higher
  (Torvik, Olsen and Griffiths, "X-band measurements of radar signatures of large sea birds",
  Radar 2014), hence the wide spread; bird RCS is close to log-normal (Pollon, "Distributions of
  radar angels", IEEE TAES 8(6):721-727, 1972, doi:10.1109/TAES.1972.309602).
- **Manned aircraft**: mean +5, spread 6. Air-traffic-control radars must see 2 m² (+3 dBsm),
  "since some small general-aviation aircraft can be of this value"; airliners 10 to 100 m²
  (+10 to +20 dBsm) (Britannica, ibid.).
- **Clutter** (noise false alarms, buildings, masts): no RCS signature; flat over -60..+60 dBsm.

One look fluctuates about the target's mean: Swerling 1 (exponential power) has a standard
deviation of 5.6 dB in dB, added in quadrature. Drones and birds overlap heavily: the RCS alone
cannot tell a gull from a quadcopter, and the evidence here is weak by design.

Imports wire only.
"""

from __future__ import annotations

import math
from typing import Any

from cuas import wire
from cuas.vocabulary import CLASSES

#: Per class (CLASSES order): mean and spread (dB) of a target's mean RCS, dBsm; clutter: None
#: (flat over CLUTTER_SPAN).
RCS_DBSM: tuple[tuple[float, float] | None, ...] = ((-15.0, 5.0), (-25.0, 6.0), (5.0, 6.0), None)
CLUTTER_SPAN = (-60.0, 60.0)
#: Look-to-look fluctuation (dB, standard deviation of 10 log10 of an exponential variable).
FLUCTUATION_DB = 5.57
#: One plot's confidence by default. A track's looks are not independent draws of its class (a
#: gull's mean RCS is the same gull's every look: the spread between targets does not average
#: out), so one look counts a twentieth: over the ~40 looks of the evidence half-life at 1 Hz,
#: the RCS then says about what one well-averaged estimate says, not forty times that.
LOOK_CONFIDENCE = 0.05
#: What an estimate is called by the class it fits best (a few labels: the reasons summarise
#: looks per label).
SIZE_LABELS = ("drone-sized RCS", "bird-sized RCS", "aircraft-sized RCS", "RCS")
#: Plausible bounds: an estimate outside them is a calibration or report error, not evidence.
RCS_MIN_DBSM, RCS_MAX_DBSM = -60.0, 60.0


def rcs_dbsm(snr_db: Any, range_m: Any, snr_1km_db: float) -> float | None:
    """RCS estimate (dBsm) of a plot with ``snr_db`` (dB) at ``range_m`` (m) from a radar whose
    constant is ``snr_1km_db``; None when either value is absent, not a number, or the result
    is implausible."""
    if isinstance(snr_db, bool) or isinstance(range_m, bool) or not isinstance(
            snr_db, int | float) or not isinstance(range_m, int | float):
        return None
    snr, r = float(snr_db), float(range_m)
    if not (math.isfinite(snr) and math.isfinite(r) and r > 0.0 and math.isfinite(snr_1km_db)):
        return None
    range_km = r / 1000.0
    if range_km <= 0.0:  # a subnormal range underflows to 0 km: no estimate, not a domain error
        return None
    rcs = snr - snr_1km_db + 40.0 * math.log10(range_km)
    return rcs if RCS_MIN_DBSM <= rcs <= RCS_MAX_DBSM else None


def rcs_likelihood(rcs: float) -> tuple[float, float, float, float]:
    """P(this RCS look | class) over CLASSES, scaled so that the largest is 1."""
    dens = []
    for spec in RCS_DBSM:
        if spec is None:
            lo, hi = CLUTTER_SPAN
            dens.append(1.0 / (hi - lo) if lo <= rcs <= hi else 1e-6)
            continue
        mean, spread = spec
        sd = math.hypot(spread, FLUCTUATION_DB)
        dens.append(math.exp(-0.5 * ((rcs - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)))
    top = max(dens)
    return (dens[0] / top, dens[1] / top, dens[2] / top, dens[3] / top)


def rcs_evidence(snr_db: Any, range_m: Any, snr_1km_db: float,
                 confidence: float = LOOK_CONFIDENCE) -> wire.ClassEvidence | None:
    """Class evidence (basis ``rcs``; label the size class the estimate fits best, e.g.
    ``"drone-sized RCS"``) of one plot, or None when no estimate can be made (see
    :func:`rcs_dbsm`)."""
    rcs = rcs_dbsm(snr_db, range_m, snr_1km_db)
    if rcs is None:
        return None
    lik = rcs_likelihood(rcs)
    return wire.ClassEvidence(likelihood=dict(zip(CLASSES, lik, strict=True)),
                              confidence=confidence, label=SIZE_LABELS[lik.index(1.0)],
                              basis="rcs")
