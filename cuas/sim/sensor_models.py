"""Simulated sensors: a scenario's truth turned into ``detections`` messages exactly as the real
adapters publish them (docs/wire.md).

- radar: ``rae`` from the radar's origin, one batch per look, range-dependent Pd (radar
  equation, Swerling 1), Poisson false alarms and fixed ground-clutter returns, ``snr_db``;
- camera: ``ae`` from the camera's origin, one batch per frame, only targets inside the field
  of view and big enough in pixels; angle sigma from the centroid's pixel noise; ``bbox``,
  ``area_px``, ``contrast``; occasional false blobs;
- adsb: ``lla`` with ``ident.icao``/``callsign``, ``vel``, sigma from NACp, one batch per
  airborne-position message (2 Hz per aircraft) as the ADS-B adapter does;
- remoteid: ``lla`` with ``ident.rid``/``operator_lla``, ``vel``, ``ua_type``/``status``/
  ``transport``/``rssi_dbm``, one batch per location message (1 Hz per drone);
- rf: frame ``none`` with ``freq_hz``, ``bw_hz``, ``duration_s``, ``snr_db``, ``rssi_dbm``,
  ``protocol``, ``confidence`` for each control link heard, one batch per sweep.

Each sensor has its own clock (rate and a random phase), latency (receipt after measurement),
random message loss and outage windows. Times: run seconds ``t_rel``; messages carry UTC
``t = t0 + t_rel``. Positions are site ENU metres; angles degrees (azimuth true north,
clockwise). Every random draw comes from the sensor's own stream of the scenario seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from cuas import geo, wire
from cuas.sensors.adsb.decode import FT, SIGMA_V_BARO_CORRECTED, horizontal_sigma
from cuas.sim.scenario import (
    AdsbSpec,
    CameraSpec,
    MoverSpec,
    RadarSpec,
    RemoteIdSpec,
    RfSpec,
    Scenario,
    ScenarioTruth,
    SensorSpec,
)

F64 = NDArray[np.float64]

#: Free-space path loss constant: FSPL(dB) = 20 log10(d m) + 20 log10(f Hz) - 147.55.
_FSPL_CONST_DB: Final = -147.55
#: Remote ID velocity 1-sigma (m/s): ASTM F3411 speed accuracy class.
RID_VEL_SIGMA: Final = 0.5
#: ADS-B velocity 1-sigma (m/s), NACv 2 (95 % within 3 m/s).
ADSB_VEL_SIGMA: Final = 3.0 / 1.96


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One simulated message: when the adapter had it (``recv_t`` UTC s, the recording's
    ``log_time``), the batch, and for each detection the truth id that caused it (None for a
    false alarm): what tests check geometry against, never on the wire."""

    recv_t: float
    batch: wire.Detections
    truth_ids: tuple[str | None, ...]


@dataclass
class _Clock:
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
        return _delay(self.spec, self.rng)


def _delay(spec: SensorSpec, rng: np.random.Generator) -> float:
    """Seconds from measurement to receipt: the mean latency give or take the jitter."""
    return spec.latency_s + float(rng.uniform(-spec.latency_jitter_s, spec.latency_jitter_s))


def _diag_r(sig: tuple[float, ...]) -> tuple[float, ...]:
    """R as the wire reader rebuilds it from sigma (so decode(encode(b)) == b)."""
    n = len(sig)
    return tuple(sig[i] * sig[i] if i == j else 0.0 for i in range(n) for j in range(n))


def _wrap180(a: F64) -> F64:
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


def _az(a: float) -> float:
    # Twice: a tiny negative azimuth mod 360 rounds to 360.0, which the reader would map to 0.
    return float((a % 360.0) % 360.0)


class _Builder:
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


def _rcs(m: MoverSpec) -> float:
    return m.rcs_dbsm if m.rcs_dbsm is not None else m.kind.rcs_dbsm


def _size(m: MoverSpec) -> float:
    return m.size_m if m.size_m is not None else m.kind.size_m


# --------------------------------------------------------------------------- radar


def radar_pd(snr_db: F64, pfa: float) -> F64:
    """Swerling-1 probability of detection at signal-to-noise ``snr_db`` (dB) and false-alarm
    probability ``pfa``: Pfa ** (1 / (1 + SNR))."""
    snr = 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)
    return np.asarray(pfa ** (1.0 / (1.0 + snr)), dtype=np.float64)


def _radar(spec: RadarSpec, sc: Scenario, truth: ScenarioTruth, frame: geo.SensorFrame,
           rng: np.random.Generator) -> list[SimMessage]:
    b = _Builder(spec, sc.t0)
    clock = _Clock(spec, rng, sc.duration_s)
    rcs = np.array([_rcs(sc.movers[o]) for o in truth.owner.tolist()])
    sigma = np.asarray(spec.sigma)
    sig_t = tuple(float(s) for s in spec.sigma)
    r_t = _diag_r(sig_t)
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
            dets.append(wire.Detection(frame="rae", z=(r, _az(a), e), R=r_t, sigma=sig_t,
                                       attrs={"snr_db": round(float(snr_m[i]), 1)}))
            out_ids.append(ids[i])
        b.emit(tr, clock.delay(), dets, out_ids, origin=spec.origin,
               lost=bool(rng.random() < spec.dropout))
    return b.messages()


# --------------------------------------------------------------------------- camera


def camera_deg_per_px(spec: CameraSpec) -> float:
    """Angular size of one pixel (deg)."""
    return spec.hfov_deg / spec.width_px


def _camera(spec: CameraSpec, sc: Scenario, truth: ScenarioTruth, frame: geo.SensorFrame,
            rng: np.random.Generator) -> list[SimMessage]:
    b = _Builder(spec, sc.t0)
    clock = _Clock(spec, rng, sc.duration_s)
    dpp = camera_deg_per_px(spec)
    sig = spec.pixel_sigma * dpp
    sig_t = (sig, sig)
    r_t = _diag_r(sig_t)
    size = np.array([_size(sc.movers[o]) for o in truth.owner.tolist()])
    w_px, h_px = float(spec.width_px), float(spec.height_px)
    looks = clock.looks()
    pos_all, _, alive_all = truth.at(looks)

    def blob(x: float, y: float, s: float, contrast: float) -> tuple[tuple[float, float], dict[str, Any]]:
        """(az, el) of the pixel (x, y) and the adapter's attrs for a blob s px across."""
        az = spec.azimuth_deg + (x - w_px / 2.0) * dpp
        el = spec.elevation_deg - (y - h_px / 2.0) * dpp
        bw, bh = max(s, 1.0), max(0.6 * s, 1.0)
        attrs = {"bbox": [round(x - bw / 2, 1), round(y - bh / 2, 1), round(bw, 1), round(bh, 1)],
                 "area_px": round(bw * bh, 1), "contrast": round(contrast, 3)}
        return (_az(az), el), attrs

    for k, tr in enumerate(looks.tolist()):
        rae = geo.local_to_rae(frame.site_to_local(pos_all[k]))
        daz = _wrap180(rae[:, 1] - spec.azimuth_deg)
        dele = rae[:, 2] - spec.elevation_deg
        size_px = np.degrees(size / np.maximum(rae[:, 0], 1.0)) / dpp
        seen = (alive_all[k] & (np.abs(daz) <= spec.hfov_deg / 2) & (np.abs(dele) <= spec.vfov_deg / 2)
                & (rae[:, 0] <= spec.max_range_m) & (size_px >= spec.min_size_px)
                & (rng.random(len(rae)) < spec.pd))
        dets: list[wire.Detection] = []
        ids: list[str | None] = []
        for i in np.flatnonzero(seen).tolist():
            # Centroid noise in pixels; a blob stays on the image.
            x = float(np.clip(w_px / 2 + daz[i] / dpp + rng.normal(0.0, spec.pixel_sigma), 0.0, w_px))
            y = float(np.clip(h_px / 2 - dele[i] / dpp + rng.normal(0.0, spec.pixel_sigma), 0.0, h_px))
            z, attrs = blob(x, y, float(size_px[i]), float(rng.uniform(0.2, 0.6)))
            dets.append(wire.Detection(frame="ae", z=z, R=r_t, sigma=sig_t, attrs=attrs))
            ids.append(truth.ids[i])
        for _ in range(int(rng.poisson(spec.false_blobs))):
            z, attrs = blob(float(rng.uniform(0, w_px)), float(rng.uniform(0, h_px)),
                            float(rng.uniform(spec.min_size_px, 3 * spec.min_size_px)),
                            float(rng.uniform(0.05, 0.2)))
            dets.append(wire.Detection(frame="ae", z=z, R=r_t, sigma=sig_t, attrs=attrs))
            ids.append(None)
        b.emit(tr, clock.delay(), dets, ids, origin=spec.origin,
               lost=bool(rng.random() < spec.dropout))
    return b.messages()


# --------------------------------------------------------------------------- cooperative


def _per_target(spec: SensorSpec, sc: Scenario, truth: ScenarioTruth, frame: geo.SensorFrame,
                rng: np.random.Generator, members: list[int],
                make: Callable[[int, float, F64, F64], wire.Detection]) -> list[SimMessage]:
    """One message per target report (ADS-B, Remote ID): each target transmits at the
    sensor's rate with its own phase and +-10 % jitter; received when alive, within range,
    not in an outage and not lost."""
    b = _Builder(spec, sc.t0)
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
            b.emit(tr, _delay(spec, rng), [make(j, rng_m, pos, vel)], [truth.ids[j]])
    return b.messages()


def _adsb(spec: AdsbSpec, sc: Scenario, truth: ScenarioTruth, frame: geo.SensorFrame,
          site: geo.SiteFrame, rng: np.random.Generator) -> list[SimMessage]:
    members = [j for j, o in enumerate(truth.owner.tolist()) if sc.movers[o].adsb is not None]
    sh = horizontal_sigma(spec.nacp, None, 10.0)
    sv = SIGMA_V_BARO_CORRECTED
    sig_t = (sh, sh, sv)
    r_t = _diag_r(sig_t)

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

    return _per_target(spec, sc, truth, frame, rng, members, make)


def _remoteid(spec: RemoteIdSpec, sc: Scenario, truth: ScenarioTruth, frame: geo.SensorFrame,
              site: geo.SiteFrame, rng: np.random.Generator) -> list[SimMessage]:
    members = [j for j, o in enumerate(truth.owner.tolist()) if sc.movers[o].remoteid is not None]
    sig_t = (spec.sigma_h_m, spec.sigma_h_m, spec.sigma_v_m)
    r_t = _diag_r(sig_t)

    def make(j: int, rng_m: float, pos: F64, vel: F64) -> wire.Detection:
        rid = sc.movers[int(truth.owner[j])].remoteid
        assert rid is not None
        claimed = pos + np.asarray(rid.offset_m) + rng.standard_normal(3) * np.array(sig_t)
        lat, lon, h = site.enu_to_lla(claimed[None, :])[0].tolist()
        op = site.enu_to_lla(np.asarray([rid.operator]))[0].tolist()
        v = vel + rng.standard_normal(3) * RID_VEL_SIGMA
        # Bluetooth at 2.4 GHz, 10 dBm: free-space loss plus 2 dB of fading.
        rssi = 10.0 - _fspl_db(rng_m, 2.44e9) + float(rng.normal(0.0, 2.0))
        return wire.Detection(
            frame="lla", z=(lat, lon, h), R=r_t, sigma=sig_t,
            vel=(float(v[0]), float(v[1]), float(v[2])),
            vel_sigma=(RID_VEL_SIGMA, RID_VEL_SIGMA, RID_VEL_SIGMA),
            ident=wire.Ident(rid=rid.serial, operator_lla=(op[0], op[1], op[2])),
            attrs={"ua_type": rid.ua_type, "status": "airborne" if pos[2] > 2.0 else "ground",
                   "transport": rid.transport, "rssi_dbm": round(float(rssi), 1)})

    return _per_target(spec, sc, truth, frame, rng, members, make)


# --------------------------------------------------------------------------- RF


def _fspl_db(d_m: float | F64, f_hz: float) -> Any:
    """Free-space path loss (dB) over ``d_m`` metres at ``f_hz``."""
    return 20.0 * np.log10(np.maximum(d_m, 1.0)) + 20.0 * math.log10(f_hz) + _FSPL_CONST_DB


def _rf(spec: RfSpec, sc: Scenario, truth: ScenarioTruth, frame: geo.SensorFrame,
        rng: np.random.Generator) -> list[SimMessage]:
    b = _Builder(spec, sc.t0)
    clock = _Clock(spec, rng, sc.duration_s)
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
            rssi = link.eirp_dbm - float(_fspl_db(d, link.freq_hz)) + fade
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


# --------------------------------------------------------------------------- all sensors


def simulate_sensors(sc: Scenario, truth: ScenarioTruth, seed: int) -> list[SimMessage]:
    """Every sensor's messages, merged in order of receipt (``recv_t``), ties by sensor order."""
    site = geo.SiteFrame(sc.config.site)
    streams = np.random.SeedSequence([seed, 2]).spawn(max(len(sc.sensors), 1))
    per_sensor: list[list[SimMessage]] = []
    for spec, ss in zip(sc.sensors, streams, strict=False):
        rng = np.random.default_rng(ss)
        frame = site.sensor(spec.origin)
        if isinstance(spec, RadarSpec):
            per_sensor.append(_radar(spec, sc, truth, frame, rng))
        elif isinstance(spec, CameraSpec):
            per_sensor.append(_camera(spec, sc, truth, frame, rng))
        elif isinstance(spec, AdsbSpec):
            per_sensor.append(_adsb(spec, sc, truth, frame, site, rng))
        elif isinstance(spec, RemoteIdSpec):
            per_sensor.append(_remoteid(spec, sc, truth, frame, site, rng))
        elif isinstance(spec, RfSpec):
            per_sensor.append(_rf(spec, sc, truth, frame, rng))
    merged = [(m.recv_t, i, n, m) for i, msgs in enumerate(per_sensor)
              for n, m in enumerate(msgs)]
    merged.sort(key=lambda x: (x[0], x[1], x[2]))
    return [m for *_, m in merged]


def iter_batches(messages: list[SimMessage]) -> Iterator[wire.Detections]:
    """The wire batches in order of receipt."""
    return (m.batch for m in messages)
