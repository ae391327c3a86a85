"""A small provider API for demos and tests: items CRUD on aiohttp, its OpenAPI 3.1 spec, and defect switches.

`DemoTarget(defects).running()` serves it on 127.0.0.1 on a free port in a background thread.
Defects (each off by default; also settable per request with `?defect=NAME` on any call):

- `wrong_shape`   GET /items/{id} answers `price` as a string, breaking the documented schema
- `error_500`     POST and PUT answer 500 when the item's name contains a digit
- `rate_limit`    more than `rate_limit_per_sec` calls in a second answer 429 with `Retry-After`
- `latency_ms`    GET /items (the listing, which the load test drives) waits this long before answering
- `expire_token`  the first authorized call answers 401 "token expired" (the client must refresh and retry)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

DEMO_TOKEN = "demo-sandbox-token"
"""The token the demo target accepts unless another is given (a sandbox value, not a secret)."""


@dataclass(frozen=True)
class Defects:
    """Which defects the target shows."""

    wrong_shape: bool = False
    error_500: bool = False
    rate_limit_per_sec: int | None = None
    latency_ms: float = 0.0
    expire_token: bool = False

    @classmethod
    def all(cls) -> Defects:
        """Every defect: a wrong shape, 500s, a rate limit of 40 req/s, 1.2 s on the listing, an expiring token."""
        return cls(wrong_shape=True, error_500=True, rate_limit_per_sec=40, latency_ms=1200.0, expire_token=True)


def spec(base_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 description of the demo target."""
    item = {
        "type": "object",
        "required": ["id", "name", "price"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "price": {"type": "number", "minimum": 0},
        },
    }
    new_item = {
        "type": "object",
        "required": ["name", "price"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "price": {"type": "number", "minimum": 0, "maximum": 1000000},
        },
    }
    problem = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    }

    def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    errors = {
        "400": answer("Invalid input", problem),
        "401": answer("Missing or invalid token", problem),
        "429": answer("Too many requests", problem),
    }
    item_id = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    body = {"required": True, "content": {"application/json": {"schema": new_item}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Demo provider", "version": "1.0.0"},
        "servers": [{"url": base_url}],
        "components": {
            "schemas": {"Item": item, "NewItem": new_item, "Problem": problem},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {
                "get": {
                    "operationId": "health",
                    "security": [],
                    "responses": {"200": answer("Alive", {"type": "object", "required": ["status"]})},
                }
            },
            "/items": {
                "get": {
                    "operationId": "listItems",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        }
                    ],
                    "responses": {"200": answer("Items", {"type": "array", "items": item}), **errors},
                },
                "post": {
                    "operationId": "createItem",
                    "requestBody": body,
                    "responses": {"201": answer("Created", item), **errors},
                },
            },
            "/items/{item_id}": {
                "parameters": [item_id],
                "get": {
                    "operationId": "getItem",
                    "responses": {
                        "200": answer("The item", item),
                        "404": answer("No such item", problem),
                        **errors,
                    },
                },
                "put": {
                    "operationId": "updateItem",
                    "requestBody": body,
                    "responses": {
                        "200": answer("Updated", item),
                        "404": answer("No such item", problem),
                        **errors,
                    },
                },
                "delete": {
                    "operationId": "deleteItem",
                    "responses": {
                        "204": {"description": "Deleted"},
                        "404": answer("No such item", problem),
                        **errors,
                    },
                },
            },
        },
    }


def _problem(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@dataclass
class _State:
    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1
    window_start: float = 0.0
    window_calls: int = 0
    expired_once: bool = False
    calls: int = 0


class DemoTarget:
    """The demo provider; `running()` serves it on loopback for the length of a `with` block."""

    def __init__(self, defects: Defects | None = None, *, token: str = DEMO_TOKEN) -> None:
        self.defects = defects or Defects()
        self.token = token
        self.state = _State()
        self.base_url = ""

    def _defects_for(self, request: web.Request) -> Defects:
        asked = set(request.query.getall("defect", []))
        if not asked:
            return self.defects
        d = self.defects
        return replace(
            d,
            wrong_shape=d.wrong_shape or "wrong_shape" in asked,
            error_500=d.error_500 or "error_500" in asked,
            rate_limit_per_sec=d.rate_limit_per_sec or (5 if "rate_limit" in asked else None),
            latency_ms=d.latency_ms or (300.0 if "latency" in asked else 0.0),
        )

    @web.middleware
    async def _gate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        d = self._defects_for(request)
        st = self.state
        st.calls += 1
        if d.latency_ms and request.method == "GET" and request.path == "/items":
            await asyncio.sleep(d.latency_ms / 1000)
        if d.rate_limit_per_sec is not None and request.path != "/openapi.json":
            now = time.monotonic()
            if now - st.window_start >= 1.0:
                st.window_start, st.window_calls = now, 0
            st.window_calls += 1
            if st.window_calls > d.rate_limit_per_sec:
                wait = max(1, round(1.0 - (now - st.window_start) + 0.5))
                return _problem(429, "rate limit exceeded", {"Retry-After": str(wait)})
        allowed = {"defect", "limit"} if request.path == "/items" and request.method == "GET" else {"defect"}
        unknown = sorted(set(request.query) - allowed)
        if unknown:
            return _problem(400, f"unknown query parameters: {', '.join(unknown)[:100]}")
        if request.path in ("/health", "/openapi.json"):
            return await handler(request)
        if request.headers.get("Authorization", "") != f"Bearer {self.token}":
            return _problem(401, "unauthorized: missing or invalid token")
        if d.expire_token and not st.expired_once:
            st.expired_once = True
            return _problem(401, "token expired")
        return await handler(request)

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(spec(self.base_url or "/"))

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _list(self, request: web.Request) -> web.Response:
        raw = request.query.get("limit", "100")
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            return _problem(400, "limit must be an integer from 1 to 100")
        return web.json_response(list(self.state.items.values())[: int(raw)])

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            data = await request.json()
        except ValueError:
            return _problem(400, "body must be JSON")
        if not isinstance(data, dict) or set(data) != {"name", "price"}:
            return _problem(400, "body must have exactly name and price")
        name, price = data["name"], data["price"]
        if not isinstance(name, str) or not 1 <= len(name) <= 40:
            return _problem(400, "name must be a string of 1-40 characters")
        if isinstance(price, bool) or not isinstance(price, int | float) or not 0 <= price <= 1_000_000:
            return _problem(400, "price must be a number from 0 to 1000000")
        if self._defects_for(request).error_500 and any(c.isdigit() for c in name):
            return _problem(500, "internal error")
        return {"name": name, "price": price}

    def _item_id(self, request: web.Request) -> int | web.Response:
        raw = request.match_info["item_id"]
        if not raw.isdigit() or int(raw) < 1:
            return _problem(400, "item_id must be a positive integer")
        return int(raw)

    def _show(self, request: web.Request, item: dict[str, Any], status: int = 200) -> web.Response:
        shown = dict(item)
        if self._defects_for(request).wrong_shape and request.method == "GET":
            shown["price"] = f"{item['price']}"
        return web.json_response(shown, status=status)

    async def _create(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        if isinstance(data, web.Response):
            return data
        st = self.state
        item = {"id": st.next_id, **data}
        st.items[st.next_id] = item
        st.next_id += 1
        return web.json_response(item, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        iid = self._item_id(request)
        if isinstance(iid, web.Response):
            return iid
        item = self.state.items.get(iid)
        return _problem(404, f"no item {iid}") if item is None else self._show(request, item)

    async def _update(self, request: web.Request) -> web.Response:
        iid = self._item_id(request)
        if isinstance(iid, web.Response):
            return iid
        data = await self._body(request)
        if isinstance(data, web.Response):
            return data
        if iid not in self.state.items:
            return _problem(404, f"no item {iid}")
        self.state.items[iid] = {"id": iid, **data}
        return web.json_response(self.state.items[iid])

    async def _delete(self, request: web.Request) -> web.Response:
        iid = self._item_id(request)
        if isinstance(iid, web.Response):
            return iid
        if self.state.items.pop(iid, None) is None:
            return _problem(404, f"no item {iid}")
        return web.Response(status=204)

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/openapi.json", self._openapi)
        app.router.add_get("/health", self._health)
        app.router.add_get("/items", self._list)
        app.router.add_post("/items", self._create)
        app.router.add_get("/items/{item_id}", self._get)
        app.router.add_put("/items/{item_id}", self._update)
        app.router.add_delete("/items/{item_id}", self._delete)
        return app

    @contextmanager
    def running(self) -> Iterator[DemoTarget]:
        """Serve on 127.0.0.1 (a free port) in a background thread until the block ends."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        runner = web.AppRunner(self.app(), access_log=None)
        failure: list[BaseException] = []

        async def start() -> None:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            server: Any = site._server
            port = server.sockets[0].getsockname()[1]
            self.base_url = f"http://127.0.0.1:{port}"

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        thread = threading.Thread(target=serve, name="demo-target", daemon=True)
        thread.start()
        if not started.wait(10) or failure:
            raise RuntimeError(f"the demo target did not start: {failure[0] if failure else 'timeout'}")
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
