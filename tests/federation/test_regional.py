"""The regional picture without sockets: fusion of overlapping sites, identities, and bad
site input counted and dropped (never raised)."""

from __future__ import annotations

import time

import msgpack
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas import wire
from cuas.config import FederationConfig
from cuas.federation.regional import Regional
from tests.federation.helpers import ORIGIN, noisy, snapshot, track

CFG = FederationConfig(region="london", region_lat=ORIGIN[0], region_lon=ORIGIN[1],
                       region_h=ORIGIN[2])


def test_one_drone_two_sites_is_one_track_within_the_ci_bound() -> None:
    rng = np.random.default_rng(7)
    truth = np.array([800.0, -300.0, 120.0])
    now = time.time()
    misses = 0
    reg = Regional(CFG)
    for k in range(200):
        a = track(11, noisy(rng, truth, 8.0), 8.0, t=now)
        b = track(42, noisy(rng, truth, 4.0), 4.0, t=now)
        assert reg.accept("north", "trk", wire.encode(snapshot("n", k, now, [a])), now)
        assert reg.accept("south", "trk", wire.encode(snapshot("s", k, now, [b])), now)
        pic = reg.picture(now)
        assert len(pic.tracks) == 1
        tr = pic.tracks[0]
        assert tr.id == 1  # the regional id persists
        assert set(tr.sources) == {"north/radar-1", "south/radar-1"}
        # CI never claims more than the sharper input knows...
        assert min(tr.pos_sigma) >= 4.0 - 1e-6
        err = np.asarray(tr.enu) - truth
        # ...and its error stays within its own 3-sigma bound (chi-square 3 dof, 99.3 %).
        if float(np.sum((err / np.asarray(tr.pos_sigma)) ** 2)) > 14.16:
            misses += 1
        now += 0.5
    assert misses <= 6, misses


def test_separate_drones_stay_separate_and_same_site_never_merges() -> None:
    now = time.time()
    reg = Regional(CFG)
    tracks_n = [track(1, (0.0, 0.0, 100.0), t=now), track(2, (3.0, 0.0, 100.0), t=now)]
    tracks_s = [track(7, (2000.0, 0.0, 100.0), t=now)]
    reg.accept("north", "trk", wire.encode(snapshot("n", 1, now, tracks_n)), now)
    reg.accept("south", "trk", wire.encode(snapshot("s", 1, now, tracks_s)), now)
    assert len(reg.picture(now).tracks) == 3


def test_a_snapshot_with_a_bad_track_is_dropped_when_used_and_the_last_good_one_is_not_kept(
        ) -> None:
    now = time.time()
    reg = Regional(CFG)
    good = wire.to_dict(snapshot("n", 1, now, [track(1, (0, 0, 10), t=now)]))
    assert reg.accept("north", "trk", msgpack.packb(good), now) is not None
    assert len(reg.picture(now).tracks) == 1
    bad = dict(good, seq=2, tracks=[dict(good["tracks"][0], pos_sigma=[-1.0, 1.0, 1.0])])
    assert reg.accept("north", "trk", msgpack.packb(bad), now) is not None  # envelope fine
    assert len(reg.picture(now).tracks) == 0
    assert reg.counters["dropped_malformed_tracks"] == 1
    # Superseded before a picture: never validated, never counted.
    reg.accept("north", "trk", msgpack.packb(dict(bad, seq=3)), now)
    reg.accept("north", "trk", msgpack.packb(dict(good, seq=4)), now)
    assert len(reg.picture(now).tracks) == 1
    assert reg.counters["dropped_malformed_tracks"] == 1


def test_stale_sites_leave_the_picture() -> None:
    now = time.time()
    reg = Regional(CFG)
    reg.accept("north", "trk", wire.encode(snapshot("n", 1, now, [track(1, (0, 0, 10), t=now)])),
               now)
    assert len(reg.picture(now).tracks) == 1
    assert len(reg.picture(now + CFG.stale_s + 1).tracks) == 0


def test_replayed_and_skewed_and_wrong_type_are_counted_and_dropped() -> None:
    now = time.time()
    reg = Regional(CFG)
    good = wire.encode(snapshot("n", 5, now, []))
    assert reg.accept("north", "trk", good, now) is not None
    assert reg.accept("north", "trk", good, now) is None
    assert reg.counters["dropped_replayed"] == 1
    old = wire.encode(snapshot("n", 6, now - 60, []))
    assert reg.accept("north", "trk", old, now) is None
    assert reg.counters["dropped_skewed"] == 1
    assert reg.accept("north", "alert", good, now) is None
    assert reg.counters["dropped_wrong_type"] == 1
    # A restarted site daemon starts its seq again, with a newer time: accepted.
    assert reg.accept("north", "trk", wire.encode(snapshot("n", 0, now + 1, [])), now) is not None


_T0 = time.time()
payloads = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda d: msgpack.packb(d), st.dictionaries(
        st.sampled_from(["v", "type", "src", "seq", "t", "tracks", "state"]),
        st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True),
                  st.text(max_size=8), st.lists(st.integers(0, 2**32), max_size=3)),
        max_size=7)),
    # Valid snapshots replayed, out of order or from a skewed clock.
    st.builds(lambda seq, dt: wire.encode(snapshot("x", seq, _T0 + dt, [
        track(1, (0.0, 0.0, 10.0), t=_T0 + dt)])),
        st.integers(0, 5), st.floats(-100.0, 100.0)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]),
                          st.sampled_from(["trk", "alert", "status"]), payloads), max_size=20))
def test_garbage_from_sites_never_raises(messages: list[tuple[str, str, bytes]]) -> None:
    now = _T0
    reg = Regional(CFG)
    reg.accept("a", "trk", wire.encode(snapshot("a", 1, now, [track(1, (0, 0, 10), t=now)])),
               now)
    for site, kind, payload in messages:
        reg.accept(site, kind, payload, now)
    pic = reg.picture(now)
    assert 1 <= len(pic.tracks) <= 3  # site a's drone; b and c at most one each, fused or not
    wire.decode(wire.encode(pic))  # the regional picture is always valid contract
    # Every message accounted for once on arrival; a snapshot whose tracks fail validation
    # when the picture uses them is counted again, as dropped_malformed_tracks.
    dropped = sum(v for k, v in reg.counters.items()
                  if k.startswith("dropped_") and k != "dropped_malformed_tracks")
    accepted = sum(v for k, v in reg.counters.items() if k.startswith("accepted_"))
    assert dropped + accepted == len(messages) + 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(
    st.one_of(st.sampled_from(["cuas.a.trk", "cuas.b.status", "cuas.london.trk", "cuas.a.ack",
                               "cuas..trk", "cuas.a.trk.x", "x.y.z", ""]),
              st.text(max_size=20)),
    payloads), max_size=15))
def test_the_federate_subscription_handler_never_raises(
        messages: list[tuple[str, bytes]]) -> None:
    """What the NATS subscription calls for each site message: any subject, any bytes."""
    from nats.aio.msg import Msg

    from cuas.federation.federate import Federate

    node = Federate(CFG, publish="tcp://127.0.0.1:1")  # not bound: run() is not called
    for subject, payload in messages:
        node._on_site_message(Msg(None, subject=subject, data=payload))  # type: ignore[arg-type]
    assert "london" not in node.regional.sites  # its own picture is never an input
    assert node.regional.counters["dropped_internal"] == 0
    node.status(time.time())  # and its heartbeat is still valid contract
    wire.decode(wire.encode(node.status(time.time())))
