"""The stage-28 workload: requests drawn from the service's OpenAPI spec, sent open-loop, kept as an access trace.

Requests are scheduled with the stage-19 load generator's `LoadProfile` (fixed rate, send times from
the start, so a slow service cannot slow the load down) and its nearest-rank `percentile`; unlike a
stage-19 run, every request has its own URL (path parameters drawn per request, Zipf-skewed for ids
as real traffic is), and every request is kept: method, route template, path, status, response size,
latency, the `X-Cache` header, and its offset. That trace is what the cache architect sizes the cache
from, and what before/after comparisons test statistically.

The workload is seeded: the same spec, seed and rate give the same request sequence.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from venturegate.crews.stage19.loadgen import LoadProfile, ensure_loopback, percentile

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Endpoint:
    """One operation of the spec: method, route template, parameter generators, and a body for writes."""

    method: str
    route: str
    params: tuple[tuple[str, dict[str, Any]], ...]
    body_schema: dict[str, Any] | None = None
    invalidates: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """`GET /products/{id}`."""
        return f"{self.method} {self.route}"

    @property
    def is_read(self) -> bool:
        """A GET."""
        return self.method == "GET"


@dataclass(frozen=True)
class Request:
    """One scheduled request."""

    endpoint: Endpoint
    path: str
    body: bytes | None


@dataclass
class Access:
    """One request of the trace, as it went."""

    offset: float
    method: str
    route: str
    path: str
    status: int
    latency_ms: float
    size: int
    cache: str


@dataclass
class Trace:
    """The accesses of one run, with the run's shape."""

    rate: float
    seconds: float
    accesses: list[Access] = field(default_factory=list)
    transport_errors: int = 0

    def latencies(self, route: str | None = None) -> list[float]:
        """Latencies (ms) of answered requests, of one route (`GET /x`) or all."""
        return [a.latency_ms for a in self.accesses if route is None or f"{a.method} {a.route}" == route]

    def summary(self) -> dict[str, Any]:
        """Overall and per-endpoint p50/p95/p99, throughput and errors."""
        answered = sorted(self.latencies())
        errors = sum(1 for a in self.accesses if a.status >= 400) + self.transport_errors
        total = len(self.accesses) + self.transport_errors
        per: dict[str, list[Access]] = defaultdict(list)
        for a in self.accesses:
            per[f"{a.method} {a.route}"].append(a)
        endpoints = []
        for name, items in sorted(per.items()):
            lat = sorted(a.latency_ms for a in items)
            endpoints.append(
                {
                    "endpoint": name,
                    "calls": len(items),
                    "p50_ms": _r(percentile(lat, 50)),
                    "p95_ms": _r(percentile(lat, 95)),
                    "p99_ms": _r(percentile(lat, 99)),
                    "errors": sum(1 for a in items if a.status >= 400),
                }
            )
        return {
            "requests": total,
            "p50_ms": _r(percentile(answered, 50)),
            "p95_ms": _r(percentile(answered, 95)),
            "p99_ms": _r(percentile(answered, 99)),
            "throughput": round(len(answered) / self.seconds, 3) if self.seconds else 0.0,
            "errors": errors,
            "error_rate": round(100.0 * errors / total, 4) if total else 0.0,
            "endpoints": endpoints,
        }


def _r(v: float | None) -> float:
    return round(v, 3) if v is not None else 0.0


def endpoints_from_spec(spec: dict[str, Any]) -> list[Endpoint]:
    """Every operation whose parameters the workload can fill (path parameters with an integer range or enum)."""
    out = []
    for route, ops in (spec.get("paths") or {}).items():
        if not isinstance(ops, dict):
            continue
        for method, op in ops.items():
            if method not in METHODS or not isinstance(op, dict):
                continue
            params = tuple(
                (str(p["name"]), dict(p.get("schema") or {}))
                for p in op.get("parameters", [])
                if isinstance(p, dict) and p.get("in") == "path"
            )
            body = None
            content = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
            if isinstance(content, dict):
                body = content.get("schema")
            invalidates = tuple(str(r) for r in op.get("x-invalidates", []) if isinstance(r, str))
            out.append(Endpoint(method.upper(), str(route), params, body, invalidates))
    return out


class Workload:
    """A seeded mix of requests: reads Zipf-skewed over their ids, writes at `write_share`."""

    def __init__(
        self, endpoints: list[Endpoint], *, seed: int = 28, write_share: float = 0.01, zipf: float = 1.1
    ) -> None:
        self.reads = [e for e in endpoints if e.is_read]
        self.writes = [e for e in endpoints if not e.is_read and e.method == "POST"]
        if not self.reads:
            raise ValueError("the spec has no GET operation the workload can call")
        self.rng = random.Random(seed)
        self.write_share = write_share if self.writes else 0.0
        self.zipf = zipf
        self._weights: dict[int, list[float]] = {}

    def _int(self, schema: dict[str, Any]) -> int:
        lo, hi = int(schema.get("minimum", 1)), int(schema.get("maximum", 1000))
        n = hi - lo + 1
        weights = self._weights.get(n)
        if weights is None:
            weights = list(_cumulative([1.0 / (k**self.zipf) for k in range(1, n + 1)]))
            self._weights[n] = weights
        rank = _bisect(weights, self.rng.random() * weights[-1])
        # Ranks map to ids through a fixed scramble so the hot ids are not simply 1, 2, 3...
        return lo + (rank * 7919) % n

    def _value(self, schema: dict[str, Any]) -> Any:
        if "enum" in schema:
            return self.rng.choice(list(schema["enum"]))
        if schema.get("type") == "number":
            return round(self.rng.uniform(float(schema.get("minimum", 0)), float(schema.get("maximum", 100))), 2)
        return self._int(schema)

    def next(self) -> Request:
        """The next request of the sequence."""
        if self.writes and self.rng.random() < self.write_share:
            ep = self.rng.choice(self.writes)
        else:
            ep = self.rng.choice(self.reads)
        path = ep.route
        for name, schema in ep.params:
            path = path.replace("{" + name + "}", str(self._value(schema)))
        body = None
        if ep.body_schema is not None:
            props = ep.body_schema.get("properties") or {}
            body = json.dumps({k: self._value(v) for k, v in props.items() if isinstance(v, dict)}).encode()
        return Request(ep, path, body)

    def take(self, n: int) -> list[Request]:
        """The next `n` requests."""
        return [self.next() for _ in range(n)]


def _cumulative(values: list[float]) -> list[float]:
    out, total = [], 0.0
    for v in values:
        total += v
        out.append(total)
    return out


def _bisect(cum: list[float], x: float) -> int:
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


async def _drive(base_url: str, requests: list[Request], rate: float, *, timeout: float, connections: int) -> Trace:
    seconds = len(requests) / rate
    schedule = LoadProfile.constant(rate, seconds).schedule(max_requests=len(requests), max_seconds=seconds + 1)
    trace = Trace(rate, seconds)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(connections)
    results: list[Access | None] = [None] * len(schedule)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        start = loop.time() + 0.005

        async def one(i: int, offset: float) -> None:
            req = requests[i]
            scheduled = start + offset
            async with gate:
                try:
                    headers = {"Content-Type": "application/json"} if req.body is not None else None
                    async with session.request(
                        req.endpoint.method, base_url + req.path, data=req.body, headers=headers
                    ) as resp:
                        payload = await resp.read()
                        results[i] = Access(
                            offset,
                            req.endpoint.method,
                            req.endpoint.route,
                            req.path,
                            resp.status,
                            (loop.time() - scheduled) * 1000.0,
                            len(payload),
                            resp.headers.get("X-Cache", ""),
                        )
                except (TimeoutError, aiohttp.ClientError, OSError):
                    trace.transport_errors += 1

        tasks = []
        for i, (offset, _) in enumerate(schedule):
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(one(i, offset)))
        if tasks:
            await asyncio.wait(tasks)
    trace.accesses = [a for a in results if a is not None]
    return trace


def run_trace(
    base_url: str,
    requests: list[Request],
    rate: float,
    *,
    timeout: float = 10.0,
    connections: int = 64,
    checkpoint: Callable[[], None] | None = None,
) -> Trace:
    """Send `requests` open-loop at `rate` per second to a loopback service and return the trace."""
    ensure_loopback(base_url)
    if not (rate > 0 and math.isfinite(rate)) or not requests:
        raise ValueError("a trace needs a positive rate and at least one request")
    if checkpoint is not None:
        checkpoint()
    return asyncio.run(_drive(base_url.rstrip("/"), requests, rate, timeout=timeout, connections=connections))
