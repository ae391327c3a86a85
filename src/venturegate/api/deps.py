"""What route handlers depend on: the engine, the caller's token and role, and safe path parameters."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator
from starlette.exceptions import HTTPException

from venturegate.api.schemas import NOT_BLANK, check_ref
from venturegate.core.permissions import Permission, refusal
from venturegate.engine import Actor, ApiToken, Engine

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token (`venturegate token create --name N --role R`) as `Authorization: Bearer vg_…`.",
)


def get_engine(request: Request) -> Engine:
    """The engine the app factory was given (one per process, shared by the worker threads)."""
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def current_token(
    engine: EngineDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> ApiToken:
    """The live token presented as a bearer credential; 401 without one."""
    if credentials is None:
        raise HTTPException(401, "send an API token: Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"})
    token = engine.authenticate(credentials.credentials)
    if token is None:
        raise HTTPException(
            401, "the token is unknown or revoked", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    return token


TokenDep = Annotated[ApiToken, Depends(current_token)]


@cache
def _requirement(permission: Permission) -> Any:
    def check(token: TokenDep) -> Actor:
        refused = refusal(token.role, permission)
        if refused is not None:
            raise HTTPException(403, refused)
        return token.actor

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)


def require(permission: Permission) -> Any:
    """A dependency giving the acting user when the token's role holds `permission` (403 otherwise)."""
    return _requirement(permission)


def route_permission(route: APIRoute) -> Permission | None:
    """The permission a route requires (None: no token needed)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        perm = getattr(dep.call, "permission", None)
        if perm is not None:
            return perm  # type: ignore[no-any-return]
        stack.extend(dep.dependencies)
    return None


Reader = Annotated[Actor, require("read")]


def _opt_ref(text: str | None) -> str | None:
    return None if text is None else check_ref(text)


VentureRef = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=NOT_BLANK, description="Venture id or name."),
    AfterValidator(check_ref),
]
"""A venture in a path: its id or its name."""
VentureQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=200, pattern=NOT_BLANK, description="Only this venture (id or name)."),
    AfterValidator(_opt_ref),
]
"""An optional venture filter in a query."""
