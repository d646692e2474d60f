"""The cuas error tree.

Every error that cuas raises on purpose derives from :class:`CuasError`; each carries the
offending key or bytes so that a log line says what was wrong and where.
"""

from __future__ import annotations


class CuasError(Exception):
    """Base of every error cuas raises on purpose."""


class ConfigError(CuasError):
    """A configuration file or value is invalid.

    ``path`` is the file (or ``None`` for built-in defaults), ``key`` the dotted key that is wrong.
    """

    def __init__(self, problem: str, *, path: str | None = None, key: str | None = None) -> None:
        self.problem = problem
        self.path = path
        self.key = key
        where = ": ".join(p for p in (path, key) if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class DecodeError(CuasError, ValueError):
    """A message, frame or record cannot be decoded or does not follow the wire contract.

    ``key`` is the dotted path of the offending field (``dets[3].sigma``), ``data`` the raw
    bytes or value when that helps to find it.
    """

    def __init__(self, problem: str, *, key: str | None = None, data: object = None) -> None:
        self.problem = problem
        self.key = key
        self.data = data
        super().__init__(f"{key}: {problem}" if key else problem)


class RecordingError(CuasError):
    """A recording file cannot be opened or read at all (a torn tail is not an error)."""


class TrackerInputError(CuasError, ValueError):
    """A batch cannot be used by the tracker (for example an `rae` frame with no sensor origin)."""
