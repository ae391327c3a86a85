"""The service's routes, the crew's traffic over them, and per-route figures over a rolling window.

Routes come from the service's OpenAPI document (3.x: every `GET` operation whose path parameters have
an example, a default, an enum or an integer/string type) or from a list of paths in the deployment
plan (`/items/{id}` templates allowed). Operations other than GET are listed but never called (the crew
does not write to production); `Routes.skipped` says which, so a verdict can say what it did not check.

Each route's figures (requests, failures, error rate, p95) are kept over a rolling window from two
sources: HAProxy's request log (every request any client sent through the front end, judged failed at
5xx) and the crew's own probes straight to green (failed at any status >= 400, a refused connection, or
a 200 whose JSON body breaks the route's documented response schema).
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

OTHER = "(other)"
"""The route of a logged path that matches no known route."""
_PARAM = re.compile(r"\{([^{}/]+)\}")


class RouteError(ValueError):
    """A route list or OpenAPI document the crew cannot use."""


@dataclass(frozen=True)
class Route:
    """One GET route: its template, the concrete path the crew requests, and its 200 body schema if documented."""

    template: str
    path: str
    schema: Mapping[str, Any] | None = None

    def check_body(self, body: bytes) -> str | None:
        """Why a 200 body breaks the documented schema, or None when it conforms (or nothing is documented)."""
        if self.schema is None:
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return "the body is not JSON"
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(self.schema).iter_errors(document))
        return None if error is None else f"{error.message} (at /{'/'.join(str(p) for p in error.absolute_path)})"


@dataclass(frozen=True)
class Routes:
    """The routes the crew exercises and judges, and the operations it left out (with why)."""

    routes: tuple[Route, ...]
    skipped: tuple[str, ...] = ()
    source: str = "default"

    def __post_init__(self) -> None:
        if not self.routes:
            raise RouteError("no GET route to exercise", *self.skipped)
        patterns = []
        for r in self.routes:
            regex = "".join("[^/]+" if i % 2 else re.escape(part) for i, part in enumerate(_PARAM.split(r.template)))
            patterns.append((re.compile(f"^{regex}$"), r.template))
        object.__setattr__(self, "_patterns", tuple(patterns))

    def match(self, path: str) -> str:
        """The route template a requested path belongs to (`OTHER` when none)."""
        path = path.split("?", 1)[0]
        for pattern, template in self._patterns:  # type: ignore[attr-defined]
            if pattern.match(path):
                return str(template)
        return OTHER

    @property
    def templates(self) -> list[str]:
        return [r.template for r in self.routes]


def _check_path(path: object, where: str) -> str:
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise RouteError(f"{where}: a route is an absolute path such as /items/{{id}}, not {path!r}")
    if any(c.isspace() or ord(c) < 32 for c in path) or "#" in path:
        raise RouteError(f"{where}: route {path!r} contains a space, a control character or a '#'")
    return path


def routes_from_paths(paths: Iterable[object], *, health: str = "/health", source: str = "plan") -> Routes:
    """Routes from paths (templates' parameters are requested as `1`); the health path is judged too."""
    out: list[Route] = []
    for i, raw in enumerate(paths):
        template = _check_path(raw, f"routes[{i}]")
        path = _PARAM.sub("1", template.split("?", 1)[0])
        out.append(Route(template, urllib.parse.quote(path, safe="/-._~!$&'()*+,;=:@")))
    if health and health not in [r.template for r in out]:
        out.append(Route(health, health))
    return Routes(tuple(dict.fromkeys(out)), source=source)


def _example(param: Mapping[str, Any]) -> str | None:
    schema = param.get("schema") or {}
    for value in (param.get("example"), schema.get("example"), schema.get("default")):
        if value is not None:
            return str(value)
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return str(max(1, int(schema.get("minimum", 1))))
    if schema.get("type") == "string" and not schema.get("pattern") and not schema.get("format"):
        return "a"
    return None


def routes_from_openapi(spec: Mapping[str, Any], *, health: str = "/health") -> Routes:
    """The GET routes of an OpenAPI 3 document, each with a concrete path and its 200 JSON schema."""
    paths = spec.get("paths")
    if not isinstance(paths, Mapping) or not paths:
        raise RouteError("the OpenAPI document has no `paths`")
    components = spec.get("components") or {}
    out: list[Route] = []
    skipped: list[str] = []
    for template, item in paths.items():
        template = _check_path(template, "openapi paths")
        if not isinstance(item, Mapping):
            continue
        for method in item:
            if method.lower() in ("put", "post", "patch", "delete"):
                skipped.append(f"{method.upper()} {template}: not called (the crew does not write to production)")
        op = item.get("get")
        if not isinstance(op, Mapping):
            continue
        params = [*(item.get("parameters") or []), *(op.get("parameters") or [])]
        values: dict[str, str] = {}
        missing = []
        for p in params:
            if not isinstance(p, Mapping):
                continue
            if p.get("in") == "path":
                value = _example(p)
                if value is None:
                    missing.append(str(p.get("name")))
                else:
                    values[str(p.get("name"))] = value
            elif p.get("in") in ("query", "header") and p.get("required"):
                missing.append(str(p.get("name")))
        if missing or any(name not in values for name in _PARAM.findall(template)):
            skipped.append(f"GET {template}: no value for parameter(s) {', '.join(missing) or 'in the path'}")
            continue
        path = _PARAM.sub(lambda m, v=values: urllib.parse.quote(v[m.group(1)], safe=""), template)  # type: ignore[misc]
        out.append(Route(template, path, _response_schema(op, components)))
    if health and health not in [r.template for r in out]:
        out.append(Route(health, health))
    return Routes(tuple(out), tuple(skipped), source="openapi")


def _response_schema(op: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any] | None:
    ok = (op.get("responses") or {}).get("200") or (op.get("responses") or {}).get(200)
    if not isinstance(ok, Mapping):
        return None
    content = ok.get("content") or {}
    media = content.get("application/json") if isinstance(content, Mapping) else None
    schema = media.get("schema") if isinstance(media, Mapping) else None
    if not isinstance(schema, Mapping):
        return None
    # `#/components/...` references resolve against the schema's own root, so the components ride along.
    return {**schema, "components": components} if components else dict(schema)


def load_openapi(source: str, base_url: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """An OpenAPI document from a file, an http(s) URL, or a path on the service (`/openapi.json`)."""
    if source.startswith("/") and base_url is not None and not Path(source).exists():
        source = base_url.rstrip("/") + source
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=timeout) as response:
                text = response.read().decode()
        else:
            text = Path(source).read_text()
        data = yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise RouteError(f"cannot read the OpenAPI document {source!r}: {exc}") from None
    if not isinstance(data, dict):
        raise RouteError(f"the OpenAPI document {source!r} is not a mapping")
    return data


@dataclass(frozen=True)
class RouteStats:
    """One route's figures over the window."""

    route: str
    requests: int
    failed: int
    error_rate: float | None
    """Percent; None below the minimum number of requests."""
    p95_ms: float | None
    """None below the minimum number of timed requests."""


def nearest_rank(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile: the ceil(pct/100 * n)-th smallest value (always an observed one)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


@dataclass
class RouteWindow:
    """Per-route outcomes (time, failed, ms) over the last `window_seconds`."""

    window_seconds: float
    min_requests: int = 10
    min_timed: int = 5
    _events: dict[str, deque[tuple[float, bool, float | None]]] = field(default_factory=dict)
    totals: dict[str, list[int]] = field(default_factory=dict)
    """Requests and failures per route since the window was created (never trimmed)."""

    def add(self, at: float, route: str, failed: bool, ms: float | None) -> None:
        self._events.setdefault(route, deque()).append((at, failed, ms))
        total = self.totals.setdefault(route, [0, 0])
        total[0] += 1
        total[1] += int(failed)

    def stats(self, now: float) -> list[RouteStats]:
        """Each route's figures in the window ending at `now`."""
        out = []
        for route, events in sorted(self._events.items()):
            while events and events[0][0] <= now - self.window_seconds:
                events.popleft()
            requests = len(events)
            failed = sum(1 for _, f, _ in events if f)
            timed = [ms for _, _, ms in events if ms is not None]
            rate = 100.0 * failed / requests if requests >= max(1, self.min_requests) else None
            p95 = nearest_rank(timed, 95) if len(timed) >= max(1, self.min_timed) else None
            out.append(RouteStats(route, requests, failed, rate, p95))
        return out
