"""Rendering: one Jinja2 environment with autoescaping on, and the headers every page carries."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from venturegate.core.breakdown import breakdowns

SECURITY_HEADERS = {
    # Scripts only from /static (no inline script runs); chart data travels in JSON script blocks.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


_ISO = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(?:\+00:00|Z)?")


def _seconds(text: str) -> str:
    """Engine text with its ISO 8601 UTC timestamps shown as `2026-11-03 07:58:00` (to the second)."""
    return _ISO.sub(r"\1 \2", str(text))


def _human_duration(seconds: float | None) -> str:
    """A duration as people read it: `45 s`, `12 min`, `3.5 h`, `2.4 days` (never `2.90443e+06` seconds)."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _observed(check: Any) -> str:
    """A gate check's observed value: a duration in human units when its comparison is over durations."""
    expl = getattr(check, "explanation", None)
    value = check.observed
    if expl is not None and any(c.kind == "duration" for c in expl.children) and isinstance(value, int | float):
        return _human_duration(float(value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_num(v)}" for k, v in value.items())
    return _num(value)


def _path(value: object) -> str:
    """A value as one URL path segment."""
    return quote(str(value), safe="")


def venture_path(name: str, venture_id: int) -> str:
    """The venture page's path: by name, or by id when the name cannot be one path segment."""
    return "/ventures/" + (quote(name, safe="") if name and "/" not in name and "\\" not in name else str(venture_id))


def _json_script(value: Any) -> Markup:
    """JSON safe to place inside `<script type="application/json">` (no `</script>` can close it)."""
    text = json.dumps(value, separators=(",", ":"), default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("venturegate.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(venture_path=venture_path, breakdowns=breakdowns)
    env.filters.update(
        path=_path,
        when=_when,
        num=_num,
        pct=_pct,
        json_script=_json_script,
        duration=_human_duration,
        observed=_observed,
        seconds=_seconds,
    )
    return env


ENV = _environment()


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A template rendered with `request` in its context, with the security headers."""
    html = ENV.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
