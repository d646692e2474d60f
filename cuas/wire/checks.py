"""Validation of the parts of a message: each function takes a decoded value and the key it
sits under, and returns the typed part or raises :class:`cuas.errors.DecodeError` naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cuas.errors import DecodeError
from cuas.validation import (
    brief,
    choice,
    integer,
    item_key,
    items,
    lla,
    mapping,
    need,
    number,
    numbers,
    string,
    utf8,
    vec3,
)
from cuas.vocabulary import CLASSES, MOTION_MODES, THREAT_LEVELS, TRACK_STATUSES
from cuas.wire.messages import (
    FRAME_DIM,
    FRAMES,
    MAX_ALIASES,
    MAX_ATTRS_DEPTH,
    MAX_DISTANCE_M,
    MAX_ITEMS,
    MAX_SPEED_MS,
    SIGMA_MAX,
    SIGMA_MIN,
    T_MAX,
    T_MIN,
    ClassEvidence,
    Detection,
    Ident,
    Track,
)


def _azimuth(a: float) -> float:
    """``a`` normalised to [0, 360): ``-1e-20 % 360.0`` rounds to 360.0, so clamp that case."""
    a = a % 360.0
    return 0.0 if a >= 360.0 else a


def check_time(v: Any, key: str) -> float:
    """A UTC timestamp (s) within 2000..2100."""
    t = number(v, key)
    if not T_MIN <= t < T_MAX:
        raise DecodeError(f"timestamp {t} is outside 2000..2100 (UTC seconds)", key=key, data=v)
    return t


def free_form(attrs: Mapping[str, Any], key: str) -> None:
    """Check a free-form ``attrs`` map without recursion (see :data:`MAX_ATTRS_DEPTH`).

    Scalars are checked in place and only containers are pushed, so a long list of numbers
    costs one isinstance chain per element and no key strings.
    """
    stack: list[tuple[Any, str, int]] = [(attrs, key, 1)]
    while stack:
        node, where, depth = stack.pop()
        is_map = isinstance(node, dict)
        for name, x in node.items() if is_map else enumerate(node):
            if is_map and not isinstance(name, str):
                raise DecodeError("map keys must be strings", key=where, data=name)
            # JSON's types only: bytes or a msgpack extension would pass here and then break
            # the JSON recording writer (and every JSON consumer) downstream.
            if x is None or isinstance(x, bool):
                continue
            if isinstance(x, float):
                if not math.isfinite(x):
                    raise DecodeError(f"must be finite, got {x}", key=item_key(where, name))
            elif isinstance(x, int):
                if not -(2**63) <= x < 2**64:
                    raise DecodeError("integer out of the 64-bit range", key=item_key(where, name))
            elif isinstance(x, str):
                utf8(x, item_key(where, name))
            elif type(x) in (list, tuple, dict):  # not ExtType, a tuple subclass
                if depth >= MAX_ATTRS_DEPTH:
                    raise DecodeError(f"nested deeper than {MAX_ATTRS_DEPTH}",
                                      key=item_key(where, name))
                stack.append((x, item_key(where, name), depth + 1))
            else:
                raise DecodeError(f"unsupported value of type {type(x).__name__}",
                                  key=item_key(where, name))
        if is_map:
            for name in node:
                utf8(name, where)


def check_ident(v: Any, key: str) -> Ident:
    """An ``ident`` map: ICAO address (6 hex, lower-cased), callsign, Remote ID serial, aliases."""
    m = mapping(v, key)
    icao = m.get("icao")
    if icao is not None:
        icao = string(icao, f"{key}.icao")
        if len(icao) != 6 or any(c not in "0123456789abcdefABCDEF" for c in icao):
            raise DecodeError("ICAO address must be 6 hex characters", key=f"{key}.icao", data=icao)
        icao = icao.lower()
    callsign = m.get("callsign")
    if callsign is not None:
        callsign = string(callsign, f"{key}.callsign", allow_empty=True).strip() or None
    rid = m.get("rid")
    if rid is not None:
        rid = string(rid, f"{key}.rid")
    op = m.get("operator_lla")
    op_lla = lla(op, f"{key}.operator_lla") if op is not None else None
    raw = m.get("aliases")
    aliases: tuple[str, ...] = ()
    if raw is not None:
        if not isinstance(raw, list) or len(raw) > MAX_ALIASES:
            raise DecodeError(f"expected a list of at most {MAX_ALIASES} strings",
                              key=f"{key}.aliases", data=raw)
        aliases = tuple(string(a, f"{key}.aliases[{i}]") for i, a in enumerate(raw))
    return Ident(icao=icao, callsign=callsign, rid=rid, operator_lla=op_lla, aliases=aliases)


def _covariance(
    sigma: Any, R: Any, dim: int, key: str
) -> tuple[tuple[float, ...] | None, tuple[float, ...]]:
    """Validate ``sigma``/``R`` for a ``dim``-dimensional measurement; returns (sigma, R)."""
    sig: tuple[float, ...] | None = None
    if sigma is not None:
        sig = numbers(sigma, f"{key}.sigma", dim)
        for i, s in enumerate(sig):
            if s <= 0.0:
                raise DecodeError(f"sigma must be > 0, got {s}", key=f"{key}.sigma[{i}]")
            if s < SIGMA_MIN:
                raise DecodeError(f"sigma {s} is absurdly small", key=f"{key}.sigma[{i}]")
            if s > SIGMA_MAX:
                raise DecodeError(f"sigma {s} is absurdly large", key=f"{key}.sigma[{i}]")
    if R is not None:
        r = numbers(R, f"{key}.R", dim * dim)
        for i, x in enumerate(r):
            if abs(x) > SIGMA_MAX * SIGMA_MAX:
                raise DecodeError(f"entry {x} is absurdly large", key=f"{key}.R[{i}]")
        for i in range(dim):
            if r[i * dim + i] < SIGMA_MIN * SIGMA_MIN:
                raise DecodeError("diagonal entry is not a plausible variance",
                                  key=f"{key}.R[{i * dim + i}]")
        mat = np.asarray(r, dtype=np.float64).reshape(dim, dim)
        if not np.allclose(mat, mat.T, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(mat).max()))):
            raise DecodeError("R is not symmetric", key=f"{key}.R", data=r)
        try:
            np.linalg.cholesky(mat)
        except np.linalg.LinAlgError:
            raise DecodeError("R is not positive definite", key=f"{key}.R", data=r) from None
        return sig, r
    if sig is None:
        raise DecodeError("a positional detection needs sigma or R", key=f"{key}.sigma")
    return sig, diag_covariance(sig)


def diag_covariance(sig: Sequence[float]) -> tuple[float, ...]:
    """The row-major covariance ``diag(sig**2)`` (the ``R`` of a detection that sent ``sigma``)."""
    dim = len(sig)
    return tuple((sig[i] * sig[i] if i == j else 0.0) for i in range(dim) for j in range(dim))


def check_probabilities(v: Any, key: str, names: Sequence[str], *, complete: bool) -> dict[str, float]:
    """A map name -> number in [0, 1] over ``names`` (every one of them when ``complete``)."""
    m = mapping(v, key)
    out: dict[str, float] = {}
    for name, p in m.items():
        if name not in names:
            raise DecodeError(f"unknown name {brief(name)}; expected one of {tuple(names)}",
                              key=f"{key}.{name}")
        out[name] = number(p, f"{key}.{name}")
        if not 0.0 <= out[name] <= 1.0:
            raise DecodeError("must lie in [0, 1]", key=f"{key}.{name}", data=out[name])
    if complete:
        for name in names:
            if name not in out:
                raise DecodeError("missing", key=f"{key}.{name}")
    return out


def check_evidence(v: Any, key: str) -> ClassEvidence:
    """A detection's ``evidence`` map: a likelihood over every class, not all zero, a confidence."""
    m = mapping(v, key)
    likelihood = check_probabilities(need(m, "likelihood", key), f"{key}.likelihood", CLASSES,
                                     complete=True)
    if not any(likelihood.values()):
        raise DecodeError("a likelihood that is zero for every class says nothing",
                          key=f"{key}.likelihood")
    confidence = number(need(m, "confidence", key), f"{key}.confidence")
    if not 0.0 <= confidence <= 1.0:
        raise DecodeError("must lie in [0, 1]", key=f"{key}.confidence", data=confidence)
    label, basis = m.get("label"), m.get("basis")
    return ClassEvidence(
        likelihood=likelihood, confidence=confidence,
        label=string(label, f"{key}.label") if label is not None else None,
        basis=string(basis, f"{key}.basis") if basis is not None else None,
    )


def check_detection(v: Any, key: str) -> Detection:
    """One detection map, checked against its frame (``z`` dimension and ranges, covariance)."""
    m = mapping(v, key)
    frame = need(m, "frame", key)
    if frame not in FRAMES:
        raise DecodeError(f"unknown frame {brief(frame)}; expected one of {FRAMES}",
                          key=f"{key}.frame")
    dim = FRAME_DIM[frame]
    z_raw = need(m, "z", key)
    z = numbers(z_raw, f"{key}.z", dim)
    if frame == "lla":
        z = lla(z_raw, f"{key}.z")
    elif frame == "enu":
        for i, c in enumerate(z):
            if abs(c) > MAX_DISTANCE_M:
                raise DecodeError(f"{c} m is beyond any sensor's reach", key=f"{key}.z[{i}]")
    elif frame == "rae":
        if not 0.0 < z[0] <= MAX_DISTANCE_M:
            raise DecodeError(f"range must lie in (0, {MAX_DISTANCE_M:g}] m, got {z[0]}",
                              key=f"{key}.z[0]")
        if not -90.0 <= z[2] <= 90.0:
            raise DecodeError(f"elevation {z[2]} outside [-90, 90]", key=f"{key}.z[2]")
        z = (z[0], _azimuth(z[1]), z[2])
    elif frame == "ae":
        if not -90.0 <= z[1] <= 90.0:
            raise DecodeError(f"elevation {z[1]} outside [-90, 90]", key=f"{key}.z[1]")
        z = (_azimuth(z[0]), z[1])
    sigma, R = (None, None)
    if dim:
        sigma, R = _covariance(m.get("sigma"), m.get("R"), dim, key)
    vel = m.get("vel")
    vel_t = vec3(vel, f"{key}.vel") if vel is not None else None
    if vel_t is not None and max(abs(c) for c in vel_t) > MAX_SPEED_MS:
        raise DecodeError(f"a speed over {MAX_SPEED_MS:g} m/s is not a measurement",
                          key=f"{key}.vel")
    vs = m.get("vel_sigma")
    vel_sigma = vec3(vs, f"{key}.vel_sigma") if vs is not None else None
    if vel_sigma is not None and not all(SIGMA_MIN <= c <= MAX_SPEED_MS for c in vel_sigma):
        raise DecodeError(f"vel_sigma must lie in [{SIGMA_MIN:g}, {MAX_SPEED_MS:g}] m/s",
                          key=f"{key}.vel_sigma")
    ident = m.get("ident")
    attrs = mapping(m.get("attrs", {}), f"{key}.attrs")
    free_form(attrs, f"{key}.attrs")
    evidence = m.get("evidence")
    return Detection(
        frame=frame,
        z=z,
        R=R,
        sigma=sigma,
        vel=vel_t,
        vel_sigma=vel_sigma,
        ident=check_ident(ident, f"{key}.ident") if ident is not None else None,
        attrs=attrs,
        evidence=check_evidence(evidence, f"{key}.evidence") if evidence is not None else None,
    )


def check_strings(v: Any, key: str) -> tuple[str, ...]:
    """A list of strings (empty strings allowed)."""
    return tuple(string(s, f"{key}[{i}]", allow_empty=True)
                 for i, s in enumerate(items(v, key, MAX_ITEMS)))


def check_track(v: Any, key: str) -> Track:
    """One track map of a ``tracks`` snapshot."""
    m = mapping(v, key)
    cls = mapping(need(m, "class", key), f"{key}.class")
    probs = {c: number(p, f"{key}.class.{c}") for c, p in cls.items()}
    for c in CLASSES:
        if c not in probs:
            raise DecodeError("missing class probability", key=f"{key}.class.{c}")
    if any(not 0.0 <= p <= 1.0 for p in probs.values()):
        raise DecodeError("class probabilities must lie in [0, 1]", key=f"{key}.class")
    ident = m.get("ident")
    malicious = need(m, "malicious", key)
    if not isinstance(malicious, bool):
        raise DecodeError("expected a boolean", key=f"{key}.malicious", data=malicious)
    pos_sigma = vec3(need(m, "pos_sigma", key), f"{key}.pos_sigma")
    if min(pos_sigma) < 0.0:  # a standard deviation is never negative
        raise DecodeError("pos_sigma must be >= 0", key=f"{key}.pos_sigma", data=pos_sigma)
    return Track(
        id=integer(need(m, "id", key), f"{key}.id"),
        status=choice(need(m, "status", key), f"{key}.status", TRACK_STATUSES),
        lla=lla(need(m, "lla", key), f"{key}.lla"),
        enu=vec3(need(m, "enu", key), f"{key}.enu"),
        vel=vec3(need(m, "vel", key), f"{key}.vel"),
        pos_sigma=pos_sigma,
        # A timestamp like ``t``: 1970 or 2200 is a broken clock, not a last update.
        t_update=check_time(need(m, "t_update", key), f"{key}.t_update"),
        sources=check_strings(need(m, "sources", key), f"{key}.sources"),
        class_probs=probs,
        threat=choice(need(m, "threat", key), f"{key}.threat", THREAT_LEVELS),
        malicious=malicious,
        reasons=check_strings(need(m, "reasons", key), f"{key}.reasons"),
        ident=check_ident(ident, f"{key}.ident") if ident is not None else None,
        modes=(check_probabilities(m["modes"], f"{key}.modes", MOTION_MODES, complete=False)
               if m.get("modes") is not None else {}),
    )

