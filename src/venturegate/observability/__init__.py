"""Observability: Prometheus metrics computed from the database, Grafana dashboards from the workflow."""

from __future__ import annotations

from venturegate.observability.metrics import (
    ScrapeAccess,
    ScrapeCache,
    VenturegateCollector,
    current_engine,
    render,
    router,
)

__all__ = ["ScrapeAccess", "ScrapeCache", "VenturegateCollector", "current_engine", "render", "router"]
