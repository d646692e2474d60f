"""Exports validate: KML against the OGC KML 2.2 schema, GPX against the GPX 1.1 schema, GeoJSON
by RFC 7946 and a shapely round trip, CSV by parsing it back."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
import shapely.geometry

from cuas.cli.main import main
from cuas.config import load_config
from cuas.report.exports import to_csv, to_geojson, to_gpx, to_kml
from cuas.report.load import load_incident
from cuas.report.model import Incident
from tests.report.conftest import CONFIG

etree = pytest.importorskip("lxml.etree", reason="lxml validates the XML exports (test extra)")
XSD = Path(__file__).resolve().parents[1] / "data" / "xsd"


@pytest.fixture(scope="module")
def inc(incident_dir: Path) -> Incident:
    return load_incident(incident_dir / "incident.mcap", load_config(CONFIG))


def test_incident_has_what_the_exports_need(inc: Incident, incident_dir: Path) -> None:
    meta = json.loads((incident_dir / "meta.json").read_text())
    assert inc.tracks and inc.alerts and len(inc.zones) == 4
    assert any(t.rid for t in inc.tracks) and any(t.operators for t in inc.tracks)
    assert inc.counters.get("malformed") == 1  # the garbage ack payload
    assert [a.alert_id for a in inc.acks] == [meta["first_alert"]]
    assert inc.alerts[-1].alert_id == "A-last"  # an alert's own id wins over src:seq
    assert inc.integrity is not None and inc.integrity.status == "intact"


def test_kml_validates_against_the_ogc_schema(inc: Incident) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD / "kml22" / "ogckml22.xsd")))
    doc = etree.fromstring(to_kml(inc).encode())
    schema.assertValid(doc)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    paths = doc.findall(".//k:Placemark/k:LineString", ns)
    assert len(paths) == sum(1 for t in inc.tracks if len(t.t) >= 2)
    # A schema that accepts anything proves nothing: a misplaced element must fail.
    bad = etree.fromstring(to_kml(inc).encode())
    pm = bad.find(".//k:Placemark", ns)
    pm.insert(0, etree.Element("{http://www.opengis.net/kml/2.2}LineString"))
    assert not schema.validate(bad)


def test_gpx_validates_against_the_gpx_1_1_schema(inc: Incident) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD / "gpx11" / "gpx.xsd")))
    root = etree.fromstring(to_gpx(inc).encode())
    schema.assertValid(root)
    ns = "{http://www.topografix.com/GPX/1/1}"
    trks = root.findall(f"{ns}trk")
    assert len(trks) == len(inc.tracks)
    assert sum(len(t.findall(f".//{ns}trkpt")) for t in trks) == sum(len(t.t) for t in inc.tracks)
    assert root.findall(f"{ns}wpt") and root.findall(f"{ns}rte")
    # The schema is strict about order: a track before the waypoints must fail.
    bad = etree.fromstring(to_gpx(inc).encode())
    bad.insert(1, bad.find(f"{ns}trk"))
    assert not schema.validate(bad)


def _positions(geom: dict) -> list[list[float]]:
    c = geom["coordinates"]
    if geom["type"] == "Point":
        return [c]
    if geom["type"] == "LineString":
        return c
    return [p for ring in c for p in ring]


def test_geojson_follows_rfc_7946_and_round_trips_through_shapely(inc: Incident) -> None:
    doc = json.loads(to_geojson(inc))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    kinds = set()
    for f in doc["features"]:
        assert f["type"] == "Feature" and "properties" in f and "geometry" in f
        kinds.add(f["properties"]["kind"])
        g = f["geometry"]
        if g is None:
            continue
        for p in _positions(g):
            assert len(p) in (2, 3) and all(math.isfinite(v) for v in p)
            assert -180 <= p[0] <= 180 and -90 <= p[1] <= 90  # lon, lat order
        if g["type"] == "LineString":
            assert len(g["coordinates"]) >= 2
        if g["type"] == "Polygon":
            ring = g["coordinates"][0]
            assert len(ring) >= 4 and ring[0] == ring[-1]
            assert shapely.geometry.LinearRing(ring).is_ccw  # exterior rings counter-clockwise
        shp = shapely.geometry.shape(g)
        assert shp.is_valid
        back = shapely.geometry.mapping(shp)
        assert back["type"] == g["type"]
        assert [list(map(float, p)) for p in _positions(json.loads(json.dumps(back)))] == \
            [list(map(float, p)) for p in _positions(g)]
    assert {"track", "alert", "zone", "first_seen", "last_seen", "operator"} <= kinds


def test_csv_parses_back(inc: Incident) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(inc))))
    points = [r for r in rows if r["kind"] == "point"]
    assert len(points) == sum(len(t.t) for t in inc.tracks)
    assert sum(r["kind"] == "alert" for r in rows) == len(inc.alerts)
    assert all(math.isfinite(float(r["h_m"])) and r["time_utc"].endswith("Z") for r in points)


def test_window_and_track_filters(incident_dir: Path, inc: Incident) -> None:
    tid = inc.alerts[0].track_id
    only = load_incident(incident_dir / "incident.mcap", load_config(CONFIG), track_ids=[tid])
    assert [t.id for t in only.tracks] == [tid] and {a.track_id for a in only.alerts} == {tid}
    mid = (inc.t_start + inc.t_end) / 2
    half = load_incident(incident_dir / "incident.mcap", load_config(CONFIG), t_from=mid)
    assert half.t_start >= mid and all(t.first_t >= mid for t in half.tracks)


@pytest.mark.parametrize("fmt", ["kml", "geojson", "csv", "gpx"])
def test_cli_writes_each_export(incident_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"x.{fmt}"
    assert main(["report", str(incident_dir / "incident.mcap"), "--config", str(CONFIG),
                 "--out", str(out)]) == 0
    assert out.stat().st_size > 1000


def test_cli_errors_are_one_line(incident_dir: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    rec = str(incident_dir / "incident.mcap")
    assert main(["report", rec, "--out", str(tmp_path / "no" / "such" / "dir.kml")]) == 1
    assert main(["report", rec, "--audit-log", str(tmp_path / "missing.jsonl"),
                 "--out", str(tmp_path / "x.kml")]) == 1
    assert main(["report", str(tmp_path / "missing.mcap"), "--out", str(tmp_path / "x.kml")]) == 1
    assert main(["report", rec, "--out", str(tmp_path / "x.unknown")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 4
