"""A recording as `cuas record` writes it beside a live daemon: the detections of the bundled
scenario's first 25 s, the tracks and alerts the fusion engine made of them, two console
acknowledgements on the ``ack`` topic, and its signed manifest; plus a matching audit log."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path

import pytest

from cuas import wire
from cuas.config import load_config
from cuas.config.alerts import AlertPolicyConfig
from cuas.fusion.export import alert_message
from cuas.fusion.offline import replay_offline
from cuas.record.manifest import load_signing_key, write_signing_key
from cuas.record.recording import RecordingReader, t_to_ns
from cuas.record.writer import RecordingWriter

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "data" / "wembley-25s.mcap"
CONFIG = ROOT / "configs" / "wembley.toml"


def audit_lines(entries: list[dict[str, object]]) -> bytes:
    """An audit log in the web console's format: each line's ``prev`` chains the previous."""
    out, prev = [], ""
    for e in entries:
        line = json.dumps({**e, "prev": prev}).encode()
        out.append(line)
        prev = hashlib.sha256(line).hexdigest()
    return b"".join(line + b"\n" for line in out)


@pytest.fixture(scope="session")
def incident_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("incident")
    msgs: list[tuple[float, str, bytes]] = []
    alerts: list[wire.Alert] = []

    def on_alert(ev: object, t: float) -> None:
        alerts.append(alert_message(ev, "cuas", len(alerts), t))  # type: ignore[arg-type]

    # The 25 s excerpt raises nothing at the default alert policy (high and above); a site may
    # choose alerts from low up, and the report must show them whatever their level.
    config = dataclasses.replace(load_config(CONFIG), alerts=AlertPolicyConfig(min_level="low"))
    replay_offline(DEMO, io.StringIO(), config=config,
                   on_snapshot=lambda s: msgs.append((s.t, "trk", wire.encode(s))),
                   on_alert=on_alert)
    assert alerts, "the fixture needs alerts"
    for r in RecordingReader(DEMO):
        msgs.append((r.publish_time_ns / 1e9, r.topic, r.payload))
    first = alerts[0]
    # The console acknowledges by alert_id: the id when the alert has one, else src:seq.
    if len(alerts) == 1:  # the same track's alert again a second later: the first keeps its id
        alerts.append(dataclasses.replace(alerts[0], seq=1, t=alerts[0].t + 1.0))
    alerts[-1] = dataclasses.replace(alerts[-1], id="A-last")
    assert alerts[-1].alert_id == "A-last"
    assert first.alert_id == (first.id if first.id is not None else f"{first.src}:{first.seq}")
    ack = wire.Ack(src="console", seq=0, t=first.t + 5.0, alert_id=first.alert_id,
                   action="acknowledged", user="alice", note="seen on camera",
                   track_id=first.track_id)
    msgs.append((ack.t, wire.topic_for(ack), wire.encode(ack)))
    msgs.append((first.t + 6.0, "ack", b"\xc1 not msgpack"))  # counted, not fatal
    msgs += [(a.t, "alert", wire.encode(a)) for a in alerts]
    msgs.sort(key=lambda m: m[0])
    write_signing_key("site", d)
    key = load_signing_key(d / "site.sign.key")
    with RecordingWriter(d / "incident.mcap", signing_key=key, chunk_size=32 * 1024) as w:
        for t, topic, payload in msgs:
            w.write(topic, payload, log_time_ns=t_to_ns(t), publish_time_ns=t_to_ns(t))
    (d / "audit.jsonl").write_bytes(audit_lines([
        {"t": first.t - 60, "user": "alice", "role": "operator", "action": "login",
         "alert_id": None, "track_id": None, "note": ""},
        {"t": first.t + 9.0, "user": "bob", "role": "supervisor", "action": "dismissed",
         "alert_id": first.alert_id, "track_id": first.track_id,
         "note": "club drone, authorised"},
    ]))
    (d / "meta.json").write_text(json.dumps({"first_alert": first.alert_id,
                                             "track": first.track_id}))
    return d
