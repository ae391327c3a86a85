"""Sample series for the venture page's charts (through `Engine.samples`)."""

from __future__ import annotations

from datetime import datetime

from venturegate.engine import Engine
from venturegate.engine.records import Venture

MAX_POINTS = 500
"""The newest samples drawn per chart."""


def metric_series(
    engine: Engine, venture: Venture, metric: str, since: datetime, until: datetime
) -> list[tuple[float, float]]:
    """The metric's samples with since < at <= until as (Unix seconds, value), the newest `MAX_POINTS`."""
    points = engine.samples(venture.id, metric, since=since, until=until, limit=MAX_POINTS)
    return [(p.at.timestamp(), p.value) for p in points]
