"""The dashboard's routes: thin handlers that read a view from the engine and render it, or call the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from venturegate.api.deps import EngineDep
from venturegate.api.routes.jobs import QueueUnavailable, start_crew
from venturegate.engine import BadInput, Conflict, Forbidden, GateNotPassed, NotFound, VenturegateError
from venturegate.web.auth import CSRF_FIELD, PageError, Poster, User, current_session, session_store
from venturegate.web.health import LABELS
from venturegate.web.portfolio import HEALTHS, STATUSES, Filters, RecentFirings, portfolio
from venturegate.web.sessions import COOKIE, IDLE_SECONDS
from venturegate.web.stage import stage_view
from venturegate.web.templating import render, venture_path
from venturegate.web.venture import venture_view

router = APIRouter(include_in_schema=False)
POLL = "every 5s"
"""How often live fragments are fetched again (htmx `hx-trigger`)."""

Ref = Annotated[str, Path(min_length=1, max_length=200)]
StageQ = Annotated[int | None, Query(ge=1, le=10_000)]
StatusQ = Annotated[Literal["active", "blocked", "paused", "completed", "killed"] | None, Query()]
HealthQ = Annotated[Literal["red", "amber", "green", "grey"] | None, Query()]
PageQ = Annotated[int, Query(ge=1, le=100_000)]
Text = Annotated[str, Form(max_length=2000)]


def _safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _venture_url(ref: str) -> str:
    return "/ventures/" + quote(ref, safe="")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@contextmanager
def engine_errors(back: str) -> Iterator[None]:
    """An engine refusal becomes an HTML error page with the API's status for it."""
    try:
        yield
    except Forbidden as exc:
        raise PageError(403, "Not allowed", str(exc), back) from None
    except NotFound as exc:
        raise PageError(404, "Not found", exc.message, back) from None
    except GateNotPassed as exc:
        failing = "; ".join(f"{c.name}: {c.reason}" for c in exc.result.failing())
        raise PageError(409, "Gate not passed", f"{exc}: {failing}", back) from None
    except Conflict as exc:
        raise PageError(409, "Conflict", str(exc), back) from None
    except BadInput as exc:
        raise PageError(422, "Invalid input", exc.message + (f" ({exc.hint})" if exc.hint else ""), back) from None
    except VenturegateError as exc:
        raise PageError(400, "Refused", str(exc), back) from None


# -- login -------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    """The login form; it starts an anonymous session so that the form carries a CSRF value."""
    session = current_session(request)
    fresh = session is None
    if session is None:
        session = session_store(request).new()
    response = render(request, "login.html", {"csrf": session.csrf, "next": _safe_next(next), "error": ""})
    if fresh:
        _set_cookie(request, response, session.id)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    engine: EngineDep,
    token: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the token and start a new session (a new id: the anonymous one is dropped)."""
    store = session_store(request)
    session = current_session(request)
    if session is None or not session.csrf_ok(csrf):
        raise PageError(403, "Form expired", "the login form's CSRF check failed: reload it and try again", "/login")
    api_token = engine.authenticate(token.strip())
    if api_token is None:
        context = {"csrf": session.csrf, "next": _safe_next(next), "error": "That token is unknown or revoked."}
        return render(request, "login.html", context, status=401)
    store.drop(session.id)
    fresh = store.new(token.strip())
    fresh.flash("ok", f"Logged in as {api_token.name} ({api_token.role}).")
    response = _redirect(_safe_next(next))
    _set_cookie(request, response, fresh.id)
    return response


@router.post("/logout")
def logout(request: Request, user: Poster) -> Response:
    """End the session and forget its cookie."""
    session_store(request).drop(user.session.id)
    response = _redirect("/login")
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


def _set_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(IDLE_SECONDS),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


# -- portfolio ---------------------------------------------------------------------------------
def _portfolio_context(request: Request, engine: EngineDep, user: User, filters: Filters) -> dict[str, object]:
    recent: RecentFirings = request.app.state.web_firings
    view = portfolio(engine, engine.workflow.workflow, filters, recent)
    return {"user": user, "p": view, "statuses": STATUSES, "healths": HEALTHS, "labels": LABELS, "poll": POLL}


@router.get("/", response_class=HTMLResponse)
def portfolio_page(
    request: Request,
    engine: EngineDep,
    user: User,
    stage: StageQ = None,
    status: StatusQ = None,
    health: HealthQ = None,
    page: PageQ = 1,
) -> Response:
    """The portfolio: ventures by stage, status and health; approvals, escalations and firings waiting."""
    context = _portfolio_context(request, engine, user, Filters(stage, status, health, page))
    return render(request, "portfolio.html", {**context, "flashes": user.session.take_flashes()})


@router.get("/fragments/portfolio", response_class=HTMLResponse)
def portfolio_fragment(
    request: Request,
    engine: EngineDep,
    user: User,
    stage: StageQ = None,
    status: StatusQ = None,
    health: HealthQ = None,
    page: PageQ = 1,
) -> Response:
    """The live part of the portfolio page (htmx polls it)."""
    context = _portfolio_context(request, engine, user, Filters(stage, status, health, page))
    return render(request, "_portfolio.html", context)


# -- venture -----------------------------------------------------------------------------------
def _venture_context(engine: EngineDep, user: User, ref: str) -> dict[str, object]:
    with engine_errors("/"):
        view = venture_view(engine, ref)
    return {"user": user, "v": view, "poll": POLL, "url": venture_path(view.venture.name, view.venture.id)}


@router.get("/ventures/{ref}", response_class=HTMLResponse)
def venture_page(request: Request, engine: EngineDep, user: User, ref: Ref) -> Response:
    """A venture: progress, gate explanation, charts, timeline, approvals, configuration history."""
    context = _venture_context(engine, user, ref)
    return render(request, "venture.html", {**context, "flashes": user.session.take_flashes()})


@router.get("/fragments/ventures/{ref}", response_class=HTMLResponse)
def venture_fragment(request: Request, engine: EngineDep, user: User, ref: Ref) -> Response:
    """The live part of the venture page (htmx polls it)."""
    return render(request, "_venture.html", _venture_context(engine, user, ref))


@router.post("/ventures/{ref}/approvals/{approval_id}")
def decide(
    engine: EngineDep,
    user: Poster,
    ref: Ref,
    approval_id: Annotated[int, Path(ge=1, le=2**62)],
    decision: Annotated[Literal["approve", "reject"], Form()],
    reason: Text = "",
) -> Response:
    """Approve or reject: only the role the approval asks for (403 before the engine is called otherwise)."""
    back = _venture_url(ref)
    user.require("decide_approvals", back)
    with engine_errors(back):
        venture = engine.venture(ref)
        approval = next((a for a in engine.approvals(venture.id) if a.id == approval_id), None)
        if approval is None:
            raise PageError(404, "Not found", f"venture {venture.name} has no approval #{approval_id}", back)
        if approval.role != user.role:
            raise PageError(
                403, "Not allowed", f"approval #{approval_id} is for {approval.role}, not {user.role}", back
            )
        engine.decide_approval(approval_id, decision == "approve", actor=user.actor, reason=reason.strip())
        after = engine.venture(venture.id)
    verb = "approved" if decision == "approve" else "rejected"
    moved = f"; {after.name} is now at stage {after.stage}" if after.stage != venture.stage else ""
    user.session.flash("ok", f"Approval #{approval_id} {verb}{moved}.")
    return _redirect(back)


@router.post("/ventures/{ref}/escalations/{code}/resolve")
def resolve(
    engine: EngineDep,
    user: Poster,
    ref: Ref,
    code: Annotated[str, Path(min_length=1, max_length=80)],
    resume_at: Annotated[str, Form(min_length=1, max_length=20)],
    reason: Text = "",
) -> Response:
    """Resolve an open escalation and resume the venture at a stage or substage (its role or the Chairman)."""
    back = _venture_url(ref)
    user.require("resolve_escalations", back)
    with engine_errors(back):
        venture = engine.venture(ref)
        if not any(e.code == code for e in engine.escalations(status="open", ref=venture.id)):
            raise PageError(404, "Not found", f"venture {venture.name} has no open escalation {code}", back)
        engine.resolve_escalation(code, resume_at.strip(), actor=user.actor, reason=reason.strip())
        after = engine.venture(venture.id)
    user.session.flash("ok", f"{code} resolved; {after.name} resumes at {resume_at.strip()} ({after.status}).")
    return _redirect(back)


@router.post("/ventures/{ref}/advance")
def advance(engine: EngineDep, user: Poster, ref: Ref) -> Response:
    """Advance the venture when its exit gate passes (409 with the failing checks otherwise)."""
    back = _venture_url(ref)
    user.require("advance", back)
    with engine_errors(back):
        venture = engine.advance(ref, actor=user.actor)
    user.session.flash("ok", f"{venture.name} advanced to stage {venture.stage}.")
    return _redirect(back)


@router.post("/ventures/{ref}/rollback")
def rollback(
    engine: EngineDep,
    user: Poster,
    ref: Ref,
    to: Annotated[str, Form(min_length=1, max_length=200)],
    reason: Text = "",
) -> Response:
    """Restore a configuration version or snapshot as a new version (roles with `change_config`)."""
    back = _venture_url(ref)
    user.require("change_config", back)
    with engine_errors(back):
        record = engine.rollback(ref, to.strip(), actor=user.actor, reason=reason.strip() or "from the dashboard")
    user.session.flash("ok", f"Rolled back to {to.strip()}: {record.outcome}.")
    return _redirect(back)


@router.post("/ventures/{ref}/jobs")
def run_crew(
    request: Request,
    engine: EngineDep,
    user: Poster,
    ref: Ref,
    crew: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Start the crew serving the venture's current stage, queued for the worker (roles with `run_crews`)."""
    back = _venture_url(ref)
    user.require("run_crews", back)
    with engine_errors(back):
        try:
            job = start_crew(request.app, engine, ref, crew=crew.strip() or None, actor=user.actor)
        except QueueUnavailable as exc:
            raise PageError(503, "Queue unavailable", str(exc), back) from None
    user.session.flash("ok", f"Job #{job.id} queued: crew {job.crew} for stage {job.stage}.")
    return _redirect(back)


# -- stage -------------------------------------------------------------------------------------
def _stage_context(engine: EngineDep, user: User, stage_id: int) -> dict[str, object]:
    view = stage_view(engine, stage_id)
    if view is None:
        raise PageError(404, "Not found", f"the workflow has no stage {stage_id}")
    return {"user": user, "s": view, "poll": POLL}


StageId = Annotated[int, Path(ge=1, le=10_000)]


@router.get("/stages/{stage_id}", response_class=HTMLResponse)
def stage_page(request: Request, engine: EngineDep, user: User, stage_id: StageId) -> Response:
    """A stage: definition, critique scores, automation level and execution times."""
    context = _stage_context(engine, user, stage_id)
    return render(request, "stage.html", {**context, "flashes": user.session.take_flashes()})


@router.get("/fragments/stages/{stage_id}", response_class=HTMLResponse)
def stage_fragment(request: Request, engine: EngineDep, user: User, stage_id: StageId) -> Response:
    """The live part of the stage page: its figures (htmx polls it)."""
    return render(request, "_stage_stats.html", _stage_context(engine, user, stage_id))
