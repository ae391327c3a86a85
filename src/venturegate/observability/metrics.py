"""Prometheus metrics read from the database, so every process that serves `/metrics` reports the same numbers.

A refresh runs a dozen aggregate queries in one transaction (see `_families`); nothing is counted in
process memory, so several `serve` processes behind a load balancer agree, and a restart loses nothing.

`/metrics` serves the text of the last refresh (`ScrapeCache`): a scrape costs a dictionary lookup
whatever the portfolio size, and the database is read at most once per `VENTUREGATE_METRICS_CACHE_SECONDS`
(in the background once a first text exists). The endpoint names ventures and their latest figures,
so it answers only an allow-listed address (`VENTUREGATE_METRICS_ALLOW`, loopback by default) or a
request carrying the scrape token (`VENTUREGATE_METRICS_TOKEN`) as `Authorization: Bearer`.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic, perf_counter
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection

from venturegate.definitions.model import Workflow
from venturegate.engine import Engine
from venturegate.observability import _families as f


class VenturegateCollector(Collector):
    """A custom collector: each `collect()` queries the store through the engine and yields fresh families."""

    def __init__(self, engine: Engine, *, now: datetime | None = None) -> None:
        self.engine = engine
        self.now = now  # None: the engine's clock at each scrape

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: registering must not query the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every family, computed in one transaction (the transaction ends before the first one is yielded)."""
        started = perf_counter()
        now = self.engine.when(self.now)
        with _read_tx(self.engine) as conn:
            families = [
                f.ventures_by_stage(conn),
                f.samples_ingested(conn),
                f.trigger_firings(conn),
                f.gate_verdicts(conn),
                f.stage_entries(conn),
                f.approvals_pending(conn),
                f.escalations_open(conn),
                f.outbox_backlog(conn, self._channels()),
                f.outbox_oldest(conn, now),
                f.timers_due(conn, now),
                f.timer_lag(conn),
                f.stage_durations(conn),
                f.rollback_durations(conn),
                f.job_durations(conn),
                f.jobs_active(conn),
            ]
            latest = f.latest_values(conn, self._pinned)
        queried = perf_counter() - started  # the transaction ends here; building the big family needs no lock
        families.append(f.metric_latest(latest))
        took = GaugeMetricFamily(
            f"{f.PREFIX}_scrape_duration_seconds", "Time the database queries of this scrape took."
        )
        took.add_metric([], queried)
        yield from families
        yield took

    def _channels(self) -> list[str]:
        """The notification channels of the workflow the engine runs (it routes every event)."""
        notifications = self.engine.workflow.workflow.notifications
        return sorted(notifications.channels) if notifications else []

    def _pinned(self, conn: Connection, digest: str) -> Workflow:
        return self.engine.pinned(conn, digest).workflow


@contextmanager
def _read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: on SQLite a deferred one, a snapshot that holds no write lock (the engine's
    transactions take it up front, which would stop every writer for the length of a refresh)."""
    if engine.db.dialect.name != "sqlite":
        with engine.tx() as conn:
            yield conn
        return
    with engine.db.connect() as conn:
        driver = conn.connection.dbapi_connection
        assert driver is not None
        driver.execute("BEGIN")  # SQLAlchemy's begin then joins it instead of taking the write lock
        try:
            yield conn
        finally:
            conn.rollback()
            if driver.in_transaction:  # nothing ran through SQLAlchemy: end the driver's own transaction
                driver.rollback()


def render(engine: Engine, *, now: datetime | None = None) -> bytes:
    """The exposition text of every series, from a fresh registry (never the process-global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(VenturegateCollector(engine, now=now))
    return generate_latest(registry)


def current_engine(request: Request) -> Engine:
    """The engine the app factory put on `app.state.engine` (or override this dependency)."""
    engine = getattr(request.app.state, "engine", None)
    if not isinstance(engine, Engine):
        raise RuntimeError("the app has no engine: set app.state.engine or override current_engine")
    return engine


TOKEN_ENV = "VENTUREGATE_METRICS_TOKEN"
ALLOW_ENV = "VENTUREGATE_METRICS_ALLOW"
CACHE_ENV = "VENTUREGATE_METRICS_CACHE_SECONDS"
LOOPBACK = "127.0.0.1/8,::1/128"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ScrapeAccess:
    """Who may scrape: an allow-listed address, or anyone presenting the scrape token."""

    allow: tuple[Network, ...]
    token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ScrapeAccess:
        """From `VENTUREGATE_METRICS_ALLOW` (addresses or CIDRs, comma-separated; `none` for none) and the token."""
        source = os.environ if env is None else env
        text = source.get(ALLOW_ENV, LOOPBACK).strip()
        nets = []
        for part in [] if text.lower() == "none" else text.split(","):
            try:
                nets.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{ALLOW_ENV}: '{part.strip()}' is not an address or network") from None
        return cls(tuple(nets), source.get(TOKEN_ENV) or None)

    def admits(self, host: str | None, authorization: str | None) -> bool:
        """Whether a request from `host` with that `Authorization` header may scrape."""
        if self.token is not None and authorization is not None:
            scheme, _, given = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode()):
                return True
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in net for net in self.allow)


@dataclass
class ScrapeCache:
    """The exposition text of the last refresh, refreshed at most once per `ttl` seconds (one refresh at a time)."""

    ttl: float
    text: bytes | None = None
    at: float = 0.0
    refreshes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _refreshing: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ScrapeCache:
        """The cache with `VENTUREGATE_METRICS_CACHE_SECONDS` (default 60, Prometheus's default scrape interval)."""
        raw = (os.environ if env is None else env).get(CACHE_ENV, "60")
        try:
            ttl = float(raw)
        except ValueError:
            raise ValueError(f"{CACHE_ENV}={raw!r} is not a number of seconds") from None
        if not ttl >= 0:
            raise ValueError(f"{CACHE_ENV}={raw!r} must be 0 or more")
        return cls(ttl)

    def get(self, engine: Engine) -> bytes:
        """The text: cached while fresh; stale, with a refresh started behind it; computed now when there is none."""
        with self._lock:
            text, age = self.text, monotonic() - self.at
            if text is not None and age < self.ttl:
                return text
            if text is not None and self._refreshing:
                return text  # another request is refreshing it
            self._refreshing = True
        if text is None or self.ttl == 0:
            return self._refresh(engine)
        threading.Thread(target=self._refresh, args=(engine,), name="metrics-refresh", daemon=True).start()
        return text

    def _refresh(self, engine: Engine) -> bytes:
        text: bytes | None = None
        try:
            text = render(engine)
            return text
        finally:
            with self._lock:
                if text is not None:
                    self.text, self.at = text, monotonic()
                    self.refreshes += 1
                self._refreshing = False


def _state(request: Request, name: str, make: type[ScrapeAccess] | type[ScrapeCache]) -> object:
    found = getattr(request.app.state, name, None)
    if found is None:
        found = make.from_env()
        setattr(request.app.state, name, found)
    return found


def scrape_allowed(request: Request) -> None:
    """403 unless the caller is allow-listed or presents the scrape token."""
    access = _state(request, "metrics_access", ScrapeAccess)
    assert isinstance(access, ScrapeAccess)
    host = request.client.host if request.client else None
    if not access.admits(host, request.headers.get("authorization")):
        raise HTTPException(
            403,
            f"/metrics names ventures: scrape from an address in {ALLOW_ENV} or send {TOKEN_ENV} "
            "as `Authorization: Bearer <token>`",
        )


router = APIRouter(tags=["observability"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    description="Every series in the Prometheus text format, from the database, refreshed at most once per "
    f"`{CACHE_ENV}`. Only for an address in `{ALLOW_ENV}` (loopback by default) or with the scrape token "
    f"(`{TOKEN_ENV}`) as a bearer credential.",
    responses={403: {"description": "Not an allowed address and no scrape token."}},
    dependencies=[Depends(scrape_allowed)],
)
def metrics_endpoint(request: Request, engine: Annotated[Engine, Depends(current_engine)]) -> Response:
    """`GET /metrics`: the exposition text with Prometheus's content type."""
    cache = _state(request, "metrics_cache", ScrapeCache)
    assert isinstance(cache, ScrapeCache)
    return Response(content=cache.get(engine), media_type=CONTENT_TYPE_LATEST)
