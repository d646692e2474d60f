"""The strict TOML-to-dataclass coercer every configuration schema is read with.

A table becomes a frozen dataclass only if each key names a field and each value has the
field's type (no silent int/bool/str conversions); every error is a ConfigError naming the
file and the dotted key. Used by cuas.config, the sensor kinds' settings and scenario files.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from cuas.errors import ConfigError
from cuas.validation import brief

T = TypeVar("T")



def coerce(value: Any, tp: Any, key: str, path: str | None) -> Any:
    """``value`` (from TOML) checked against the type hint ``tp`` (bool, int, float, non-empty
    str, optional and fixed-length tuples of those); ints become floats where a float is due."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], key, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {brief(value)}", path=path, key=key)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected an integer, got {brief(value)}", path=path, key=key)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"expected a number, got {brief(value)}", path=path, key=key)
        try:
            f = float(value)
        except OverflowError:  # an integer beyond float range: isfinite() raised it bare
            raise ConfigError("number too large", path=path, key=key) from None
        if not math.isfinite(f):
            raise ConfigError(f"expected a finite number, got {brief(value)}", path=path, key=key)
        return f
    if tp is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"expected a non-empty string, got {brief(value)}", path=path, key=key)
        return value
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            raise ConfigError(f"expected a list of {len(args)} values, got {brief(value)}",
                              path=path, key=key)
        return tuple(coerce(v, a, f"{key}[{i}]", path) for i, (v, a) in enumerate(zip(value, args, strict=True)))
    raise ConfigError(f"unsupported type for {key}", path=path, key=key)  # pragma: no cover


def build(cls: type[T], table: Any, key: str, path: str | None, **extra: Any) -> T:
    """The dataclass ``cls`` from the TOML table at dotted ``key``; ``extra`` gives fields the
    table may not set (an id from the table's name, values parsed separately)."""
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table, got {brief(table)}", path=path, key=key)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = dict(extra)
    for k, v in table.items():
        if k not in names or k in extra:
            raise ConfigError(f"unknown key (known: {', '.join(sorted(names - set(extra)))})",
                              path=path, key=f"{key}.{k}")
        kwargs[k] = coerce(v, hints[k], f"{key}.{k}", path)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(exc.problem, path=path, key=exc.key) from None


def tables(doc: Mapping[str, Any], section: str, path: str | None) -> list[tuple[str, Any]]:
    """The ``(name, table)`` pairs of a section of named tables (``[zones.<id>]``)."""
    found = doc.get(section, {})
    if not isinstance(found, dict):
        raise ConfigError(f"expected a table of {section}", path=path, key=section)
    return list(found.items())


def points(value: Any, width: int, key: str, path: str | None) -> tuple[tuple[float, ...], ...]:
    """A list of ``[width numbers]`` lists, as tuples of floats."""
    if not isinstance(value, list):
        raise ConfigError(f"expected a list of [{width} numbers], got {brief(value)}",
                          path=path, key=key)
    tp: Any = tuple.__class_getitem__((float,) * width)
    return tuple(coerce(v, tp, f"{key}[{i}]", path) for i, v in enumerate(value))

