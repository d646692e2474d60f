"""From the tracker's rows to the wire contract: ``tracks`` and ``alert`` messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from cuas import wire
from cuas.classify import AlertEvent, Classification
from cuas.fusion.identities import IdentityRegistry
from cuas.geo import SiteFrame
from cuas.tracking.state import TrackRows
from cuas.vocabulary import MOTION_MODES, TRACK_STATUSES


def export_tracks(rows: TrackRows, site: SiteFrame, sensor_names: Sequence[str],
                  identities: IdentityRegistry,
                  cls: Classification | None = None) -> list[wire.Track]:
    """Contract tracks for a block of rows (states already predicted to the output time, site
    ENU metres), with the classifier's results when there are any. ``sensor_names`` names the
    rows' sensor columns."""
    if not len(rows.ids):
        return []
    x, P = rows.x, rows.P
    lla = site.enu_to_lla(x[:, :3])
    sig = np.sqrt(np.maximum(np.diagonal(P[:, :3, :3], axis1=1, axis2=2), 0.0))
    n_cols = rows.sources.shape[1]
    names = np.asarray(list(sensor_names[:n_cols]) + [""] * (n_cols - len(sensor_names)))
    out: list[wire.Track] = []
    ids = rows.ids.tolist()
    t_upd = rows.t_update.tolist()
    idents = rows.ident.tolist()
    src = rows.sources
    x_l, lla_l, sig_l, st = x.tolist(), lla.tolist(), sig.tolist(), rows.status.tolist()
    # The IMM's motion-mode probabilities, rounded: three floats per track on every snapshot.
    modes_l = np.round(rows.mode_prob, 4).tolist()
    if cls is not None:
        probs = cls.probs.tolist()
        levels = [wire.THREAT_LEVELS[v] for v in cls.level.tolist()]
        malicious = cls.malicious.tolist()
        reasons = cls.reasons
    for k in range(len(ids)):
        ident = identities.get(idents[k])
        if cls is not None:
            extra = {"class_probs": dict(zip(wire.CLASSES, probs[k], strict=True)),
                     "threat": levels[k], "malicious": malicious[k], "reasons": reasons[k]}
        else:
            extra = {"class_probs": wire.NEUTRAL_CLASS}
        out.append(wire.Track(
            id=ids[k],
            status=TRACK_STATUSES[st[k]],
            lla=(lla_l[k][0], lla_l[k][1], lla_l[k][2]),
            enu=(x_l[k][0], x_l[k][1], x_l[k][2]),
            vel=(x_l[k][3], x_l[k][4], x_l[k][5]),
            pos_sigma=(sig_l[k][0], sig_l[k][1], sig_l[k][2]),
            t_update=t_upd[k],
            sources=tuple(names[src[k]].tolist()),
            ident=ident,
            modes=dict(zip(MOTION_MODES, modes_l[k], strict=True)),
            **extra,
        ))
    return out


def alert_message(event: AlertEvent, src: str, seq: int, t: float) -> wire.Alert:
    """The ``alert`` message of one classifier event, stamped ``t`` (UTC s)."""
    return wire.Alert(src=src, seq=seq, t=t, track_id=event.track_id, threat=event.threat,
                      previous=event.previous, reasons=event.reasons, zone=event.zone,
                      id=f"{src}:{event.id}" if event.id is not None else None)


def fit_snapshot(msg: wire.Tracks, limit: int = wire.MAX_PAYLOAD_BYTES) -> tuple[wire.Tracks, int]:
    """``msg`` if it encodes within ``limit`` bytes, else a copy holding as many of its tracks
    as fit, the highest threats kept (then the most recently updated), with ``truncated`` set;
    returns it and how many tracks were left out. Every consumer drops a payload over the
    contract's limit, so an oversized snapshot would blind them all."""
    size = len(wire.encode(msg))
    n = len(msg.tracks)
    if size <= limit or not n:
        return msg, 0
    rank = {level: i for i, level in enumerate(wire.THREAT_LEVELS)}
    order = sorted(msg.tracks, key=lambda tr: (rank.get(tr.threat, 0), tr.t_update),
                   reverse=True)
    keep = n
    while size > limit and keep:
        # Tracks are of similar size: aim 5 % under the limit, then shave if still over.
        keep = min(keep - 1, int(keep * 0.95 * limit / size))
        kept = sorted(order[:max(keep, 0)], key=lambda tr: tr.id)
        out = replace(msg, tracks=tuple(kept), truncated=True)
        size = len(wire.encode(out))
    return out, n - keep
