"""A fault-injecting HTTP reverse proxy on loopback, switchable at runtime, for proving fallbacks.

`FaultProxy(target)` listens on 127.0.0.1 (a random port) in a background thread and forwards every
request to `target`, unless its mode says otherwise:

| mode | effect |
|---|---|
| `pass` | forward (after `latency_s` ± `jitter_s` when set) |
| `latency` | `pass`, but `latency_s` must be set: every response is delayed |
| `fail` | answer `status` (503 by default) without contacting the target |
| `fraction` | answer `status` for a share `fraction` of the requests (seeded), forward the rest |
| `rate_limit` | token bucket of `rate` per second and `burst`; over it, 429 with `Retry-After: retry_after_s` |
| `close` | accept the request, then drop the connection without answering |
| `refuse` | stop listening: new connections are refused until the mode changes |

`serve_app` runs any aiohttp application the same way (tests and benchmarks use it for targets).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import aiohttp
from aiohttp import web

from venturegate.crews.stage19.loadgen import ensure_loopback

T = TypeVar("T")
Mode = Literal["pass", "latency", "fail", "fraction", "rate_limit", "close", "refuse"]
MODES: tuple[Mode, ...] = ("pass", "latency", "fail", "fraction", "rate_limit", "close", "refuse")

# Hop-by-hop headers (RFC 9110 §7.6.1) and the ones aiohttp recomputes; never copied across the proxy.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class ServedApp:
    """An aiohttp application served on 127.0.0.1 (random port) by an event loop in a daemon thread."""

    def __init__(self, app: web.Application, *, port: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="venturegate-served-app", daemon=True)
        self._app = app
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> Self:
        """Start the loop thread and listen."""
        self._thread.start()
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        self.run(self._runner.setup())
        self.run(self._listen())
        return self

    async def _listen(self) -> None:
        assert self._runner is not None
        # reuse_address lets `refuse` → `pass` bind the same port again right away.
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        if not self.port:
            self.port = int(self._runner.addresses[0][1])

    async def _unlisten(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    @property
    def listening(self) -> bool:
        """Whether the server accepts connections."""
        return self._site is not None

    def set_listening(self, listening: bool) -> None:
        """Stop accepting connections (they are refused) or accept them again on the same port."""
        if listening and self._site is None:
            self.run(self._listen())
        elif not listening and self._site is not None:
            self.run(self._unlisten())

    def stop(self) -> None:
        """Stop the server, its loop and its thread."""
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            self.run(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_app(app: web.Application, *, port: int = 0) -> ServedApp:
    """Serve `app` on 127.0.0.1; use as a context manager (`with serve_app(app) as served: served.base_url`)."""
    return ServedApp(app, port=port)


@dataclass(frozen=True)
class FaultSettings:
    """The proxy's current behaviour; replaced as a whole, so a switch is atomic for the serving thread."""

    mode: Mode = "pass"
    latency_s: float = 0.0
    jitter_s: float = 0.0
    fraction: float = 0.0
    status: int = 503
    rate: float = 0.0
    burst: int = 1
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.latency_s < 0 or self.jitter_s < 0 or self.jitter_s > self.latency_s:
            raise ValueError("latency_s must be >= 0 and jitter_s between 0 and latency_s")
        if self.mode == "latency" and self.latency_s <= 0:
            raise ValueError("mode 'latency' needs latency_s > 0")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be between 0 and 1, not {self.fraction}")
        if self.mode == "rate_limit" and (self.rate <= 0 or self.burst < 1):
            raise ValueError("mode 'rate_limit' needs rate > 0 and burst >= 1")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {self.status}")


class FaultProxy:
    """A reverse proxy on 127.0.0.1 in front of a loopback `target_url`, with switchable faults (module doc)."""

    def __init__(self, target_url: str, *, seed: int = 0) -> None:
        ensure_loopback(target_url)
        self.target_url = target_url.rstrip("/")
        self.settings = FaultSettings()
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._tokens = 0.0
        self._refilled = 0.0
        self._session: aiohttp.ClientSession | None = None
        app = web.Application()
        app.cleanup_ctx.append(self._client)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._served = ServedApp(app)

    @property
    def base_url(self) -> str:
        """The proxy's `http://127.0.0.1:PORT`; request paths are forwarded unchanged."""
        return self._served.base_url

    def url(self, path: str = "/") -> str:
        """The proxy URL of `path` (as on the target)."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> Self:
        """Start serving."""
        self._served.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the forwarding client."""
        self._served.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def set_mode(self, mode: Mode, **options: Any) -> FaultSettings:
        """Switch behaviour (options are `FaultSettings` fields); takes effect for the next request."""
        settings = replace(FaultSettings(), mode=mode, **options)
        if mode == "rate_limit":
            self._tokens = float(settings.burst)
            self._refilled = time.monotonic()
        self._served.set_listening(mode != "refuse")
        self.settings = settings
        return settings

    async def _client(self, app: web.Application) -> AsyncIterator[None]:
        self._session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=30))
        yield
        await self._session.close()

    def _take_token(self, rate: float, burst: int) -> bool:
        now = time.monotonic()
        self._tokens = min(float(burst), self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        settings = self.settings
        self.counts["received"] += 1
        if settings.mode == "close":
            self.counts["closed"] += 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=settings.status)
        if settings.mode == "fail" or (settings.mode == "fraction" and self._rng.random() < settings.fraction):
            self.counts["failed"] += 1
            return web.Response(status=settings.status, text="injected failure")
        if settings.mode == "rate_limit" and not self._take_token(settings.rate, settings.burst):
            self.counts["rate_limited"] += 1
            return web.Response(
                status=429, text="too many requests", headers={"Retry-After": str(settings.retry_after_s)}
            )
        if settings.latency_s > 0:
            delay = settings.latency_s + self._rng.uniform(-settings.jitter_s, settings.jitter_s)
            await asyncio.sleep(delay)
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        body = await request.read()
        try:
            async with self._session.request(
                request.method,
                self.target_url + request.rel_url.path_qs,
                headers=headers,
                data=body or None,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
                self.counts["forwarded"] += 1
                return web.Response(status=upstream.status, body=payload, headers=out)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.counts["upstream_errors"] += 1
            return web.Response(status=502, text=f"upstream error: {type(exc).__name__}")
