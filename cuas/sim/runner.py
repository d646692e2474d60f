"""Running a scenario file: its truth, every sensor's messages, and writing the recording and
truth files that ``cuas replay`` and ``cuas eval`` read (``cuas sim SCENARIO``)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cuas.errors import SimParamError
from cuas.sim.scenario import GRID_DT_S, Scenario
from cuas.sim.sensing import SimMessage, simulate_sensors
from cuas.sim.truth import ScenarioTruth, compute_truth, zone_entry_times


@dataclass(frozen=True, eq=False)
class ScenarioRun:
    """A scenario file simulated with a seed: the truth on its grid, every sensor's messages in
    order of receipt, and each threat's first entry into a zone of the site (UTC s)."""

    scenario: Scenario
    seed: int
    truth: ScenarioTruth
    messages: tuple[SimMessage, ...]
    zone_entry_t: Mapping[str, float]

    @property
    def n_detections(self) -> int:
        return sum(len(m.batch.dets) for m in self.messages)

    @property
    def n_false(self) -> int:
        """Detections no mover caused (false alarms, clutter, false blobs)."""
        return sum(1 for m in self.messages for i in m.truth_ids if i is None)


def simulate_scenario(scenario: Scenario, seed: int) -> ScenarioRun:
    """Run a scenario file: truth, then every sensor's detections; deterministic in the seed."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SimParamError("seed", f"must be an integer >= 0, got {seed!r}")
    truth = compute_truth(scenario, seed)
    messages = simulate_sensors(scenario, truth, seed)
    entry = {oid: scenario.t0 + t for oid, t in
             zone_entry_times(scenario, truth).items()}
    return ScenarioRun(scenario, seed, truth, tuple(messages), entry)


def first_detections(run: ScenarioRun) -> dict[str, float]:
    """Each mover's first detection (measurement time, UTC s) by any sensor that measures a
    position or a bearing (an RF link heard fixes nothing): when a tracker could first see it."""
    first: dict[str, float] = {}
    for m in run.messages:
        for det, oid in zip(m.batch.dets, m.truth_ids, strict=True):
            if oid is not None and det.frame != "none" and m.batch.t < first.get(oid, math.inf):
                first[oid] = m.batch.t
    return first


def write_scenario_truth(run: ScenarioRun, path: str | Path) -> None:
    """The truth file (docs/truth-format.md) at the scenario's truth rate: every mover's ENU
    position (m, rounded to cm) and velocity (m/s); the header gives class, threat, type and,
    when the mover enters a zone of the site, ``entry_t`` (UTC s), and when a sensor first
    detected it, ``detected_t`` (UTC s; :func:`first_detections`)."""
    from cuas.eval import truth as truth_file

    sc, tr = run.scenario, run.truth
    site = sc.config.site
    detected = first_detections(run)
    header = truth_file.TruthHeader(
        site=truth_file.Site(lat=site.lat, lon=site.lon, h=site.h),
        objects={oid: truth_file.ObjectInfo(
            object_class=cls, threat=bool(th),
            extra={"type": typ, **({"entry_t": run.zone_entry_t[oid]}
                                    if oid in run.zone_entry_t else {}),
                   **({"detected_t": detected[oid]} if oid in detected else {})})
            for oid, cls, th, typ in zip(tr.ids, tr.classes, tr.threat.tolist(), tr.types,
                                          strict=True)},
    )
    stride = max(1, round(1.0 / (sc.truth_rate_hz * GRID_DT_S)))

    def samples() -> Iterator[truth_file.TruthSample]:
        for k in range(0, len(tr.t), stride):
            idx = np.flatnonzero(tr.alive[k])
            yield truth_file.TruthSample(
                t=sc.t0 + float(tr.t[k]), ids=tuple(tr.ids[i] for i in idx.tolist()),
                enu=np.round(tr.enu[k, idx], 2), vel=np.round(tr.vel[k, idx], 2))

    truth_file.write_truth(path, header, samples())


def write_scenario(run: ScenarioRun, out_path: str | Path, truth_path: str | Path) -> None:
    """Write the recording (MCAP with each message's receipt time as ``log_time``, or JSON
    Lines for ``.jsonl``) and the truth file."""
    from cuas.record import writer as recording_writer
    from cuas.record.recording import t_to_ns
    from cuas.record.site import METADATA_NAME, site_metadata

    with recording_writer.open_writer(out_path) as writer:
        site = site_metadata(run.scenario.config)
        if site is not None and isinstance(writer, recording_writer.RecordingWriter):
            writer.add_metadata(METADATA_NAME, site)  # the site travels with the data
        for m in run.messages:
            writer.write_message(m.batch, log_time_ns=t_to_ns(m.recv_t))
    write_scenario_truth(run, truth_path)
