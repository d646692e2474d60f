"""The wire and recording contract, version 1 (``shared/spec/wire.md``, copied in ``docs/wire.md``).

The one place that turns msgpack/JSON payloads into typed, frozen dataclasses and back.
Everything that enters cuas is validated here, once; the rest of the code trusts what it gets.
Malformed input raises :class:`cuas.errors.DecodeError` naming the offending key.

- :mod:`cuas.wire.messages`: the message dataclasses and the limits readers apply;
- :mod:`cuas.wire.checks`: validation of each part of a message;
- :mod:`cuas.wire.codec`: ``decode``/``encode`` (msgpack), ``from_dict``/``to_dict``, topics.

Units and frames: times are UTC seconds since the Unix epoch; lengths metres; angles degrees;
``lla`` is WGS-84 (lat, lon degrees, height above the ellipsoid in metres); ``enu`` metres east,
north, up at the site origin; azimuth from true north clockwise.
"""

from cuas.vocabulary import CLASSES, THREAT_LEVELS, TRACK_STATUSES
from cuas.wire.codec import decode, encode, from_dict, to_dict, topic_for, track_dict
from cuas.wire.messages import (
    ACK_ACTIONS,
    FRAME_DIM,
    FRAMES,
    MAX_ALIASES,
    MAX_ATTRS_DEPTH,
    MAX_DISTANCE_M,
    MAX_ITEMS,
    MAX_NOTE,
    MAX_PAYLOAD_BYTES,
    MAX_SPEED_MS,
    MAX_SRC,
    MAX_STR,
    NEUTRAL_CLASS,
    SIGMA_MAX,
    SIGMA_MIN,
    STATES,
    T_MAX,
    T_MIN,
    VERSION,
    Ack,
    Alert,
    ClassEvidence,
    Detection,
    Detections,
    Frame,
    Ident,
    Message,
    Status,
    Track,
    Tracks,
    Vec3,
)

__all__ = [
    "ACK_ACTIONS", "CLASSES", "THREAT_LEVELS", "TRACK_STATUSES", "FRAMES", "FRAME_DIM", "MAX_ALIASES", "MAX_ATTRS_DEPTH", "MAX_DISTANCE_M",
    "MAX_ITEMS", "MAX_NOTE", "MAX_PAYLOAD_BYTES", "MAX_SPEED_MS", "MAX_SRC", "MAX_STR",
    "NEUTRAL_CLASS", "SIGMA_MAX", "SIGMA_MIN", "STATES", "T_MAX", "T_MIN", "VERSION", "Ack",
    "Alert", "ClassEvidence", "Detection", "Detections", "Frame", "Ident", "Message", "Status",
    "Track", "Tracks", "Vec3", "decode", "encode", "from_dict", "to_dict", "topic_for",
    "track_dict",
]
