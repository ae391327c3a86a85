"""Bounded, well-formed input at the edge: body size before parsing, then JSON depth, text and batch limits.

Every request body is read up to `Limits.body_bytes` (413 past it, before anything is parsed); a
JSON body is then checked once, in full, before a route sees it: nesting depth, string length, and
text that is not valid Unicode (a lone surrogate such as `\\ud800`, which JSON allows but neither
database can store) or holds NUL. A refusal is a 413/422 problem naming the field and the limit,
so a refused write reaches neither the engine nor the database.

The limits are read from the environment (`ENV`, see `Limits.from_env`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, fields
from typing import Any

from venturegate.api.problems import ProblemDetail, problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BAD_TEXT = re.compile("[\ud800-\udfff\x00]")
_ARTIFACT_PATH = re.compile(r"^/api/ventures/[^/]+/artifacts/[^/]+$")


@dataclass(frozen=True)
class Limits:
    """Request limits (each settable through its environment variable, `ENV`)."""

    body_bytes: int = 2_000_000
    """Largest request body, in bytes (413 past it, checked before parsing)."""
    artifact_bytes: int = 1_000_000
    """Largest artifact request (`POST /api/ventures/V/artifacts/NAME`), in bytes."""
    batch_samples: int = 10_000
    """Most samples in one `POST /api/metrics` batch."""
    string_chars: int = 100_000
    """Longest string (or object key) anywhere in a JSON body."""
    json_depth: int = 32
    """Deepest nesting of arrays and objects in a JSON body."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """The limits, each overridden by its variable in `ENV` when set (a positive integer)."""
        source = os.environ if env is None else env
        values: dict[str, int] = {}
        for f in fields(cls):
            name = ENV[f.name]
            raw = source.get(name)
            if raw is None:
                continue
            if not raw.strip().isdigit() or int(raw) <= 0:
                raise ValueError(f"{name}={raw!r} must be a positive integer")
            values[f.name] = int(raw)
        return cls(**values)


ENV = {
    "body_bytes": "VENTUREGATE_MAX_BODY_BYTES",
    "artifact_bytes": "VENTUREGATE_MAX_ARTIFACT_BYTES",
    "batch_samples": "VENTUREGATE_MAX_BATCH_SAMPLES",
    "string_chars": "VENTUREGATE_MAX_STRING_CHARS",
    "json_depth": "VENTUREGATE_MAX_JSON_DEPTH",
}
"""The environment variable of each limit."""


def excerpt(text: str, limit: int = 80) -> str:
    """At most `limit` characters of untrusted text, for an error message."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored (a lone surrogate, NUL), or None."""
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    char = found.group()
    at = found.start()
    if char == "\x00":
        return f"text holds a NUL character at position {at}; remove it"
    return f"text is not valid Unicode: a lone surrogate U+{ord(char):04X} at position {at}"


def json_problems(doc: Any, limits: Limits, root: str = "body") -> list[ProblemDetail]:
    """Every place (up to 10) where a parsed JSON document breaks the text, string or depth limits."""
    out: list[ProblemDetail] = []
    stack: list[tuple[str, Any, int]] = [(root, doc, 0)]
    while stack and len(out) < 10:
        where, value, depth = stack.pop()
        if isinstance(value, str):
            out.extend(_string(where, value, limits))
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= limits.json_depth:
            out.append(ProblemDetail(where=where, message=f"nested deeper than {limits.json_depth} levels"))
            continue
        if isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                bad = _string(f"{where} (key {excerpt(ascii(key))})", key, limits)
                out.extend(bad)
                stack.append((f"{where}.{ascii(key) if bad else key}", item, depth + 1))
        else:
            stack.extend((f"{where}[{i}]", item, depth + 1) for i, item in reversed(list(enumerate(value))))
    return out


def _string(where: str, text: str, limits: Limits) -> list[ProblemDetail]:
    if len(text) > limits.string_chars:
        msg = f"text of {len(text)} characters is longer than the limit of {limits.string_chars}"
        return [ProblemDetail(where=where, message=msg)]
    why = text_problem(text)
    return [] if why is None else [ProblemDetail(where=where, message=why)]


class LimitsMiddleware:
    """Refuse oversize bodies (413) and malformed JSON text (422) before routing; pass the body on unchanged."""

    def __init__(self, app: ASGIApp, limits: Limits | None = None) -> None:
        self.app = app
        self.limits = limits or Limits.from_env()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.limits.body_bytes
        if scope["method"] == "POST" and _ARTIFACT_PATH.match(scope.get("path", "")):
            limit = min(limit, self.limits.artifact_bytes)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, int(declared), limit)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await _too_large(scope, receive, send, len(body), limit)
                return
            more = bool(message.get("more_body", False))
        if body and b"json" in headers.get(b"content-type", b""):
            errors = self._check_json(bytes(body), scope.get("path", ""))
            if errors:
                fields_ = "; ".join(f"{d.where}: {d.message}" for d in errors[:3])
                response = problem(422, f"the request is invalid: {fields_}", errors)
                await response(scope, receive, send)
                return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    def _check_json(self, body: bytes, path: str) -> list[ProblemDetail]:
        try:
            doc = json.loads(body)
        except RecursionError:
            return [ProblemDetail(where="body", message=f"nested deeper than {self.limits.json_depth} levels")]
        except ValueError:
            return []  # not JSON: the route's own parsing answers with its located error
        errors = json_problems(doc, self.limits)
        if path == "/api/metrics" and isinstance(doc, dict) and isinstance(doc.get("samples"), list):
            count = len(doc["samples"])
            if count > self.limits.batch_samples:
                msg = f"{count} samples in one batch; the limit is {self.limits.batch_samples}"
                errors.append(ProblemDetail(where="body.samples", message=msg, hint="send smaller batches"))
        return errors


async def _too_large(scope: Scope, receive: Receive, send: Send, size: int, limit: int) -> None:
    detail = f"the request body ({size} bytes or more) is larger than the limit of {limit} bytes"
    response = problem(413, detail, [ProblemDetail(where="body", message=detail, hint="send less at a time")])
    await response(scope, receive, send)
