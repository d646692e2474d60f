"""The PDF and HTML incident report: the PDF renders (pdftoppm) to pages that are not blank;
the audit log's hash chain is checked and stated."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cuas.cli.main import main
from cuas.config import load_config
from cuas.report.load import load_incident, read_audit_log
from tests.report.conftest import CONFIG, audit_lines

pytest.importorskip("matplotlib", reason="the PDF and HTML reports draw with matplotlib")


def _pages(pdf: Path, tmp: Path) -> list[np.ndarray]:
    from matplotlib.image import imread

    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp / "page")], check=True,
                   timeout=120)
    return [imread(p) for p in sorted(tmp.glob("page*.png"))]


@pytest.mark.skipif(shutil.which("pdftoppm") is None,
                    reason="pdftoppm (Debian poppler-utils) renders the PDF; .ci/run installs it")
def test_pdf_renders_to_non_blank_pages(incident_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.pdf"
    assert main(["report", str(incident_dir / "incident.mcap"), "--config", str(CONFIG),
                 "--audit-log", str(incident_dir / "audit.jsonl"),
                 "--key", str(incident_dir / "site.sign.pub"), "--out", str(out)]) == 0
    assert "integrity: intact" in capsys.readouterr().err
    pages = _pages(out, tmp_path)
    assert len(pages) >= 3  # text, map, timelines
    for img in pages:
        grey = img[..., :3].mean(axis=2)
        assert (grey < 0.9).mean() > 0.002, "a blank page"  # some ink on every page
        assert grey.std() > 0.02


def test_html_states_hash_integrity_and_acknowledgements(incident_dir: Path,
                                                          tmp_path: Path) -> None:
    meta = json.loads((incident_dir / "meta.json").read_text())
    out = tmp_path / "report.html"
    assert main(["report", str(incident_dir / "incident.mcap"), "--config", str(CONFIG),
                 "--audit-log", str(incident_dir / "audit.jsonl"), "--out", str(out)]) == 0
    text = out.read_text()
    from cuas.report.load import file_sha256

    assert file_sha256(incident_dir / "incident.mcap") in text
    assert "Integrity: INTACT" in text and "hash chain intact" in text
    assert text.count(meta["first_alert"]) >= 3  # alert row, ack from the topic and the log
    assert "alice" in text and "bob (supervisor)" in text and "club drone" in text
    assert text.count("data:image/png;base64,") == 2


def test_audit_log_chain_break_is_found_and_reported(incident_dir: Path,
                                                     tmp_path: Path) -> None:
    entries = [{"t": 1790000000.0 + i, "user": "u", "role": "operator", "action": a,
                "alert_id": "cuas:0", "track_id": 1, "note": ""}
               for i, a in enumerate(["login", "acknowledged", "dismissed", "logout"])]
    good = tmp_path / "good.jsonl"
    good.write_bytes(audit_lines(entries))
    check, acks = read_audit_log(good)
    assert check.ok and check.lines == 4 and [a.action for a in acks] == ["acknowledged",
                                                                          "dismissed"]
    lines = good.read_bytes().splitlines()
    lines[1] = lines[1].replace(b'"note": ""', b'"note": "edited"')
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(lines) + b"\n")
    check, _ = read_audit_log(bad)
    assert not check.ok and check.bad_line == 3 and "BROKEN" in check.message
    lines = good.read_bytes().splitlines()
    del lines[2]  # a removed entry breaks the chain at the next one
    bad.write_bytes(b"\n".join(lines) + b"\n")
    assert read_audit_log(bad)[0].bad_line == 3
    inc = load_incident(incident_dir / "incident.mcap", load_config(CONFIG), audit_log=bad)
    assert inc.audit is not None and not inc.audit.ok


def test_altered_recording_is_stated(incident_dir: Path, tmp_path: Path) -> None:
    rec = tmp_path / "incident.mcap"
    data = bytearray((incident_dir / "incident.mcap").read_bytes())
    data[len(data) // 3] ^= 0x01
    rec.write_bytes(bytes(data))
    shutil.copy(incident_dir / "incident.mcap.manifest", tmp_path / "incident.mcap.manifest")
    out = tmp_path / "r.html"
    assert main(["report", str(rec), "--out", str(out)]) == 0
    assert "Integrity: ALTERED" in out.read_text()


def test_torn_recording_is_reported_up_to_its_last_chunk(incident_dir: Path,
                                                          tmp_path: Path) -> None:
    """What kill -9 leaves: the file and its manifest end at the same complete chunk, plus a
    part of the next chunk in the file only."""
    lines = (incident_dir / "incident.mcap.manifest").read_bytes().splitlines(keepends=True)
    keep = len(lines) // 2
    end = json.loads(lines[keep - 1])["end"]
    data = (incident_dir / "incident.mcap").read_bytes()
    rec = tmp_path / "torn.mcap"
    rec.write_bytes(data[:end + 1000])
    (tmp_path / "torn.mcap.manifest").write_bytes(b"".join(lines[:keep]))
    inc = load_incident(rec, load_config(CONFIG))
    assert inc.torn and inc.integrity is not None and inc.integrity.status == "torn"
    assert inc.tracks and f"chunk {keep - 2})" in inc.integrity.message
    out = tmp_path / "torn.html"
    assert main(["report", str(rec), "--out", str(out)]) == 0
    text = out.read_text()
    assert "Integrity: TORN" in text and "the recording is torn" in text


def test_a_detections_only_recording_says_so(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[1] / "data" / "wembley-25s.mcap"
    out = tmp_path / "d.html"
    assert main(["report", str(demo), "--out", str(out)]) == 0
    text = out.read_text()
    assert "no track snapshots" in text and "Integrity: UNVERIFIABLE" in text
