"""A small shop API on PostgreSQL and Redis with switchable performance defects, for the stage-28 crew's demo and tests.

Run it as its own process (so the crew can measure and py-spy it like any service):
`python -m venturegate.crews.stage28.demo_target --port P --database URL --redis URL --config FILE`.
`prepare_database(url)` creates and fills its tables first (≥ 100k orders).

Defects (`--defects` names, comma-separated; `all` for every one):

- `n_plus_one`     GET /products/{id} reads each review's author with one query per review
- `missing_index`  orders.customer_id has no index: GET /customers/{id}/orders scans the whole table
- `uncached`       GET /reports/category/{category} (an aggregate over every order) starts uncached;
                   without this defect the service starts with its own cache for it
- `hot_cpu`        GET /products/{id}/related ranks every product in pure Python on each call
- `stale_cache`    writes do not invalidate cached reads (the invalidation bug the crew must catch)

The service reads its tunables from `--config` (JSON, re-read when the file changes): `pool_size`
(database connections), `throttle_ms` (a debugging delay on every request: the deliberately harmful
change the tests and the demo ask the crew to try) and `cache` (per read route: `ttl` seconds;
writes flush the routes their OpenAPI operation lists in `x-invalidates`). Cached reads use
`GETEX … EX ttl` (a hit renews the entry), answer `X-Cache: HIT|MISS`, and a request with
`Cache-Control: no-cache` bypasses the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import redis.asyncio as aioredis
from aiohttp import web

DEFECTS = ("n_plus_one", "missing_index", "uncached", "hot_cpu", "stale_cache")
CATEGORIES = ("books", "garden", "kitchen", "music", "office", "outdoor", "sports", "toys")
KEY_PREFIX = "vg28:"
READS = (
    "/products/{id}",
    "/products/{id}/related",
    "/customers/{id}/orders",
    "/reports/category/{category}",
)


def spec(products: int = 2000, customers: int = 5000) -> dict[str, Any]:
    """The OpenAPI 3.1 description (with `x-invalidates` on writes and example ranges on parameters)."""

    def idp(name: str, top: int) -> dict[str, Any]:
        return {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": top},
        }

    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "stage-28 demo shop", "version": "1.0"},
        "paths": {
            "/products/{id}": {"get": {"operationId": "product", "parameters": [idp("id", products)], "responses": ok}},
            "/products/{id}/related": {
                "get": {"operationId": "related", "parameters": [idp("id", products)], "responses": ok}
            },
            "/customers/{id}/orders": {
                "get": {"operationId": "orders", "parameters": [idp("id", customers)], "responses": ok}
            },
            "/reports/category/{category}": {
                "get": {
                    "operationId": "report",
                    "parameters": [
                        {"name": "category", "in": "path", "required": True, "schema": {"enum": list(CATEGORIES)}}
                    ],
                    "responses": ok,
                }
            },
            "/orders": {
                "post": {
                    "operationId": "order",
                    "x-invalidates": ["/reports/category/{category}", "/customers/{id}/orders"],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["customer_id", "product_id", "amount"],
                                    "properties": {
                                        "customer_id": {"type": "integer", "minimum": 1, "maximum": customers},
                                        "product_id": {"type": "integer", "minimum": 1, "maximum": products},
                                        "amount": {"type": "number", "minimum": 1, "maximum": 500},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {"201": {"description": "created"}},
                }
            },
        },
    }


def prepare_database(
    url: str, *, orders: int = 120_000, products: int = 2000, customers: int = 5000, index: bool = False
) -> None:
    """(Re)create the shop's tables with deterministic data; `index` adds the orders.customer_id index."""
    rng = random.Random(28)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS reviews, orders, products, customers")
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute(
            "CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, category text NOT NULL, price numeric)"
        )
        conn.execute(
            "CREATE TABLE reviews (id serial PRIMARY KEY, product_id int NOT NULL, customer_id int NOT NULL,"
            " rating int NOT NULL, body text)"
        )
        conn.execute("CREATE INDEX reviews_product ON reviews (product_id)")
        conn.execute(
            "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, product_id int NOT NULL,"
            " amount numeric NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        with conn.cursor() as cur:
            with cur.copy("COPY customers (id, name) FROM STDIN") as cp:
                for i in range(1, customers + 1):
                    cp.write_row((i, f"customer {i}"))
            with cur.copy("COPY products (id, name, category, price) FROM STDIN") as cp:
                for i in range(1, products + 1):
                    cp.write_row((i, f"product {i} {rng.choice(CATEGORIES)}", CATEGORIES[i % 8], rng.randint(1, 300)))
            with cur.copy("COPY reviews (product_id, customer_id, rating, body) FROM STDIN") as cp:
                for p in range(1, products + 1):
                    for _ in range(rng.randint(4, 12)):
                        cp.write_row((p, rng.randint(1, customers), rng.randint(1, 5), "fine"))
            with cur.copy("COPY orders (customer_id, product_id, amount) FROM STDIN") as cp:
                for _ in range(orders):
                    cp.write_row((rng.randint(1, customers), rng.randint(1, products), rng.randint(1, 500)))
        if index:
            conn.execute("CREATE INDEX orders_customer_id ON orders (customer_id)")
        conn.execute("ANALYZE")


class _Pool:
    """At most `size` database connections in use; resized when the config changes."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self.size = size
        self._sem = asyncio.Semaphore(size)
        self._free: list[psycopg.AsyncConnection[Any]] = []

    def resize(self, size: int) -> None:
        if size != self.size:
            self.size = size
            self._sem = asyncio.Semaphore(size)

    async def run(self, fn: Callable[[psycopg.AsyncConnection[Any]], Awaitable[Any]]) -> Any:
        sem = self._sem
        async with sem:
            conn = self._free.pop() if self._free else await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            try:
                result = await fn(conn)
            except BaseException:
                await conn.close()
                raise
            if len(self._free) < self.size:
                self._free.append(conn)
            else:
                await conn.close()
            return result


def _related_naive(target: tuple[str, str], catalogue: list[tuple[int, str, str]]) -> list[int]:
    """Rank every product by shared name letters with the target: quadratic in name length, in Python."""
    scored = []
    for pid, name, category in catalogue:
        score = sum(1 for a in target[0] for b in name if a == b) + (50 if category == target[1] else 0)
        scored.append((score, pid))
    scored.sort(reverse=True)
    return [pid for _, pid in scored[:5]]


class Shop:
    """The aiohttp application and its state."""

    def __init__(self, database: str, redis_url: str, config: Path, defects: set[str]) -> None:
        self.defects = defects
        self.config_path = config
        self._mtime = -1.0
        self.throttle = 0.0
        self.cache: dict[str, int] = {}
        self.pool = _Pool(database, 4)
        self.redis = aioredis.from_url(redis_url)
        self.catalogue: list[tuple[int, str, str]] = []
        self.invalidates = {
            path: list(op.get("x-invalidates", []))
            for path, ops in spec()["paths"].items()
            for op in ops.values()
            if "x-invalidates" in op
        }
        self.reload()

    def reload(self) -> None:
        """Re-read the config file when it changed."""
        try:
            mtime = self.config_path.stat().st_mtime
        except FileNotFoundError:
            mtime = 0.0
        if mtime == self._mtime:
            return
        self._mtime = mtime
        data: dict[str, Any] = {}
        if mtime:
            data = json.loads(self.config_path.read_text(encoding="utf-8") or "{}")
        self.pool.resize(int(data.get("pool_size", 4)))
        self.throttle = float(data.get("throttle_ms", 0)) / 1000.0
        default = {} if "uncached" in self.defects else {"/reports/category/{category}": 3600}
        routes = data.get("cache", default)
        self.cache = {
            str(route): int(spec_["ttl"] if isinstance(spec_, dict) else spec_) for route, spec_ in routes.items()
        }

    # -- handlers -------------------------------------------------------------------------------
    async def product(self, pid: int) -> dict[str, Any]:
        async def q(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
            row = await (
                await conn.execute("SELECT id, name, category, price FROM products WHERE id = %s", (pid,))
            ).fetchone()
            if row is None:
                raise web.HTTPNotFound()
            if "n_plus_one" in self.defects:
                reviews = await (
                    await conn.execute("SELECT customer_id, rating FROM reviews WHERE product_id = %s", (pid,))
                ).fetchall()
                out = []
                for customer_id, rating in reviews:
                    name = await (
                        await conn.execute("SELECT name FROM customers WHERE id = %s", (customer_id,))
                    ).fetchone()
                    out.append({"author": name[0] if name else None, "rating": rating})
            else:
                rows = await (
                    await conn.execute(
                        "SELECT c.name, r.rating FROM reviews r JOIN customers c ON c.id = r.customer_id"
                        " WHERE r.product_id = %s",
                        (pid,),
                    )
                ).fetchall()
                out = [{"author": n, "rating": r} for n, r in rows]
            return {"id": row[0], "name": row[1], "category": row[2], "price": float(row[3]), "reviews": out}

        result: dict[str, Any] = await self.pool.run(q)
        return result

    async def related(self, pid: int) -> dict[str, Any]:
        if not self.catalogue:
            rows = await self.pool.run(lambda c: _fetchall(c, "SELECT id, name, category FROM products ORDER BY id"))
            self.catalogue = [(int(r[0]), str(r[1]), str(r[2])) for r in rows]
        by_id = {p[0]: p for p in self.catalogue}
        if pid not in by_id:
            raise web.HTTPNotFound()
        if "hot_cpu" in self.defects:
            ranked = _related_naive((by_id[pid][1], by_id[pid][2]), self.catalogue)
        else:
            # The fix: only the product's own category, letters compared as sets (C speed), not pair by pair.
            letters = set(by_id[pid][1])
            same = [p for p in self.catalogue if p[2] == by_id[pid][2]]
            ranked = [p[0] for p in sorted(same, key=lambda p: -len(letters & set(p[1])))[:5]]
        return {"id": pid, "related": ranked}

    async def orders(self, cid: int) -> dict[str, Any]:
        rows = await self.pool.run(
            lambda c: _fetchall(
                c,
                "SELECT id, product_id, amount FROM orders WHERE customer_id = %s ORDER BY id DESC LIMIT 20",
                (cid,),
            )
        )
        return {"customer": cid, "orders": [{"id": r[0], "product": r[1], "amount": float(r[2])} for r in rows]}

    async def report(self, category: str) -> dict[str, Any]:
        if category not in CATEGORIES:
            raise web.HTTPNotFound()
        rows = await self.pool.run(
            lambda c: _fetchall(
                c,
                "SELECT count(*), coalesce(sum(o.amount), 0), count(DISTINCT o.customer_id) FROM orders o"
                " JOIN products p ON p.id = o.product_id WHERE p.category = %s",
                (category,),
            )
        )
        n, total, buyers = rows[0]
        return {"category": category, "orders": int(n), "revenue": float(total), "buyers": int(buyers)}

    async def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            values = (int(body["customer_id"]), int(body["product_id"]), float(body["amount"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"bad order: {exc}") from None
        rows = await self.pool.run(
            lambda c: _fetchall(
                c, "INSERT INTO orders (customer_id, product_id, amount) VALUES (%s, %s, %s) RETURNING id", values
            )
        )
        return {"id": int(rows[0][0])}

    # -- cache ----------------------------------------------------------------------------------
    async def cached(
        self, request: web.Request, route: str, compute: Callable[[], Awaitable[dict[str, Any]]]
    ) -> web.Response:
        ttl = self.cache.get(route)
        bypass = "no-cache" in request.headers.get("Cache-Control", "")
        if ttl is None or bypass:
            body = json.dumps(await compute())
            return web.Response(text=body, content_type="application/json", headers={"X-Cache": "BYPASS"})
        key = f"{KEY_PREFIX}c:{route}:{request.path}"
        hit = await self.redis.getex(key, ex=ttl)
        if hit is not None:
            return web.Response(body=hit, content_type="application/json", headers={"X-Cache": "HIT"})
        body = json.dumps(await compute())
        pipe = self.redis.pipeline()
        pipe.set(key, body, ex=ttl)
        pipe.sadd(f"{KEY_PREFIX}idx:{route}", key)
        await pipe.execute()
        return web.Response(text=body, content_type="application/json", headers={"X-Cache": "MISS"})

    async def invalidate(self, write_route: str) -> None:
        if "stale_cache" in self.defects:
            return
        for route in self.invalidates.get(write_route, []):
            if route in self.cache:
                index = f"{KEY_PREFIX}idx:{route}"
                keys = await self.redis.smembers(index)
                if keys:
                    await self.redis.delete(*keys)
                await self.redis.delete(index)

    def app(self) -> web.Application:
        @web.middleware
        async def reload(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            self.reload()
            if self.throttle > 0:
                await asyncio.sleep(self.throttle)
            return await handler(request)

        def num(request: web.Request, name: str) -> int:
            try:
                return int(request.match_info[name])
            except ValueError:
                raise web.HTTPNotFound() from None

        async def product(request: web.Request) -> web.Response:
            pid = num(request, "id")
            return await self.cached(request, "/products/{id}", lambda: self.product(pid))

        async def related(request: web.Request) -> web.Response:
            pid = num(request, "id")
            return await self.cached(request, "/products/{id}/related", lambda: self.related(pid))

        async def orders(request: web.Request) -> web.Response:
            cid = num(request, "id")
            return await self.cached(request, "/customers/{id}/orders", lambda: self.orders(cid))

        async def report(request: web.Request) -> web.Response:
            category = request.match_info["category"]
            return await self.cached(request, "/reports/category/{category}", lambda: self.report(category))

        async def order(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                raise web.HTTPBadRequest(text="the body is not JSON") from None
            created = await self.create_order(body if isinstance(body, dict) else {})
            await self.invalidate("/orders")
            return web.json_response(created, status=201)

        async def openapi(_: web.Request) -> web.Response:
            return web.json_response(spec())

        async def health(_: web.Request) -> web.Response:
            return web.json_response({"ok": True, "pid": os.getpid(), "pool_size": self.pool.size})

        app = web.Application(middlewares=[reload])
        app.router.add_get("/products/{id}", product)
        app.router.add_get("/products/{id}/related", related)
        app.router.add_get("/customers/{id}/orders", orders)
        app.router.add_get("/reports/category/{category}", report)
        app.router.add_post("/orders", order)
        app.router.add_get("/openapi.json", openapi)
        app.router.add_get("/health", health)
        return app


async def _fetchall(conn: psycopg.AsyncConnection[Any], sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    cur = await conn.execute(sql, params)
    return await cur.fetchall()


def parse_defects(text: str) -> set[str]:
    """`all`, `none`/empty, or comma-separated names from `DEFECTS`."""
    text = text.strip()
    if text == "all":
        return set(DEFECTS)
    names = {n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"}
    unknown = names - set(DEFECTS)
    if unknown:
        raise ValueError(f"unknown defects {sorted(unknown)}; known: {', '.join(DEFECTS)}")
    return names


def main(argv: list[str] | None = None) -> None:
    """Serve the shop until killed."""
    parser = argparse.ArgumentParser(description="stage-28 demo shop")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--defects", default="all")
    args = parser.parse_args(argv)
    defects = parse_defects(args.defects)
    with psycopg.connect(args.database, autocommit=True) as conn:  # the missing_index switch
        if "missing_index" in defects:
            conn.execute("DROP INDEX IF EXISTS orders_customer_id")
        else:
            conn.execute("CREATE INDEX IF NOT EXISTS orders_customer_id ON orders (customer_id)")
    shop = Shop(args.database, args.redis, args.config, defects)
    web.run_app(shop.app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()


class ShopProcess:
    """The demo shop running as a child process on a free loopback port (`stop()` ends it)."""

    def __init__(self, database: str, redis_url: str, config: Path, defects: str = "all") -> None:
        import socket
        import subprocess
        import sys
        import time
        import urllib.request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config = config
        if not config.exists():
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text("{}", encoding="utf-8")
        cmd = [sys.executable, "-m", "venturegate.crews.stage28.demo_target", "--port", str(self.port)]
        cmd += ["--database", database, "--redis", redis_url, "--config", str(config), "--defects", defects]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.base_url + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.stop()
                raise RuntimeError(f"the demo shop did not start: {err[-800:]}")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        """The service's process id (for psutil and py-spy)."""
        return int(self.proc.pid)

    def stop(self) -> None:
        """End the process (terminate, then kill)."""
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def __enter__(self) -> ShopProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
