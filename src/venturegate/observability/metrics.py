"""Prometheus metrics read from the database, so every process that serves `/metrics` reports the same numbers.

A scrape runs a dozen aggregate queries in one transaction (see `_families`); nothing is counted in
process memory, so several `serve` processes behind a load balancer agree, and a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from time import perf_counter
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
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
        with self.engine.tx() as conn:
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


router = APIRouter(tags=["observability"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    description="Every series in the Prometheus text format, computed from the database at each scrape.",
)
def metrics_endpoint(engine: Annotated[Engine, Depends(current_engine)]) -> Response:
    """`GET /metrics`: the exposition text with Prometheus's content type."""
    return Response(content=render(engine), media_type=CONTENT_TYPE_LATEST)
