"""Offline replay: a recording through the fusion engine, as fast as possible.

Deterministic: the same recording and configuration always give the same tracks file. One
``tracks`` snapshot is written per processed ``detections`` message, in time order, its ``t``
equal to that message's ``t``.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cuas import wire
from cuas.classify import AlertEvent
from cuas.config import Config, reference_config
from cuas.errors import DecodeError
from cuas.fusion.engine import FusionEngine
from cuas.record.recording import RecordingReader, iter_messages
from cuas.tracking import StepResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    """What a replay read, used, dropped and wrote."""

    records: int
    snapshots: int
    torn: bool
    counters: dict[str, int] = field(default_factory=dict)


def replay_detections(path: str | os.PathLike[str],
                      counters: Counter[str]) -> Iterator[wire.Detections]:
    """Yield every valid ``detections`` message of a recording, in file order.

    Malformed payloads are logged and counted (``dropped_malformed``), other message types
    counted (``ignored_other``); a torn tail ends the iteration quietly (the reader records it).
    """
    reader = RecordingReader(path)
    for record, msg in iter_messages(reader):
        counters["records"] += 1
        if isinstance(msg, DecodeError):
            counters["dropped_malformed"] += 1
            log.warning("%s: dropped a malformed message on %s: %s", path, record.topic, msg)
            continue
        if not isinstance(msg, wire.Detections):
            counters["ignored_other"] += 1
            continue
        if record.topic != f"det.{msg.sensor}":
            counters["topic_mismatch"] += 1
        yield msg
    counters["torn"] = int(reader.torn)
    counters["skipped_records"] += reader.skipped


def replay_offline(path: str | os.PathLike[str], out: IO[str], config: Config | None = None,
                   on_snapshot: Callable[[wire.Tracks], None] | None = None,
                   on_alert: Callable[[AlertEvent, float], None] | None = None) -> ReplaySummary:
    """Run a recording's detections through the tracker and write tracks JSON Lines to ``out``.

    ``config`` defaults to the reference site. ``on_snapshot`` (optional) sees each snapshot;
    ``on_alert`` (optional) each alert the classifier raised with it, and the snapshot's time.
    Classification is part of the engine's snapshot, so it is as deterministic as the tracks.
    """
    counters: Counter[str] = Counter()
    seq = 0
    # One encoder for every line (json.dumps with options builds one per call); the maps come
    # straight from the snapshot's columns, byte for byte what the per-track objects gave.
    dump = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode

    def write(batch: wire.Detections, result: StepResult) -> None:
        nonlocal seq
        if not result.accepted:
            return
        t, cols = engine.snapshot_columns(batch.t)
        src = engine.config.daemon_id
        out.write(dump(cols.message_dict(src, seq, t)))
        out.write("\n")
        if on_snapshot is not None:
            on_snapshot(cols.to_message(src, seq, t))
        seq += 1
        for event in engine.take_alerts():
            counters["alerts"] += 1
            if on_alert is not None:
                on_alert(event, batch.t)

    engine = FusionEngine(config if config is not None else reference_config(), on_fused=write)
    for batch in replay_detections(path, counters):
        engine.push(batch)
    engine.flush()
    counters.update(engine.buffer.counters)
    counters.update(engine.counters)
    torn = bool(counters.pop("torn", 0))
    return ReplaySummary(records=counters.get("records", 0), snapshots=seq, torn=torn,
                         counters=dict(counters))


def replay_offline_to_file(path: str | os.PathLike[str], tracks_out: str | os.PathLike[str],
                           config: Config | None = None) -> ReplaySummary:
    """:func:`replay_offline` writing to a file (created or truncated)."""
    Path(tracks_out).parent.mkdir(parents=True, exist_ok=True)
    with open(tracks_out, "w", encoding="utf-8") as fh:
        return replay_offline(path, fh, config)
