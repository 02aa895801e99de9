"""The admin page's sessions: in memory, random ids, an idle expiry, a CSRF token each.

A visitor gets an anonymous session when the login form is shown (so the login form,
like every form, carries a CSRF token); logging in replaces it with a new session
(a new id and a new CSRF token: a session id known before login is worth nothing
after it). Sessions live in the process only: a restart logs everyone out, which is
also how a token taken out of the tokens file stops working.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from adapter.http.auth import Token

#: The session cookie's name (Path=/admin, HttpOnly, SameSite=Strict).
COOKIE: Final = "epj_admin"

#: A logged-in session ends after this long without a request.
IDLE: Final = timedelta(hours=8)

#: An anonymous session (the login form's) ends after this long.
ANONYMOUS_IDLE: Final = timedelta(minutes=30)

#: At most this many anonymous sessions are kept; the oldest go first.
MAX_ANONYMOUS: Final = 1000


@dataclass
class Session:
    """One browser's session: anonymous until ``login`` names the admin token used.

    ``actor`` is who the audit trail names for this session's decisions (the token's
    :attr:`~adapter.http.auth.Token.actor`, ``http:<name>``, as for the API);
    ``notices`` are messages shown once on the next page (kind, Norwegian text).
    """

    id: str
    csrf: str
    seen: float
    login: str | None = None
    actor: str = ""
    notices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def logged_in(self) -> bool:
        """True once an admin token was accepted."""
        return self.login is not None

    def csrf_ok(self, presented: str) -> bool:
        """True when ``presented`` is this session's CSRF token (constant time)."""
        return bool(presented) and hmac.compare_digest(
            presented.encode("utf-8"), self.csrf.encode("utf-8")
        )

    def notify(self, kind: str, text: str) -> None:
        """Show ``text`` on the next page (``kind``: ``ok`` or ``error``)."""
        self.notices.append((kind, text))

    def take_notices(self) -> list[tuple[str, str]]:
        """The notices to show now (and forget)."""
        taken, self.notices = self.notices, []
        return taken


class Sessions:
    """The sessions of one app, safe to use from uvicorn's worker threads."""

    def __init__(
        self,
        *,
        idle: timedelta = IDLE,
        anonymous_idle: timedelta = ANONYMOUS_IDLE,
        max_anonymous: int = MAX_ANONYMOUS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle = idle.total_seconds()
        self._anonymous_idle = anonymous_idle.total_seconds()
        self._max_anonymous = max_anonymous
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        limit = self._idle if session.logged_in else self._anonymous_idle
        return now - session.seen > limit

    def _sweep(self, now: float) -> None:
        for sid in [s.id for s in self._sessions.values() if self._expired(s, now)]:
            del self._sessions[sid]
        anonymous = sorted(
            (s for s in self._sessions.values() if not s.logged_in), key=lambda s: s.seen
        )
        excess = len(anonymous) + 1 - self._max_anonymous  # room for one more
        for old in anonymous[: max(excess, 0)]:
            del self._sessions[old.id]

    def _new(self, now: float) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now)
        self._sessions[session.id] = session
        return session

    def anonymous(self) -> Session:
        """A new session for the login form (not logged in)."""
        with self._lock:
            now = self._clock()
            self._sweep(now)
            return self._new(now)

    def get(self, sid: str | None) -> Session | None:
        """The live session with id ``sid`` (its idle time starts again), else None."""
        if not sid:
            return None
        with self._lock:
            now = self._clock()
            session = self._sessions.get(sid)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[sid]
                return None
            session.seen = now
            return session

    def login(self, previous: Session | None, token: Token) -> Session:
        """End ``previous`` (the login form's session) and start a logged-in session
        for ``token`` with a new id and a new CSRF token."""
        with self._lock:
            if previous is not None:
                self._sessions.pop(previous.id, None)
            now = self._clock()
            self._sweep(now)
            session = self._new(now)
            session.login = token.name
            session.actor = token.actor
            return session

    def end(self, session: Session) -> None:
        """Log out: forget the session."""
        with self._lock:
            self._sessions.pop(session.id, None)
