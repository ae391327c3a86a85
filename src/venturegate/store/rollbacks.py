"""The rollback log in the store: one row per rollback, read back as typed rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, select

from venturegate.store.schema import rollbacks


class RollbackRow(NamedTuple):
    """A `rollbacks` row, typed (the column order of `select(rollbacks)`)."""

    id: int
    venture_id: int
    stage: int
    target: str
    target_version: int
    from_version: int
    to_version: int | None
    scope: list[str]
    cause: str
    reason: str
    trigger_id: str | None
    actor: str
    started_at: datetime
    duration_ms: float
    outcome: str
    diff: list[dict[str, Any]]
    handlers: list[dict[str, Any]]
    escalation: str | None


def rollback_rows(conn: Connection, venture_id: int | None) -> list[RollbackRow]:
    """The rollback log, newest first (one venture's, or every venture's)."""
    query = select(rollbacks).order_by(rollbacks.c.id.desc())
    if venture_id is not None:
        query = query.where(rollbacks.c.venture_id == venture_id)
    return [RollbackRow._make(r) for r in conn.execute(query)]


def insert_rollback(conn: Connection, **values: Any) -> int:
    """Log a rollback (`rollbacks` columns but the id); returns its id."""
    rid: int = conn.execute(insert(rollbacks).values(**values).returning(rollbacks.c.id)).scalar_one()
    return rid
