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


class EvaluationError(CuasError, ValueError):
    """Scoring parameters or inputs that cannot be used (c <= 0, p < 1, unknown status, ...)."""


class FileFormatError(DecodeError):
    """A line of a truth or tracks file (cuas eval) is malformed.

    ``path`` is the file, ``line`` the 1-based line number, ``key`` the dotted key at fault
    (``objects[2].enu``) when there is one.
    """

    def __init__(
        self, problem: str, *, path: str, line: int, key: str | None = None, data: object = None
    ) -> None:
        super().__init__(problem, key=key, data=data)
        self.path = path
        self.line = line
        where = f"{path}:{line}"
        self.args = (f"{where}: {key}: {problem}" if key else f"{where}: {problem}",)


class TruthFormatError(FileFormatError):
    """A truth file does not follow docs/truth-format.md."""


class TracksFormatError(FileFormatError):
    """A tracks file (JSON Lines of ``tracks`` messages) is malformed before its last line."""


class ConversionError(CuasError, ValueError):
    """A valid SAPIENT message that cannot become a contract message; ``str`` says why."""


class SimParamError(CuasError, ValueError):
    """A :class:`SimParams` field is invalid; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"SimParams.{field}: {problem}")


class FrameError(CuasError, ValueError):
    """A camera frame that is no image: zero size, wrong dtype (depth) or channel count."""


class ModelError(CuasError):
    """A model file (the camera's appearance classifier) is missing or cannot be run."""


class NoSubscriberError(CuasError):
    """Nobody subscribed to the detection endpoint within the wait: no daemon is listening."""


class AccountError(CuasError):
    """A console account cannot be added, changed or read (bad name, role, password or file)."""


class AuditError(CuasError):
    """The console's audit log cannot be written, or its hash chain is broken (an edit)."""
