"""Pattern of life over a directory of recordings: the same incident shifted to other days and
hours, plus a file that is not a recording."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import msgpack
import pytest

from cuas.cli.main import main
from cuas.config import load_config
from cuas.record.recording import RecordingReader
from cuas.record.writer import RecordingWriter
from cuas.report.load import load_incident
from cuas.report.summary import DAYS, pattern_of_life
from tests.report.conftest import CONFIG

pytest.importorskip("matplotlib", reason="the summary's PDF and HTML draw with matplotlib")


def shifted(src: Path, dst: Path, dt: float) -> None:
    """A copy of ``src`` with every time moved by ``dt`` seconds."""
    with RecordingWriter(dst) as w:
        for r in RecordingReader(src):
            try:
                d = msgpack.unpackb(r.payload)
            except ValueError:
                continue
            d["t"] += dt
            for tr in d.get("tracks", ()):
                tr["t_update"] += dt
            shift = round(dt * 1e9)
            w.write(r.topic, msgpack.packb(d), log_time_ns=r.log_time_ns + shift,
                    publish_time_ns=r.publish_time_ns + shift)


def test_pattern_of_life(incident_dir: Path, tmp_path: Path) -> None:
    src = incident_dir / "incident.mcap"
    one = load_incident(src, load_config(CONFIG), step_s=5.0)  # as pattern_of_life samples
    drones = [t for t in one.tracks if t.label == "uav" or t.rid]
    assert drones
    shifts = (0.0, 86400.0 + 3 * 3600.0, 2 * 86400.0 + 7 * 3600.0)
    for i, dt in enumerate(shifts):
        shifted(src, tmp_path / f"day{i}.mcap", dt)
    (tmp_path / "junk.mcap").write_bytes(b"not a recording at all")
    pol = pattern_of_life(tmp_path, load_config(CONFIG))
    assert pol.recordings == 3 and [n for n, _ in pol.skipped] == ["junk.mcap"]
    assert len(pol.drones) == 3 * len(drones)
    assert int(pol.by_day_hour.sum()) == len(pol.drones)
    cells = {(int(d), int(h)) for d, h in zip(*pol.by_day_hour.nonzero(), strict=True)}
    for dt in shifts:
        when = datetime.fromtimestamp(drones[0].first_t + dt, UTC)
        assert (when.weekday(), when.hour) in cells
    rids = {t.rid for t in drones if t.rid}
    assert {s.rid for s in pol.serials} == rids
    assert all(s.recordings == 3 and s.operators for s in pol.serials)
    assert pol.hotspots and pol.hotspots[0].count >= 3  # the same launch area, three times
    for ext in ("json", "pdf", "html"):
        out = tmp_path / f"summary.{ext}"
        assert main(["report", "--summary", str(tmp_path), "--config", str(CONFIG),
                     "--out", str(out)]) == 0
        assert out.stat().st_size > 500
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert doc["days"] == list(DAYS) and len(doc["drones"]) == len(pol.drones)
