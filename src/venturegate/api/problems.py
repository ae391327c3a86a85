"""Errors as RFC 9457 problem details (`application/problem+json`), from engine errors and bad requests.

| cause | status |
|---|---|
| body, path or query fails validation; an engine `BadInput` | 422 |
| an engine refusal about who is acting (`where` is `--as`), `Forbidden` | 403 |
| `NotFound` | 404 |
| `Conflict` (wrong state, a concurrent change won), a database deadlock or serialization failure | 409 |
| `GateNotPassed` (a gate blocks the operation; `gate` explains it) | 409 |
| `StoreUnavailable`: the database connection was lost (or the database could not be reached) | 503 with `Retry-After` |
| no or an unknown token | 401 with `WWW-Authenticate: Bearer` |

A request whose connection was lost before anything of it committed is first run once more (`api.retries`).
Anything else is a bug: it is logged with its traceback and answered with a 500 problem.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from venturegate.api.retries import RETRY
from venturegate.api.schemas import UNION_TAGS
from venturegate.engine.exceptions import (
    ArtifactInvalid,
    BadInput,
    Collision,
    Conflict,
    Forbidden,
    GateNotPassed,
    NotFound,
    StoreUnavailable,
)
from venturegate.store.transactions import RETRY_AFTER_SECONDS, retryable

log = logging.getLogger("venturegate.api")
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/problems/"
"""`type` is a relative URI reference, `/problems/<slug>`; docs/api.md describes each slug."""


class ProblemDetail(BaseModel):
    """One thing wrong with a request: where, what, how to fix it."""

    where: str
    message: str
    hint: str = ""


class Problem(BaseModel):
    """An RFC 9457 problem: `type`, `title`, `status`, `detail`, and `errors` naming each field and reason."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemDetail] = []


class ProblemResponse(JSONResponse):
    """A JSON response with the problem media type."""

    media_type = MEDIA_TYPE


TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Invalid input",
    500: "Internal server error",
    503: "Service unavailable",
}
SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    422: "invalid-input",
    500: "server-error",
    503: "unavailable",
}


def problem(
    status: int,
    detail: str,
    errors: list[ProblemDetail] | None = None,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """A problem+json response; its texts are cut to an excerpt, so a reply never echoes a large input."""
    body = Problem(
        type=TYPE_BASE + (slug or SLUGS.get(status, "error")),
        title=TITLES.get(status, "Error"),
        status=status,
        detail=_cut(detail, 1000),
        errors=[
            ProblemDetail(where=_cut(e.where, 300), message=_cut(e.message, 500), hint=_cut(e.hint, 300))
            for e in (errors or [])[:MAX_ERRORS]
        ],
        **extra,
    )
    return ProblemResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


MAX_ERRORS = 50
"""Most entries of `errors` in one problem."""


def _cut(text: str, limit: int) -> str:
    """An excerpt of at most `limit` characters, lone surrogates escaped (they cannot be encoded as UTF-8)."""
    cut = text if len(text) <= limit else f"{text[:limit]}… (cut; {len(text)} characters)"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _where(where: str) -> str:
    """A CLI-flavoured location (`--segment`, `SUBSTAGE`) as the API's field name."""
    text = where.strip()
    if text.startswith("--"):
        return text[2:].replace("-", "_")
    return text.lower() if text.isupper() else text


def _engine_error(exc: BadInput) -> list[ProblemDetail]:
    if isinstance(exc, ArtifactInvalid):
        return [ProblemDetail(where=f"content{ptr}", message=why) for ptr, why in exc.errors]
    return [ProblemDetail(where=_where(exc.where), message=exc.message, hint=exc.hint)]


async def _bad_input(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, BadInput)
    if isinstance(exc, NotFound):
        return problem(404, str(exc), _engine_error(exc))
    if exc.where == "--as":  # the engine's refusals about who is acting
        return problem(403, exc.message, [ProblemDetail(where="token", message=exc.message, hint=exc.hint)])
    slug = "artifact-invalid" if isinstance(exc, ArtifactInvalid) else None
    return problem(422, str(exc), _engine_error(exc), slug=slug)


async def _forbidden(request: Request, exc: Exception) -> ProblemResponse:
    return problem(403, str(exc), [ProblemDetail(where="token", message=str(exc))])


async def _conflict(request: Request, exc: Exception) -> ProblemResponse:
    if isinstance(exc, Collision):
        log.warning("concurrent requests collided on %s %s: %s", request.method, request.url.path, exc.kind)
        if exc.kind == "busy":  # SQLite: the busy timeout ran out (store.database)
            return problem(409, str(exc), slug="busy")
    assert isinstance(exc, Conflict)
    where = [ProblemDetail(where=_where(exc.where), message=exc.message, hint=exc.hint)] if exc.where else []
    return problem(409, str(exc), where)


async def _unavailable(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StoreUnavailable)
    if retryable(exc):
        request.scope[RETRY] = True  # `RetryLostMiddleware` drops this answer and runs the request again
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    slug = "unavailable" if exc.committed is False else "outcome-unknown"
    return problem(503, str(exc), slug=slug, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


async def _gate(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, GateNotPassed)
    r = exc.result
    failing = [ProblemDetail(where=f"gate.{c.name}", message=f"{c.verdict}: {c.reason}") for c in r.failing()]
    gate = {"stage": r.stage, "gate": r.gate, "passed": False, "checks": [c.as_dict() for c in r.checks]}
    return problem(409, str(exc), failing, slug="gate-not-passed", gate=gate)


def _location(loc: tuple[int | str, ...]) -> str:
    """`("body", "single", "samples", 0, "value")` → `body.samples[0].value` (union tags left out)."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] == "body" and parts[1] in UNION_TAGS:
        del parts[1]
    text = parts[0] if parts else "request"
    for p in parts[1:]:
        text += f"[{p}]" if p.isdigit() else f".{p}"
    return text


async def _validation(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        ProblemDetail(where=_location(tuple(e.get("loc", ()))), message=str(e.get("msg", ""))) for e in exc.errors()
    ]
    fields = "; ".join(f"{d.where}: {d.message}" for d in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return problem(422, f"the request is invalid: {fields}{more}", errors)


async def _http(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return problem(exc.status_code, str(exc.detail), headers=headers)


_TRANSIENT = ("40P01", "40001")
"""PostgreSQL deadlock and serialization failure outside an engine transaction (inside one they are the
engine's `Collision`): the transaction was rolled back; a retry succeeds."""


async def _database(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, OperationalError)
    if exc.connection_invalidated:  # outside an engine transaction (inside one it is `StoreUnavailable`)
        log.warning("%s %s: the database connection was lost", request.method, request.url.path)
        return problem(
            503,
            "the database connection was lost; retry",
            slug="unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    code = getattr(exc.orig, "sqlstate", None)
    if code in _TRANSIENT or "database is locked" in str(exc.orig):
        log.warning("concurrent requests collided on %s %s: %s", request.method, request.url.path, code or exc.orig)
        if "no write lock after" in str(exc.orig):  # SQLite: the busy timeout ran out (store.database)
            return problem(409, str(exc.orig), slug="busy")
        return problem(409, "a concurrent request changed the same data; nothing was changed, retry the request")
    return await _bug(request, exc)


async def _data(request: Request, exc: Exception) -> ProblemResponse:
    """A value the database cannot hold (PostgreSQL: an integer beyond 32 or 64 bits): the input's fault."""
    assert isinstance(exc, DataError)
    if getattr(exc.orig, "sqlstate", None) == "22003" or "out of range" in str(exc.orig):
        return problem(422, "a number in the request is out of the range the store can hold; nothing was changed")
    return await _bug(request, exc)


async def _bug(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "an internal error occurred; it has been logged")


def install(app: FastAPI) -> None:
    """Answer every error with a problem body."""
    app.add_exception_handler(GateNotPassed, _gate)
    app.add_exception_handler(BadInput, _bad_input)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(Exception, _bug)
