"""Issue 21: caps on tracks, births, sensors and work per batch, memory given back, identity
merges without scanning the registry, snapshots within the contract's payload limit."""

from __future__ import annotations

import numpy as np

from cuas import wire
from cuas.config import Config, TrackerConfig
from cuas.fusion.engine import FusionEngine
from cuas.fusion.export import fit_snapshot
from cuas.fusion.identities import IdentityKeys
from cuas.tracking.state import TrackTable
from tests.tracking.helpers import T0, batch, enu_det


def _grid(n: int, spacing: float = 400.0, north: float = 0.0) -> list[wire.Detection]:
    """``n`` detections far apart (no two in one gate), metres ENU."""
    return [enu_det((spacing * (i % 100), north + spacing * (i // 100), 100.0))
            for i in range(n)]


def test_births_per_batch_and_live_tracks_are_capped_and_counted() -> None:
    """Finding: one message of 100,000 detections made 100,000 tentative tracks."""
    engine = FusionEngine(Config(tracker=TrackerConfig(max_births_per_batch=50, max_tracks=120)),
                          classify=False)
    engine.process(batch(T0, _grid(400)))
    assert engine.n_tracks == 50
    assert engine.counters["births_refused_cap"] == 350
    capped = FusionEngine(Config(tracker=TrackerConfig(max_births_per_batch=50, max_tracks=30)),
                          classify=False)
    capped.process(batch(T0, _grid(400)))
    assert capped.n_tracks == 30
    assert capped.counters["births_refused_cap"] == 370


def test_distinct_sensors_are_capped_least_recently_seen_evicted() -> None:
    """Finding: the per-track sources matrix had a column per sensor id ever seen."""
    engine = FusionEngine(Config(tracker=TrackerConfig(max_sensors=4)), classify=False)
    for i in range(50):
        engine.process(batch(T0 + i * 0.01, [enu_det((1000.0 + 400 * i, 0.0, 100.0))],
                             sensor=f"ghost-{i}"))
    assert engine.counters["sensors_evicted"] == 46
    assert len(engine._sensor_names) == 4
    assert engine.tracker.table.sources.shape[1] <= 8  # its initial width: never widened


def test_a_batch_over_the_work_bound_keeps_what_fits() -> None:
    engine = FusionEngine(Config(tracker=TrackerConfig(max_pairs_per_batch=1_000,
                                                       max_births_per_batch=1_000)),
                          classify=False)
    engine.process(batch(T0, _grid(100)))
    assert engine.n_tracks == 100
    engine.process(batch(T0 + 0.1, _grid(500, north=-20_000.0)))
    assert engine.counters["detections_dropped_work"] == 490


def test_memory_is_given_back_when_tracks_go() -> None:
    """Finding: RSS stayed at 1.2 GB after a flood's tracks were deleted."""
    table = TrackTable()
    n = 20_000
    table.append(np.arange(n, dtype=np.int64), np.zeros((n, 6)), np.zeros((n, 6, 6)), T0)
    big = table._cap
    keep = np.zeros(n, dtype=bool)
    keep[:10] = True
    table.keep(keep)
    assert table.n == 10 and table._cap <= 64 < big
    assert table.ids.tolist() == list(range(10))


def test_identity_merges_follow_links_instead_of_scanning_the_registry() -> None:
    """Finding: each merge scanned every key ever registered (2,500 merges after 100,000
    identities stalled the daemon for 20 s). Merges are links now; lookups follow them."""
    keys = IdentityKeys()
    for i in range(1000):
        keys.index_of(wire.Ident(rid=f"S{i}"))
    merged: list[tuple[int, int]] = []
    for i in range(0, 1000, 2):
        keys.index_of(wire.Ident(rid=f"S{i}", aliases=(f"S{i + 1}",)), merged)
    assert len(merged) == 500
    assert all(keys.get(f"S{i + 1}") == keys.get(f"S{i}") for i in range(0, 1000, 2))
    assert len(keys._parent) == 500  # one link per merge, no key rewritten
    # A chain of merges still resolves to one index.
    for i in range(0, 998, 2):
        keys.index_of(wire.Ident(rid=f"S{i}", aliases=(f"S{i + 2}",)))
    assert len({keys.get(f"S{i}") for i in range(1000)}) == 1


def test_identities_are_capped_least_recently_heard_evicted_families_whole() -> None:
    """Finding (soak): every identity ever heard kept a key, a row of reports and an index, so
    a sender inventing Remote IDs grew memory without end. Now the least recently heard
    identities that no live track holds are forgotten, a merged family at once, and their
    indices handed out again."""
    keys = IdentityKeys()
    first = [keys.index_of(wire.Ident(rid=f"S{i}")) for i in range(100)]
    assert first == list(range(100))
    merged: list[tuple[int, int]] = []
    keys.index_of(wire.Ident(rid="S0", aliases=("S1",)), merged)  # S0 and S1: one family
    assert merged == [(1, 0)]
    keys.index_of(wire.Ident(rid="S2"))  # heard again: now among the most recent
    held = np.array([5, -1, 7], dtype=np.int64)  # live tracks hold identities 5 and 7
    freed = keys.evict(50, held)
    assert keys.n_indices == 45  # down to 90 % of the cap
    assert 5 not in freed and 7 not in freed and 2 not in freed and 0 not in freed
    assert keys.get("rid:S5") == 5 and keys.get("rid:S7") == 7 and keys.get("rid:S2") == 2
    assert keys.get("rid:S0") == 0 and keys.get("rid:S1") == 0  # the family stayed whole
    assert keys.get("rid:S3") is None and "rid:S3" not in keys  # the oldest unheld ones went
    assert len(keys) == 45  # one key per index left: the family S0+S1 and 43 others
    # Forgotten indices name new identities; an index is never handed out twice.
    again = [keys.index_of(wire.Ident(rid=f"N{i}")) for i in range(len(freed))]
    assert sorted(again) == sorted(freed)
    assert keys.index_of(wire.Ident(rid="N-last")) == 100
    # Evicting the family of 0 frees both of its indices and all of its keys.
    survivors = [keys.get(f"rid:{k}") for k in ("S2", "S5", "S7")]
    fam = keys.evict(3, np.array(survivors, dtype=np.int64))
    assert 0 in fam and 1 in fam and keys.get("rid:S1") is None
    assert sorted(i for i in survivors if i is not None) == [2, 5, 7]


def test_an_identity_flood_keeps_memory_bounded_and_the_genuine_identity() -> None:
    """An engine fed 20,000 invented Remote IDs, each at its own place, beside one genuine
    drone keeps at most ``tracker.max_identities`` indices, counts the evictions, and never
    forgets the identity its live track holds."""
    cap = 5_000
    engine = FusionEngine(Config(tracker=TrackerConfig(max_identities=cap)), classify=False)
    genuine = wire.Ident(rid="GENUINE-1")
    t = T0
    for k in range(200):
        t = T0 + 0.5 * k
        engine.process(batch(t, [enu_det((100.0 + 5.0 * k, 200.0, 60.0), ident=genuine)],
                             sensor="rid-1", kind="remoteid"))
        ghosts = [enu_det((-3000.0 + 60.0 * j, -3000.0 + 60.0 * (k % 100), 80.0),
                          ident=wire.Ident(rid=f"G{k}-{j}")) for j in range(100)]
        engine.process(batch(t + 0.01, ghosts, sensor="rid-2", kind="remoteid"))
        assert engine.identities.index.n_indices <= cap
    assert engine.counters["identities_evicted"] >= 12_000
    assert engine.identities.reports.n <= cap + 100
    assert len(engine.identities.index) <= cap
    index = engine.identities.index.get("rid:GENUINE-1")
    assert index is not None and engine.identities.get(index) == genuine
    rows = engine.tracker.table.ident
    assert index in rows.tolist()  # its track still holds it


def test_a_recycled_identity_index_is_looked_up_afresh() -> None:
    """An index freed by eviction and given to a new identity must not inherit the old one's
    allow/deny verdict: the reports mark it changed for the classifier."""
    engine = FusionEngine(Config(tracker=TrackerConfig(max_identities=10)), classify=False)
    for i in range(30):
        # A minute apart: each one's tentative track is gone before the next arrives.
        engine.process(batch(T0 + 60.0 * i, [enu_det((100.0 * i, 0.0, 50.0),
                                                     ident=wire.Ident(rid=f"R{i}"))],
                             sensor="rid-1", kind="remoteid"))
    reports = engine.identities.reports
    recycled = engine.identities.index.get("rid:R29")
    assert recycled is not None and recycled < 10  # an index handed out again
    assert reports.value[recycled] == "R29"
    assert recycled in reports.changed


def _track(i: int, threat: str) -> wire.Track:
    return wire.Track(id=i, status="confirmed", lla=(51.5, -0.2, 100.0), enu=(1.0, 2.0, 3.0),
                      vel=(0.0, 0.0, 0.0), pos_sigma=(1.0, 1.0, 1.0), t_update=T0,
                      sources=("radar-1",), class_probs={"unknown": 1.0}, threat=threat,
                      reasons=("x" * 200,))


def test_oversized_snapshots_are_truncated_lowest_threats_first() -> None:
    """Finding: 100,000 tracks made 33-36 MB snapshots that every consumer dropped."""
    tracks = tuple(_track(i, "high" if i % 10 == 0 else "none") for i in range(1000))
    msg = wire.Tracks(src="cuas", seq=0, t=T0, tracks=tracks)
    full = len(wire.encode(msg))
    fitted, left_out = fit_snapshot(msg, limit=full // 4)
    assert fitted.truncated and left_out > 0
    assert len(wire.encode(fitted)) <= full // 4
    assert {tr.id for tr in fitted.tracks} >= {i for i in range(0, 1000, 10)}  # every high
    same, none = fit_snapshot(msg)
    assert same is msg and none == 0
