"""Who is looking at a page: the logged-in user from the session cookie, CSRF checks, page errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from venturegate.api.deps import EngineDep
from venturegate.core.permissions import Permission, allowed
from venturegate.engine import Actor, ApiToken
from venturegate.web.sessions import COOKIE, Session, SessionStore

CSRF_FIELD = "csrf"
"""The hidden form field holding the session's CSRF secret."""
CSRF_HEADER = "X-CSRF-Token"
"""The header htmx requests carry the same secret in."""


class LoginRequired(Exception):
    """No live session: the page redirects to the login form (an htmx fragment asks for a full redirect)."""


class PageError(Exception):
    """A page answers with an HTML error (403 for a missing right or a bad CSRF value, 404, 409…)."""

    def __init__(self, status: int, title: str, detail: str, back: str = "/") -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.back = status, title, detail, back


def session_store(request: Request) -> SessionStore:
    """The app's session store (made by `install`)."""
    store: SessionStore = request.app.state.web_sessions
    return store


def current_session(request: Request) -> Session | None:
    """The live session the request's cookie names, if any (logged in or not)."""
    return session_store(request).get(request.cookies.get(COOKIE))


@dataclass(frozen=True)
class WebUser:
    """A logged-in user: the session and the token it acts as."""

    session: Session
    token: ApiToken

    @property
    def actor(self) -> Actor:
        """Who acts on the engine: the token's name and role."""
        return self.token.actor

    @property
    def role(self) -> str:
        """The token's role."""
        return self.token.role

    def may(self, permission: Permission) -> bool:
        """Whether the role holds a permission of the matrix (core/permissions.py)."""
        return allowed(self.token.role, permission)

    def require(self, permission: Permission, back: str = "/") -> None:
        """Refuse with 403 unless the role holds `permission`."""
        if not self.may(permission):
            raise PageError(403, "Not allowed", f"role {self.role} may not do this ({permission})", back)


def current_user(request: Request, engine: EngineDep) -> WebUser:
    """The logged-in user, its token checked again (a revoked token ends the session)."""
    session = current_session(request)
    if session is None or session.token is None:
        raise LoginRequired
    token = engine.authenticate(session.token)
    if token is None:
        session_store(request).drop(session.id)
        raise LoginRequired
    return WebUser(session, token)


User = Annotated[WebUser, Depends(current_user)]


async def posting_user(request: Request, user: User) -> WebUser:
    """The logged-in user of a POST whose CSRF value (form field or header) matches the session's; 403 otherwise."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str):
        given = request.headers.get(CSRF_HEADER)
    if not user.session.csrf_ok(given):
        raise PageError(403, "Form expired", "the form's CSRF check failed: reload the page and try again")
    return user


Poster = Annotated[WebUser, Depends(posting_user)]
