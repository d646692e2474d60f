"""Checks for untrusted decoded data (msgpack, JSON), defined once: each returns the value with
its type narrowed, or raises :class:`cuas.errors.DecodeError` naming the offending key.

Used by the wire contract (``cuas.wire``) and the evaluation files (``cuas.eval``); imports only
``cuas.errors``. ``key`` is the dotted path of the value (``dets[3].sigma``) for the message.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cuas.errors import DecodeError

#: Longest string accepted (characters) unless a caller says otherwise.
MAX_STR: Final = 256

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60


def brief(v: Any) -> str:
    """A short repr of an untrusted value for an error message.

    A plain ``!r`` of hostile input raised RecursionError (1000-deep lists, which msgpack
    happily unpacks), ValueError (ints of more than 4300 digits) or produced megabytes of text.
    """
    try:
        return _REPR.repr(v)
    except (ValueError, RecursionError):
        return f"<{type(v).__name__}>"


def join_key(where: str, key: str) -> str:
    """``where.key``, or ``key`` at the top level (``where`` empty)."""
    return f"{where}.{key}" if where else key


def item_key(where: str, name: str | int) -> str:
    """The key of a list item (``where[3]``) or a map entry (``where.name``)."""
    return f"{where}[{name}]" if isinstance(name, int) else f"{where}.{name}"


def need(d: Mapping[str, Any], key: str, where: str = "") -> Any:
    """``d[key]``, or a DecodeError naming ``where.key`` as missing."""
    try:
        return d[key]
    except KeyError:
        raise DecodeError("missing required key", key=join_key(where, key)) from None


def utf8(v: str, key: str) -> None:
    """Reject strings that cannot be encoded as UTF-8."""
    # JSON (a JSON Lines recording) can carry lone surrogates ("\ud800"); accepting them made
    # encode() of the decoded message raise UnicodeEncodeError.
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise DecodeError("not valid Unicode (lone surrogate)", key=key) from None


def string(v: Any, key: str, *, allow_empty: bool = False, max_len: int = MAX_STR) -> str:
    """A string of at most ``max_len`` characters, valid UTF-8, not empty unless allowed."""
    if not isinstance(v, str):
        raise DecodeError(f"expected a string, got {type(v).__name__}", key=key, data=v)
    if not v and not allow_empty:
        raise DecodeError("must not be empty", key=key)
    if len(v) > max_len:
        raise DecodeError(f"longer than {max_len} characters", key=key)
    utf8(v, key)
    return v


def integer(v: Any, key: str, *, minimum: int | None = 0) -> int:
    """A 64-bit signed integer (not a bool), at least ``minimum`` when given."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise DecodeError(f"expected an integer, got {type(v).__name__}", key=key, data=v)
    # Magnitude first: formatting an int of more than 4300 digits raises ValueError.
    if not -(2**63) <= v < 2**63:
        raise DecodeError("integer out of the 64-bit range", key=key)
    if minimum is not None and v < minimum:
        raise DecodeError(f"must be >= {minimum}, got {v}", key=key, data=v)
    return v


def number(v: Any, key: str) -> float:
    """A finite number (int or float, not a bool) as a float."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DecodeError(f"expected a number, got {type(v).__name__}", key=key, data=v)
    try:
        f = float(v)
    except OverflowError:  # an int beyond float range, e.g. 10**400 from JSON
        raise DecodeError("number too large", key=key) from None
    if not math.isfinite(f):
        raise DecodeError(f"must be finite, got {f}", key=key, data=v)
    return f


def numbers(v: Any, key: str, n: int | None = None, *, max_len: int = 9) -> tuple[float, ...]:
    """A list of finite numbers: exactly ``n`` when given, never more than ``max_len``."""
    if not isinstance(v, list | tuple):
        raise DecodeError(f"expected a list of numbers, got {type(v).__name__}", key=key, data=v)
    if n is not None and len(v) != n:
        raise DecodeError(f"expected {n} values, got {len(v)}", key=key, data=v)
    if len(v) > max_len:
        raise DecodeError(f"expected at most {max_len} values, got {len(v)}", key=key)
    return tuple(number(x, f"{key}[{i}]") for i, x in enumerate(v))


def vec3(v: Any, key: str) -> tuple[float, float, float]:
    """Three finite numbers."""
    a, b, c = numbers(v, key, 3)
    return (a, b, c)


def lla(v: Any, key: str) -> tuple[float, float, float]:
    """WGS-84 (lat, lon degrees, height above the ellipsoid m) with plausible values."""
    lat, lon, h = numbers(v, key, 3)
    latitude(lat, key, data=v)
    longitude(lon, key, data=v)
    if not -12_000.0 <= h <= 1_000_000.0:
        raise DecodeError(f"height {h} m is not a plausible WGS-84 height", key=key, data=v)
    return (lat, lon, h)


def latitude(lat: float, key: str, *, data: object = None) -> float:
    """``lat`` (degrees) when it lies in [-90, 90]."""
    if not -90.0 <= lat <= 90.0:
        raise DecodeError(f"latitude {lat} outside [-90, 90]", key=key, data=data)
    return lat


def longitude(lon: float, key: str, *, data: object = None) -> float:
    """``lon`` (degrees) when it lies in [-180, 180]."""
    if not -180.0 <= lon <= 180.0:
        raise DecodeError(f"longitude {lon} outside [-180, 180]", key=key, data=data)
    return lon


def mapping(v: Any, key: str | None) -> Mapping[str, Any]:
    """A map with string keys."""
    if not isinstance(v, dict):
        raise DecodeError(f"expected a map, got {type(v).__name__}", key=key, data=v)
    for k in v:
        if not isinstance(k, str):
            raise DecodeError("map keys must be strings", key=key, data=k)
    return v


def items(v: Any, key: str, max_items: int) -> list[Any]:
    """A list of at most ``max_items`` entries."""
    if not isinstance(v, list | tuple):
        raise DecodeError(f"expected a list, got {type(v).__name__}", key=key, data=v)
    if len(v) > max_items:
        raise DecodeError(f"more than {max_items} items ({len(v)})", key=key)
    return list(v)


def choice(v: Any, key: str, choices: Sequence[str]) -> str:
    """``v`` when it is one of ``choices``."""
    if v not in choices:
        raise DecodeError(f"{brief(v)} is not one of {tuple(choices)}", key=key, data=v)
    return str(v)
