"""Global nearest neighbour association, solved per independent cluster.

The gated pairs form a bipartite graph between tracks and detections. Its connected
components are independent assignment problems. A component with a single pair is decided
without any solver (at a site with spread-out targets that is nearly all of them); only the
conflicting clusters go to scipy's ``linear_sum_assignment``, each on a small matrix augmented
with "track missed" and "detection unassigned" options so that leaving a pair out is allowed
when forcing it would cost more than the gate.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


def gnn_assign(track: I64, det: I64, cost: F64, miss_cost: F64, n_tracks: int, n_dets: int) -> I64:
    """Choose a one-to-one set of pairs minimising total cost.

    ``track``/``det``/``cost`` (K,) are the admissible pairs; ``miss_cost`` (K,) is, per pair,
    what leaving that pair's track unassigned costs (its gate). Returns the indices into the
    pair arrays of the chosen pairs.
    """
    k = len(track)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    # A pair whose track and detection appear in no other pair is decided already; only the
    # rest need a graph at all (at a site with spread-out targets, that is nearly none).
    t_deg = np.bincount(track, minlength=n_tracks)
    d_deg = np.bincount(det, minlength=n_dets)
    lone = (t_deg[track] == 1) & (d_deg[det] == 1)
    chosen = [np.flatnonzero(lone)]
    rest = np.flatnonzero(~lone)
    if len(rest):
        # Imported here: scipy.sparse.csgraph slows `import cuas.tracking` (~0.2 s).
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        # Nodes: tracks 0..n_tracks-1, detections n_tracks..n_tracks+n_dets-1.
        graph = coo_matrix(
            (np.ones(len(rest), dtype=np.int8), (track[rest], det[rest] + n_tracks)),
            shape=(n_tracks + n_dets, n_tracks + n_dets),
        )
        _, label = connected_components(graph, directed=False)
        comp = label[track[rest]]
        size = np.bincount(comp)[comp]
        # Two pairs in one component always share a track or a detection, so exactly one of
        # them can be kept, and the cheaper one is optimal (both are inside their gates).
        two = rest[size == 2]
        if len(two):
            order = np.argsort(comp[size == 2], kind="stable")
            first, second = two[order[0::2]], two[order[1::2]]
            chosen.append(np.where(cost[first] <= cost[second], first, second))
        multi = rest[size > 2]
        if len(multi):
            mcomp = comp[size > 2]
            order = np.argsort(mcomp, kind="stable")
            bounds = np.flatnonzero(np.diff(mcomp[order])) + 1
            for group in np.split(multi[order], bounds):
                chosen.append(_solve_cluster(group, track, det, cost, miss_cost))
    return np.sort(np.concatenate(chosen))


def _solve_cluster(group: I64, track: I64, det: I64, cost: F64, miss_cost: F64) -> I64:
    """Optimal assignment inside one cluster of conflicting pairs (indices into pair arrays)."""
    t_ids, t_local = np.unique(track[group], return_inverse=True)
    d_ids, d_local = np.unique(det[group], return_inverse=True)
    nt, nd = len(t_ids), len(d_ids)
    big = float(cost[group].max() + miss_cost[group].max()) * 4.0 + 1e6
    # [[pair costs, track-missed diagonal], [detection-unused diagonal, zeros]]
    matrix = np.full((nt + nd, nd + nt), big)
    matrix[t_local, d_local] = cost[group]
    track_miss = np.full(nt, 0.0)
    np.maximum.at(track_miss, t_local, miss_cost[group])
    matrix[np.arange(nt), nd + np.arange(nt)] = track_miss
    matrix[nt + np.arange(nd), np.arange(nd)] = 0.0
    matrix[nt:, nd:] = 0.0
    # Imported here: scipy.optimize alone doubles `import cuas.tracking` (~0.4 s).
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(matrix)
    real = (rows < nt) & (cols < nd)
    pair_of = np.full((nt, nd), -1, dtype=np.int64)
    pair_of[t_local, d_local] = group
    picked = pair_of[rows[real], cols[real]]
    return picked[picked >= 0]


def clusters(track: I64, det: I64, n_tracks: int,
             n_dets: int) -> tuple[I64, I64, I64, I64, I64]:
    """The conflict clusters of gated pairs ``track``/``det`` (K,): the connected components
    of the bipartite track–detection graph. Returns per pair its cluster label and the local
    indices of its track and its detection inside the cluster (0.., in index order), and per
    label the number of tracks and of detections the cluster holds (labels of tracks or
    detections without any pair count 0)."""
    from scipy.sparse import coo_matrix  # here: scipy.sparse slows `import cuas.tracking`
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(track), dtype=np.int8), (track, det + n_tracks)),
                       shape=(n_tracks + n_dets, n_tracks + n_dets))
    n_labels, node_label = connected_components(graph, directed=False)
    label = node_label[track].astype(np.int64)
    t_local = _local_rank(track, node_label[:n_tracks], n_tracks)
    d_local = _local_rank(det, node_label[n_tracks:], n_dets)
    used_t = np.unique(track)
    used_d = np.unique(det)
    nt = np.bincount(node_label[used_t], minlength=n_labels).astype(np.int64)
    nd = np.bincount(node_label[n_tracks + used_d], minlength=n_labels).astype(np.int64)
    return label, t_local[track], d_local[det], nt, nd


def _local_rank(members: I64, node_label: I64, n: int) -> I64:
    """Per node 0..n-1: its rank among the nodes of its cluster that appear in ``members``."""
    used = np.unique(members)
    order = used[np.argsort(node_label[used], kind="stable")]  # by cluster, then index
    lab = node_label[order]
    start = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    first = np.repeat(start, np.diff(np.r_[start, len(order)]))
    rank = np.full(n, -1, dtype=np.int64)
    rank[order] = np.arange(len(order)) - first
    return rank
