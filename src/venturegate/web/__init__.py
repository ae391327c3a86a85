"""The web dashboard: server-rendered pages (Jinja2) that htmx keeps live, on the engine of the API's app.

The app factory (`venturegate.api.app.include_optional_routers`) includes `router` and calls
`install(app)`, which mounts the vendored static files (htmx, uPlot; see static/VENDOR.md),
the session store and the handlers that turn login redirects and page errors into HTML.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from venturegate.web.auth import LoginRequired, PageError
from venturegate.web.firings import RecentFirings
from venturegate.web.pages import router
from venturegate.web.sessions import SessionStore
from venturegate.web.templating import render

STATIC = Path(__file__).parent / "static"


async def _login_required(request: Request, exc: Exception) -> Response:
    """Send the browser to the login form, coming back here afterwards (htmx: a full-page redirect)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = "/login?next=" + quote(here, safe="/") if request.method == "GET" else "/login"
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _page_error(request: Request, exc: Exception) -> Response:
    """An HTML error page with the error's status."""
    assert isinstance(exc, PageError)
    context = {"title": exc.title, "detail": exc.detail, "back": exc.back, "status": exc.status}
    return render(request, "error.html", context, status=exc.status)


def install(app: FastAPI) -> None:
    """Mount `/static`, make the session store and register the dashboard's error handlers."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.web_sessions = SessionStore()
    app.state.web_firings = RecentFirings()
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageError, _page_error)


__all__ = ["install", "router"]
