"""Hand-made scenarios at the Wembley reference site for the classifier's end-to-end tests:
wire batches from a 1 Hz radar on the roof, a Remote ID receiver, ADS-B and an RF detector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cuas import wire
from tests.classify.helpers import T0, enu_batch, rf_batch


@dataclass(frozen=True)
class Scenario:
    name: str
    batches: tuple[wire.Detections, ...]
    truth: np.ndarray  # (K, 3) the target's ENU position at each second
    hostile: bool


def _fly(name: str, path: np.ndarray, *, hostile: bool, rid: str | None = None,
         icao: str | None = None, rf: bool = False, seed: int = 0) -> Scenario:
    """One target along ``path`` (K, 3), one position a second: radar plots with 3 m noise,
    plus its Remote ID or ADS-B reports, plus an RF link heard every second while it flies."""
    rng = np.random.default_rng(seed)
    batches: list[wire.Detections] = []
    seq = {"radar": 0, "rid": 0, "adsb": 0, "rf": 0}
    for k, p in enumerate(path):
        t = T0 + k
        z = p + rng.normal(0.0, 3.0, 3)
        batches.append(enu_batch("radar", t, [tuple(z)], seq=seq["radar"]))
        seq["radar"] += 1
        vel = tuple(path[min(k + 1, len(path) - 1)] - path[max(k - 1, 0)]) if len(path) > 1 \
            else (0.0, 0.0, 0.0)
        if rid is not None:
            batches.append(enu_batch("rid", t + 0.2, [tuple(p)], seq=seq["rid"],
                                     kind="remoteid", sigma=5.0, idents=[{"rid": rid}]))
            seq["rid"] += 1
        if icao is not None:
            batches.append(enu_batch("adsb", t + 0.4, [tuple(p)], seq=seq["adsb"], kind="adsb",
                                     sigma=15.0, idents=[{"icao": icao}],
                                     vels=[tuple(float(v) / 2 for v in vel)]))
            seq["adsb"] += 1
        if rf:
            batches.append(rf_batch(t + 0.6, seq=seq["rf"]))
            seq["rf"] += 1
    return Scenario(name, tuple(batches), path, hostile)


def line(start: tuple[float, float, float], vel: tuple[float, float, float], n: int) -> np.ndarray:
    return np.asarray(start) + np.arange(n)[:, None] * np.asarray(vel)


def hostile_with_rf() -> Scenario:
    """No Remote ID, an 868 MHz FHSS link: from 1.2 km east straight into the bowl at 12 m/s,
    then hovering over the pitch."""
    run = line((1200.0, 30.0, 60.0), (-12.0, 0.0, 0.0), 100)
    hover = np.repeat(run[-1:], 30, axis=0)
    return _fly("hostile drone, RF link, no Remote ID", np.vstack([run, hover]), hostile=True,
                rf=True, seed=1)


def hostile_with_rid() -> Scenario:
    """Broadcasting Remote ID (not on any list), from the north-east down Olympic Way."""
    return _fly("hostile drone with Remote ID", line((40.0, 900.0, 50.0), (0.0, -8.0, 0.0), 110),
                hostile=True, rid="1581F5UNKNOWN77", seed=2)


def venue_drone() -> Scenario:
    """The venue's own drone (allow-listed Remote ID), with its control link on, over the bowl."""
    path = np.vstack([line((0.0, 0.0, 5.0), (0.0, 0.0, 3.0), 15),
                      np.repeat([[0.0, 0.0, 47.0]], 60, axis=0)])
    return _fly("venue drone (allow list)", path, hostile=False, rid="1581F5VENUE0001", rf=True,
                seed=3)


def police_helicopter() -> Scenario:
    """Allow-listed ICAO, orbiting over the stadium at 300 m."""
    a = np.radians(np.arange(120) * 3.0)
    path = np.column_stack([400 * np.cos(a), 400 * np.sin(a), np.full(len(a), 300.0)])
    return _fly("police helicopter (ADS-B, allow list)", path, hostile=False, icao="43c0f1",
                seed=4)


def light_aircraft() -> Scenario:
    """Not on any list: ADS-B, 50 m/s at 450 m, straight over the stadium."""
    return _fly("light aircraft (ADS-B)", line((-2500.0, 100.0, 450.0), (50.0, 0.0, 0.0), 100),
                hostile=False, icao="406b90", seed=5)


def gull() -> Scenario:
    """A bird weaving across the bowl at 10-14 m/s, 40 m up, no link, no identity."""
    k = np.arange(90)
    heading = np.radians(250 + 35 * np.sin(k / 3.0))
    speed = 12 + 2 * np.sin(k / 2.0)
    step = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), np.zeros(len(k))])
    path = np.asarray([600.0, 300.0, 40.0]) + np.cumsum(step, axis=0)
    return _fly("gull", path, hostile=False, seed=6)


ALL = (hostile_with_rf, hostile_with_rid, venue_drone, police_helicopter, light_aircraft, gull)
