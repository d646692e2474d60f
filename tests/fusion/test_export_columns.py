"""The columnar snapshot path against the per-track one it replaced (tests/fusion/export_oracle.py),
on the bundled recording (identities, classification, deleted tracks) and on truncation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from cuas import wire
from cuas.fusion.engine import FusionEngine
from cuas.fusion.export import fit_columns, track_columns
from cuas.fusion.offline import replay_detections
from cuas.wire.columns import encode_track_columns
from tests.fusion.export_oracle import export_tracks, fit_snapshot

BUNDLED = Path(__file__).resolve().parents[2] / "recordings" / "wembley-demo.mcap"


def _oracle(engine: FusionEngine, t: float, seq: int) -> tuple[wire.Tracks, bytes]:
    """The snapshot as the per-track path made it, and the columnar payload, of one state."""
    rows = engine.tracker.snapshot(t)
    cls = engine._classify(t, rows) if len(rows) else None
    old = wire.Tracks(src="cuas", seq=seq, t=t, tracks=tuple(export_tracks(
        rows, engine.site, engine._sensor_names, engine.identities, cls)) if len(rows) else ())
    cols = (track_columns(rows, engine.site, engine._sensor_names, engine.identities, cls)
            if len(rows) else None)
    new = encode_track_columns(cols, "cuas", seq, t) if cols is not None else wire.encode(
        wire.Tracks(src="cuas", seq=seq, t=t, tracks=()))
    if cols is not None:
        assert cols.to_message("cuas", seq, t) == old
    return old, new


def test_bundled_recording_snapshots_are_byte_identical() -> None:
    engine = FusionEngine()
    checked = Counter[str]()
    batches = list(replay_detections(BUNDLED, Counter()))
    for i, batch in enumerate(batches):
        engine.push(batch)
        if i % 7:  # every 7th batch: the whole recording, in bounded time
            continue
        # One classification, given to both paths (a second would move the alert state).
        t = engine.time if engine.time is not None else batch.t
        old, new = _oracle(engine, t, i)
        assert new == wire.encode(old), f"batch {i}"
        checked["snapshots"] += 1
        checked["tracks"] += len(old.tracks)
        checked["idents"] += sum(tr.ident is not None for tr in old.tracks)
        checked["threats"] += sum(tr.threat != "none" for tr in old.tracks)
    assert checked["snapshots"] > 100 and checked["tracks"] > 1000
    assert checked["idents"] > 0 and checked["threats"] > 0  # the rare fields were exercised


def test_truncation_keeps_what_the_object_path_kept() -> None:
    rng = np.random.default_rng(3)
    n = 800
    from cuas.wire.columns import TrackColumns

    cols = TrackColumns(
        ids=np.arange(1, n + 1, dtype=np.int64), status=np.ones(n, dtype=np.int8),
        lla=np.tile([51.5, -0.2, 100.0], (n, 1)), enu=rng.normal(0, 1e3, (n, 3)),
        vel=rng.normal(0, 10, (n, 3)), pos_sigma=np.abs(rng.normal(3, 1, (n, 3))),
        t_update=1.7e9 + rng.integers(0, 5, n).astype(np.float64),  # ties on purpose
        sources=rng.random((n, 3)) < 0.5, source_names=("radar-1", "camera-2", "adsb"),
        probs=np.full((n, 4), 0.25), level=rng.integers(0, len(wire.THREAT_LEVELS), n),
        malicious=rng.random(n) < 0.1, reasons=tuple(("x" * 150,) for _ in range(n)))
    msg = cols.to_message("cuas", 5, 1.7e9 + 5)
    full = len(wire.encode(msg))
    for limit in (full // 4, full // 2, full - 1, full):
        payload, left = fit_columns(cols, "cuas", 5, 1.7e9 + 5, limit=limit)
        fitted, left_old = fit_snapshot(msg, limit=limit)
        assert payload == wire.encode(fitted) and left == left_old
        assert len(payload) <= limit
