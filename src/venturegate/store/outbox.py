"""The notification outbox in the store: rows queued with their event, claimed by group, settled; typed rows.

Claiming a group on PostgreSQL skips rows another deliverer holds (`FOR UPDATE SKIP LOCKED`) instead of
waiting for them; SQLite's writers are serialized, so it needs no lock clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, insert, select, update

from venturegate.store.schema import events, outbox, ventures


class OutboxRow(NamedTuple):
    """An `outbox` row, typed (the column order of `select(outbox)`)."""

    id: int
    event_id: int
    venture_id: int | None
    channel: str
    kind: str
    severity: str
    stage: int | None
    group_key: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    claim: str | None
    sent_at: datetime | None
    delivery: str | None
    last_error: str | None


class GroupRow(NamedTuple):
    """A pending notification of a group with what its message needs of its event and venture."""

    id: int
    event_id: int
    channel: str
    severity: str
    next_attempt_at: datetime
    kind: str
    stage: int | None
    reason: str
    at: datetime
    actor: str
    data: dict[str, Any] | None
    name: str | None


class Attempts(NamedTuple):
    """A held notification's id and its failed attempts so far."""

    id: int
    attempts: int


def queue(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert pending notifications (`outbox` columns but the id and the delivery state)."""
    conn.execute(insert(outbox), list(rows))


def entries(conn: Connection, status: str | None, limit: int) -> list[OutboxRow]:
    """Notifications, newest first, of one status when given."""
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(outbox.c.status == status)
    return [OutboxRow._make(r) for r in conn.execute(query)]


def entry(conn: Connection, outbox_id: int) -> OutboxRow | None:
    """One notification, or None."""
    found = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).first()
    return None if found is None else OutboxRow._make(found)


def retry(conn: Connection, outbox_id: int, now: datetime) -> None:
    """Put a notification back to pending, due `now`, its attempts reset."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id == outbox_id)
        .values(status="pending", attempts=0, next_attempt_at=now, claim=None)
    )


def claim(conn: Connection, ids: Sequence[int], claim: str, until: datetime) -> None:
    """Hold the notifications `ids` for a deliverer (`claim`) until `until`."""
    conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(claim=claim, next_attempt_at=until))


def mark_sent(conn: Connection, ids: Sequence[int], claim: str, delivery: str, now: datetime) -> int:
    """Record the notifications `ids` that `claim` still holds as sent; how many were."""
    done = conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids), outbox.c.claim == claim)
        .values(
            status="sent",
            attempts=outbox.c.attempts + 1,
            sent_at=now,
            delivery=delivery,
            claim=None,
            last_error=None,
        )
    )
    return int(done.rowcount)


def mark_failed(
    conn: Connection, ids: Sequence[int], *, dead: bool, attempts: int, next_attempt_at: datetime, error: str
) -> None:
    """Record a failed attempt at the notifications `ids`: pending again at `next_attempt_at`, or dead."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(
            status="dead" if dead else "pending",
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            claim=None,
            last_error=error,
        )
    )


def due_groups(conn: Connection, now: datetime, limit: int) -> list[str]:
    """The keys of the groups with a pending notification due at `now`, oldest group first."""
    first = func.min(outbox.c.id)
    keys = conn.execute(
        select(outbox.c.group_key)
        .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
        .group_by(outbox.c.group_key)
        .order_by(first)
        .limit(limit)
    ).scalars()
    return list(keys)


def group_rows(conn: Connection, key: str, now: datetime, limit: int) -> list[GroupRow]:
    """A group's pending notifications created by `now`, oldest first (PostgreSQL: locked, skipping held rows)."""
    query = (
        select(
            outbox.c.id,
            outbox.c.event_id,
            outbox.c.channel,
            outbox.c.severity,
            outbox.c.next_attempt_at,
            events.c.kind,
            events.c.stage,
            events.c.reason,
            events.c.at,
            events.c.actor,
            events.c.data,
            ventures.c.name,
        )
        .join(events, events.c.id == outbox.c.event_id)
        .outerjoin(ventures, ventures.c.id == outbox.c.venture_id)
        .where(outbox.c.status == "pending", outbox.c.group_key == key, outbox.c.created_at <= now)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        # A concurrent deliverer skips what this one holds instead of waiting for it.
        query = query.with_for_update(skip_locked=True, of=outbox)
    return [GroupRow._make(r) for r in conn.execute(query)]


def held_attempts(conn: Connection, ids: Sequence[int], claim: str) -> list[Attempts]:
    """The notifications of `ids` that `claim` still holds, with their attempts."""
    rows = conn.execute(select(outbox.c.id, outbox.c.attempts).where(outbox.c.id.in_(ids), outbox.c.claim == claim))
    return [Attempts._make(r) for r in rows]


def next_due(conn: Connection) -> datetime | None:
    """When the next group falls due: the earliest next attempt of each group's oldest pending row."""
    oldest = select(func.min(outbox.c.id)).where(outbox.c.status == "pending").group_by(outbox.c.group_key)
    due: datetime | None = conn.execute(
        select(func.min(outbox.c.next_attempt_at)).where(outbox.c.id.in_(oldest))
    ).scalar()
    return due
