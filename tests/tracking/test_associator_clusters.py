"""Conflict clusters of gated pairs (cuas.tracking.associator.clusters) against a plain
union-find over the same pairs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.tracking.associator import clusters


def union_find_groups(track: list[int], det: list[int], n_tracks: int) -> set[frozenset[int]]:
    parent = list(range(n_tracks + max(det, default=-1) + 1))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for t, d in zip(track, det, strict=True):
        parent[find(t)] = find(n_tracks + d)
    groups: dict[int, set[int]] = {}
    for k, t in enumerate(track):
        groups.setdefault(find(t), set()).add(k)
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.data())
def test_clusters_match_union_find(n_tracks: int, n_dets: int, data: st.DataObject) -> None:
    pairs = data.draw(st.sets(st.tuples(st.integers(0, n_tracks - 1), st.integers(0, n_dets - 1)),
                              max_size=30))
    track = np.array([p[0] for p in sorted(pairs)], dtype=np.int64)
    det = np.array([p[1] for p in sorted(pairs)], dtype=np.int64)
    label, t_local, d_local, nt, nd = clusters(track, det, n_tracks, n_dets)
    got: dict[int, set[int]] = {}
    for k, lab in enumerate(label.tolist()):
        got.setdefault(lab, set()).add(k)
    assert {frozenset(g) for g in got.values()} == union_find_groups(
        track.tolist(), det.tolist(), n_tracks)
    for lab, members in got.items():
        idx = np.array(sorted(members))
        tracks, dets = np.unique(track[idx]), np.unique(det[idx])
        assert nt[lab] == len(tracks) and nd[lab] == len(dets)
        # Local indices number the cluster's tracks (detections) 0.. in index order.
        assert np.array_equal(t_local[idx], np.searchsorted(tracks, track[idx]))
        assert np.array_equal(d_local[idx], np.searchsorted(dets, det[idx]))
