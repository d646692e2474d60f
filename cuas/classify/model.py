"""The evidence model: likelihood shapes read from ``likelihoods.toml`` and their naive-Bayes
combination into class probabilities over ``uav``, ``bird``, ``manned``, ``clutter``.

Every term is a clipped log-likelihood ratio per class; terms add (naive Bayes: features are
treated as independent given the class, which is what keeps each term explainable), a missing
feature (NaN) adds nothing, and a softmax of prior plus terms gives probabilities summing to 1.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cuas.errors import ConfigError
from cuas.vocabulary import CLASSES

F64 = NDArray[np.float64]

log = logging.getLogger(__name__)

#: Column indices of the class order :data:`cuas.vocabulary.CLASSES`.
UAV, BIRD, MANNED, CLUTTER = range(len(CLASSES))


@dataclass(frozen=True, slots=True)
class Curve:
    """A piecewise-linear log-likelihood ratio per class over breakpoints ``x`` (feature unit)."""

    name: str
    unit: str
    x: F64  # (B,) ascending
    llr: F64  # (4, B), class order CLASSES
    clip: float

    def __call__(self, v: F64) -> F64:
        """(N,) feature values -> (N, 4) clipped terms; NaN rows give 0 (no evidence)."""
        # Filled class by class into contiguous rows (4, N), returned transposed: writing the
        # columns of an (N, 4) array took twice as long; the values are the same.
        out = np.empty((4, len(v)))
        missing = ~np.isfinite(v)
        some = bool(missing.any())
        vv = np.where(missing, self.x[0], v) if some else v
        for c in range(4):
            out[c] = np.interp(vv, self.x, self.llr[c])
        np.clip(out, -self.clip, self.clip, out=out)
        if some:
            out[:, missing] = 0.0
        return out.T


@dataclass(frozen=True, slots=True)
class EvidenceModel:
    """All shapes of one likelihood file."""

    log_prior: F64  # (4,)
    curves: dict[str, Curve]
    #: Curves of what the classifier keeps over a track's life (``[history.<name>]``).
    history: dict[str, Curve]
    adsb: F64  # (4,) constant terms
    remote_id: F64
    rf_link: F64
    rf_onset: F64
    rf_onset_s: float
    rf_protocol: F64
    rf_protocols: frozenset[str]
    source: str


def _vec(table: Any, where: str, path: str) -> F64:
    if not isinstance(table, dict) or set(table) != set(CLASSES):
        raise ConfigError(f"needs exactly the classes {', '.join(CLASSES)}", path=path, key=where)
    vals = [table[c] for c in CLASSES]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        raise ConfigError("expected numbers", path=path, key=where)
    return np.asarray(vals, dtype=np.float64)


def load_model(path: str | Path | None = None) -> EvidenceModel:
    """Read a likelihood file (default: the packaged ``likelihoods.toml``), checking its shape."""
    if path is None:
        ref = resources.files("cuas.classify").joinpath("likelihoods.toml")
        text, where = ref.read_text(encoding="utf-8"), "cuas/classify/likelihoods.toml"
    else:
        where = str(path)
        text = Path(path).read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where) from None
    if tuple(doc.get("classes", ())) != CLASSES:
        raise ConfigError(f"classes must be {list(CLASSES)}", path=where, key="classes")
    prior = _vec(doc.get("prior"), "prior", where)
    if not (prior > 0).all():
        raise ConfigError("prior probabilities must be > 0", path=where, key="prior")
    curves = _curves(doc, "features", where)
    history = _curves(doc, "history", where)
    ev = doc.get("evidence", {})
    return EvidenceModel(
        log_prior=np.log(prior / prior.sum()),
        curves=curves,
        history=history,
        adsb=_vec(ev.get("adsb"), "evidence.adsb", where),
        remote_id=_vec(ev.get("remote_id"), "evidence.remote_id", where),
        rf_link=_vec(ev.get("rf_link"), "evidence.rf_link", where),
        rf_onset=_vec(ev.get("rf_onset"), "evidence.rf_onset", where),
        rf_onset_s=float(ev.get("rf_onset_s", 10.0)),
        rf_protocol=_vec(ev.get("rf_protocol"), "evidence.rf_protocol", where),
        rf_protocols=frozenset(str(p).lower() for p in ev.get("rf_protocols", ())),
        source=where,
    )


def _curves(doc: dict[str, Any], section: str, where: str) -> dict[str, Curve]:
    """The ``[<section>.<name>]`` curves of a likelihood file."""
    curves: dict[str, Curve] = {}
    for name, t in doc.get(section, {}).items():
        key = f"{section}.{name}"
        x = np.asarray(t.get("x", ()), dtype=np.float64)
        llr = np.asarray([t.get(c, ()) for c in CLASSES], dtype=np.float64)
        if x.ndim != 1 or len(x) < 2 or not (np.diff(x) > 0).all():
            raise ConfigError("x must be 2 or more ascending breakpoints", path=where,
                              key=f"{key}.x")
        if llr.shape != (4, len(x)) or not np.isfinite(llr).all():
            raise ConfigError("every class needs one finite value per breakpoint", path=where,
                              key=key)
        clip = float(t.get("clip", 2.0))
        curves[name] = Curve(name, str(t.get("unit", "")), x, llr, clip)
    return curves


def combine(log_prior: F64, terms: F64) -> F64:
    """Class probabilities (N, 4) from the log prior (4,) and summed terms (N, 4).

    A softmax, shifted by each row's maximum so that large terms cannot overflow.
    """
    z = terms + log_prior
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


#: The compiled kernels (cuas.classify.kernels) once loaded; False: switched off or unusable.
_kernels: ModuleType | bool | None = None


def kernels() -> ModuleType | None:
    """The compiled classifier kernels, imported (with numba) on first use; None when they are
    switched off (:func:`use_kernels`) or numba cannot run here (the numpy code, their oracle,
    then does the work: same results, slower). The tracker's kernels, loaded first in the
    engine, have already pointed numba's cache where it can write."""
    global _kernels
    if _kernels is None:
        try:
            from cuas.classify import kernels as mod
        except Exception as exc:  # noqa: BLE001 - any failure leaves the numpy path
            log.warning("compiled classifier kernels unavailable (%s): using the numpy path",
                        exc)
            _kernels = False
        else:
            _kernels = mod
    return _kernels if isinstance(_kernels, ModuleType) else None


def use_kernels(on: bool) -> None:
    """Switch the compiled kernels on (the default) or off (the numpy path): for the oracle
    tests and the before/after benchmark."""
    global _kernels
    _kernels = None if on else False


@dataclass(frozen=True, slots=True)
class CurveTable:
    """Several curves packed for the compiled kernel: breakpoints padded to the longest."""

    curves: tuple[Curve, ...]
    xs: F64  # (K, B)
    llr: F64  # (K, 4, B)
    nbs: NDArray[np.int64]  # (K,)
    clips: F64  # (K,)
    kinematic: NDArray[np.bool_]  # (K,)

    @classmethod
    def of(cls, curves: Mapping[str, Curve], kinematic: frozenset[str]) -> CurveTable:
        cs = tuple(curves.values())
        b = max((len(c.x) for c in cs), default=2)
        xs = np.zeros((len(cs), b))
        llr = np.zeros((len(cs), 4, b))
        for k, c in enumerate(cs):
            xs[k, : len(c.x)] = c.x
            llr[k, :, : len(c.x)] = c.llr
        return cls(cs, xs, llr, np.asarray([len(c.x) for c in cs], dtype=np.int64),
                   np.asarray([c.clip for c in cs], dtype=np.float64),
                   np.asarray([c.name in kinematic for c in cs], dtype=bool))

    def terms(self, values: list[F64], terms: F64, kin: F64) -> None:
        """Add each curve's term of its feature ``values`` (N,) to ``terms`` (N, 4), in curve
        order, and the kinematic curves' to ``kin`` (N, 4), in place; compiled where numba
        runs, else curve by curve with ``np.interp`` (the oracle, same bits)."""
        kern = kernels()
        if kern is not None and len(values):
            kern.curve_terms(np.ascontiguousarray(np.stack(values), dtype=np.float64), self.xs,
                             self.llr, self.nbs, self.clips, self.kinematic, terms, kin)
            return
        for curve, v, is_kin in zip(self.curves, values, self.kinematic.tolist(), strict=True):
            term = curve(v)
            terms += term
            if is_kin:
                kin += term
