"""An incident as an MCAP that Foxglove opens with a map and a 3-D scene.

Messages use Foxglove's well-known schemas, protobuf-encoded (``foxglove-schemas-protobuf``,
each channel's schema is the message's FileDescriptorSet, written by ``mcap-protobuf-support``):

``/map/tracks`` (``foxglove.LocationFix``)
    every track point (``frame_id`` = ``track <id>``), WGS-84, height above the ellipsoid.
``/map/overlay`` (``foxglove.GeoJSON``)
    one message at the start: the zones, paths, sightings and alerts (:func:`to_geojson`).
``/scene`` (``foxglove.SceneUpdate``)
    per report step, a sphere and a label per live track in the site's ENU frame (``site``,
    metres east, north, up), coloured by threat; entities expire after two steps.
``/alerts`` (``foxglove.Log``)
    each alert (WARNING, or ERROR from ``high`` up) and each acknowledgement (INFO).
"""

from __future__ import annotations

import os
from typing import Any

from cuas.report.exports import to_geojson
from cuas.report.model import Incident, threat_rank

__all__ = ["TOPICS", "write_foxglove"]

TOPICS = {"/map/tracks": "foxglove.LocationFix", "/map/overlay": "foxglove.GeoJSON",
          "/scene": "foxglove.SceneUpdate", "/alerts": "foxglove.Log"}
_RGBA = {"none": (0.6, 0.6, 0.6), "low": (0.94, 0.75, 0.0), "medium": (1.0, 0.5, 0.0),
         "high": (0.9, 0.0, 0.0), "critical": (0.55, 0.0, 0.75)}


def _ns(t: float) -> int:
    return max(0, round(t * 1e9))


def write_foxglove(inc: Incident, out: str | os.PathLike[str], step_s: float = 1.0) -> int:
    """Write the Foxglove MCAP; returns the number of messages."""
    from foxglove_schemas_protobuf.GeoJSON_pb2 import GeoJSON
    from foxglove_schemas_protobuf.LocationFix_pb2 import LocationFix
    from foxglove_schemas_protobuf.Log_pb2 import Log
    from foxglove_schemas_protobuf.SceneEntity_pb2 import SceneEntity
    from foxglove_schemas_protobuf.SceneUpdate_pb2 import SceneUpdate
    from mcap.writer import CompressionType
    from mcap_protobuf.writer import Writer

    msgs: list[tuple[int, str, Any]] = []
    start = _ns(inc.t_start)
    overlay = GeoJSON(geojson=to_geojson(inc))
    msgs.append((start, "/map/overlay", overlay))
    frames: dict[int, list[tuple[Any, ...]]] = {}
    step = step_s if step_s > 0 else 1.0
    for tr in inc.tracks:
        for i, t in enumerate(tr.t):
            lat, lon, h = tr.lla[i]
            fix = LocationFix(frame_id=f"track {tr.id}", latitude=float(lat),
                              longitude=float(lon), altitude=float(h))
            fix.timestamp.FromNanoseconds(_ns(float(t)))
            msgs.append((_ns(float(t)), "/map/tracks", fix))
            frames.setdefault(int(t // step), []).append((tr, i))
    for k in sorted(frames):
        t_ns = _ns(k * step)
        upd = SceneUpdate()
        for tr, i in frames[k]:
            e, n, u = (float(x) for x in tr.enu[i])
            level = tr.threat[i]
            r, g, b = _RGBA.get(level, _RGBA["none"])
            ent: SceneEntity = upd.entities.add()
            ent.timestamp.FromNanoseconds(t_ns)
            ent.frame_id = "site"
            ent.id = f"track-{tr.id}"
            ent.lifetime.FromNanoseconds(_ns(2 * step))
            md = ent.metadata.add()
            md.key, md.value = "label", tr.label
            sph = ent.spheres.add()
            sph.pose.position.x, sph.pose.position.y, sph.pose.position.z = e, n, u
            sph.pose.orientation.w = 1.0
            sph.size.x = sph.size.y = sph.size.z = 8.0 + 4.0 * threat_rank(level)
            sph.color.r, sph.color.g, sph.color.b, sph.color.a = r, g, b, 0.9
            txt = ent.texts.add()
            txt.pose.position.x, txt.pose.position.y, txt.pose.position.z = e, n, u + 12.0
            txt.pose.orientation.w = 1.0
            txt.billboard = True
            txt.font_size = 14.0
            txt.scale_invariant = True
            txt.text = f"{tr.id} {tr.label} {level}"
            txt.color.r = txt.color.g = txt.color.b = txt.color.a = 1.0
        msgs.append((t_ns, "/scene", upd))
    for a in inc.alerts:
        log = Log(level=Log.ERROR if threat_rank(a.threat) >= threat_rank("high") else Log.WARNING,
                  name="cuas.alert", file=a.alert_id, line=0,
                  message=f"track {a.track_id}: {a.previous} -> {a.threat}"
                  + (f" in {a.zone}" if a.zone else "") + f": {'; '.join(a.reasons)}")
        log.timestamp.FromNanoseconds(_ns(a.t))
        msgs.append((_ns(a.t), "/alerts", log))
    for ack in inc.acks:
        log = Log(level=Log.INFO, name="cuas.ack", file=ack.alert_id or "", line=0,
                  message=f"{ack.user} {ack.action} {ack.alert_id or ''} ({ack.origin})"
                  + (f": {ack.note}" if ack.note else ""))
        log.timestamp.FromNanoseconds(_ns(ack.t))
        msgs.append((_ns(ack.t), "/alerts", log))
    msgs.sort(key=lambda m: m[0])
    with open(out, "wb") as f:
        w = Writer(f, compression=CompressionType.NONE)
        for t_ns, topic, m in msgs:
            w.write_message(topic, m, log_time=t_ns, publish_time=t_ns)
        w.finish()
    return len(msgs)
