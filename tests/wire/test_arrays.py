"""The array entry point (cuas/wire/arrays.py) against the per-detection reference path: the
same payloads accepted and refused (with the same error), the same values, the same bytes
re-encoded, and the same measurement arrays for the tracker."""

from __future__ import annotations

import warnings
from typing import Any

import msgpack
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.config import SiteConfig
from cuas.errors import DecodeError
from cuas.fusion.identities import IdentityKeys
from cuas.fusion.measurements import to_measurements
from cuas.geo import SiteFrame
from cuas.wire.arrays import (
    ArrayDetections,
    decode_detections,
    detection_arrays,
    encode_array_detections,
    n_detections,
)

T = 1.8e9
_GOOD_Z = {
    "enu": st.tuples(st.floats(-5e4, 5e4), st.floats(-5e4, 5e4), st.floats(-100, 3000)),
    "lla": st.tuples(st.floats(51.0, 52.0), st.floats(-1.0, 1.0), st.floats(0, 3000)),
    "rae": st.tuples(st.floats(1.0, 3e4), st.floats(-720.0, 720.0), st.floats(-5.0, 60.0)),
    "ae": st.tuples(st.floats(-720.0, 720.0), st.floats(-10.0, 80.0)),
}


# Free-form attrs as sensors send them (a radar's snr_db, an RF sensor's link, nesting).
_SCALAR = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
_ATTRS = st.dictionaries(st.text(max_size=8), st.recursive(
    _SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=4), inner, max_size=3), max_leaves=8), max_size=4)
def _nested(depth: int) -> list[Any]:
    out: list[Any] = [1]
    for _ in range(depth - 1):
        out = [out]
    return out


# Attrs the reference refuses (JSON's types only, finite, at most MAX_ATTRS_DEPTH deep) or
# that are not a map at all.
_BAD_ATTRS = st.sampled_from([None, 7, [1.0], "x", {"snr_db": float("nan")},
                              {"snr_db": float("inf")}, {"raw": b"\x00"}, {b"k": 1.0},
                              {"deep": _nested(wire.MAX_ATTRS_DEPTH + 1)}])


_PROB = st.floats(0.0, 1.0)
# Class evidence as a classifying sensor sends it (micro-Doppler, a camera's CNN label).
_EVIDENCE = st.fixed_dictionaries(
    {"likelihood": st.fixed_dictionaries({c: _PROB for c in wire.CLASSES}).filter(
        lambda lik: any(lik.values())), "confidence": _PROB},
    optional={"label": st.text(min_size=1, max_size=6), "basis": st.text(min_size=1, max_size=6)})
_BAD_EVIDENCE = st.sampled_from([
    7, [], {"likelihood": {c: 0.0 for c in wire.CLASSES}, "confidence": 0.5},
    {"likelihood": {"uav": 1.0}, "confidence": 0.5},
    {"likelihood": {c: 0.5 for c in wire.CLASSES}, "confidence": 1.5},
    {"likelihood": {c: 0.5 for c in wire.CLASSES}},
    {"likelihood": {**{c: 0.5 for c in wire.CLASSES}, "ufo": 0.1}, "confidence": 0.5},
    {"likelihood": {c: 0.5 for c in wire.CLASSES}, "confidence": 0.5, "label": 3}])


@st.composite
def detection(draw: Any, frame: str, cov: str, with_vel: bool, with_vs: bool,
              attrs: str = "none") -> dict[str, Any]:
    """A valid detection of ``frame`` with the message's covariance form and velocity."""
    dim = wire.FRAME_DIM[frame]
    d: dict[str, Any] = {"frame": frame, "z": list(draw(_GOOD_Z[frame]))}
    sig = draw(st.lists(st.floats(0.01, 50.0), min_size=dim, max_size=dim))
    if cov in ("sigma", "both", "both_diag"):
        d["sigma"] = sig
    if cov in ("R", "both"):
        s = np.asarray(draw(st.lists(st.floats(0.5, 50.0), min_size=dim, max_size=dim)))
        mat = np.diag(s**2)
        if dim > 1:
            mat[0, 1] = mat[1, 0] = draw(st.floats(-0.99, 0.99)) * s[0] * s[1]
        d["R"] = mat.reshape(-1).tolist()
    if cov == "both_diag":  # R exactly diag(sigma^2): re-encoded without it
        d["R"] = np.diag(np.asarray(sig) ** 2).reshape(-1).tolist()
    if with_vel:
        d["vel"] = draw(st.lists(st.floats(-300, 300), min_size=3, max_size=3))
        if with_vs:
            d["vel_sigma"] = draw(st.lists(st.floats(0.1, 20.0), min_size=3, max_size=3))
    if attrs == "all" or (attrs == "some" and draw(st.booleans())):
        d["attrs"] = draw(_ATTRS)
    if attrs != "none" and draw(st.booleans()):
        d["evidence"] = draw(_EVIDENCE | st.none())
    return d


# Wrong or edge values one detection may get: the two paths must agree on all.
_ODD = st.sampled_from([0.0, -0.0, -1e-20, 360.0, -90.0, 90.5, 180.5, 1e-10, 1e8, 1.5e8,
                        1e-9, 1e7, 1e15, 2e5, 2**62 + 1, -(2**63), float("nan"),
                        float("inf"), True, None, "3", [], {}])


@st.composite
def corrupt(draw: Any, d: dict[str, Any]) -> None:
    """Change one thing of ``d``: a value, a length, a key, the frame, R's symmetry."""
    how = draw(st.integers(0, 5))
    key = draw(st.sampled_from(sorted(d)))
    if how == 0 and isinstance(d[key], list) and d[key]:
        d[key][draw(st.integers(0, len(d[key]) - 1))] = draw(_ODD)
    elif how == 1 and isinstance(d[key], list):
        d[key] = d[key][:-1] if draw(st.booleans()) else d[key] + [1.0]
    elif how == 2:
        d[draw(st.sampled_from(["attrs", "ident", "zzz", "vel", "vel_sigma", "sigma", "R"]))] = \
            draw(st.sampled_from([{}, {"snr_db": 3.0}, None, 7, [1.0, 2.0, 3.0]]))
    elif how == 5 and draw(st.booleans()):
        d[draw(st.sampled_from(["attrs", "evidence"]))] = draw(_BAD_ATTRS | _BAD_EVIDENCE)
    elif how == 3:
        d["frame"] = draw(st.sampled_from(["enu", "lla", "rae", "ae", "none", "xyz", None]))
    elif how == 4 and "R" in d and len(d["R"]) > 1:
        d["R"][1] += draw(st.sampled_from([1.0, 1e-12, 1e6]))  # asymmetric, or not definite
    else:
        del d[key]


@st.composite
def message(draw: Any) -> dict[str, Any]:
    frame = draw(st.sampled_from(["enu", "lla", "rae", "ae"]))
    cov = draw(st.sampled_from(["sigma", "R", "both", "both_diag"]))
    with_vel, with_vs = draw(st.booleans()), draw(st.booleans())
    attrs = draw(st.sampled_from(["none", "some", "all"]))
    n = draw(st.integers(0, 6))
    dets = [draw(detection(frame, cov, with_vel, with_vs, attrs)) for _ in range(n)]
    if n and draw(st.booleans()):
        draw(corrupt(dets[draw(st.integers(0, n - 1))]))
    msg: dict[str, Any] = {"v": 1, "type": "detections", "src": "r1", "seq": 3, "t": T,
                           "sensor": "r1", "kind": "radar", "dets": dets}
    if draw(st.booleans()):
        msg["origin"] = [51.5, -0.1, 30.0]
    if draw(st.integers(0, 9)) == 0:
        msg["t"] = draw(st.sampled_from([0.0, "x", T]))
    return msg


def _outcome(fn: Any, payload: bytes) -> tuple[str, Any]:
    try:
        return "ok", fn(payload)
    except DecodeError as exc:
        return "refused", str(exc)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message())
def test_array_path_accepts_and_refuses_what_the_reference_does(msg: dict[str, Any]) -> None:
    payload = msgpack.packb(msg, use_bin_type=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning on any input
        got = _outcome(decode_detections, payload)
    ref = _outcome(wire.decode, payload)
    assert got[0] == ref[0], (got, ref)
    if got[0] == "refused":
        assert got[1] == ref[1]
        return
    fast, slow = got[1], ref[1]
    assert isinstance(slow, wire.Detections) and isinstance(fast, wire.Detections)
    assert n_detections(fast) == len(slow.dets)
    assert fast.dets == slow.dets  # the objects built from the columns
    assert (fast.src, fast.seq, fast.t, fast.sensor, fast.kind, fast.origin) == (
        slow.src, slow.seq, slow.t, slow.sensor, slow.kind, slow.origin)
    if isinstance(fast, ArrayDetections):
        assert encode_array_detections(fast) == wire.encode(slow)
        assert wire.encode(fast) == wire.encode(slow)


def _frames(arrays: Any) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(getattr(arrays, f)) for f in (
        "model", "z", "R", "pos", "pos_cov", "vel", "vel_R", "has_vel", "ident", "source"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message(), st.booleans())
def test_the_tracker_gets_the_same_arrays(msg: dict[str, Any], configured: bool) -> None:
    payload = msgpack.packb(msg, use_bin_type=True)
    try:
        slow = wire.decode(payload)
    except DecodeError:
        return
    fast = decode_detections(payload)
    assert isinstance(slow, wire.Detections) and isinstance(fast, wire.Detections)
    site = SiteFrame(SiteConfig())
    origin = (51.556, -0.2796, 40.0) if configured else None
    a = to_measurements(fast, site, origin, IdentityKeys())
    b = to_measurements(slow, site, origin, IdentityKeys())
    for x, y in zip(_frames(a), _frames(b), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
    assert (a.t, a.n_dropped, a.drop_reasons, a.n_nonpositional, a.merged) == (
        b.t, b.n_dropped, b.drop_reasons, b.n_nonpositional, b.merged)
    assert [type(x) for x in a.models] == [type(x) for x in b.models]  # fresh per batch


def test_a_plain_scan_takes_the_array_path_and_builds_no_detection() -> None:
    dets = [{"frame": "rae", "z": [1000.0 + k, 370.0 + k, 5.0], "sigma": [10.0, 0.5, 0.5]}
            for k in range(50)]
    msg = decode_detections(msgpack.packb({"v": 1, "type": "detections", "src": "r", "seq": 0,
                                           "t": T, "sensor": "r", "kind": "radar",
                                           "dets": dets}))
    assert isinstance(msg, ArrayDetections)
    assert n_detections(msg) == 50 and msg.arrays.z[0, 1] == 10.0  # azimuth normalised
    meas = to_measurements(msg, SiteFrame(SiteConfig()), (51.556, -0.2796, 40.0),
                           IdentityKeys())
    assert meas.m == 50
    assert wire.Detections.__dict__["dets"].__get__(msg) is None  # no object was built
    # Anything else (an identity, evidence, an unknown key, no detection) takes the reference.
    for extra in ({"ident": {"icao": "abcdef"}}, {"q": 1}, {"evidence": {}}):  # last: refused
        odd = [dict(dets[0], **extra)] + dets[1:]
        assert detection_arrays(odd) is None
    assert detection_arrays([]) is None


def test_a_scan_with_attrs_takes_the_array_path() -> None:
    """A radar's plots with ``snr_db`` (every bundled radar message): columns plus the attrs
    maps as decoded, the same objects, bytes and caps as the reference."""
    dets: list[dict[str, Any]] = [
        {"frame": "rae", "z": [1000.0 + k, 10.0, 5.0], "sigma": [10.0, 0.5, 0.5],
         "attrs": {"snr_db": 20.0 - k}} for k in range(20)]
    dets[3] = {"frame": "rae", "z": [900.0, 10.0, 5.0], "sigma": [10.0, 0.5, 0.5]}  # none
    dets[4]["attrs"] = {}
    payload = msgpack.packb({"v": 1, "type": "detections", "src": "r", "seq": 0, "t": T,
                             "sensor": "r", "kind": "radar", "dets": dets})
    msg = decode_detections(payload)
    assert isinstance(msg, ArrayDetections) and not msg.bare
    assert msg.arrays.attrs is not None and msg.arrays.attrs[0] == {"snr_db": 20.0}
    assert msg.attrs_list()[3] == {} and msg.attrs_list()[4] == {}
    ref = wire.decode(payload)
    assert isinstance(ref, wire.Detections)
    assert wire.encode(ref) == encode_array_detections(msg)
    assert msg.dets == ref.dets
    trimmed = msg.arrays.without_attrs([0, 5])
    assert trimmed.attrs is not None and trimmed.attrs[0] == {} and trimmed.attrs[1] != {}
    assert msg.arrays.attrs[0] == {"snr_db": 20.0}  # the original is untouched
    bare = decode_detections(msgpack.packb({"v": 1, "type": "detections", "src": "r", "seq": 0,
                                            "t": T, "sensor": "r", "kind": "radar",
                                            "dets": [{k: v for k, v in d.items() if k != "attrs"}
                                                     for d in dets]}))
    assert isinstance(bare, ArrayDetections) and bare.bare and bare.attrs_list()[0] == {}
