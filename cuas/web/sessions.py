"""Login sessions and the login rate limit, in memory (a restart logs everyone out).

A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie (Secure under TLS)
with its own CSRF token, which every state-changing request must echo in a header. Sessions
end on logout, after an idle time and after a maximum age; ending one makes its cookie
worthless wherever it was copied.
"""

from __future__ import annotations

import collections
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Sessions and rate-limit keys kept at most (the oldest go first): memory stays bounded
#: whatever a flood of logins or addresses does.
MAX_SESSIONS = 10_000
MAX_LIMITER_KEYS = 100_000


@dataclass(slots=True)
class Session:
    """One logged-in browser: its user and role, CSRF token, and times (monotonic s)."""

    token: str
    user: str
    role: str
    csrf: str
    created: float
    last_seen: float

    def csrf_ok(self, presented: str | None) -> bool:
        """Whether ``presented`` is this session's CSRF token (constant-time compare)."""
        return presented is not None and hmac.compare_digest(presented.encode(),
                                                             self.csrf.encode())


class Sessions:
    """The live sessions: ``idle_s`` without a request, or ``max_s`` in all, ends one."""

    def __init__(self, idle_s: float, max_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self.clock = clock
        self._by_token: collections.OrderedDict[str, Session] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._by_token)

    def new(self, user: str, role: str) -> Session:
        """Start a session for ``user``."""
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), user, role, secrets.token_urlsafe(32),
                          now, now)
        self._by_token[session.token] = session
        while len(self._by_token) > MAX_SESSIONS:
            self._by_token.popitem(last=False)
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its idle time restarts), or None."""
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        now = self.clock()
        if now - session.last_seen > self.idle_s or now - session.created > self.max_s:
            del self._by_token[token]
            return None
        session.last_seen = now
        return session

    def end(self, token: str) -> None:
        """End the session of ``token`` (logout)."""
        self._by_token.pop(token, None)

    def end_user(self, user: str) -> int:
        """End every session of ``user`` (removed, or given another role); how many."""
        gone = [t for t, s in self._by_token.items() if s.user == user]
        for token in gone:
            del self._by_token[token]
        return len(gone)


@dataclass(slots=True)
class RateLimiter:
    """At most ``attempts`` failures per ``window_s`` seconds per key (an address, a name)."""

    attempts: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    _failures: collections.OrderedDict[str, collections.deque[float]] = field(
        default_factory=collections.OrderedDict)

    def _recent(self, key: str) -> collections.deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        cutoff = self.clock() - self.window_s
        while times and times[0] < cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def blocked(self, key: str) -> bool:
        """Whether ``key`` has used up its failures in the window."""
        times = self._recent(key)
        return times is not None and len(times) >= self.attempts

    def retry_after_s(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        times = self._recent(key)
        if times is None or len(times) < self.attempts:
            return 0.0
        return max(0.0, times[0] + self.window_s - self.clock())

    def fail(self, key: str) -> None:
        """Count one failure of ``key``."""
        times = self._recent(key)
        if times is None:
            times = self._failures[key] = collections.deque(maxlen=self.attempts)
        times.append(self.clock())
        self._failures.move_to_end(key)
        while len(self._failures) > MAX_LIMITER_KEYS:
            self._failures.popitem(last=False)
