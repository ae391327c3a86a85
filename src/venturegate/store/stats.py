"""What the per-stage figures read: the work and recursion events, and the stage visits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from venturegate.store.schema import events, stage_visits


class WorkEvent(NamedTuple):
    """An event that counts as work or a recursion."""

    kind: str
    stage: int | None
    actor_kind: str
    data: Any


class VisitSpan(NamedTuple):
    """When a stage visit began and ended."""

    stage: int
    entered_at: datetime
    exited_at: datetime | None


def work_events(conn: Connection, kinds: Collection[str]) -> list[WorkEvent]:
    """Every event of these kinds."""
    query = select(events.c.kind, events.c.stage, events.c.actor_kind, events.c.data).where(
        events.c.kind.in_(list(kinds))
    )
    return [WorkEvent._make(r) for r in conn.execute(query)]


def visit_spans(conn: Connection) -> list[VisitSpan]:
    """Every stage visit's stage and span."""
    query = select(stage_visits.c.stage, stage_visits.c.entered_at, stage_visits.c.exited_at)
    return [VisitSpan._make(r) for r in conn.execute(query)]
