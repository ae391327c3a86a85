"""Dashboard sessions: a random id in an HttpOnly cookie, the token and the CSRF secret kept on the server.

The cookie carries only a 256-bit random session id (`HttpOnly`, `SameSite=Lax`, `Secure` over
HTTPS); the API token the user logged in with stays in this process's memory, so a page can be
re-authorised through `Engine.authenticate` on every request and a revoked token logs the session
out within the engine's token cache time. Sessions do not survive a restart and are not shared
between `serve` processes (docs/decisions.md says why that is acceptable).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

COOKIE = "vg_session"
"""The session cookie's name."""
IDLE_SECONDS = 8 * 3600.0
"""A session unused this long is forgotten."""
MAX_SESSIONS = 10_000
"""Past this many live sessions the least recently used is dropped (memory stays bounded)."""


@dataclass
class Session:
    """One browser's session: its CSRF secret, the token it logged in with (None before login), flashes."""

    id: str
    csrf: str
    token: str | None = None
    last_seen: float = field(default_factory=time.monotonic)
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def flash(self, kind: str, text: str) -> None:
        """Keep a message (`ok` or `error`) for the next page shown."""
        self.flashes.append((kind, text))

    def take_flashes(self) -> list[tuple[str, str]]:
        """The messages kept so far, forgetting them."""
        out, self.flashes = self.flashes, []
        return out

    def csrf_ok(self, given: str | None) -> bool:
        """Whether a submitted CSRF value is this session's (compared in constant time)."""
        return bool(given) and secrets.compare_digest(self.csrf.encode(), (given or "").encode())


class SessionStore:
    """Live sessions by id, in memory, least recently used first; safe across request threads."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS, max_sessions: int = MAX_SESSIONS) -> None:
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, token: str | None = None) -> Session:
        """A fresh session with a new id and CSRF secret."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), token)
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, touched; None when unknown or idle too long."""
        if not session_id or len(session_id) > 100:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_seconds:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            self._sessions.move_to_end(session_id)
            return session

    def drop(self, session_id: str) -> None:
        """Forget a session (logout, or a login replacing it)."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
