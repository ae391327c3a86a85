"""The notification outbox: rows written with their events, delivered later by the worker."""

from __future__ import annotations

from venturegate.engine.base import EngineBase


class OutboxOps(EngineBase):
    """Routing events to notification channels through the outbox, and its delivery."""
