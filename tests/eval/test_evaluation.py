"""Tests of cuas.eval (truth, tracklog, gospa, matching, report): truth files, tracks files, GOSPA, ID switches, fragmentation."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pymap3d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.errors import CuasError, DecodeError, EvaluationError, TracksFormatError, TruthFormatError
from cuas.eval.gospa import DEFAULT_C, DEFAULT_P, gospa
from cuas.eval.matching import evaluate
from cuas.eval.report import format_report, to_json
from cuas.eval.tracklog import read_tracks, tracks_from_messages
from cuas.eval.truth import (
    ObjectInfo,
    Site,
    Truth,
    TruthHeader,
    TruthSample,
    read_truth,
    truth_at,
    write_truth,
)

SITE = Site(51.5560, -0.2796, 90.0)
T0 = 1_790_000_000.0

# --------------------------------------------------------------------------- helpers


def _track(tid: int, enu: Sequence[float], status: str = "confirmed", site: Site = SITE) -> wire.Track:
    lat, lon, h = pymap3d.enu2geodetic(enu[0], enu[1], enu[2], site.lat, site.lon, site.h)
    return wire.Track(
        id=tid,
        status=status,
        lla=(float(lat), float(lon), float(h)),
        enu=(float(enu[0]), float(enu[1]), float(enu[2])),
        vel=(0.0, 0.0, 0.0),
        pos_sigma=(1.0, 1.0, 1.0),
        t_update=T0,
        sources=("sim",),
        class_probs=wire.NEUTRAL_CLASS,
    )


def _snap(seq: int, t: float, tracks: Sequence[wire.Track]) -> wire.Tracks:
    return wire.Tracks(src="test", seq=seq, t=t, tracks=tuple(tracks))


def _write_tracks(path: Path, msgs: Sequence[wire.Tracks]) -> Path:
    path.write_text("".join(json.dumps(wire.to_dict(m)) + "\n" for m in msgs))
    return path


def _make_truth(
    tmp_path: Path, objects: dict[str, list[tuple[float, Sequence[float]]]], times: Sequence[float]
) -> Truth:
    """Truth with a line at each of ``times``; ``objects`` maps id -> [(t, enu), ...]."""
    samples = []
    for t in times:
        ids = [oid for oid, s in objects.items() if any(ts == t for ts, _ in s)]
        enu = [next(p for ts, p in objects[oid] if ts == t) for oid in ids]
        samples.append(TruthSample(t=t, ids=tuple(ids), enu=np.array(enu).reshape(-1, 3)))
    path = tmp_path / "truth.jsonl"
    write_truth(path, TruthHeader(site=SITE), samples)
    return read_truth(path)


def _oracle(x: np.ndarray, y: np.ndarray, c: float, p: float) -> float:
    """GOSPA (alpha = 2) straight from its definition: minimum over all partial matchings of
    sum d^p over matched pairs + c^p/2 per unmatched point (no cutoff on d)."""
    n, m = len(x), len(y)
    best = math.inf
    for k in range(min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                cost = sum(float(np.linalg.norm(x[i] - y[j])) ** p for i, j in zip(rows, cols, strict=True))
                best = min(best, cost + c**p / 2 * (n + m - 2 * k))
    return best ** (1 / p)


coord = st.floats(-30.0, 30.0, allow_nan=False, allow_infinity=False)
point_sets = st.lists(st.tuples(coord, coord, coord), min_size=0, max_size=4).map(
    lambda pts: np.array(pts, dtype=float).reshape(-1, 3)
)
cutoffs = st.floats(0.5, 50.0)
orders = st.floats(1.0, 3.0)


# --------------------------------------------------------------------------- GOSPA


@settings(max_examples=200, deadline=None)
@given(point_sets, point_sets, cutoffs, orders)
def test_gospa_matches_bruteforce_oracle(x: np.ndarray, y: np.ndarray, c: float, p: float) -> None:
    r = gospa(x, y, c, p)
    assert r.total == pytest.approx(_oracle(x, y, c, p), rel=1e-9, abs=1e-9)
    assert r.total**p == pytest.approx(r.localisation + r.missed + r.false, rel=1e-9, abs=1e-9)
    k = r.n_assigned
    assert r.missed == pytest.approx(c**p / 2 * (len(x) - k))
    assert r.false == pytest.approx(c**p / 2 * (len(y) - k))
    for i, j in enumerate(r.assignment):
        if j >= 0:
            assert np.linalg.norm(x[i] - y[j]) < c


@settings(max_examples=100, deadline=None)
@given(point_sets, point_sets, cutoffs, orders)
def test_gospa_is_symmetric(x: np.ndarray, y: np.ndarray, c: float, p: float) -> None:
    a, b = gospa(x, y, c, p), gospa(y, x, c, p)
    assert a.total == pytest.approx(b.total, rel=1e-12, abs=1e-12)
    assert a.missed == pytest.approx(b.false)
    assert a.false == pytest.approx(b.missed)
    assert a.localisation == pytest.approx(b.localisation, rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(point_sets, point_sets, point_sets, cutoffs, orders)
def test_gospa_triangle_inequality(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, c: float, p: float
) -> None:
    assert gospa(x, z, c, p).total <= gospa(x, y, c, p).total + gospa(y, z, c, p).total + 1e-9


@settings(max_examples=100, deadline=None)
@given(point_sets.filter(len), st.integers(0, 2**32 - 1), st.floats(1e-3, 100.0), orders)
def test_gospa_zero_iff_identical(x: np.ndarray, seed: int, delta: float, p: float) -> None:
    perm = np.random.default_rng(seed).permutation(len(x))
    assert gospa(x, x[perm], DEFAULT_C, p).total == pytest.approx(0.0, abs=1e-9)
    moved = x.copy()
    moved[seed % len(x), seed % 3] += delta  # any other set differs from x, so GOSPA > 0
    assert gospa(x, moved, DEFAULT_C, p).total > 1e-6
    assert gospa(x, x[1:], DEFAULT_C, p).total == pytest.approx((DEFAULT_C**p / 2) ** (1 / p))


def test_gospa_empty_sets() -> None:
    none = np.zeros((0, 3))
    both = gospa(none, none, 20.0, 2.0)
    assert (both.total, both.localisation, both.missed, both.false) == (0.0, 0.0, 0.0, 0.0)
    assert both.assignment.shape == (0,)
    assert gospa([], [], 20.0, 2.0).total == 0.0

    pts = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    missed = gospa(pts, none, 20.0, 2.0)
    assert missed.missed == 3 * 200.0 and missed.false == 0.0 and missed.localisation == 0.0
    assert missed.total == pytest.approx(math.sqrt(600.0))
    assert list(missed.assignment) == [-1, -1, -1]
    false = gospa(none, pts, 20.0, 2.0)
    assert false.false == 3 * 200.0 and false.missed == 0.0
    assert false.total == pytest.approx(math.sqrt(600.0))
    assert false.assignment.shape == (0,)


@pytest.mark.parametrize("d", [0.0, 5.0, 19.999])
def test_gospa_within_cutoff_is_localisation(d: float) -> None:
    r = gospa([[0.0, 0.0, 0.0]], [[0.0, d, 0.0]], 20.0, 2.0)
    assert r.localisation == pytest.approx(d**2)
    assert r.missed == r.false == 0.0
    assert r.total == pytest.approx(d)
    assert list(r.assignment) == [0]


@pytest.mark.parametrize("d", [20.0, 20.001, 1e6])
def test_gospa_at_or_beyond_cutoff_is_missed_plus_false(d: float) -> None:
    r = gospa([[0.0, 0.0, 0.0]], [[d, 0.0, 0.0]], 20.0, 2.0)
    assert r.localisation == 0.0
    assert r.missed == r.false == 200.0
    assert r.total == pytest.approx(20.0)  # capped at c, whatever the distance
    assert list(r.assignment) == [-1]


def test_gospa_prefers_the_globally_best_assignment() -> None:
    # Greedy nearest-neighbour would pair truth 0 with track 0 (1 m) and leave truth 1 at 9 m.
    truth = [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]
    tracks = [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]
    r = gospa(truth, tracks, 20.0, 2.0)
    assert list(r.assignment) == [1, 0]
    assert r.localisation == pytest.approx(2.0)


def test_gospa_rejects_bad_parameters() -> None:
    with pytest.raises(EvaluationError):
        gospa([[0, 0, 0]], [[0, 0, 0]], 0.0, 2.0)
    with pytest.raises(EvaluationError):
        gospa([[0, 0, 0]], [[0, 0, 0]], 10.0, 0.5)
    with pytest.raises(EvaluationError):
        gospa([[0, 0, 0]], [[0, 0]], 10.0, 2.0)


def test_gospa_matches_stone_soup() -> None:
    ospa = pytest.importorskip("stonesoup.metricgenerator.ospametric")
    from datetime import datetime

    from stonesoup.types.array import StateVector
    from stonesoup.types.state import State

    when = datetime(2026, 1, 1)
    rng = np.random.default_rng(7)
    for case in range(25):
        n, m = rng.integers(0, 6, size=2)
        if n + m == 0:  # Stone Soup needs one state to know the time
            continue
        c, p = float(rng.uniform(5, 40)), float(rng.choice([1.0, 2.0, 3.0]))
        x = rng.normal(0, 15, size=(n, 3))
        y = np.concatenate([x[: m // 2] + rng.normal(0, 3, size=(min(n, m // 2), 3)),
                            rng.normal(0, 15, size=(m - min(n, m // 2), 3))])
        metric = ospa.GOSPAMetric(c=c, p=p)
        sx = [State(StateVector(list(v)), timestamp=when) for v in x]
        sy = [State(StateVector(list(v)), timestamp=when) for v in y]
        ss, ss_assign = metric.compute_gospa_metric(sy, sx)
        r = gospa(x, y, c, p)
        got = {"distance": r.total, "localisation": r.localisation,
               "missed": r.missed, "false": r.false}
        for key, value in got.items():
            assert value == pytest.approx(float(ss.value[key]), rel=1e-9, abs=1e-9), (case, key)
        if n and m:
            assert list(r.assignment) == list(ss_assign), case


# --------------------------------------------------------------------------- truth files


def _header() -> TruthHeader:
    return TruthHeader(
        site=SITE,
        objects={
            "a": ObjectInfo("uav", threat=True, extra={"model": "quad-x"}),
            "b": ObjectInfo("bird"),
        },
    )


def test_truth_round_trip(tmp_path: Path) -> None:
    nan3 = [np.nan] * 3
    a_ = np.array
    samples = [
        TruthSample(T0, ("a", "b"), a_([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
                    vel=a_([[1.0, 0.0, 0.0], nan3]), lla=a_([[51.5, -0.2, 100.0], nan3])),
        TruthSample(T0 + 0.5, ("a",), a_([[1.5, 2.0, 3.0]])),
        TruthSample(T0 + 1.0, (), np.zeros((0, 3))),
        TruthSample(T0 + 1.5, ("b",), a_([[4.0, 5.5, 6.25]]), vel=a_([[0.0, 1.0, 0.5]])),
    ]
    path = tmp_path / "truth.jsonl"
    write_truth(path, _header(), samples)
    truth = read_truth(path)

    assert truth.header == _header()
    assert truth.ids == ("a", "b")
    assert truth.span == (T0, T0 + 1.5)
    np.testing.assert_array_equal(truth.times, [T0, T0 + 0.5, T0 + 1.0, T0 + 1.5])
    a, b = truth.objects["a"], truth.objects["b"]
    np.testing.assert_array_equal(a.times, [T0, T0 + 0.5])
    np.testing.assert_array_equal(a.enu, [[1.0, 2.0, 3.0], [1.5, 2.0, 3.0]])
    assert a.vel is not None and a.lla is not None
    np.testing.assert_array_equal(a.vel, [[1.0, 0.0, 0.0], nan3])
    np.testing.assert_array_equal(a.lla, [[51.5, -0.2, 100.0], nan3])
    np.testing.assert_array_equal(b.times, [T0, T0 + 1.5])
    assert b.lla is None and b.vel is not None
    np.testing.assert_array_equal(b.vel, [nan3, [0.0, 1.0, 0.5]])
    assert not a.enu.flags.writeable

    again = tmp_path / "again.jsonl"
    write_truth(again, truth.header, truth.samples())
    assert again.read_bytes() == path.read_bytes()


def test_truth_file_is_plain_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_truth(path, _header(), [TruthSample(T0, ("a",), np.array([[1.0, 2.0, 3.0]]), vel=np.array([[0.0, 0.0, 1.0]]))])
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first == {
        "type": "truth-header", "v": 1, "site": {"lat": SITE.lat, "lon": SITE.lon, "h": SITE.h},
        "objects": {"a": {"model": "quad-x", "class": "uav", "threat": True},
                    "b": {"class": "bird", "threat": False}},
    }
    assert second == {"t": T0, "objects": [{"id": "a", "enu": [1.0, 2.0, 3.0], "vel": [0.0, 0.0, 1.0]}]}


HEADER = json.dumps({"type": "truth-header", "v": 1, "site": {"lat": 51.5, "lon": -0.3, "h": 90}})


def _sample(t: float = T0, **obj: object) -> str:
    return json.dumps({"t": t, "objects": [{"id": "a", "enu": [0, 0, 0], **obj}]})


@pytest.mark.parametrize(
    ("lines", "line", "key"),
    [
        ([], 1, None),
        ([_sample()], 1, "type"),
        ([HEADER.replace('"v": 1', '"v": 2')], 1, "v"),
        ([HEADER.replace('"lat": 51.5, ', "")], 1, "site.lat"),
        ([HEADER.replace('"lat": 51.5', '"lat": 95')], 1, "site.lat"),
        ([HEADER[:-1] + ', "objects": {"x": {"class": "plane"}}}'], 1, "objects.x.class"),
        ([HEADER[:-1] + ', "objects": {"x": {"class": "uav", "threat": 1}}}'], 1, "objects.x.threat"),
        ([HEADER, _sample(), '{"t": 1790000001.0, "objects": [{"id": "a"'], 3, None),
        ([HEADER, _sample(enu=[1, 2])], 2, "objects[0].enu"),
        ([HEADER, _sample(enu=[1, "2", 3])], 2, "objects[0].enu[1]"),
        ([HEADER, _sample(vel=[1, 2, None])], 2, "objects[0].vel[2]"),
        ([HEADER, _sample().replace("[0, 0, 0]", "[0, NaN, 0]")], 2, None),
        ([HEADER, json.dumps({"t": T0, "objects": [{"id": "a", "enu": [0, 0, 0]}, {"id": "b"}]})],
         2, "objects[1].enu"),
        ([HEADER, json.dumps({"t": T0, "objects": [{"id": "a", "enu": [0, 0, 0]},
                                                   {"id": "a", "enu": [1, 0, 0]}]})],
         2, "objects[1].id"),
        ([HEADER, json.dumps({"t": T0, "objects": [{"id": 7, "enu": [0, 0, 0]}]})], 2, "objects[0].id"),
        ([HEADER, json.dumps({"t": T0})], 2, "objects"),
        ([HEADER, _sample(T0 + 1), _sample(T0 + 1)], 3, "t"),
        ([HEADER, _sample(T0 + 1), _sample(T0)], 3, "t"),
        ([HEADER, _sample(0.0)], 2, "t"),
        ([HEADER, "", "   ", "[1, 2]"], 4, None),
        ([HEADER, _sample(), HEADER], 3, "type"),
    ],
)
def test_malformed_truth_names_line_and_key(
    tmp_path: Path, lines: list[str], line: int, key: str | None
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(s + "\n" for s in lines))
    with pytest.raises(TruthFormatError) as info:
        read_truth(path)
    err = info.value
    assert isinstance(err, DecodeError) and isinstance(err, CuasError)
    assert err.line == line
    assert err.key == key
    assert str(err).startswith(f"{path}:{line}: ")
    if key:
        assert key in str(err)


def test_truth_header_only_is_valid_and_scores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(HEADER + "\n")
    truth = read_truth(path)
    assert truth.span is None and truth.objects == {}
    ev = evaluate(truth, tracks_from_messages([_snap(0, T0, [_track(1, (0, 0, 0))])]))
    assert ev.n_steps == 0 and math.isnan(ev.gospa_mean)
    assert "n/a" in format_report(ev)


# --------------------------------------------------------------------------- truth at track times


def test_truth_interpolation_and_coverage(tmp_path: Path) -> None:
    times = [T0 + k for k in range(11)]
    truth = _make_truth(
        tmp_path,
        {
            # "a" has a gap of 8 s between T0+2 and T0+10.
            "a": [(T0, (0.0, 0.0, 0.0)), (T0 + 2, (20.0, 0.0, 10.0)), (T0 + 10, (20.0, 8.0, 10.0))],
            "b": [(t, (100.0, 0.0, 0.0)) for t in times],
        },
        times,
    )
    q = [T0 - 1, T0, T0 + 0.5, T0 + 1, T0 + 2, T0 + 6, T0 + 10, T0 + 10.5]
    at = truth_at(truth, q)
    assert at.ids == ("a", "b")
    assert list(at.scored) == [False, True, True, True, True, True, True, False]
    assert list(at.alive[:, 0]) == [False, True, True, True, True, False, True, False]
    assert list(at.alive[:, 1]) == [False] + [True] * 6 + [False]
    expected = np.array([[0, 0, 0], [5, 0, 2.5], [10, 0, 5], [20, 0, 10]], dtype=float)
    np.testing.assert_allclose(at.enu[1:5, 0], expected)
    np.testing.assert_allclose(at.enu[6, 0], np.array([20.0, 8.0, 10.0]))
    assert np.isnan(at.enu[5, 0]).all() and np.isnan(at.enu[0]).all()

    wide = truth_at(truth, [T0 + 6], max_gap=10.0)
    assert wide.alive[0, 0]
    np.testing.assert_allclose(wide.enu[0, 0], [20, 4, 10])


def test_snapshots_in_a_truth_file_gap_are_not_scored(tmp_path: Path) -> None:
    times = [T0, T0 + 1, T0 + 20, T0 + 21]
    truth = _make_truth(tmp_path, {"a": [(t, (0.0, 0.0, 0.0)) for t in times]}, times)
    at = truth_at(truth, [T0 + 0.5, T0 + 10, T0 + 20.5])
    assert list(at.scored) == [True, False, True]


# --------------------------------------------------------------------------- tracks files


def test_read_tracks_keeps_what_scoring_needs(tmp_path: Path) -> None:
    msgs = [
        _snap(0, T0, [_track(1, (1, 2, 3)), _track(2, (4, 5, 6), "tentative")]),
        _snap(1, T0 + 1, []),
        _snap(2, T0 + 2, [_track(1, (7, 8, 9), "coasting")]),
    ]
    log = read_tracks(_write_tracks(tmp_path / "out.jsonl", msgs))
    assert len(log) == 3 and log.torn_tail is None
    np.testing.assert_array_equal(log.t, [T0, T0 + 1, T0 + 2])
    np.testing.assert_array_equal(log.offsets, [0, 2, 2, 3])
    ids, statuses, enu = log.snapshot(0)
    assert list(ids) == [1, 2] and statuses == ["confirmed", "tentative"]
    np.testing.assert_array_equal(enu, [[1, 2, 3], [4, 5, 6]])
    assert log.snapshot(2)[1] == ["coasting"]
    assert log.enu.dtype == np.float64 and log.ids.dtype == np.int64


def test_read_tracks_tolerates_a_torn_last_line(tmp_path: Path) -> None:
    msgs = [_snap(k, T0 + k, [_track(1, (0, 0, 0))]) for k in range(3)]
    path = _write_tracks(tmp_path / "out.jsonl", msgs)
    full = json.dumps(wire.to_dict(_snap(3, T0 + 3, [_track(1, (0, 0, 0))])))
    with path.open("a") as f:
        f.write(full[: len(full) // 2])
    log = read_tracks(path)
    assert len(log) == 3
    assert log.torn_tail is not None and ":4:" in log.torn_tail


def test_read_tracks_rejects_a_torn_line_in_the_middle(tmp_path: Path) -> None:
    lines = [json.dumps(wire.to_dict(_snap(k, T0 + k, []))) for k in range(3)]
    lines[1] = lines[1][:20]
    path = tmp_path / "out.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TracksFormatError) as info:
        read_tracks(path)
    assert info.value.line == 2


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["tracks"][0].pop("enu"), "tracks[0].enu"),
        (lambda d: d.update(type="alert", track_id=1, threat="low", previous="none", reasons=[]),
         "type"),
        (lambda d: d.update(t=T0 - 5), "t"),
    ],
)
def test_read_tracks_names_line_and_key(tmp_path: Path, mutate: object, key: str) -> None:
    dicts = [wire.to_dict(_snap(k, T0 + k, [_track(1, (0, 0, 0))])) for k in range(3)]
    mutate(dicts[2])  # type: ignore[operator]
    path = tmp_path / "out.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in dicts))
    with pytest.raises(TracksFormatError) as info:
        read_tracks(path)
    assert info.value.line == 3 and info.value.key == key
    assert isinstance(info.value, DecodeError)


# --------------------------------------------------------------------------- identity over a run


def _stationary_run(
    tmp_path: Path, matches: Sequence[int | None], *, offset: float = 1.0
) -> tuple[Truth, list[wire.Tracks]]:
    """One truth object at the origin; at step k, track ``matches[k]`` sits ``offset`` m away."""
    times = [T0 + k for k in range(len(matches))]
    truth = _make_truth(tmp_path, {"a": [(t, (0.0, 0.0, 50.0)) for t in times]}, times)
    msgs = [
        _snap(k, t, [] if tid is None else [_track(tid, (offset, 0.0, 50.0))])
        for k, (t, tid) in enumerate(zip(times, matches, strict=True))
    ]
    return truth, msgs


@pytest.mark.parametrize(
    ("matches", "switches", "fragments"),
    [
        ([1, 1, 1, 1], 0, 0),
        ([None, None, 1, 1], 0, 0),  # late acquisition is not a fragment
        ([1, 1, None, None], 0, 0),  # lost at the end is not a fragment
        ([1, None, 1], 0, 1),
        ([1, None, None, 1, None, 1], 0, 2),
        ([1, 2], 1, 0),
        ([1, None, 2], 1, 1),  # a new id after an interruption is both
        ([1, 2, 1], 2, 0),
        ([1, 1, 1, None, None, 1, 1, 2, 2, 2], 1, 1),
        ([None, None, None], 0, 0),
    ],
)
def test_id_switches_and_fragmentations(
    tmp_path: Path, matches: list[int | None], switches: int, fragments: int
) -> None:
    truth, msgs = _stationary_run(tmp_path, matches)
    ev = evaluate(truth, tracks_from_messages(msgs))
    assert (ev.id_switches, ev.fragmentations) == (switches, fragments)
    score = ev.objects["a"]
    assert score.steps == len(matches)
    assert score.matched_steps == sum(m is not None for m in matches)
    assert score.track_ids == tuple(dict.fromkeys(m for m in matches if m is not None))


def test_a_track_beyond_the_cutoff_is_no_match(tmp_path: Path) -> None:
    truth, msgs = _stationary_run(tmp_path, [1, 1, 1])
    far = _track(1, (DEFAULT_C + 30.0, 0.0, 50.0))
    msgs[1] = _snap(1, T0 + 1, [far])
    ev = evaluate(truth, tracks_from_messages(msgs))
    assert (ev.id_switches, ev.fragmentations) == (0, 1)
    assert ev.missed[1] == ev.false[1] == DEFAULT_C**2 / 2
    assert ev.n_unmatched_track_ids == 0  # id 1 matched at other steps


def test_crossing_targets_with_swapped_ids(tmp_path: Path) -> None:
    times = [T0 + k for k in range(10)]
    truth = _make_truth(
        tmp_path,
        {"a": [(t, (0.0, 0.0, 50.0)) for t in times], "b": [(t, (100.0, 0.0, 50.0)) for t in times]},
        times,
    )
    msgs = []
    for k, t in enumerate(times):
        on_a, on_b = (1, 2) if k < 5 else (2, 1)
        msgs.append(_snap(k, t, [_track(on_a, (1.0, 0.0, 50.0)), _track(on_b, (101.0, 0.0, 50.0))]))
    ev = evaluate(truth, tracks_from_messages(msgs))
    assert ev.id_switches == 2 and ev.fragmentations == 0
    assert ev.objects["a"].track_ids == (1, 2) and ev.objects["b"].track_ids == (2, 1)


def test_a_track_handed_to_a_new_truth_is_not_a_switch(tmp_path: Path) -> None:
    times = [T0 + k for k in range(10)]
    truth = _make_truth(
        tmp_path,
        {"a": [(t, (0.0, 0.0, 50.0)) for t in times[:5]],
         "b": [(t, (500.0, 0.0, 50.0)) for t in times[5:]]},
        times,
    )
    msgs = [
        _snap(k, t, [_track(1, (1.0, 0.0, 50.0) if k < 5 else (501.0, 0.0, 50.0))])
        for k, t in enumerate(times)
    ]
    ev = evaluate(truth, tracks_from_messages(msgs))
    assert (ev.id_switches, ev.fragmentations) == (0, 0)
    assert ev.objects["a"].steps == 5 and ev.objects["b"].steps == 5
    assert ev.n_missed_instances == 0 and ev.n_false_instances == 0


def test_only_counted_statuses_are_scored(tmp_path: Path) -> None:
    truth, msgs = _stationary_run(tmp_path, [1, 1])
    msgs = [_snap(k, m.t, [_track(1, (1.0, 0.0, 50.0), status)])
            for k, (m, status) in enumerate(zip(msgs, ["tentative", "deleted"], strict=True))]
    log = tracks_from_messages(msgs)
    default = evaluate(truth, log)
    assert default.n_track_instances == 0 and default.n_missed_instances == 2
    every = evaluate(truth, log, statuses=wire.TRACK_STATUSES)
    assert every.n_track_instances == 2 and every.n_missed_instances == 0
    assert every.statuses == wire.TRACK_STATUSES


# --------------------------------------------------------------------------- a whole run from files


def test_evaluate_a_run_from_files(tmp_path: Path) -> None:
    times = [T0 + k for k in range(10)]
    truth_path = tmp_path / "truth.jsonl"
    write_truth(
        truth_path,
        _header(),
        [TruthSample(t, ("a", "b"), np.array([[0.0, 0.0, 100.0], [200.0, 0.0, 100.0]])) for t in times],
    )
    msgs = [
        _snap(k, t, [_track(1, (3.0, 4.0, 100.0)), _track(2, (1000.0, 0.0, 100.0)),
                     _track(3, (0.0, 0.0, 100.0), "tentative")])
        for k, t in enumerate([*times, T0 + 30])  # the last one is after the truth ends
    ]
    tracks_path = _write_tracks(tmp_path / "out.jsonl", msgs)
    with tracks_path.open("a") as f:
        f.write('{"v": 1, "type": "tra')
    ev = evaluate(read_truth(truth_path), read_tracks(tracks_path), c=20.0, p=2.0)

    half = 20.0**2 / 2
    assert ev.n_steps == 10 and ev.n_snapshots == 11
    assert ev.localisation_mean == pytest.approx(25.0)
    assert ev.missed_mean == pytest.approx(half) and ev.false_mean == pytest.approx(half)
    assert ev.gospa_mean == pytest.approx(math.sqrt(25.0 + 2 * half))
    assert ev.gospa_rms == pytest.approx(math.sqrt(ev.localisation_mean + ev.missed_mean + ev.false_mean))
    assert ev.n_truth_objects == 2 and ev.n_truth_instances == 20 and ev.n_missed_instances == 10
    assert ev.n_track_instances == 20 and ev.n_false_instances == 10
    assert ev.n_track_ids == 2 and ev.n_unmatched_track_ids == 1
    assert ev.id_switches == 0 and ev.fragmentations == 0
    assert any("torn" in n for n in ev.notes)
    assert any("1 of 11 snapshots not scored" in n for n in ev.notes)
    assert not any("site" in n for n in ev.notes)

    report = format_report(ev)
    assert "c = 20 m" in report and "p = 2" in report and "m^2" in report
    assert "ID switches" in report and "fragmentations" in report
    assert "10 of 11 snapshots scored" in report


def test_defaults_are_stated_in_the_report(tmp_path: Path) -> None:
    truth, msgs = _stationary_run(tmp_path, [1, 1])
    report = format_report(evaluate(truth, tracks_from_messages(msgs)))
    assert (DEFAULT_C, DEFAULT_P) == (20.0, 2.0)
    assert "c = 20 m, p = 2" in report


def test_site_mismatch_is_noted(tmp_path: Path) -> None:
    truth, msgs = _stationary_run(tmp_path, [1, 1])
    elsewhere = Site(SITE.lat + 0.01, SITE.lon, SITE.h)
    msgs = [_snap(k, m.t, [_track(1, (1.0, 0.0, 50.0), site=elsewhere)]) for k, m in enumerate(msgs)]
    ev = evaluate(truth, tracks_from_messages(msgs))
    assert any("site" in n for n in ev.notes)


def test_evaluate_rejects_bad_parameters(tmp_path: Path) -> None:
    truth, msgs = _stationary_run(tmp_path, [1])
    log = tracks_from_messages(msgs)
    for kwargs in ({"c": 0.0}, {"c": math.inf}, {"p": 0.5}, {"statuses": ("bogus",)},
                   {"statuses": ()}, {"max_gap": -1.0}):
        with pytest.raises(EvaluationError):
            evaluate(truth, log, **kwargs)
    with pytest.raises(EvaluationError):
        tracks_from_messages([_snap(0, T0 + 1, []), _snap(1, T0, [])])


# --------------------------------------------------------------------------- timing and threats


def test_time_to_confirm_flag_latency_and_false_alarms(tmp_path: Path) -> None:
    """A threat entering a zone at T0+4 is matched from T0+2 and flagged malicious from T0+6 by
    its track; a bird's track is flagged malicious too (a false alarm); a friendly's is not."""
    times = [T0 + k for k in range(11)]
    header = TruthHeader(site=SITE, objects={
        "drone": ObjectInfo("uav", threat=True, extra={"entry_t": T0 + 4.0}),
        "gull": ObjectInfo("bird"),
        "venue": ObjectInfo("uav"),
    })
    samples = [TruthSample(t=t, ids=("drone", "gull", "venue"),
                           enu=np.array([[100.0 - 5 * k, 0, 50], [0, 300.0, 40], [0, -200.0, 60]]))
               for k, t in enumerate(times)]
    write_truth(tmp_path / "truth.jsonl", header, samples)
    truth = read_truth(tmp_path / "truth.jsonl")
    snaps = []
    for k, t in enumerate(times):
        tracks = []
        if k >= 2:
            tracks.append(dataclasses.replace(_track(1, (100.0 - 5 * k + 1, 0, 50)),
                                              malicious=k >= 6, threat="high" if k >= 6 else "low"))
        tracks.append(dataclasses.replace(_track(2, (0, 301.0, 40)), malicious=k >= 8))
        tracks.append(_track(3, (0, -201.0, 60)))
        tracks.append(dataclasses.replace(_track(4, (5000.0, 0, 50)), malicious=k == 9))
        snaps.append(_snap(k, t, tracks))
    ev = evaluate(truth, tracks_from_messages(snaps))
    drone = ev.objects["drone"]
    assert drone.time_to_confirm_s == pytest.approx(2.0)
    assert drone.t_flagged == pytest.approx(T0 + 6.0)
    assert drone.time_to_flag_s == pytest.approx(2.0)
    assert ev.objects["gull"].time_to_confirm_s == 0.0
    assert ev.objects["venue"].time_to_flag_s is None  # not a threat
    assert [o.id for o in ev.threats] == ["drone"]
    # The bird's track and the unmatched track 4 were flagged: two false alarms in 10 s.
    assert ev.false_alarm_track_ids == (2, 4)
    assert ev.false_alarms_per_hour == pytest.approx(2 * 360.0)
    # Listed in order of the flag, with the truth each matched (none for track 4).
    assert ev.false_alarms == ((2, T0 + 8.0, "gull"), (4, T0 + 9.0, None))
    assert ev.n_unmatched_track_ids == 1
    assert ev.false_tracks_per_hour == pytest.approx(360.0)
    report = format_report(ev)
    assert "malicious at zone entry +2.0 s" in report and "false alarms" in report
    assert "track 2 flagged at +8.0 s on gull" in report
    assert "track 4 flagged at +9.0 s on no truth object" in report
    figures = to_json(ev)
    json.dumps(figures, allow_nan=False)
    assert figures["threats"] == {"drone": {"entry_t": T0 + 4.0, "flagged_t": T0 + 6.0,
                                            "time_to_flag_s": 2.0}}
    assert figures["false_alarms"] == 2 and figures["time_to_confirm_max_s"] == 2.0
    assert figures["false_alarm_list"][0] == {"track_id": 2, "flagged_t": T0 + 8.0,
                                              "truth": "gull"}
    assert len(figures["gospa"]) == len(figures["gospa_t"]) == 11


def test_threat_never_flagged_and_no_entry_time(tmp_path: Path) -> None:
    """Without ``entry_t`` the flag latency counts from the threat's first scored step; a threat
    whose track is never flagged has no latency and the report says so."""
    times = [T0 + k for k in range(5)]
    header = TruthHeader(site=SITE, objects={"a": ObjectInfo("uav", threat=True),
                                             "b": ObjectInfo("uav", threat=True)})
    samples = [TruthSample(t=t, ids=("a", "b"), enu=np.array([[0.0, 0, 50], [500.0, 0, 50]]))
               for t in times]
    write_truth(tmp_path / "truth.jsonl", header, samples)
    snaps = [_snap(k, t, [dataclasses.replace(_track(1, (0, 0, 50)), malicious=k >= 3),
                          _track(2, (500.0, 0, 50))]) for k, t in enumerate(times)]
    ev = evaluate(read_truth(tmp_path / "truth.jsonl"), tracks_from_messages(snaps))
    assert ev.objects["a"].time_to_flag_s == pytest.approx(3.0)
    assert ev.objects["b"].time_to_flag_s is None
    assert "never flagged malicious" in format_report(ev)
    assert ev.n_false_alarms == 0


def test_time_to_confirm_counts_from_the_first_detection(tmp_path: Path) -> None:
    """With ``detected_t`` in the header, time to confirm starts at the object's first
    detection (no tracker can confirm what no sensor reported); the figure from the first
    scored step stays available. Without it, or when it precedes the first step, nothing
    changes."""
    times = [T0 + k for k in range(30)]
    header = TruthHeader(site=SITE, objects={
        "far": ObjectInfo("uav", extra={"detected_t": T0 + 20.0}),
        "early": ObjectInfo("uav", extra={"detected_t": T0 - 5.0}),
        "plain": ObjectInfo("uav"),
    })
    samples = [TruthSample(t=t, ids=("far", "early", "plain"),
                           enu=np.array([[3000.0 - 10 * k, 0, 60], [0, 300.0, 40],
                                         [0, -200.0, 60]]))
               for k, t in enumerate(times)]
    write_truth(tmp_path / "truth.jsonl", header, samples)
    truth = read_truth(tmp_path / "truth.jsonl")
    snaps = []
    for k, t in enumerate(times):
        tracks = [_track(2, (0, 301.0, 40)), _track(3, (0, -201.0, 60))] if k >= 3 else []
        if k >= 22:
            tracks.append(_track(1, (3000.0 - 10 * k + 2, 0, 60)))
        snaps.append(_snap(k, t, tracks))
    ev = evaluate(truth, tracks_from_messages(snaps))
    far = ev.objects["far"]
    assert far.detected_t == T0 + 20.0
    assert far.time_to_confirm_s == pytest.approx(2.0)
    assert far.time_to_confirm_from_first_step_s == pytest.approx(22.0)
    assert ev.objects["early"].time_to_confirm_s == pytest.approx(3.0)  # first step is later
    assert ev.objects["plain"].time_to_confirm_s == pytest.approx(3.0)
    figures = to_json(ev)
    assert figures["time_to_confirm_median_s"] == pytest.approx(3.0)
    assert figures["time_to_confirm_from_first_step_median_s"] == pytest.approx(3.0)
    assert figures["time_to_confirm_max_s"] == pytest.approx(3.0)
    assert figures["objects"]["far"]["detected_t"] == T0 + 20.0
    assert "first detection" in format_report(ev)
