"""The error log in the store: an error stored as open, closed with its outcome, listed and summed up."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, select, update

from venturegate.store.schema import error_log, escalations


class ErrorRow(NamedTuple):
    """An `error_log` row, typed (the column order of `select(error_log)`)."""

    id: int
    venture_id: int
    stage: int
    rule_id: str
    category: str
    matched: bool
    why: list[str]
    error_type: str
    http_status: int | None
    message: str
    operation: str | None
    status: str
    resolution: str
    resolved_automatically: bool
    attempts: int
    steps: list[dict[str, Any]]
    escalation_code: str | None
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    closed_at: datetime | None
    time_to_resolve_ms: float | None


class OutcomeRow(NamedTuple):
    """What the error report reads of an error: its outcome, and when its escalation (if any) was resolved."""

    category: str
    status: str
    resolved_automatically: bool
    time_to_resolve_ms: float | None
    occurred_at: datetime
    resolved_at: datetime | None


def insert_open(conn: Connection, **values: Any) -> int:
    """Store an error as open (`values`: its columns); returns its id."""
    found: int = conn.execute(
        insert(error_log)
        .values(status="open", resolution="", resolved_automatically=False, attempts=0, steps=[], **values)
        .returning(error_log.c.id)
    ).scalar_one()
    return found


def occurred_at(conn: Connection, error_id: int) -> datetime:
    """When the error occurred."""
    found: datetime = conn.execute(select(error_log.c.occurred_at).where(error_log.c.id == error_id)).scalar_one()
    return found


def close(conn: Connection, error_id: int, **values: Any) -> ErrorRow:
    """Store an error's outcome (`values`: status, resolution, ...); returns it as stored."""
    conn.execute(update(error_log).where(error_log.c.id == error_id).values(**values))
    return ErrorRow._make(conn.execute(select(error_log).where(error_log.c.id == error_id)).one())


def listing(
    conn: Connection, venture_id: int | None, stage: int | None, status: str | None, limit: int
) -> list[ErrorRow]:
    """Errors (of a venture, a stage, a status, when given), newest first, at most `limit`."""
    query = select(error_log).order_by(error_log.c.id.desc()).limit(limit)
    if venture_id is not None:
        query = query.where(error_log.c.venture_id == venture_id)
    if stage is not None:
        query = query.where(error_log.c.stage == stage)
    if status is not None:
        query = query.where(error_log.c.status == status)
    return [ErrorRow._make(r) for r in conn.execute(query)]


def outcomes(conn: Connection, venture_id: int | None, stage: int | None) -> list[OutcomeRow]:
    """Every error's outcome (of a venture, a stage, when given), joined with its escalation."""
    query = select(
        error_log.c.category,
        error_log.c.status,
        error_log.c.resolved_automatically,
        error_log.c.time_to_resolve_ms,
        error_log.c.occurred_at,
        escalations.c.resolved_at,
    ).select_from(error_log.outerjoin(escalations, escalations.c.code == error_log.c.escalation_code))
    if venture_id is not None:
        query = query.where(error_log.c.venture_id == venture_id)
    if stage is not None:
        query = query.where(error_log.c.stage == stage)
    return [OutcomeRow._make(r) for r in conn.execute(query)]
