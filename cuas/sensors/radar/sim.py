"""Simulated radar: ``rae`` plots from the radar's origin, one batch per look, range-dependent Pd
(radar equation, Swerling 1), Poisson false alarms and fixed ground-clutter returns, ``snr_db``,
and, where the scenario states the radar's own classifier (a micro-Doppler label), class
``evidence`` drawn from its confusion matrix for the target's range band.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cuas import geo, wire
from cuas.errors import ConfigError
from cuas.sim.scenario import SensorSpec
from cuas.sim.sensing import (
    F64,
    Clock,
    MessageBuilder,
    SimMessage,
    azimuth_360,
    diag_r,
    mover_rcs_dbsm,
)
from cuas.vocabulary import CLASSES

CLUTTER = CLASSES.index("clutter")

if TYPE_CHECKING:
    from cuas.sim.scenario import Scenario
    from cuas.sim.truth import ScenarioTruth


@dataclass(frozen=True, kw_only=True, slots=True)
class RadarSpec(SensorSpec):
    """A staring 3-D radar reporting range/azimuth/elevation once per look. Probability of
    detection from the radar equation with Swerling-1 fluctuation: SNR (dB) = ``snr_1km_db``
    + RCS (dBsm) - 40 log10(range / 1 km); Pd = pfa ** (1 / (1 + SNR)). ``sigma`` m, deg, deg;
    ``false_alarms`` mean Poisson number per look spread over the coverage; ``clutter_points``
    fixed ground-clutter returns (detected with ``clutter_pd``) below ``clutter_max_range_m``."""

    snr_1km_db: float = 45.0
    pfa: float = 1e-6
    sigma: tuple[float, float, float] = (5.0, 0.4, 0.8)
    min_elevation_deg: float = -2.0
    max_elevation_deg: float = 70.0
    min_range_m: float = 50.0
    false_alarms: float = 3.0
    clutter_points: int = 0
    clutter_pd: float = 0.4
    clutter_max_range_m: float = 2_000.0
    #: The radar's own classifier: upper range limits (m) of its bands, and per band a
    #: confusion matrix P(label | class), rows truth class and columns label, both in
    #: CLASSES order (uav, bird, manned, clutter). Beyond the last band (and with no bands)
    #: the radar sends no label. ``label_confidence``: the confidence it declares.
    label_ranges_m: tuple[float, ...] = ()
    label_confusion: tuple[tuple[tuple[float, float, float, float], ...], ...] = ()
    label_confidence: float = 0.7

    def __post_init__(self) -> None:
        SensorSpec.__post_init__(self)
        key = f"sensors.{self.id}"
        if len(self.label_confusion) != len(self.label_ranges_m) or any(
                b <= a for a, b in zip(self.label_ranges_m, self.label_ranges_m[1:],
                                       strict=False)):
            raise ConfigError("need one confusion matrix per ascending range band",
                              key=f"{key}.label_confusion")
        for m in self.label_confusion:
            if len(m) != 4 or any(min(r) < 0 or abs(sum(r) - 1.0) > 1e-6 for r in m):
                raise ConfigError("each matrix: 4 rows of 4 probabilities summing to 1",
                                  key=f"{key}.label_confusion")
        if not 0.0 < self.label_confidence <= 1.0:
            raise ConfigError("must lie in (0, 1]", key=f"{key}.label_confidence")


#: The radar's labels, in CLASSES order.
RADAR_LABELS = ("drone", "bird", "aircraft", "clutter")


def label_evidence(spec: RadarSpec, rng: np.random.Generator, cls: int,
                   range_m: float) -> wire.ClassEvidence | None:
    """A micro-Doppler label for a target of truth class ``cls`` (index into CLASSES) at
    ``range_m``: drawn from its band's confusion matrix; its likelihood is that matrix's
    column for the label (what the radar's maker states), None beyond the last band."""
    band = int(np.searchsorted(np.asarray(spec.label_ranges_m), range_m))
    if band >= len(spec.label_ranges_m):
        return None
    m = np.asarray(spec.label_confusion[band])
    label = int(rng.choice(4, p=m[cls] / m[cls].sum()))
    return wire.ClassEvidence(likelihood=dict(zip(CLASSES, m[:, label].tolist(), strict=True)),
                              confidence=spec.label_confidence, label=RADAR_LABELS[label],
                              basis="micro-doppler")


def radar_pd(snr_db: F64, pfa: float) -> F64:
    """Swerling-1 probability of detection at signal-to-noise ``snr_db`` (dB) and false-alarm
    probability ``pfa``: Pfa ** (1 / (1 + SNR))."""
    snr = 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)
    return np.asarray(pfa ** (1.0 / (1.0 + snr)), dtype=np.float64)


def simulate(spec: RadarSpec, sc: Scenario, truth: ScenarioTruth, site: geo.SiteFrame,
             rng: np.random.Generator) -> list[SimMessage]:
    """The radar's messages (one per look) over the scenario run."""
    frame = site.sensor(spec.origin)
    b = MessageBuilder(spec, sc.t0)
    clock = Clock(spec, rng, sc.duration_s)
    rcs = np.array([mover_rcs_dbsm(sc.movers[o]) for o in truth.owner.tolist()])
    # Truth class index per target (false alarms and ground clutter are `clutter`).
    cls = [CLASSES.index(sc.movers[o].kind.object_class) for o in truth.owner.tolist()]
    labels = bool(spec.label_ranges_m)
    sigma = np.asarray(spec.sigma)
    sig_t = tuple(float(s) for s in spec.sigma)
    r_t = diag_r(sig_t)
    top_el = min(spec.max_elevation_deg, 10.0)
    n_clutter = spec.clutter_points
    clutter = np.column_stack([
        rng.uniform(max(spec.min_range_m, 200.0), min(spec.clutter_max_range_m, spec.max_range_m),
                    n_clutter),
        rng.uniform(0.0, 360.0, n_clutter),
        rng.uniform(spec.min_elevation_deg, min(spec.min_elevation_deg + 2.0, top_el), n_clutter)])
    looks = clock.looks()
    pos_all, _, alive_all = truth.at(looks)
    for k, tr in enumerate(looks.tolist()):
        rae = geo.local_to_rae(frame.site_to_local(pos_all[k]))
        snr = spec.snr_1km_db + rcs - 40.0 * np.log10(np.maximum(rae[:, 0], 1.0) / 1000.0)
        cover = (alive_all[k] & (rae[:, 0] >= spec.min_range_m) & (rae[:, 0] <= spec.max_range_m)
                 & (rae[:, 2] >= spec.min_elevation_deg) & (rae[:, 2] <= spec.max_elevation_deg))
        hit = cover & (rng.random(len(rae)) < radar_pd(snr, spec.pfa))
        idx = np.flatnonzero(hit)
        z = rae[idx] + rng.standard_normal((len(idx), 3)) * sigma
        snr_m = snr[idx] + rng.standard_normal(len(idx))
        ids: list[str | None] = [truth.ids[i] for i in idx.tolist()]
        owner = idx.tolist()
        # Fixed clutter (buildings, masts, trees) and thermal-noise false alarms.
        seen = rng.random(n_clutter) < spec.clutter_pd
        zc = clutter[seen] + rng.standard_normal((int(seen.sum()), 3)) * sigma
        nf = int(rng.poisson(spec.false_alarms))
        zf = np.column_stack([rng.uniform(spec.min_range_m, spec.max_range_m, nf),
                              rng.uniform(0.0, 360.0, nf),
                              rng.uniform(spec.min_elevation_deg, top_el, nf)])
        z = np.vstack([z, zc, zf])
        snr_m = np.concatenate([snr_m, 14.0 + rng.exponential(3.0, len(zc)),
                                13.0 + rng.exponential(1.0, nf)])
        ids += [None] * (len(zc) + nf)
        owner += [-1] * (len(zc) + nf)
        # The radar reports only inside its instrumented volume.
        keep = ((z[:, 0] >= spec.min_range_m) & (z[:, 0] <= spec.max_range_m)
                & (z[:, 2] >= spec.min_elevation_deg) & (z[:, 2] <= spec.max_elevation_deg))
        order = rng.permutation(len(z))
        dets: list[wire.Detection] = []
        out_ids: list[str | None] = []
        for i in order.tolist():
            if not keep[i]:
                continue
            r, a, e = z[i].tolist()
            ev = label_evidence(spec, rng, cls[owner[i]] if owner[i] >= 0 else CLUTTER, r) \
                if labels else None  # no draw without labels: old scenarios' streams hold
            dets.append(wire.Detection(frame="rae", z=(r, azimuth_360(a), e), R=r_t, sigma=sig_t,
                                       attrs={"snr_db": round(float(snr_m[i]), 1)}, evidence=ev))
            out_ids.append(ids[i])
        b.emit(tr, clock.delay(), dets, out_ids, origin=spec.origin,
               lost=bool(rng.random() < spec.dropout))
    return b.messages()


