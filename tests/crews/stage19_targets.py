"""Test target APIs for the stage-19 crew, with planted defects: three small, differently shaped REST APIs on
aiohttp (loopback), each with its own OpenAPI document, authentication, rate limiter and defect switches.

Each target lists the defects it plants as the findings a correct crew must report: `(kind, METHOD, path)`.
A target with no defect switched on is clean: the crew must report nothing on it.

- **ledger**: bearer token; accounts with nested entries; a fixed-window limit (X-RateLimit-* headers);
  defects: a read after create answers `balance` as a string (schema), entries carry an undocumented
  field, `GET /reports/daily` is slow.
- **notes**: no authentication; a token bucket (IETF RateLimit-* headers); defects: create answers 200
  where 201 is documented (status code), an update is not kept (data flow).
- **catalog**: API key; string identifiers; no rate limit; defects: delete keeps the product (data flow),
  stock answers text/plain (content type), the listing omits its documented `X-Request-Id` (header).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from aiohttp import web

from venturegate.crews.stage19.faultproxy import ServedApp

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Key = tuple[str, str, str]
LEDGER_TOKEN = "ledger-sandbox-token"
CATALOG_KEY = "catalog-sandbox-key"


class FixedWindow:
    """`limit` requests per `window` seconds (windows aligned to the server's clock), X-RateLimit-* headers."""

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self.limit, self.window = limit, window
        self._start, self._count = 0.0, 0

    def take(self) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        start = math.floor(now / self.window) * self.window
        if start != self._start:
            self._start, self._count = start, 0
        self._count += 1
        reset = max(1, math.ceil(self._start + self.window - now))
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self._count)),
            "X-RateLimit-Reset": str(reset),
        }
        if self._count > self.limit:
            return False, {**headers, "Retry-After": str(reset)}
        return True, headers


class TokenBucket:
    """`rate` tokens a second, up to `burst`; IETF RateLimit-* headers."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._at = float(burst), time.monotonic()

    def take(self) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        headers = {"RateLimit-Limit": f"{self.rate:g}", "RateLimit-Policy": f"{self.rate:g};w=1"}
        if self._tokens < 1:
            return False, {**headers, "RateLimit-Remaining": "0", "Retry-After": "1"}
        self._tokens -= 1
        return True, {**headers, "RateLimit-Remaining": str(int(self._tokens))}


Limiter = FixedWindow | TokenBucket


def _answer(
    description: str,
    schema: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    media: str = "application/json",
) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    if headers:
        out["headers"] = headers
    return out


PROBLEM = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
ERRORS = {
    "400": _answer("Invalid input", PROBLEM),
    "404": _answer("Not found", PROBLEM),
    "429": _answer("Too many requests", PROBLEM),
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body of `schema`."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _planted(defects: dict[Key, bool]) -> set[Key]:
    """The findings of the defects that are switched on."""
    return {key for key, on in defects.items() if on}


def _problem(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": text}, status=status, headers=headers)


@dataclass
class Target:
    """One API: its spec, its app, and the findings its switched-on defects must produce."""

    name: str
    spec: dict[str, Any]
    routes: list[tuple[str, str, Handler]]
    auth: str  # none | bearer | api_key
    secret: str = ""
    limiter: Limiter | None = None
    planted: set[Key] = field(default_factory=set)
    true_limit: float | None = None
    slow: dict[str, float] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/openapi.json", self._spec_handler)
        for method, path, handler in self.routes:
            app.router.add_route(method, path, handler)
        return app

    async def _spec_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.spec)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/openapi.json":
            return await handler(request)
        extra: dict[str, str] = {}
        if self.limiter is not None:
            ok, extra = self.limiter.take()
            if not ok:
                return _problem(429, "too many requests", extra)
        if self.auth != "none" and request.path != "/health":
            got = request.headers.get("Authorization" if self.auth == "bearer" else "X-API-Key", "")
            want = f"Bearer {self.secret}" if self.auth == "bearer" else self.secret
            if got != want:
                return _problem(401, "unauthorized", extra)
        resp = await handler(request)
        resp.headers.update(extra)
        return resp

    @contextmanager
    def running(self) -> Iterator[ServedApp]:
        served = ServedApp(self.app()).start()
        try:
            yield served
        finally:
            served.stop()


class _Store:
    def __init__(self, ids: Iterator[Any]) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.ids = ids

    def new_id(self) -> Any:
        return next(self.ids)


async def _json_body(request: web.Request, schema: dict[str, Any]) -> dict[str, Any] | web.Response:
    try:
        body = json.loads(await request.read())
        jsonschema.validate(body, schema)
    except (ValueError, jsonschema.ValidationError) as exc:
        return _problem(400, f"invalid body: {str(exc)[:80]}")
    if not isinstance(body, dict):
        return _problem(400, "invalid body")
    return body


def _int_param(request: web.Request, name: str) -> int | None:
    text = request.match_info.get(name, "")
    return int(text) if text.isdigit() and len(text) < 12 else None


def _limit(request: web.Request) -> int | web.Response:
    raw = request.query.get("limit")
    if raw is None:
        return 100
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        return _problem(400, "limit must be 1-100")
    return int(raw)


def _unknown_query(request: web.Request, allowed: set[str]) -> web.Response | None:
    extra = set(request.query) - allowed
    return _problem(400, f"unknown parameters {sorted(extra)}") if extra else None


# -- ledger -----------------------------------------------------------------------------------------------
def ledger(
    *,
    read_string_balance: bool = False,
    entry_extra_field: bool = False,
    slow_report_s: float = 0.0,
    limit: int | None = 20,
) -> Target:
    """Accounts and their entries, bearer token, fixed-window limit."""
    new_account = {
        "type": "object",
        "required": ["owner", "currency"],
        "additionalProperties": False,
        "properties": {
            "owner": {"type": "string", "minLength": 1, "maxLength": 30},
            "currency": {"enum": ["EUR", "USD", "GBP"]},
        },
    }
    account = {
        "type": "object",
        "required": ["id", "owner", "currency", "balance"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "owner": {"type": "string"},
            "currency": {"type": "string"},
            "balance": {"type": "number"},
        },
    }
    new_entry = {
        "type": "object",
        "required": ["amount"],
        "additionalProperties": False,
        "properties": {
            "amount": {"type": "integer", "minimum": -100000, "maximum": 100000},
            "memo": {"type": "string", "maxLength": 40},
        },
    }
    entry = {  # no additionalProperties: an extra key is not a schema error, only an undocumented field
        "type": "object",
        "required": ["entry_id", "amount"],
        "properties": {"entry_id": {"type": "integer"}, "amount": {"type": "integer"}, "memo": {"type": "string"}},
    }
    acc_id = {"name": "account_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    ent_id = {"name": "entry_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    err = {k: ERRORS[k] for k in ("400", "404", "429")} | {"401": _answer("Unauthorized", PROBLEM)}
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Ledger", "version": "2.1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/health": {
                "get": {"security": [], "responses": {"200": _answer("ok", {"type": "object"}), "429": ERRORS["429"]}}
            },
            "/accounts": {
                "get": {"responses": {"200": _answer("Accounts", {"type": "array", "items": account}), **err}},
                "post": {
                    "requestBody": _body(new_account),
                    "responses": {"201": _answer("Created", account), **err},
                },
            },
            "/accounts/{account_id}": {
                "parameters": [acc_id],
                "get": {"responses": {"200": _answer("Account", account), **err}},
                "delete": {"responses": {"204": _answer("Deleted"), **err}},
            },
            "/accounts/{account_id}/entries": {
                "parameters": [acc_id],
                "post": {
                    "requestBody": _body(new_entry),
                    "responses": {"201": _answer("Created", entry), **err},
                },
            },
            "/accounts/{account_id}/entries/{entry_id}": {
                "parameters": [acc_id, ent_id],
                "get": {"responses": {"200": _answer("Entry", entry), **err}},
            },
            "/reports/daily": {
                "get": {
                    "responses": {
                        "200": _answer(
                            "Report",
                            {"type": "object", "required": ["total"], "properties": {"total": {"type": "integer"}}},
                        ),
                        **err,
                    }
                }
            },
        },
    }
    accounts = _Store(itertools.count(1))
    entries: dict[int, dict[int, dict[str, Any]]] = {}
    entry_ids = itertools.count(1)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def list_accounts(request: web.Request) -> web.Response:
        if (bad := _unknown_query(request, set())) is not None:
            return bad
        return web.json_response(list(accounts.items.values())[:20])

    async def create_account(request: web.Request) -> web.Response:
        body = await _json_body(request, new_account)
        if isinstance(body, web.Response):
            return body
        ident = accounts.new_id()
        accounts.items[str(ident)] = {"id": ident, **body, "balance": 0.0}
        entries[ident] = {}
        return web.json_response(accounts.items[str(ident)], status=201)

    async def get_account(request: web.Request) -> web.Response:
        ident = _int_param(request, "account_id")
        item = accounts.items.get(str(ident))
        if item is None:
            return _problem(404, "no such account")
        if read_string_balance:
            item = {**item, "balance": f"{item['balance']:.2f}"}
        return web.json_response(item)

    async def delete_account(request: web.Request) -> web.Response:
        ident = _int_param(request, "account_id")
        if accounts.items.pop(str(ident), None) is None:
            return _problem(404, "no such account")
        return web.Response(status=204)

    async def create_entry(request: web.Request) -> web.Response:
        ident = _int_param(request, "account_id")
        if str(ident) not in accounts.items or ident is None:
            return _problem(404, "no such account")
        body = await _json_body(request, new_entry)
        if isinstance(body, web.Response):
            return body
        eid = next(entry_ids)
        entries[ident][eid] = {"entry_id": eid, **body}
        return web.json_response(entries[ident][eid], status=201)

    async def get_entry(request: web.Request) -> web.Response:
        ident, eid = _int_param(request, "account_id"), _int_param(request, "entry_id")
        got = entries.get(ident or -1, {}).get(eid or -1)
        if got is None:
            return _problem(404, "no such entry")
        return web.json_response({**got, "ledger_shard": 3} if entry_extra_field else got)

    async def report(request: web.Request) -> web.Response:
        if (bad := _unknown_query(request, set())) is not None:
            return bad
        await asyncio.sleep(slow_report_s or 0.002)
        return web.json_response({"total": len(accounts.items)})

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/health", health),
        ("GET", "/accounts", list_accounts),
        ("POST", "/accounts", create_account),
        ("GET", "/accounts/{account_id}", get_account),
        ("DELETE", "/accounts/{account_id}", delete_account),
        ("POST", "/accounts/{account_id}/entries", create_entry),
        ("GET", "/accounts/{account_id}/entries/{entry_id}", get_entry),
        ("GET", "/reports/daily", report),
    ]
    planted = _planted(
        {
            ("schema", "GET", "/accounts/{account_id}"): read_string_balance,
            ("undocumented_field", "GET", "/accounts/{account_id}/entries/{entry_id}"): entry_extra_field,
            ("slow_endpoint", "GET", "/reports/daily"): bool(slow_report_s),
        }
    )
    return Target(
        "ledger",
        spec,
        routes,
        auth="bearer",
        secret=LEDGER_TOKEN,
        limiter=FixedWindow(limit) if limit else None,
        planted=planted,
        true_limit=float(limit) if limit else None,
        slow={"/reports/daily": slow_report_s} if slow_report_s else {},
    )


# -- notes ------------------------------------------------------------------------------------------------
def notes(*, create_200: bool = False, update_lost: bool = False, rate: float | None = 50.0, burst: int = 10) -> Target:
    """Notes without authentication, token-bucket limit."""
    new_note = {
        "type": "object",
        "required": ["title"],
        "additionalProperties": False,
        "properties": {"title": {"type": "string", "minLength": 1, "maxLength": 50}, "pinned": {"type": "boolean"}},
    }
    note = {
        "type": "object",
        "required": ["noteId", "title", "pinned"],
        "additionalProperties": False,
        "properties": {"noteId": {"type": "string"}, "title": {"type": "string"}, "pinned": {"type": "boolean"}},
    }
    nid = {"name": "noteId", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^n[0-9]+$"}}
    limit_q = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
    err = {k: ERRORS[k] for k in ("400", "404", "429")}
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "Notes", "version": "1"},
        "paths": {
            "/notes": {
                "get": {
                    "parameters": [limit_q],
                    "responses": {"200": _answer("Notes", {"type": "array", "items": note}), **err},
                },
                "post": {
                    "requestBody": _body(new_note),
                    "responses": {"201": _answer("Created", note), **err},
                },
            },
            "/notes/{noteId}": {
                "parameters": [nid],
                "get": {"operationId": "getNote", "responses": {"200": _answer("Note", note), **err}},
                "put": {
                    "requestBody": _body(new_note),
                    "responses": {"200": _answer("Updated", note), **err},
                },
                "delete": {"responses": {"204": _answer("Deleted"), **err}},
            },
        },
    }
    store = _Store(f"n{i}" for i in itertools.count(1))

    async def list_notes(request: web.Request) -> web.Response:
        if (bad := _unknown_query(request, {"limit"})) is not None:
            return bad
        n = _limit(request)
        if isinstance(n, web.Response):
            return n
        return web.json_response(list(store.items.values())[:n])

    async def create(request: web.Request) -> web.Response:
        body = await _json_body(request, new_note)
        if isinstance(body, web.Response):
            return body
        ident = store.new_id()
        store.items[ident] = {"noteId": ident, "title": body["title"], "pinned": bool(body.get("pinned", False))}
        return web.json_response(store.items[ident], status=200 if create_200 else 201)

    async def get(request: web.Request) -> web.Response:
        item = store.items.get(request.match_info["noteId"])
        return web.json_response(item) if item else _problem(404, "no such note")

    async def put(request: web.Request) -> web.Response:
        item = store.items.get(request.match_info["noteId"])
        if item is None:
            return _problem(404, "no such note")
        body = await _json_body(request, new_note)
        if isinstance(body, web.Response):
            return body
        updated = {"noteId": item["noteId"], "title": body["title"], "pinned": bool(body.get("pinned", False))}
        if not update_lost:
            store.items[item["noteId"]] = updated
        return web.json_response(updated)

    async def delete(request: web.Request) -> web.Response:
        if store.items.pop(request.match_info["noteId"], None) is None:
            return _problem(404, "no such note")
        return web.Response(status=204)

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/notes", list_notes),
        ("POST", "/notes", create),
        ("GET", "/notes/{noteId}", get),
        ("PUT", "/notes/{noteId}", put),
        ("DELETE", "/notes/{noteId}", delete),
    ]
    planted = _planted(
        {("status_code", "POST", "/notes"): create_200, ("data_flow", "GET", "/notes/{noteId}"): update_lost}
    )
    return Target(
        "notes",
        spec,
        routes,
        auth="none",
        limiter=TokenBucket(rate, burst) if rate else None,
        planted=planted,
        true_limit=rate,
    )


# -- catalog ----------------------------------------------------------------------------------------------
def catalog(*, delete_noop: bool = False, stock_text: bool = False, missing_request_id: bool = False) -> Target:
    """Products by SKU, API key, no rate limit; the create answer declares an OpenAPI link."""
    new_product = {
        "type": "object",
        "required": ["sku", "name", "price_cents"],
        "additionalProperties": False,
        "properties": {
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "price_cents": {"type": "integer", "minimum": 0, "maximum": 1000000},
        },
    }
    product = {**new_product, "required": ["sku", "name", "price_cents"]}
    stock = {
        "type": "object",
        "required": ["sku", "available"],
        "additionalProperties": False,
        "properties": {"sku": {"type": "string"}, "available": {"type": "integer", "minimum": 0}},
    }
    sku = {
        "name": "sku",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
    }
    err = {k: ERRORS[k] for k in ("400", "404")} | {"401": _answer("Unauthorized", PROBLEM)}
    req_id = {"X-Request-Id": {"required": True, "schema": {"type": "string", "minLength": 8}}}
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Catalog", "version": "3"},
        "components": {"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
        "security": [{"key": []}],
        "paths": {
            "/products": {
                "get": {"responses": {"200": _answer("Products", {"type": "array", "items": product}, req_id), **err}},
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": new_product,
                                "example": {"sku": "ABC-123", "name": "Lamp", "price_cents": 1999},
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            **_answer("Created", product),
                            "links": {
                                "GetProduct": {
                                    "operationId": "getProduct",
                                    "parameters": {"sku": "$response.body#/sku"},
                                }
                            },
                        },
                        **err,
                        "409": _answer("Exists", PROBLEM),
                    },
                },
            },
            "/products/{sku}": {
                "parameters": [sku],
                "get": {"operationId": "getProduct", "responses": {"200": _answer("Product", product), **err}},
                "delete": {"responses": {"204": _answer("Deleted"), **err}},
            },
            "/products/{sku}/stock": {
                "parameters": [sku],
                "get": {"responses": {"200": _answer("Stock", stock), **err}},
            },
        },
    }
    items: dict[str, dict[str, Any]] = {}
    counter = itertools.count(1)

    async def list_products(request: web.Request) -> web.Response:
        if (bad := _unknown_query(request, set())) is not None:
            return bad
        headers = {} if missing_request_id else {"X-Request-Id": f"req-{next(counter):08d}"}
        return web.json_response(list(items.values())[:20], headers=headers)

    async def create(request: web.Request) -> web.Response:
        body = await _json_body(request, new_product)
        if isinstance(body, web.Response):
            return body
        if body["sku"] in items:
            return _problem(409, "sku exists")
        items[body["sku"]] = body
        return web.json_response(body, status=201)

    async def get(request: web.Request) -> web.Response:
        item = items.get(request.match_info["sku"])
        return web.json_response(item) if item else _problem(404, "no such product")

    async def delete(request: web.Request) -> web.Response:
        key = request.match_info["sku"]
        if key not in items:
            return _problem(404, "no such product")
        if not delete_noop:
            del items[key]
        return web.Response(status=204)

    async def get_stock(request: web.Request) -> web.Response:
        key = request.match_info["sku"]
        if key not in items:
            return _problem(404, "no such product")
        if stock_text:
            return web.Response(text=f"{key}: 7", content_type="text/plain")
        return web.json_response({"sku": key, "available": 7})

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/products", list_products),
        ("POST", "/products", create),
        ("GET", "/products/{sku}", get),
        ("DELETE", "/products/{sku}", delete),
        ("GET", "/products/{sku}/stock", get_stock),
    ]
    planted = _planted(
        {
            ("data_flow", "DELETE", "/products/{sku}"): delete_noop,
            ("content_type", "GET", "/products/{sku}/stock"): stock_text,
            ("headers", "GET", "/products"): missing_request_id,
        }
    )
    return Target("catalog", spec, routes, auth="api_key", secret=CATALOG_KEY, planted=planted)


def defective(*, limits: bool = True) -> list[Target]:
    """Every target with every defect on (the slow report takes 300 ms); `limits=False` drops the rate limits."""
    return [
        ledger(read_string_balance=True, entry_extra_field=True, slow_report_s=0.3, limit=20 if limits else None),
        notes(create_200=True, update_lost=True, rate=50.0 if limits else None),
        catalog(delete_noop=True, stock_text=True, missing_request_id=True),
    ]


def clean(*, limits: bool = True) -> list[Target]:
    """The same targets without defects (a rate limit is a property, not a defect)."""
    return [ledger(limit=20 if limits else None), notes(rate=50.0 if limits else None), catalog()]
