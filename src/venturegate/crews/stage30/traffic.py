"""The crew's own traffic during a cutover: probes straight to green, and load through the front end.

Both are open-loop (a request leaves on schedule whether or not the last one answered, at most
`max_in_flight` outstanding) and go round the service's routes in turn, so every route is exercised
at every step even when production brings no traffic of its own.

- `Prober`: GETs straight to green's own address; each answer (status, time, body against the route's
  schema) goes to a `RouteWindow` and to the aggregate latency window. It measures green alone.
- `Load`: GETs through the front end (HAProxy), as a client would see them: its counts are
  client-visible, including connections refused by the front end, which HAProxy cannot count.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from venturegate.crews.stage30.routes import Route, RouteWindow, nearest_rank

Clock = Callable[[], float]


async def _open_loop(
    interval: float,
    fire: Callable[[int], asyncio.Task[None]],
    max_in_flight: int,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Fire on schedule until cancelled (requests in flight are cancelled) or `stopping()` (they finish)."""
    in_flight: set[asyncio.Task[None]] = set()
    sent = 0
    start = time.perf_counter()
    try:
        while not stopping():
            if len(in_flight) < max_in_flight:
                task = fire(sent)
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            sent += 1
            await asyncio.sleep(max(0.0, start + sent * interval - time.perf_counter()))
        await asyncio.gather(*in_flight, return_exceptions=True)
    finally:
        for task in list(in_flight):
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)


@dataclass
class Prober:
    """Probes green's routes in turn every `interval` seconds; feeds `window` and the aggregate p95."""

    base_url: str
    routes: tuple[Route, ...]
    window: RouteWindow
    interval: float = 0.1
    timeout: float = 2.0
    clock: Clock = time.monotonic
    max_in_flight: int = 32
    sent: int = 0
    failed: int = 0
    failures: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    """The last few failures, in words (route, status or error)."""
    _timed: deque[tuple[float, float]] = field(default_factory=deque)

    def p95(self, now: float, window_seconds: float, min_probes: int) -> float | None:
        """p95 (ms) of the probes answered in the last `window_seconds`; None with fewer than `min_probes`."""
        while self._timed and self._timed[0][0] <= now - window_seconds:
            self._timed.popleft()
        if len(self._timed) < max(1, min_probes):
            return None
        return nearest_rank([ms for _, ms in self._timed], 95)

    async def run(self) -> None:
        """Probe until cancelled."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:

            def fire(n: int) -> asyncio.Task[None]:
                self.sent += 1
                return asyncio.create_task(self._probe(session, self.routes[n % len(self.routes)]))

            await _open_loop(self.interval, fire, self.max_in_flight)

    async def _probe(self, session: aiohttp.ClientSession, route: Route) -> None:
        t0 = time.perf_counter()
        why: str | None
        try:
            async with session.get(self.base_url.rstrip("/") + route.path, allow_redirects=False) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            why = f"{route.template}: no answer ({type(exc).__name__})"
            ms = None
        else:
            ms = (time.perf_counter() - t0) * 1000
            if status >= 400:
                why = f"{route.template}: status {status}"
            elif status == 200:
                broken = route.check_body(body)
                why = None if broken is None else f"{route.template}: 200 with a body off its schema: {broken}"
            else:
                why = None
        now = self.clock()
        if ms is not None:
            self._timed.append((now, ms))
        self.window.add(now, route.template, why is not None, ms)
        if why is not None:
            self.failed += 1
            self.failures.append(why)


@dataclass
class Load:
    """Client traffic through the front end at `rate` req/s over the routes; counts what clients got."""

    front_url: str
    routes: tuple[Route, ...]
    rate: float
    timeout: float = 5.0
    max_in_flight: int = 256
    sent: int = 0
    answered: int = 0
    failed_5xx: int = 0
    refused: int = 0
    """Requests with no HTTP answer at all (connection refused or reset, timeout)."""
    _stopping: bool = False

    def stop(self) -> None:
        """End `run` after the requests in flight are answered (so the counts are complete)."""
        self._stopping = True

    async def run(self) -> None:
        """Send until cancelled."""
        connector = aiohttp.TCPConnector(limit=self.max_in_flight)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

            def fire(n: int) -> asyncio.Task[None]:
                self.sent += 1
                return asyncio.create_task(self._get(session, self.routes[n % len(self.routes)]))

            await _open_loop(1.0 / self.rate, fire, self.max_in_flight, lambda: self._stopping)

    async def _get(self, session: aiohttp.ClientSession, route: Route) -> None:
        try:
            async with session.get(self.front_url.rstrip("/") + route.path, allow_redirects=False) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            self.refused += 1
            return
        self.answered += 1
        self.failed_5xx += int(status >= 500)
