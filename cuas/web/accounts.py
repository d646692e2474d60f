"""Console accounts: a JSON file of user names, roles and argon2id password hashes.

Written whole to a temporary file and renamed over the old one (mode 0600), so a crash never
leaves half a file. Verification costs the same for an unknown name as for a wrong password,
so timing does not tell which names exist.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cuas.errors import AccountError

#: Least to most privileged: a viewer sees; an operator also acknowledges alerts; an admin
#: also manages users.
ROLES: Final = ("viewer", "operator", "admin")
NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 1024
_HASHER: Final = PasswordHasher()
#: Verified against for unknown names, so that they take as long as known ones.
_DUMMY_HASH: Final = _HASHER.hash("not a password of anyone")


def may(role: str, needed: str) -> bool:
    """Whether ``role`` has at least the rights of ``needed``."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True, slots=True)
class Account:
    """One user: name, role (one of :data:`ROLES`) and argon2 hash."""

    name: str
    role: str
    hash: str


def check_name(name: str) -> str:
    """``name`` if it is a valid user name (letters, digits, ``_.@-``; 1 to 64)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise AccountError("a user name is 1 to 64 letters, digits or _.@- (starting with a "
                           "letter or digit)")
    return name


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    return role


def check_password(password: str) -> str:
    """``password`` if it is 8 to 1024 characters."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


class Accounts:
    """The accounts in ``path`` (read at once; a missing file is no accounts)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._users: dict[str, Account] = {}
        self.reload()

    def reload(self) -> None:
        """Read the file again (``cuas web user add`` may have changed it)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._users = {}
            return
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AccountError(f"{self.path}: cannot read the accounts: {exc}") from None
        users = doc.get("users") if isinstance(doc, dict) else None
        if not isinstance(users, dict):
            raise AccountError(f"{self.path}: expected {{\"users\": {{NAME: {{role, hash}}}}}}")
        found: dict[str, Account] = {}
        for name, entry in users.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
                raise AccountError(f"{self.path}: user {name!r} has no hash")
            try:
                found[name] = Account(check_name(name), check_role(entry.get("role", "")),
                                      entry["hash"])
            except AccountError as exc:
                raise AccountError(f"{self.path}: user {name!r}: {exc}") from None
        self._users = found

    def __len__(self) -> int:
        return len(self._users)

    def __contains__(self, name: object) -> bool:
        return name in self._users

    def get(self, name: str) -> Account | None:
        """The account of ``name``, or None."""
        return self._users.get(name)

    def names(self) -> list[tuple[str, str]]:
        """(name, role) of every user, by name."""
        return sorted((a.name, a.role) for a in self._users.values())

    def verify(self, name: str, password: str) -> Account | None:
        """The account if ``password`` is its password, else None (slow on purpose: argon2)."""
        account = self._users.get(name) if isinstance(name, str) else None
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            password = ""
        try:
            _HASHER.verify(account.hash if account else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return account

    def add(self, name: str, role: str, password: str) -> Account:
        """Add ``name`` (or replace its password and role) and save."""
        account = Account(check_name(name), check_role(role),
                          _HASHER.hash(check_password(password)))
        self._users[name] = account
        self.save()
        return account

    def remove(self, name: str) -> None:
        """Remove ``name`` and save."""
        if name not in self._users:
            raise AccountError(f"no user {name!r}")
        del self._users[name]
        self.save()

    def set_role(self, name: str, role: str) -> None:
        """Give ``name`` the role ``role`` and save."""
        account = self._users.get(name)
        if account is None:
            raise AccountError(f"no user {name!r}")
        self._users[name] = Account(name, check_role(role), account.hash)
        self.save()

    def save(self) -> None:
        """Write the file whole (temporary file, fsync, rename; mode 0600)."""
        doc = {"version": 1, "users": {a.name: {"role": a.role, "hash": a.hash}
                                       for a in sorted(self._users.values(),
                                                       key=lambda a: a.name)}}
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".users-", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh, indent=1)
                    fh.write("\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            except BaseException:
                with _suppress_oserror():
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise AccountError(f"{self.path}: cannot write the accounts: {exc}") from None


class _suppress_oserror:
    def __enter__(self) -> None:
        return None

    def __exit__(self, tp: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)
