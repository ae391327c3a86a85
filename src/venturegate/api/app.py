"""The app factory: the REST API under `/api`, OpenAPI 3.1 at `/openapi.json`, docs at `/docs`.

Routers are included in one place, `include_routers`: the API's own, then the optional ones
(`include_optional_routers`: the dashboard in `venturegate.web`, `/metrics` in
`venturegate.observability`), each used when its package exists and exposes a `router`
(an `APIRouter`) and/or an `install(app)` function (for static files, middleware).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from venturegate import __version__
from venturegate.api import problems
from venturegate.api.deps import route_permission
from venturegate.api.limits import Limits, LimitsMiddleware
from venturegate.api.retries import RetryLostMiddleware
from venturegate.api.routes import ROUTERS, jobs
from venturegate.api.schemas import JSON_MARK, JSON_SCHEMA
from venturegate.core.permissions import roles_with
from venturegate.engine import Engine

OPTIONAL_MODULES = ("venturegate.web", "venturegate.observability")
"""Packages other parts of venturegate add to the server when present."""
_ERRORS = (401, 403, 404, 409, 422, 503)
_BODY_ERRORS = (413,)
"""Answered by `LimitsMiddleware` to any operation with a request body."""


def create_app(
    engine: Engine | None = None,
    *,
    db_url: str | None = None,
    workflow: str | None = None,
    worker: bool = False,
    queue_url: str | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """The ASGI app around `engine` (else one opened on `db_url` / `workflow`); `worker` runs the queue consumer.

    `limits` bound every request (default: `Limits.from_env()`).
    """
    own_engine = engine is None
    eng = engine if engine is not None else Engine.open(db_url, workflow)

    from venturegate.api.background import InProcessWorker, NudgeMiddleware

    consumer = InProcessWorker(eng, queue_url) if worker else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if consumer is not None:
            consumer.start()
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop()
            if own_engine:
                eng.db.dispose()

    app = FastAPI(
        title="venturegate",
        version=__version__,
        description="A stage-gate engine: gates judged from data, triggers, recursion, rollback. "
        "Authenticate with `Authorization: Bearer <token>`; each operation lists the roles allowed "
        "(`x-roles`). Errors are RFC 9457 problem details.",
        lifespan=lifespan,
    )
    app.state.engine = eng
    app.state.queue_url = queue_url  # where started crew jobs are queued (None: as `venturegate worker`)
    if consumer is not None:
        app.add_middleware(NudgeMiddleware, worker=consumer)
    app.add_middleware(RetryLostMiddleware)  # inside the limits: it replays a body they have bounded
    app.add_middleware(LimitsMiddleware, limits=limits)
    problems.install(app)
    include_routers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def include_routers(app: FastAPI) -> None:
    """Every router the server serves: the API's, then the optional packages'."""
    for router in (*ROUTERS, jobs.router):
        app.include_router(router)
    include_optional_routers(app)


def include_optional_routers(app: FastAPI, modules: tuple[str, ...] = OPTIONAL_MODULES) -> list[str]:
    """Include the `router` and call the `install(app)` of each optional package present; returns their names."""
    used = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # the package is not there (yet)
            raise
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
        install = getattr(module, "install", None)
        if callable(install):
            install(app)
        if router is not None or callable(install):
            used.append(name)
    return used


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route of the app, also those inside included routers (FastAPI may include them lazily)."""
    found: list[APIRoute] = []
    stack: list[Any] = list(app.routes)
    while stack:
        route = stack.pop(0)
        if isinstance(route, APIRoute):
            found.append(route)
        elif getattr(route, "original_router", None) is not None:
            stack.extend(route.original_router.routes)
    return found


def _refer_json(node: Any) -> None:
    """Replace each free JSON value's mark (`schemas.Json`) by a reference to the `Json` component."""
    if isinstance(node, list):
        for item in node:
            _refer_json(item)
    elif isinstance(node, dict):
        if node.pop(JSON_MARK, None):
            node["$ref"] = "#/components/schemas/Json"
        for value in node.values():
            _refer_json(value)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, plus problem+json error responses and the roles each operation allows."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")["$defs"])
    problem_schema = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    problem_schema.pop("$defs", None)
    schemas["Problem"] = problem_schema
    schemas["Json"] = JSON_SCHEMA
    _refer_json(doc)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    content = {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for route in api_routes(app):
        if not route.path.startswith("/api/"):
            continue
        permission = route_permission(route)
        for method in route.methods or ():
            op = doc["paths"][route.path_format][method.lower()]
            codes = [c for c in _ERRORS if permission is not None or c not in (401, 403)]
            if method in ("POST", "PUT", "PATCH"):
                codes.extend(_BODY_ERRORS)
            for code in codes:
                op["responses"][str(code)] = {"description": problems.TITLES[code], "content": content}
            if permission is not None:
                op["x-permission"] = permission
                op["x-roles"] = roles_with(permission)
    app.openapi_schema = doc
    return doc
