"""The console's audit log: append-only JSON Lines, one object per line, hash-chained.

Each record has ``t`` (UTC s), ``user``, ``role``, ``action`` (one of :data:`ACTIONS`),
``alert_id`` (str or null), ``track_id`` (int or null), ``note`` and ``prev``: the hex SHA-256
of the previous line's bytes without its newline ("" for the first line). Editing, inserting
or deleting a line breaks the chain at the next one, which :func:`verify` finds. The file is
opened in append mode and each record fsynced before the action is reported done.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from cuas.errors import AuditError

ACTIONS: Final = ("acknowledged", "dismissed", "login", "login_failed", "logout", "user_added",
                  "user_removed", "role_changed")
MAX_NOTE: Final = 1000


def _digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _last_line(path: Path) -> bytes | None:
    """The file's last non-empty line (without its newline), read from the end."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            block = b""
            pos = end
            while pos > 0:
                step = min(65536, pos)
                pos -= step
                fh.seek(pos)
                block = fh.read(step) + block
                stripped = block.rstrip(b"\n")
                if b"\n" in stripped:
                    return stripped.rsplit(b"\n", 1)[1]
            stripped = block.rstrip(b"\n")
            return stripped or None
    except FileNotFoundError:
        return None


class AuditLog:
    """Appends records to ``path`` (created with mode 0600 when missing)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            last = _last_line(self.path)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot open the audit log: {exc}") from None
        self._fd = fd
        self._prev = "" if last is None else _digest(last)

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def append(self, user: str, role: str, action: str, *, alert_id: str | None = None,
               track_id: int | None = None, note: str = "") -> dict[str, Any]:
        """Write one record (fsynced) and return it."""
        if action not in ACTIONS:
            raise AuditError(f"unknown audit action {action!r}")
        record: dict[str, Any] = {
            "t": round(self.clock(), 3), "user": user, "role": role, "action": action,
            "alert_id": alert_id, "track_id": track_id, "note": note[:MAX_NOTE],
            "prev": self._prev,
        }
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            os.write(self._fd, line + b"\n")
            os.fsync(self._fd)
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot write the audit log: {exc}") from None
        self._prev = _digest(line)
        return record


def read(path: str | Path) -> list[dict[str, Any]]:
    """Every record, after checking the chain (:class:`AuditError` at the first break)."""
    records: list[dict[str, Any]] = []
    prev = ""
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise AuditError(f"{path}: cannot read the audit log: {exc}") from None
    with fh:
        for number, raw in enumerate(fh, 1):
            line = raw.rstrip(b"\n")
            try:
                record = json.loads(line)
            except ValueError:
                raise AuditError(f"{path}:{number}: not a JSON record") from None
            if not isinstance(record, dict) or record.get("prev") != prev:
                raise AuditError(f"{path}:{number}: the hash chain is broken (an edit, an "
                                 "insertion or a deletion before this line)")
            records.append(record)
            prev = _digest(line)
    return records


def verify(path: str | Path) -> int:
    """The number of records, if the whole chain holds (else :class:`AuditError`)."""
    return len(read(path))
