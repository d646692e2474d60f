"""From the tracker's rows to the wire contract: ``tracks`` and ``alert`` messages.

Snapshots are built as columns (:class:`cuas.wire.columns.TrackColumns`) straight from the
track arrays; the daemon encodes them without a per-track object. The per-track path this
replaced is kept in tests/fusion/export_oracle.py, which the columnar one must match byte for
byte.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cuas import wire
from cuas.classify import AlertEvent, Classification
from cuas.fusion.identities import IdentityRegistry
from cuas.geo import SiteFrame
from cuas.tracking.state import TrackRows
from cuas.wire.columns import TrackColumns, encode_track_columns


def track_columns(rows: TrackRows, site: SiteFrame, sensor_names: Sequence[str],
                  identities: IdentityRegistry, cls: Classification | None = None,
                  modes: bool = False) -> TrackColumns:
    """Contract track columns for a block of rows (states already predicted to the output
    time, site ENU metres), with the classifier's results when there are any. ``sensor_names``
    names the rows' sensor columns; ``modes``: carry the rows' motion-mode probabilities
    (rounded to 4 decimals)."""
    if not len(rows.ids):
        return TrackColumns.empty()
    x, P = rows.x, rows.P
    n_cols = rows.sources.shape[1]
    names = tuple(list(sensor_names[:n_cols]) + [""] * (n_cols - len(sensor_names)))
    idents: dict[int, wire.Ident] = {}
    for k in np.flatnonzero(rows.ident >= 0).tolist():
        ident = identities.get(int(rows.ident[k]))
        if ident is not None:
            idents[k] = ident
    return TrackColumns(
        ids=rows.ids, status=rows.status, lla=site.enu_to_lla(x[:, :3]), enu=x[:, :3],
        vel=x[:, 3:6],
        pos_sigma=np.sqrt(np.maximum(np.diagonal(P[:, :3, :3], axis1=1, axis2=2), 0.0)),
        t_update=rows.t_update, sources=rows.sources, source_names=names,
        probs=None if cls is None else cls.probs,
        level=None if cls is None else cls.level,
        malicious=None if cls is None else cls.malicious,
        reasons=None if cls is None else cls.reasons,
        idents=idents,
        modes=np.round(rows.mode_prob, 4) if modes else None)


def alert_message(event: AlertEvent, src: str, seq: int, t: float) -> wire.Alert:
    """The ``alert`` message of one classifier event, stamped ``t`` (UTC s)."""
    return wire.Alert(src=src, seq=seq, t=t, track_id=event.track_id, threat=event.threat,
                      previous=event.previous, reasons=event.reasons, zone=event.zone,
                      id=f"{src}:{event.id}" if event.id is not None else None)


def fit_columns(cols: TrackColumns, src: str, seq: int, t: float,
                limit: int = wire.MAX_PAYLOAD_BYTES) -> tuple[bytes, int]:
    """The msgpack payload of the ``tracks`` message of ``cols`` if it is within ``limit``
    bytes, else that of as many of its tracks as fit, the highest threats kept (then the most
    recently updated), with ``truncated`` set; returns it and how many tracks were left out.
    Every consumer drops a payload over the contract's limit, so an oversized snapshot would
    blind them all."""
    payload = encode_track_columns(cols, src, seq, t)
    size, n = len(payload), len(cols)
    if size <= limit or not n:
        return payload, 0
    # Highest threat first, then latest update; ties keep their order (a stable sort).
    order = np.lexsort((-cols.t_update, -cols.threat_rank()))
    keep = n
    while size > limit and keep:
        # Tracks are of similar size: aim 5 % under the limit, then shave if still over.
        keep = min(keep - 1, int(keep * 0.95 * limit / size))
        kept = order[:max(keep, 0)]
        kept = kept[np.argsort(cols.ids[kept], kind="stable")]
        payload = encode_track_columns(cols.take(kept), src, seq, t, truncated=True)
        size = len(payload)
    return payload, n - keep
