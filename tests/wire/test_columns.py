"""The columnar ``tracks`` encoder against the per-track one, byte for byte."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.vocabulary import CLASSES, MOTION_MODES, THREAT_LEVELS, TRACK_STATUSES
from cuas.wire.columns import TrackColumns, encode_track_columns

_FLOATS = st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False)
_WORDS = st.text(min_size=0, max_size=12)
_IDENTS = st.builds(
    wire.Ident,
    icao=st.none() | st.sampled_from(["4ca7b3", "a1b2c3"]),
    callsign=st.none() | st.text(min_size=1, max_size=8),
    rid=st.none() | st.text(min_size=1, max_size=20),
    operator_lla=st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180), _FLOATS),
    aliases=st.lists(_WORDS.filter(bool), max_size=3).map(tuple),
)


@st.composite
def columns(draw: Any) -> TrackColumns:
    n = draw(st.integers(0, 40))
    n_src = draw(st.integers(1, 5))

    def floats(*shape: int) -> np.ndarray:
        flat = draw(st.lists(_FLOATS, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        return np.asarray(flat, dtype=np.float64).reshape(shape)

    ids = np.asarray(sorted(draw(st.sets(st.integers(0, 2**40), min_size=n, max_size=n))),
                     dtype=np.int64)
    classified = draw(st.booleans())
    probs = None
    if classified:
        raw = np.abs(floats(n, len(CLASSES))) + 1e-3
        probs = raw / raw.sum(axis=1, keepdims=True)
    reasons = tuple(tuple(draw(st.lists(st.sampled_from(["drone", "in zone a", "fast", "é"]),
                                        max_size=3))) for _ in range(n))
    rows = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n))) if n else []
    idents = {k: draw(_IDENTS) for k in rows}
    modes = None
    if draw(st.booleans()):
        raw = np.abs(floats(n, len(MOTION_MODES))) + 1e-3
        modes = np.round(raw / raw.sum(axis=1, keepdims=True), 4)
    return TrackColumns(
        ids=ids,
        status=np.asarray(draw(st.lists(st.integers(0, len(TRACK_STATUSES) - 1), min_size=n,
                                        max_size=n)), dtype=np.int8),
        lla=floats(n, 3), enu=floats(n, 3), vel=floats(n, 3), pos_sigma=np.abs(floats(n, 3)),
        t_update=1.7e9 + np.abs(floats(n)),
        sources=np.asarray(draw(st.lists(st.booleans(), min_size=n * n_src,
                                         max_size=n * n_src)), dtype=bool).reshape(n, n_src),
        source_names=tuple(draw(st.lists(_WORDS, min_size=n_src, max_size=n_src))),
        probs=probs,
        level=np.asarray(draw(st.lists(st.integers(0, len(THREAT_LEVELS) - 1), min_size=n,
                                       max_size=n)), dtype=np.int8) if classified else None,
        malicious=np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                             dtype=bool) if classified else None,
        reasons=reasons if classified else None,
        idents=idents if draw(st.booleans()) else {},
        modes=modes,
    )


@settings(max_examples=150, deadline=None)
@given(cols=columns(), seq=st.integers(0, 2**40), t=st.floats(1e9, 4e9),
       truncated=st.booleans(), src=_WORDS.filter(bool))
def test_columns_encode_as_the_objects_do(cols: TrackColumns, seq: int, t: float,
                                          truncated: bool, src: str) -> None:
    msg = cols.to_message(src, seq, t, truncated)
    payload = encode_track_columns(cols, src, seq, t, truncated)
    assert payload == wire.encode(msg)


def test_empty_snapshot() -> None:
    cols = TrackColumns.empty()
    assert encode_track_columns(cols, "d", 3, 1.7e9) == wire.encode(
        wire.Tracks(src="d", seq=3, t=1.7e9, tracks=()))


@settings(max_examples=150, deadline=None)
@given(cols=columns(), seq=st.integers(0, 2**40), t=st.floats(1e9, 4e9),
       truncated=st.booleans(), src=_WORDS.filter(bool))
def test_columns_give_the_objects_maps_and_json(cols: TrackColumns, seq: int, t: float,
                                                truncated: bool, src: str) -> None:
    """The offline replay's JSON lines from columns are the per-track objects' byte for byte."""
    import json

    want = wire.to_dict(cols.to_message(src, seq, t, truncated))
    got = cols.message_dict(src, seq, t, truncated)
    assert got == want
    dump = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
    assert dump(got) == json.dumps(want, allow_nan=False, separators=(",", ":"))
    assert cols.message_dict(src, seq, t) == wire.to_dict(cols.to_message(src, seq, t))


def test_empty_snapshot_map() -> None:
    cols = TrackColumns.empty()
    assert cols.message_dict("d", 3, 1.7e9) == wire.to_dict(
        wire.Tracks(src="d", seq=3, t=1.7e9, tracks=()))
